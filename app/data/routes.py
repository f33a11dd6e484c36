"""A county admin's export of all of the county's records (/t/{tenant_slug}/settings/data…).

Ask → the worker builds the ZIP (a progress page that polls with htmx, reloads by hand without it)
→ download while it is kept (each download audited). Only county admins: the ZIP holds every
record with personal data in full.
"""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.core.clock import now
from app.core.db import as_id
from app.core.errors import Refusal
from app.core.web import client_addr, download, page, see_other
from app.data import exports
from app.data.models import STATUS_NAMES, DataExport
from app.tenancy.access import TenantContext


def _context(ctx: TenantContext, **extra) -> dict:
    return {"base": ctx.base, "status_names": STATUS_NAMES, "error_texts": exports.ERROR_TEXTS, "now": now(),
            "tz": ctx.tz, "kept_days": exports.KEPT.days, **extra}


async def _home(request: Request, ctx: TenantContext, status_code: int = 200, error: str | None = None) -> Response:
    return page(request, "data/exports.html", status_code=status_code, error=error,
                exports=await exports.recent_exports(ctx.db), **_context(ctx))


@get("/settings/data")
async def data_home(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role(*exports.EXPORT_ROLES)
    return await _home(request, ctx)


@post("/settings/data")
async def data_request(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role(*exports.EXPORT_ROLES)
    try:
        export = await ctx.attempt(exports.request_export(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                                          client_addr=client_addr(request)))
    except Refusal as refusal:
        return await _home(request, ctx, status_code=409, error=refusal.text())
    redis_url, tenant_id = request.app.state.settings.redis_url, ctx.tenant.id
    ctx.after_commit(lambda: exports.enqueue(redis_url, tenant_id, export.id))
    return see_other(f"{ctx.base}/settings/data/{export.id}")


async def _export(ctx: TenantContext, export_id: int) -> DataExport:
    ctx.require_role(*exports.EXPORT_ROLES)
    return await exports.get_export(ctx.db, as_id(export_id))


@get("/settings/data/{export_id:int}")
async def data_export(request: Request, ctx: TenantContext, export_id: int) -> Response:
    return page(request, "data/export.html", export=await _export(ctx, export_id), **_context(ctx))


@get("/settings/data/{export_id:int}/progress")
async def data_progress(request: Request, ctx: TenantContext, export_id: int) -> Response:
    """The htmx partial polled every 2 s while the export waits or is built."""
    return page(request, "data/_progress.html", export=await _export(ctx, export_id), **_context(ctx))


@get("/settings/data/{export_id:int}/download")
async def data_download(request: Request, ctx: TenantContext, export_id: int) -> Response:
    export = await _export(ctx, export_id)
    try:
        body = await ctx.attempt(exports.download(ctx.db, export, actor_id=ctx.user.id,
                                                  client_addr=client_addr(request)))
    except Refusal as refusal:  # rolled back: the page reads the export again
        return page(request, "data/export.html", status_code=refusal.status, error=refusal.text(),
                    export=await _export(ctx, export_id), **_context(ctx))
    return download(body, exports.zip_name(ctx.tenant.name, export.finished_at, ctx.tz))


route_handlers = [data_home, data_request, data_export, data_progress, data_download]
