"""The county admin dismisses the set-up checklist of the home page (app.home.setup)."""

from __future__ import annotations

from litestar import Response, post

from app.core.web import see_other
from app.home.setup import mark_done
from app.tenancy.access import TenantContext


@post("/setup/dismiss")
async def dismiss_setup(ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    await mark_done(ctx.db, ctx.tenant.id)
    return see_other(f"{ctx.base}/")


route_handlers = [dismiss_setup]
