"""Liveness (/healthz: the process answers), readiness (/readyz: the database answers) and the
operator's metrics (/metrics, app.core.metrics).

Readiness depends on the database only. Redis carries jobs, and every page works without it (the
outbox keeps what the worker will send when it is back), so a load balancer that took web nodes out
while Redis is down would take the whole product down for nothing: its state is in the body.
"""

from __future__ import annotations

import asyncio
import hmac

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from app.core import metrics
from app.core.errors import NotFound
from app.core.redis import redis_client
from app.core.web import client_addr

CHECK_TIMEOUT_SECONDS = 2


@get("/healthz", opt={"public": True}, sync_to_thread=False)
def healthz() -> Response:
    return Response({"status": "ok"}, media_type="application/json")


async def _database(request: Request) -> str:
    try:
        async with request.app.state.db.session() as db:
            await asyncio.wait_for(db.execute(text("SELECT 1")), timeout=CHECK_TIMEOUT_SECONDS)
        return "ok"
    except Exception:
        return "unavailable"


async def _redis(request: Request) -> str:
    try:
        client = redis_client(request.app.state.settings.redis_url)
        try:
            await asyncio.wait_for(client.ping(), timeout=CHECK_TIMEOUT_SECONDS)
        finally:
            await client.aclose()
        return "ok"
    except Exception:
        return "unavailable"


@get("/readyz", opt={"public": True})
async def readyz(request: Request) -> Response:
    database, redis = await asyncio.gather(_database(request), _redis(request))
    ready = database == "ok"
    return Response({"status": "ok" if ready else "unavailable", "database": database, "redis": redis},
                    status_code=200 if ready else 503, media_type="application/json",
                    headers={} if ready else {"Retry-After": "30"})


def may_scrape(request: Request) -> bool:
    """From an address in LIANLUO_METRICS_ALLOW (addresses or networks; the client address as
    `client_addr` sees it, so behind the trusted proxy the real client's), or with
    `Authorization: Bearer <LIANLUO_METRICS_TOKEN>`."""
    settings = request.app.state.settings
    token = settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    address = client_addr(request)
    return bool(address) and address in settings.metrics_allow


@get("/metrics", opt={"public": True}, include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text; anyone else gets the same 404 as a page that does not exist."""
    if not may_scrape(request):
        raise NotFound()
    return Response(await metrics.exposition(request.app.state), media_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})
