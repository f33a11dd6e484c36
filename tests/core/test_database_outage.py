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
