"""The county's duty settings page (履职设置) at /t/{tenant_slug}/settings/duties: county admins only.
Thin: access → service (app.duties.settings) → render; a refusal shows the page again with what was
typed, status 400 and nothing written."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.core.i18n import lazy
from app.core.web import bounded, client_addr, page
from app.deputies.services import Actor
from app.duties import settings as svc
from app.tenancy.access import TenantContext, settings_change

PATH = "/settings/duties"
SAVED = lazy("The duty settings have been saved.")


async def _page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                form: dict | None = None, done: bool = False) -> Response:
    if form is None:
        form = (await svc.duty_settings(ctx.db, ctx.tenant.id)).form()
    return page(request, "duties/settings.html", status_code=status_code, form=form, error=error,
                done=SAVED if done else None, base=ctx.base, BOARDS=svc.BOARDS, BOARD_NAMES=svc.BOARD_NAMES,
                days_max=svc.DAYS_MAX)


@get(PATH)
async def duty_settings_page(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role(*svc.EDIT_ROLES)
    return await _page(request, ctx, done=done == "saved")


@post(PATH)
async def save_duty_settings(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role(*svc.EDIT_ROLES)
    values = bounded(await request.form(), svc.FORM_KEYS, 10)
    actor = Actor(tenant_id=ctx.tenant.id, user_id=ctx.user.id, scope=await ctx.scope(),
                  client_addr=client_addr(request))
    return await settings_change(
        ctx, lambda: svc.save(ctx.db, actor, values),
        lambda error: _page(request, ctx, status_code=400, error=error, form=values), f"{PATH}?done=saved")


route_handlers = [duty_settings_page, save_duty_settings]
