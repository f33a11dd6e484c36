"""The compliance board under /t/{tenant_slug}/compliance: the board (county → township → station,
or a deputy's own), the drill-down behind each verdict, and the export. Read-only pages; every
member sees their scope only (handling units: 404). Filters are plain GET links and forms; with htmx
the filter form swaps only the board (#board)."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import Parameter
from sqlalchemy import select

from app.activities.models import ActivityKind, Rule
from app.audit.services import record
from app.compliance import detail as details
from app.compliance import engine, exports, services
from app.compliance.describe import describe
from app.compliance.models import VERDICT_NAMES, VERDICTS
from app.core import spreadsheets
from app.core.i18n import gettext, lazy
from app.core.kept_pages import kept_page
from app.core.read_cache import read_cache
from app.core.web import client_addr, download, htmx_target, page
from app.stations.models import StationKind
from app.tenancy.access import TenantContext

EXPORT_ROLES = ("county_admin", "viewer", "township_staff", "station_staff")
COUNTY = lazy("Whole county")


async def _names(ctx: TenantContext, board: engine.Board) -> tuple[dict, dict]:
    """Names for the rules' plain-word summaries: activity kinds (loaded by the evaluation) and, only
    if a rule is limited to some, station kinds."""
    kinds = board.kind_names or dict((await ctx.db.execute(select(ActivityKind.code, ActivityKind.name))).all())
    station_kinds = {}
    if any(r.station_kind_codes for r in board.rules):
        station_kinds = dict((await ctx.db.execute(select(StationKind.code, StationKind.name))).all())
    return kinds, station_kinds


async def _view(ctx: TenantContext, rule: str, period: str, on: str, node: str, station: str, verdict: str,
                page_no: int = 1, deputy: str = "", live: bool = False) -> services.View:
    q = services.Query.read(rule=rule, period=period, on=on, node=node, station=station, verdict=verdict,
                            page=page_no, deputy=deputy)
    return await services.build_view(ctx.db, await ctx.scope(), ctx.tenant, q, live=live)


@get("/compliance")
async def board(
    request: Request, ctx: TenantContext, rule: str = "", period: str = "", on: str = "", node: str = "",
    station: str = "", verdict: str = "", page_no: int = Parameter(query="page", default=1), deputy: str = "",
) -> Response:
    async def reads() -> dict:  # kept until the county's data changes (app.core.read_cache)
        view = await _view(ctx, rule, period, on, node, station, verdict, page_no, deputy)
        kinds, station_kinds = await _names(ctx, view.board)
        narrowed = view.query.rule_id or view.query.key
        return dict(v=view, q=view.query, summary={r.id: describe(r, kinds, station_kinds) for r in view.board.rules},
                    choices=services.period_choices(view.today),
                    all_rules=await _all_rules(ctx) if narrowed else view.board.rules,
                    crumbs=_crumbs(view, await ctx.scope()))

    name = (f"compliance:{ctx.membership.id}:{ctx.role}:{services.local_today(ctx.tz)}:"
            f"{[rule, period, on, node, station, verdict, page_no, deputy]!r}")
    shown = dict(base=ctx.base, VERDICTS=VERDICTS, VERDICT_NAMES=VERDICT_NAMES, is_admin=ctx.role == "county_admin",
                 can_export=ctx.role in EXPORT_ROLES)
    if htmx_target(request) == "board":
        return page(request, "compliance/_board.html", **await read_cache(request.app).remember(
            ctx.tenant.id, name, reads), **shown)
    return await kept_page(request, "compliance/board.html", tenant_id=ctx.tenant.id, name=name, reads=reads,
                           **shown)


async def _all_rules(ctx: TenantContext) -> list[Rule]:
    """The rule filter's choices when the board is narrowed: the rules this member's board can show."""
    return await engine.active_rules(ctx.db, await ctx.scope(), engine.Where())


def _crumbs(view: services.View, scope) -> list[tuple[str, str | None]]:
    """(label, query string or None for the current level): county → township → station."""
    q, out = view.query, []
    if view.level == "deputy":
        if view.deputy_name:  # staff looking at one deputy: back to the whole board
            out = [(gettext(COUNTY), q.params(deputy=None, page=None)), (view.deputy_name, None)]
        return out
    if scope.whole_tenant:
        out.append((gettext(COUNTY), q.params(node=None, station=None, page=None)))
    node = view.node
    if view.level == "station" and view.township is not None and scope.covers_path(view.township.path):
        out.append((view.township.name, q.params(node=view.township.id, station=None, page=None)))
    elif view.level == "township" and node is not None:
        out.append((node.name, None))
    if view.level == "station":
        out.append((view.station_name, None))
    if out and out[-1][1] is not None:
        out[-1] = (out[-1][0], None)
    return out


@get("/compliance/detail")
async def cell_detail(request: Request, ctx: TenantContext, rule: int = 0, subject: str = "",
                      period: str = "") -> Response:
    found = await details.load_detail(ctx.db, await ctx.scope(), ctx.tenant, rule, subject, period)
    kinds, station_kinds = await _names(ctx, engine.Board([found.rule], {}, {}, {}, {}))
    return page(request, "compliance/detail.html", d=found, c=found.cell, base=ctx.base,
                summary=describe(found.rule, kinds, station_kinds), VERDICT_NAMES=VERDICT_NAMES)


async def _export(request: Request, ctx: TenantContext, fmt: str, rule: str, period: str, on: str, node: str,
                  station: str, verdict: str, deputy: str = "") -> Response:
    ctx.require_role(*EXPORT_ROLES)
    # every cell of the board, as of now: the export evaluates live (the snapshot holds one page)
    view = await _view(ctx, rule, period, on, node, station, verdict, deputy=deputy, live=True)
    encoding = spreadsheets.csv_encoding(request.query_params.get("encoding"))
    body = exports.render(view, fmt, encoding)
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="compliance_exported",
                 client_addr=client_addr(request),
                 details={"format": fmt, "level": view.level, "filters": view.query.params()})
    return download(body, exports.filename(view, ctx.tenant.name, fmt), encoding=encoding)


@get("/compliance/export.csv")
async def export_csv(request: Request, ctx: TenantContext, rule: str = "", period: str = "", on: str = "",
                     node: str = "", station: str = "", verdict: str = "", deputy: str = "") -> Response:
    return await _export(request, ctx, "csv", rule, period, on, node, station, verdict, deputy)


@get("/compliance/export.xlsx")
async def export_xlsx(request: Request, ctx: TenantContext, rule: str = "", period: str = "", on: str = "",
                      node: str = "", station: str = "", verdict: str = "", deputy: str = "") -> Response:
    return await _export(request, ctx, "xlsx", rule, period, on, node, station, verdict, deputy)


route_handlers = [board, cell_detail, export_csv, export_xlsx]
