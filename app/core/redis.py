"""Redis connection settings for both redis-py and arq, from one URL (redis:// or unix://)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from arq.connections import RedisSettings
from redis.asyncio import Redis


def arq_settings(url: str) -> RedisSettings:
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        db = int(parse_qs(parsed.query).get("db", ["0"])[0])
        return RedisSettings(unix_socket_path=parsed.path, database=db)
    return RedisSettings.from_dsn(url)


def redis_client(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
