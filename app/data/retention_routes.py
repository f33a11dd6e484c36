"""The county's retention periods (/t/{tenant_slug}/settings/retention): county admins only; the
periods are applied nightly by the worker (app.data.retention; the page says what goes: the public's
name, mobile and photos in finished cases, also where copied into their texts; former deputies' rosters
and own contact; delivery logs; the audit log)."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.core.i18n import lazy
from app.core.web import bounded, client_addr, page
from app.data import retention
from app.tenancy.access import TenantContext, settings_change

SAVED = lazy("The retention periods have been saved.")


async def _page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                form: dict | None = None, done: bool = False) -> Response:
    if form is None:
        form = {key: str(value) for key, value in (await retention.get_periods(ctx.db, ctx.tenant.id)).items()}
    return page(request, "data/retention.html", status_code=status_code, form=form, error=error,
                done=SAVED if done else None, base=ctx.base, placeholder=retention.PLACEHOLDER)


@get("/settings/retention")
async def retention_page(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _page(request, ctx, done=done == "saved")


@post("/settings/retention")
async def save_retention(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    values = bounded(await request.form(), tuple(retention.PERIODS), 10)

    async def change() -> None:
        await retention.save_periods(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, values=values,
                                     client_addr=client_addr(request))

    return await settings_change(
        ctx, change, lambda error: _page(request, ctx, status_code=400, error=error, form=values),
        "/settings/retention?done=saved",
    )


route_handlers = [retention_page, save_retention]
