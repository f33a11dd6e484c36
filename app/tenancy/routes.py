"""The county's configuration, /t/{tenant_slug}/settings: naming rule, lifecycle, seats, sign-in and
photo settings (station kinds and the checklist: app.stations.settings_routes; the administrative tree's
pages: app.stations.place_routes)."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.core.i18n import lazy
from app.core.web import bounded, checked, client_addr, page
from app.tenancy import config
from app.tenancy.access import TenantContext, settings_change

DONE = {"saved": lazy("The settings have been saved.")}


# --- settings (county admins only) -------------------------------------------------------------


async def _settings_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                         form: dict | None = None, done: str | None = None) -> Response:
    cfg = await config.get_config(ctx.db, ctx.tenant.id)
    if form is None:
        form = {"forbidden_words": "\n".join(cfg.forbidden_words), "approval": cfg.approval, "filing": cfg.filing,
                "checklist_name": cfg.checklist_name, **{k: str(getattr(cfg, k)) for k in config.ACTIVITY_SETTINGS}}
        for level in config.SEAT_FORM_LEVELS:
            for bound in ("min", "max"):
                value = (cfg.seats.get(level) or {}).get(bound)
                form[f"seats_{level}_{bound}"] = "" if value is None else str(value)
    return page(request, "tenancy/settings.html", status_code=status_code, cfg=cfg, form=form, error=error,
                done=DONE.get(done or ""), base=ctx.base, levels=config.SEAT_FORM_LEVELS,
                level_names=config.SEAT_LEVEL_NAMES)


@get("/settings")
async def settings_page(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _settings_page(request, ctx, done=done)


@post("/settings")
async def save_settings(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    form = await request.form()
    values = bounded(form, ("forbidden_words", "checklist_name"), 4000)
    values.update(approval=checked(form.get("approval")), filing=checked(form.get("filing")))
    for level in config.SEAT_FORM_LEVELS:
        for bound in ("min", "max"):
            values[f"seats_{level}_{bound}"] = str(form.get(f"seats_{level}_{bound}", ""))[:10]
    for key in config.ACTIVITY_SETTINGS:  # a field not sent keeps its value (None)
        values[key] = str(form.get(key))[:10] if key in form else None

    async def change() -> None:
        current = await config.get_config(ctx.db, ctx.tenant.id)
        await config.save_config(
            ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
            forbidden_words=config.parse_words(values["forbidden_words"]), approval=values["approval"],
            filing=values["filing"], seats=config.parse_seats(values), checklist_name=values["checklist_name"],
            activity=config.parse_activity_settings(values, current), client_addr=client_addr(request),
        )

    return await settings_change(
        ctx, change, lambda error: _settings_page(request, ctx, status_code=400, error=error, form=values),
        "/settings?done=saved",
    )


route_handlers = [
    settings_page, save_settings,
]
