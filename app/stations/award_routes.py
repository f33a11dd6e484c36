"""The yearly model homes and stations (示范点) at /t/{tenant_slug}/stations/models: the year's
selection with its reasons and dates, the counts against the guide, and for county admins the form to
select one and the button to withdraw a selection (both audited)."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.web import bounded, client_addr, page, see_other
from app.stations import awards
from app.stations.access import require_places
from app.tenancy.access import TenantContext

DONE = {"selected": lazy("The model has been selected."), "withdrawn": lazy("The selection has been withdrawn.")}
FORM_KEYS = ("station_id", "year", "reason", "selected_on")


async def _models_page(request: Request, ctx: TenantContext, year: int, *, status_code: int = 200,
                       error: str | None = None, form: dict | None = None, done: str | None = None) -> Response:
    scope = await ctx.scope()
    require_places(scope)
    today = ctx.today()
    selections = await awards.year_selections(ctx.db, scope, year)
    can_select = scope.role == "county_admin"
    return page(request, "stations/models.html", status_code=status_code, year=year, selections=selections,
                counts=awards.guide_counts(selections) if scope.whole_tenant else [], base=ctx.base,
                years=awards.years_offered(today), can_select=can_select, GROUP_NAMES=awards.GROUP_NAMES,
                candidates=await awards.candidates(ctx.db, year) if can_select else [], error=error,
                form=form or {"year": str(year), "selected_on": today.isoformat()}, done=DONE.get(done or ""))


@get("/stations/models")
async def model_stations(request: Request, ctx: TenantContext, year: str | None = None,
                         done: str | None = None) -> Response:
    chosen = as_id(year)
    offered = awards.years_offered(ctx.today())
    return await _models_page(request, ctx, chosen if chosen in offered else ctx.today().year, done=done)


@post("/stations/models")
async def select_model(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    if scope.role != "county_admin":
        raise NotFound()
    values = bounded(await request.form(), FORM_KEYS, 600)
    try:
        row = await ctx.attempt(awards.select_model(ctx.db, scope, tenant_id=ctx.tenant.id, today=ctx.today(),
                                                    actor_id=ctx.user.id, client_addr=client_addr(request), **values))
    except Refusal as refusal:
        year = as_id(values["year"])
        year = year if year in awards.years_offered(ctx.today()) else ctx.today().year
        return await _models_page(request, ctx, year, status_code=refusal.status, error=refusal.text(), form=values)
    return see_other(f"{ctx.base}/stations/models?year={row.year}&done=selected")


@post("/stations/models/{selection_id:int}/withdraw")
async def withdraw_model(request: Request, ctx: TenantContext, selection_id: int) -> Response:
    scope = await ctx.scope()
    year = await awards.withdraw_model(ctx.db, scope, selection_id, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                       client_addr=client_addr(request))
    return see_other(f"{ctx.base}/stations/models?year={year}&done=withdrawn")


route_handlers = [model_stations, select_model, withdraw_model]
