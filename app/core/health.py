"""Liveness (/healthz: the process answers) and readiness (/readyz: database and Redis answer)."""

from __future__ import annotations

import asyncio

from litestar import Request, Response, get
from sqlalchemy import text

from app.core.redis import redis_client


@get("/healthz", opt={"public": True}, sync_to_thread=False)
def healthz() -> Response:
    return Response({"status": "ok"}, media_type="application/json")


@get("/readyz", opt={"public": True})
async def readyz(request: Request) -> Response:
    checks = {"database": "ok", "redis": "ok"}
    try:
        async with request.app.state.db.session() as db:
            await asyncio.wait_for(db.execute(text("SELECT 1")), timeout=2)
    except Exception:
        checks["database"] = "unavailable"
    try:
        client = redis_client(request.app.state.settings.redis_url)
        try:
            await asyncio.wait_for(client.ping(), timeout=2)
        finally:
            await client.aclose()
    except Exception:
        checks["redis"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503,
                    media_type="application/json")
