"""Points pages (履职积分): the scheme on the county's settings (/settings/points, a coded list), the
deputies' points in a period (/points?period=2026-Q4, the member's scope; handling units 404) and its
XLSX (audited), publishing a quarter (county admins), the deputy's own published points with a
correction request (/points/mine), and the requests for staff to resolve (/points/corrections)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from sqlalchemy import select

from app.audit.services import record
from app.core.errors import NotFound, Refusal
from app.core.i18n import gettext, lazy
from app.core.paging import slice_of
from app.core.periods import parse_key, period_of
from app.core.spreadsheets import to_xlsx
from app.core.web import bounded, client_addr, download, page, see_other
from app.deputies.models import LEVEL_NAMES, LEVELS, Deputy
from app.duties import point_publishing as pub
from app.duties import points
from app.duties.point_models import CAP_PERIOD_NAMES, CAP_PERIODS, CORRECTION_STATUS_NAMES, MAX_CORRECTION, PointsItem
from app.tenancy.access import TenantContext
from app.tenancy.coded_list_routes import CodedListPages, Done, Texts, coded_list_routes

PERIOD_BAD = lazy("Please choose a period such as 2026-Q4, 2026-03 or 2026.")
PUBLISHED = lazy("The quarter's points have been published: every deputy has been told.")
FILED = lazy("Your correction request has been sent to the staff.")
RESOLVED = lazy("The correction request has been resolved.")
EXPORT_HEAD = (lazy("Deputy"), lazy("Ranked in"), lazy("Duty points"), lazy("Rank in group"), lazy("Deputies ranked together"))
RESOLVE_ROLES = points.RESOLVE_ROLES


async def _item_context(ctx: TenantContext, item) -> dict:
    return {"sources": await points.counted_sources(ctx.db), "cap_periods": CAP_PERIODS,
            "cap_period_names": CAP_PERIOD_NAMES, "levels": LEVELS, "level_names": LEVEL_NAMES}


async def _lines(ctx: TenantContext) -> list[PointsItem]:
    return await points.coded_lists.items(ctx.db, points.POINTS_ITEMS)


POINTS_PAGES = CodedListPages(
    coded_list=points.POINTS_ITEMS,
    path="/settings/points",
    id_name="points_item_id",
    texts=Texts(
        title=lazy("Duty points scheme"),
        empty=lazy("No points item yet."),
        note=lazy("Points count approved duty entries and attendance at held activities. A retired item no "
                  "longer counts; published quarters keep their figures."),
        add_heading=lazy("Add a points item"),
        add_button=lazy("Add the points item"),
        name_label=lazy("Name of the points item"),
        code_label=lazy("Code (optional, used by presets)"),
        save_button=lazy("Save the points item"),
        retire_heading=lazy("Retire the points item"),
        retire_help=lazy("From now on the item counts nothing; published quarters keep their figures."),
        retire_button=lazy("Retire this points item"),
        retired=lazy("retired item"),
    ),
    added=Done("added", lazy("The points item has been added.")),
    saved=Done("saved", lazy("The points item has been saved.")),
    retired=Done("retired", lazy("The points item has been retired.")),
    lines="duties/_points_item_lines.html",
    fields="duties/_points_item_fields.html",
    form_fields=("counts", "points", "cap_period", "cap_points"),
    choices={"levels": len(LEVELS)},
    new_form={"sort": "0", "levels": []},
    item_form=points.item_form,
    load_lines=_lines,
    context=_item_context,
)


def _period(ctx: TenantContext, key: str | None):
    if not key:
        return period_of("quarter", ctx.today())
    period = parse_key(key)
    if period is None or period.kind == "half":
        raise Refusal(PERIOD_BAD)
    return period


PER_PAGE = 100  # a county of thousands of deputies: a name search and pages (the export has them all)


async def _points_page(request: Request, ctx: TenantContext, key: str | None, *, status_code: int = 200,
                       error: str | None = None, done: str | None = None) -> Response:
    scope = await ctx.scope()
    if scope.role not in points.VIEW_ROLES:
        raise NotFound()
    try:
        period = _period(ctx, key)
    except Refusal as refusal:
        period, error, status_code = period_of("quarter", ctx.today()), refusal.text(), 400
    lines = slice_of(await points.in_scope(ctx.db, scope, ctx.tenant.id, period, ctx.tz), per_page=PER_PAGE,
                     page=request.query_params.get("page"), q=request.query_params.get("q"), name=lambda d: d.name)
    published = await pub.published_for(ctx.db, ctx.tenant.id, period.key) if period.kind == "quarter" else None
    open_corrections = 0
    if scope.role in RESOLVE_ROLES:
        open_corrections = await pub.open_corrections(ctx.db, ctx.tenant.id)
    return page(request, "duties/points.html", status_code=status_code, period=period, lines=lines, base=ctx.base,
                error=error, done=PUBLISHED if done == "published" else None, published=published,
                can_publish=scope.role == "county_admin" and period.kind == "quarter" and not published,
                can_export=scope.role != "deputy", open_corrections=open_corrections,
                can_resolve=scope.role in RESOLVE_ROLES)


@get("/points")
async def points_page(request: Request, ctx: TenantContext, period: str | None = None,
                      done: str | None = None) -> Response:
    return await _points_page(request, ctx, period, done=done)


@get("/points/export.xlsx")
async def points_export(request: Request, ctx: TenantContext, period: str | None = None) -> Response:
    scope = await ctx.scope()
    if scope.role not in points.VIEW_ROLES or scope.role == "deputy":
        raise NotFound()
    try:
        chosen = _period(ctx, period)
    except Refusal:
        raise NotFound()
    lines = await points.in_scope(ctx.db, scope, ctx.tenant.id, chosen, ctx.tz)
    rows = [(d.name, d.ranked_in or ctx.tenant.name, float(d.points), d.rank, d.peers) for d in lines]
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="points_exported",
                 target=f"points:{chosen.key}", client_addr=client_addr(request), details={"rows": len(rows)})
    body = to_xlsx([gettext(h) for h in EXPORT_HEAD], rows, title=chosen.label)  # 2026年第四季度
    return download(body, f"points-{chosen.key}.xlsx")


@post("/points/publish")
async def publish_points(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    key = bounded(await request.form(), ("period",), 10)["period"]
    try:
        await ctx.attempt(pub.publish(ctx.db, tenant_id=ctx.tenant.id, tenant_name=ctx.tenant.name,
                                      slug=ctx.tenant.slug, actor_id=ctx.user.id, key=key, tz=ctx.tz,
                                      now=pub.utcnow(), client_addr=client_addr(request)))
    except Refusal as refusal:
        return await _points_page(request, ctx, key, status_code=400, error=refusal.text())
    return see_other(f"{ctx.base}/points?period={key}&done=published")


async def _own_deputy(ctx: TenantContext) -> Deputy | None:
    """The signed-in deputy's own record; None for staff and for a deputy login not linked to one."""
    if ctx.membership.role != "deputy":
        return None
    return await ctx.db.scalar(select(Deputy).where(Deputy.tenant_id == ctx.tenant.id, Deputy.user_id == ctx.user.id))


def _unlinked_page(request: Request, ctx: TenantContext, *, status_code: int = 200) -> Response:
    """The points SMS's link may be opened by anyone signed in: without a deputy behind the account
    the page says so (and where to turn) rather than answering not-found."""
    role = ctx.membership.role
    return page(request, "duties/points_unlinked.html", status_code=status_code, base=ctx.base,
                is_deputy=role == "deputy", can_view=role in points.VIEW_ROLES and role != "deputy")


async def _mine_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                     form: dict | None = None, done: str | None = None) -> Response:
    deputy = await _own_deputy(ctx)
    if deputy is None:
        return _unlinked_page(request, ctx, status_code=status_code)
    figures = await pub.deputy_figures(ctx.db, ctx.tenant.id, deputy.id)
    requests = await pub.corrections(ctx.db, ctx.tenant.id, deputy_id=deputy.id)
    return page(request, "duties/points_mine.html", status_code=status_code, deputy=deputy, figures=figures,
                requests=requests, error=error, form=form or {}, base=ctx.base, max_text=MAX_CORRECTION,
                done=FILED if done == "filed" else None, status_names=CORRECTION_STATUS_NAMES)


@get("/points/mine")
async def my_points(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    return await _mine_page(request, ctx, done=done)


@post("/points/mine/corrections")
async def request_correction(request: Request, ctx: TenantContext) -> Response:
    deputy = await _own_deputy(ctx)
    if deputy is None:
        return _unlinked_page(request, ctx, status_code=403)
    form = bounded(await request.form(), ("publication", "text"), MAX_CORRECTION * 2)
    try:
        await ctx.attempt(pub.request_correction(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                                 deputy_id=deputy.id, publication_id=form["publication"],
                                                 text=form["text"], client_addr=client_addr(request)))
    except Refusal as refusal:
        return await _mine_page(request, ctx, status_code=400, error=refusal.text(), form=form)
    return see_other(f"{ctx.base}/points/mine?done=filed")


async def _corrections_page(request: Request, ctx: TenantContext, *, status_code: int = 200,
                            error: str | None = None, done: str | None = None) -> Response:
    ctx.require_role(*RESOLVE_ROLES)
    lines = await pub.correction_lines(ctx.db, ctx.tenant.id)
    return page(request, "duties/points_corrections.html", status_code=status_code, lines=lines, error=error,
                base=ctx.base, done=RESOLVED if done == "resolved" else None, status_names=CORRECTION_STATUS_NAMES,
                max_text=MAX_CORRECTION)


@get("/points/corrections")
async def corrections_page(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    return await _corrections_page(request, ctx, done=done)


@post("/points/corrections/{points_correction_id:int}")
async def resolve_correction(request: Request, ctx: TenantContext, points_correction_id: int) -> Response:
    ctx.require_role(*RESOLVE_ROLES)
    correction = await pub.get_correction(ctx.db, ctx.tenant.id, points_correction_id)
    form = bounded(await request.form(), ("resolution", "answer"), MAX_CORRECTION * 2)
    try:
        await ctx.attempt(pub.resolve_correction(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                                 correction=correction, resolution=form["resolution"],
                                                 answer=form["answer"], client_addr=client_addr(request)))
    except Refusal as refusal:
        return await _corrections_page(request, ctx, status_code=400, error=refusal.text())
    return see_other(f"{ctx.base}/points/corrections?done=resolved")


route_handlers = [*coded_list_routes(POINTS_PAGES), points_page, points_export, publish_points, my_points,
                  request_correction, corrections_page, resolve_correction]
