"""Redis connection settings for both redis-py and arq, from one URL (redis:// or unix://)."""

from __future__ import annotations

import asyncio
import logging
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


async def enqueue_job(redis_url: str, function: str, *args, job_id: str) -> bool:
    """Hand a job to arq at once or not at all: False when Redis is away or slow (the caller's row stays
    queued in PostgreSQL, where the worker's sweep finds it), so a request never waits on Redis."""
    from arq import create_pool

    settings = arq_settings(redis_url)
    settings.conn_retries, settings.conn_timeout = 0, 2
    try:
        pool = await asyncio.wait_for(create_pool(settings), timeout=3)
        try:
            await asyncio.wait_for(pool.enqueue_job(function, *args, _job_id=job_id), timeout=3)
        finally:
            await pool.aclose()
        return True
    except Exception:  # Redis down or slow
        logging.getLogger("lianluo.jobs").warning("job %s not enqueued", job_id)
        return False
