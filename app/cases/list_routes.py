"""Reading pages of cases under /t/{tenant_slug}/cases: the list (filters and search as plain GET
links and forms; with htmx the filter form swaps only #case-list), the statistics with their SVG
chart, and the two ledgers (printable pages and spreadsheets; an export is audited). Everything goes
through ``access.case_filter``: a member sees the cases of their scope only."""

from __future__ import annotations

from datetime import date

from litestar import Request, Response, get

from app.audit.services import record
from app.cases import ledgers, list_page, queries, stats
from app.core import charts
from app.cases.access import REGISTER_ROLES, require_view, shows_receipt_codes
from app.cases.models import SOURCE_NAMES, SOURCES, STATE_NAMES, STATES
from app.core.periods import parse_key, period_of, zone
from app.core.i18n import gettext, lazy
from app.core.kept_pages import kept_page
from app.core.read_cache import read_cache
from app.core.web import client_addr, download, htmx_target, page
from app.tenancy.access import TenantContext

OTHER_CATEGORIES = lazy("Other categories")
CHART_TITLE = lazy("Cases by category and month, %(period)s")
CHART_DESC = lazy("Stacked bars, one per month: %(total)s cases in all. The table below gives the same figures.")
REGISTER_TITLE = lazy("Register of opinions and suggestions")
QUARTERLY_TITLE = lazy("Quarterly list of issues and their resolution")


def _local(ctx: TenantContext):
    tz = zone(ctx.tenant.timezone)

    def local(at, fmt: str = "%Y-%m-%d") -> str:
        return at.astimezone(tz).strftime(fmt) if at else ""

    return local


# --- the list -------------------------------------------------------------------------------------

@get("/cases")
async def case_list(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    require_view(scope)
    f = queries.Filters.read(request.query_params)
    tz = zone(ctx.tenant.timezone)
    partial = htmx_target(request) == "case-list"
    today = ctx.today()
    base = ctx.base
    show_codes = shows_receipt_codes(scope)

    async def reads() -> dict:  # kept until the county's data changes (app.core.read_cache)
        result = await list_page.list_cases(ctx.db, scope, f, tz=tz, today=today)
        rows = list_page.table_rows(list_page.lines(result.rows, tz=tz, today=result.today, show_codes=show_codes),
                                    base)
        choices = {} if partial else await list_page.filter_choices(ctx.db, scope)
        return dict(result=result, table_rows=rows, **choices)

    name = f"cases:{ctx.membership.id}:{scope.role}:{today}:{int(partial)}:{f!r}"
    shown = dict(f=f, base=base, list_url=f"{base}/cases", cap=queries.COUNT_CAP, show_codes=show_codes)
    if partial:
        return page(request, "cases/_list.html", **await read_cache(request.app).remember(ctx.tenant.id, name, reads),
                    **shown)
    return await kept_page(
        request, "cases/list.html", tenant_id=ctx.tenant.id, name=name, reads=reads,
        states=[(st, gettext(STATE_NAMES[st])) for st in STATES],
        sources=[(so, gettext(SOURCE_NAMES[so])) for so in SOURCES],
        can_register=scope.role in REGISTER_ROLES, can_ledger=scope.role in ledgers.LEDGER_ROLES, **shown)


# --- statistics -----------------------------------------------------------------------------------

def _chart(s: stats.Stats) -> str:
    series = charts.top_series(s.categories, s.matrix, s.months, gettext(OTHER_CATEGORIES))
    return charts.stacked_bars([str(m) for m in s.months], series, chart_id="cases-chart",
                               title=gettext(CHART_TITLE, period=s.period.label),
                               desc=gettext(CHART_DESC, total=s.total))


@get("/cases/stats")
async def case_stats(request: Request, ctx: TenantContext, node: str | None = None, station: str | None = None,
                     period: str | None = None) -> Response:
    scope = await ctx.scope()
    require_view(scope)  # on every view: a kept page does not run its reads
    node_id, station_id = queries._id(node), queries._id(station)
    today = ctx.today()
    chosen = stats.read_period(period, today)

    async def reads() -> dict:  # kept until the county's data changes (app.core.read_cache)
        level = await stats.resolve_level(ctx.db, scope, node_id, station_id)
        s = await stats.build_stats(ctx.db, scope, level, chosen, ctx.tenant.timezone)
        here = {"node": level.node.id if level.kind == "township" else None,
                "station": level.station.id if level.kind == "station" else None}
        return dict(s=s, chart=_chart(s), here=here)

    years = range(today.year, today.year - 4, -1)
    choices = [(str(y), str(y)) for y in years]
    choices += [(period_of("quarter", d).key, period_of("quarter", d).label) for y in years
                for d in (_quarter_start(y, q) for q in (4, 3, 2, 1)) if d <= today]
    return await kept_page(request, "cases/stats.html", tenant_id=ctx.tenant.id,
                           name=f"stats:{ctx.membership.id}:{scope.role}:{today}:{node_id}:{station_id}:{chosen.key}",
                           reads=reads, base=ctx.base, choices=choices,
                           whole_tenant=scope.whole_tenant and scope.role != "handling_unit")


def _quarter_start(year: int, quarter: int) -> date:
    return date(year, quarter * 3 - 2, 1)


# --- the ledgers ----------------------------------------------------------------------------------

def _ledger_period(key: str | None, today, kinds: tuple[str, ...], default: str):
    chosen = parse_key(key or "")
    return chosen if chosen is not None and chosen.kind in kinds else period_of(default, today)


async def _audit(request: Request, ctx: TenantContext, action: str, period_key: str) -> None:
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action=action,
                 client_addr=client_addr(request), details={"period": period_key, "format": "xlsx"})


@get("/cases/register")
async def register_page(request: Request, ctx: TenantContext, period: str | None = None,
                        page_no: int = 1) -> Response:
    ctx.require_role(*ledgers.LEDGER_ROLES)
    scope = await ctx.scope()
    chosen = _ledger_period(period, ctx.today(), ("month", "quarter", "year"), "month")
    r = await ledgers.register(ctx.db, scope, chosen, zone(ctx.tenant.timezone), page=page_no)
    return page(request, "cases/register.html", r=r, base=ctx.base, local=_local(ctx),
                cells=lambda row: ledgers.register_cells(row, zone(ctx.tenant.timezone)),
                suggestion_cells=ledgers.suggestion_cells, HEAD=ledgers.REGISTER_HEAD,
                SUGGESTION_HEAD=ledgers.SUGGESTION_HEAD)


@get("/cases/register.xlsx")
async def register_xlsx(request: Request, ctx: TenantContext, period: str | None = None) -> Response:
    ctx.require_role(*ledgers.LEDGER_ROLES)
    chosen = _ledger_period(period, ctx.today(), ("month", "quarter", "year"), "month")
    body = await ledgers.register_xlsx(ctx.db, await ctx.scope(), chosen, zone(ctx.tenant.timezone),
                                       title=chosen.key)
    await _audit(request, ctx, "case_register_exported", chosen.key)
    return download(body, f"{gettext(REGISTER_TITLE)}-{ctx.tenant.name}-{chosen.key}.xlsx")


async def _quarterly(ctx: TenantContext, quarter: str | None):
    today = ctx.today()
    chosen = _ledger_period(quarter, today, ("quarter",), "quarter")
    lines, total = await ledgers.quarterly(ctx.db, await ctx.scope(), chosen, zone(ctx.tenant.timezone), today)
    return chosen, lines, total


@get("/cases/quarterly")
async def quarterly_page(request: Request, ctx: TenantContext, quarter: str | None = None) -> Response:
    ctx.require_role(*ledgers.LEDGER_ROLES)
    chosen, lines, total = await _quarterly(ctx, quarter)
    return page(request, "cases/quarterly.html", period=chosen, lines=lines, total=total, base=ctx.base,
                today=ctx.today(), HEAD=ledgers.QUARTERLY_HEAD)


@get("/cases/quarterly.xlsx")
async def quarterly_xlsx(request: Request, ctx: TenantContext, quarter: str | None = None) -> Response:
    ctx.require_role(*ledgers.LEDGER_ROLES)
    chosen, lines, total = await _quarterly(ctx, quarter)
    body = ledgers.quarterly_xlsx(lines, total, chosen.key)
    await _audit(request, ctx, "case_quarterly_exported", chosen.key)
    return download(body, f"{gettext(QUARTERLY_TITLE)}-{ctx.tenant.name}-{chosen.key}.xlsx")


route_handlers: list = [case_list, case_stats, register_page, register_xlsx, quarterly_page, quarterly_xlsx]
