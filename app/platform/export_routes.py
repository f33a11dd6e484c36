"""The operator's export of a county's records, at the county's written request (/ops/tenants/{id}/export).

The worker builds it bound to the tenant (app.data.exports); this web session reads only the platform
row `operator_exports`. The operator downloads it once; asking and downloading are on the platform log.
While one waits or is built, the tenant page's list of exports polls `/ops/tenants/{id}/exports`.
"""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.accounts.access import current_auth
from app.core.clock import now as clock_now
from app.core.db import as_id, attempt
from app.core.errors import NotFound, Refusal
from app.core.web import bounded, client_addr, download, page, see_other
from app.data import exports
from app.data.models import STATUS_NAMES
from app.platform import services
from app.platform.access import requires_operator
from app.platform.routes import CHINA, tenant_page, when

OPS = [requires_operator]


@post("/ops/tenants/{tenant_id:int}/export", guards=OPS)
async def request_export(request: Request, tenant_id: int) -> Response:
    auth = current_auth(request)
    reason = bounded(await request.form(), ("reason",), exports.REASON_MAX)["reason"]
    async with request.app.state.db.transaction() as db:
        try:
            export = await attempt(db, exports.request_operator_export(
                db, tenant_id=tenant_id, actor_id=auth.user.id, reason=reason, client_addr=client_addr(request)))
        except LookupError:
            raise NotFound() from None
        except Refusal as refusal:
            return await tenant_page(request, tenant_id, status_code=400, export_reason=reason,
                                     export_error=refusal.text())
    await exports.enqueue(request.app.state.settings.redis_url, tenant_id, export.id, operator=True)
    return see_other(f"/ops/tenants/{tenant_id}?done=export#export")


@get("/ops/exports/{export_id:int}/download", guards=OPS)
async def download_export(request: Request, export_id: int) -> Response:
    auth = current_auth(request)
    async with request.app.state.db.transaction() as db:
        try:
            export, tenant, body = await attempt(db, exports.take_operator_export(
                db, export_id, actor_id=auth.user.id, client_addr=client_addr(request)))
        except exports.NotReady as refusal:
            return await tenant_page(request, refusal.tenant_id, status_code=409, export_error=refusal.text())
    return download(body, exports.zip_name(tenant.name, export.finished_at, CHINA))


@get("/ops/tenants/{tenant_id:int}/exports", guards=OPS)
async def export_list(request: Request, tenant_id: int) -> Response:
    """The htmx partial of the tenant page's exports, polled every 2 s while one is under way."""
    checked = as_id(tenant_id)  # the path takes any int; a bigint's overflow would be a 500
    async with request.app.state.db.session() as db:
        tenant = await services.get_tenant(db, checked) if checked else None
        if tenant is None:
            raise NotFound()
        listed = await exports.operator_exports(db, tenant.id)
    return page(request, "platform/_exports.html", tenant=tenant, exports=listed, export_status_names=STATUS_NAMES,
                export_errors=exports.ERROR_TEXTS, now=clock_now(), when=when)


route_handlers = [request_export, download_export, export_list]
