"""The tenant's own pages under /t/{tenant_slug}/."""

from __future__ import annotations

from litestar import Request, Response, get

from app.core.web import page
from app.tenancy.access import TenantContext


@get("/")
async def tenant_home(request: Request, ctx: TenantContext) -> Response:
    return page(request, "tenancy/home.html")


route_handlers = [tenant_home]
