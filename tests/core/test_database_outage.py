"""While PostgreSQL cannot be reached, pages answer 503 with Retry-After and a page in the reader's
language (not a 500 "we have a bug"); readiness says so; liveness still answers."""

from __future__ import annotations

import dataclasses
import socket

import pytest
from litestar.testing import AsyncTestClient

from app.main import create_app


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
async def no_database(settings):
    url = f"postgresql+asyncpg://lianluo_app@127.0.0.1:{closed_port()}/lianluo"
    app = create_app(dataclasses.replace(settings, app_database_url=url))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


async def test_pages_answer_503_in_chinese_with_retry_after(no_database):
    no_database.cookies["lianluo_session"] = "a-session-token-the-database-would-know"
    for path in ("/p/santai", "/p/santai/stations/1", "/t/santai/", "/ops/"):
        r = await no_database.get(path)
        assert r.status_code == 503, (path, r.status_code)
        assert r.headers["retry-after"] == "30"
        assert "暂时" in r.text and 'lang="zh-Hans"' in r.text, r.text[:500]
        assert "Something went wrong" not in r.text and "出错" not in r.text


async def test_the_503_page_speaks_the_readers_language(no_database):
    no_database.cookies["lang"] = "en"
    r = await no_database.get("/p/santai")
    assert r.status_code == 503 and "Temporarily unavailable" in r.text


async def test_readiness_fails_and_liveness_answers(no_database):
    ready = await no_database.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unavailable"
    assert (await no_database.get("/healthz")).status_code == 200


async def test_connections_the_server_dropped_cost_at_most_one_answer(settings, owner_sql):
    """The web pool checks no connection before use (no round trip per request): when PostgreSQL drops
    its connections (a restart, a failover, an operator's pg_terminate_backend), the first request to
    meet a dead one answers 503 with Retry-After, and the pool replaces every older connection, so the
    next requests are served again; never a 500."""
    mine = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND usename = $1"
    before = {r["pid"] for r in await owner_sql(mine, settings.app_role)}
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        assert (await client.get("/p/nobody/")).status_code == 404  # the tenant looked up: a connection used
        ours = [r["pid"] for r in await owner_sql(mine, settings.app_role) if r["pid"] not in before]
        assert ours, "the app opened no connection: the test proves nothing"
        await owner_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1::int[])", ours)
        answers = [await client.get("/p/nobody/") for _ in range(4)]
    statuses = [r.status_code for r in answers]
    assert statuses.count(503) <= 1 and set(statuses) <= {503, 404} and statuses[-1] == 404, statuses
    assert all(r.headers.get("retry-after") for r in answers if r.status_code == 503)


async def test_an_exhausted_pool_answers_503_at_once(settings):
    """Overload is shed early: with every pooled connection busy, a request waits at most the web
    pool's short wait and answers 503 with Retry-After (not 30 s and a 500)."""
    from app.core import db as core_db

    app = create_app(settings)
    engine = app.state.db.engine
    held = [await engine.connect() for _ in range(20)]  # pool_size + max_overflow: every connection taken
    try:
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            r = await client.get("/p/nobody/")
    finally:
        for conn in held:
            await conn.close()
    assert r.status_code == 503 and r.headers["retry-after"]
    assert engine.pool.timeout() == core_db.WEB_POOL_WAIT
