"""The operator closes a county: schedules the deletion of a suspended county's data after the grace
period, or cancels it (/ops/tenants/{id}/deletion…). The worker deletes when due (app.data.closing)."""

from __future__ import annotations

from litestar import Request, Response, post

from app.accounts.access import current_auth
from app.core.db import attempt
from app.core.errors import NotFound, Refusal
from app.core.web import bounded, client_addr, see_other
from app.data import closing
from app.platform.access import requires_operator
from app.platform.routes import tenant_page

OPS = [requires_operator]


@post("/ops/tenants/{tenant_id:int}/deletion", guards=OPS)
async def schedule_deletion(request: Request, tenant_id: int) -> Response:
    auth = current_auth(request)
    reason = bounded(await request.form(), ("reason",), closing.REASON_MAX + 1)["reason"]
    async with request.app.state.db.transaction() as db:
        try:
            await attempt(db, closing.schedule(db, tenant_id, actor=auth.user, reason=reason,
                                               client_addr=client_addr(request)))
        except LookupError:
            raise NotFound() from None
        except Refusal as refusal:
            status = 409 if refusal.input_name is None else 400
            return await tenant_page(request, tenant_id, status_code=status, deletion_reason=reason,
                                     deletion_error=refusal.text())
    return see_other(f"/ops/tenants/{tenant_id}?done=deletion#closing")


@post("/ops/tenants/{tenant_id:int}/deletion/cancel", guards=OPS)
async def cancel_deletion(request: Request, tenant_id: int) -> Response:
    auth = current_auth(request)
    async with request.app.state.db.transaction() as db:
        try:
            await attempt(db, closing.cancel(db, tenant_id, actor=auth.user, client_addr=client_addr(request)))
        except LookupError:
            raise NotFound() from None
        except Refusal as refusal:
            return await tenant_page(request, tenant_id, status_code=409, deletion_error=refusal.text())
    return see_other(f"/ops/tenants/{tenant_id}?done=deletion_cancelled#closing")


route_handlers = [schedule_deletion, cancel_deletion]
