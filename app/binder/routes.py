"""The station binder's registers under /t/{tenant_slug}/binder: a page choosing the station (or all
in reach) and the year, and per register a page (``?print=1``: the A4 layout, no header or menu) and
an XLSX download; and the whole binder as one workbook (book.xlsx) and one print-out (print, with its
print.css). Access is ``access.reach`` (roles and the station's scope); the reading is ``registers``
(through ``book.READERS``); the columns are ``sheets``, shared by page and spreadsheet."""

from __future__ import annotations

from litestar import Request, Response, get
from markupsafe import Markup

from app.audit.services import record
from app.binder import access, book, reception_routes, sheets
from app.binder.receptions import RECORD_ROLES
from app.cases.models import STATE_NAMES
from app.duties.meeting_models import MEETING_STATUS_NAMES
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.core.web import client_addr, download, page
from app.tenancy.access import TenantContext


async def _read(ctx: TenantContext, key: str, station: str | None, year: str | None):
    """(the reach, the year, the register's lines): access first, then a fixed number of queries."""
    scope = await ctx.scope()
    reach = await access.reach(ctx.db, scope, station)
    y = access.read_year(year, ctx.today())
    lines = await book.READERS[key](ctx.db, scope, reach.station_ids, y, ctx.tenant.timezone)
    return reach, y, lines


def _place(ctx: TenantContext, reach: access.Reach) -> str:
    return reach.chosen[1] if reach.chosen else ctx.tenant.name


async def _refused(request: Request, ctx: TenantContext, refusal: Refusal, station: str | None) -> Response:
    """A bad year: the binder's own page with the message and the form to choose again (no register
    read). The station was already found in reach, or the request would have ended in a 404."""
    reach = await access.reach(ctx.db, await ctx.scope(), station)
    return page(request, "binder/index.html", status_code=refusal.status, error=refusal.text(),
                **_index(ctx, reach, ctx.today().year))


def _index(ctx: TenantContext, reach: access.Reach, year: int) -> dict:
    return dict(base=ctx.base, reach=reach, year=year, REGISTERS=sheets.REGISTERS,
                query=f"station={reach.chosen[0] if reach.chosen else ''}&year={year}")


async def _page(request: Request, ctx: TenantContext, key: str, station: str | None, year: str | None,
                **extra) -> Response:
    try:
        reach, y, lines = await _read(ctx, key, station, year)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    title, head, _cells = sheets.REGISTERS[key]
    return page(request, f"binder/{key}.html", key=key, lines=lines, title=title, head=head,
                place=_place(ctx, reach), printing=request.query_params.get("print") == "1",
                STATE_NAMES=STATE_NAMES, MEETING_STATUS_NAMES=MEETING_STATUS_NAMES,
                present_name=sheets.present_name, **extra, **_index(ctx, reach, y))


async def _xlsx(request: Request, ctx: TenantContext, key: str, station: str | None, year: str | None) -> Response:
    try:
        reach, y, lines = await _read(ctx, key, station, year)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    title = gettext(sheets.REGISTERS[key][0])
    # the registers carry deputies' names and the public's matters: who took a copy is logged
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="binder_register_exported",
                 target=f"binder:{key}", client_addr=client_addr(request),
                 details={"station_id": reach.chosen[0] if reach.chosen else None, "year": y, "format": "xlsx"})
    return download(sheets.xlsx(key, lines, ctx.tz), f"{title}-{_place(ctx, reach)}-{y}.xlsx")


@get("/binder")
async def binder(request: Request, ctx: TenantContext, station: str | None = None,
                 year: str | None = None) -> Response:
    reach = await access.reach(ctx.db, await ctx.scope(), station)
    try:
        y = access.read_year(year, ctx.today())
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    return page(request, "binder/index.html", **_index(ctx, reach, y))


@get("/binder/attendance")
async def attendance_page(request: Request, ctx: TenantContext, station: str | None = None,
                          year: str | None = None) -> Response:
    return await _page(request, ctx, "attendance", station, year)


@get("/binder/attendance.xlsx")
async def attendance_xlsx(request: Request, ctx: TenantContext, station: str | None = None,
                  year: str | None = None) -> Response:
    return await _xlsx(request, ctx, "attendance", station, year)


@get("/binder/reception")
async def reception_page(request: Request, ctx: TenantContext, station: str | None = None,
                         year: str | None = None) -> Response:
    return await _page(request, ctx, "reception", station, year)


@get("/binder/reception.xlsx")
async def reception_xlsx(request: Request, ctx: TenantContext, station: str | None = None,
                  year: str | None = None) -> Response:
    return await _xlsx(request, ctx, "reception", station, year)


@get("/binder/reports")
async def reports_page(request: Request, ctx: TenantContext, station: str | None = None,
                       year: str | None = None) -> Response:
    return await _page(request, ctx, "reports", station, year)


@get("/binder/reports.xlsx")
async def reports_xlsx(request: Request, ctx: TenantContext, station: str | None = None,
                  year: str | None = None) -> Response:
    return await _xlsx(request, ctx, "reports", station, year)


RECEPTION_DONE = {"recorded": lazy("The reception of deputies has been recorded."),
                  "replied": lazy("The reply has been saved.")}


@get(f"/binder/{sheets.DEPUTY_RECEPTIONS}")
async def deputy_receptions_page(request: Request, ctx: TenantContext, station: str | None = None,
                                 year: str | None = None, done: str | None = None) -> Response:
    """人大接待代表登记簿: the register, with the form's link and a reply link per line for those who record."""
    can_record = (await ctx.scope()).role in RECORD_ROLES
    return await _page(request, ctx, sheets.DEPUTY_RECEPTIONS, station, year, can_record=can_record,
                       done=RECEPTION_DONE.get(done or ""))


@get(f"/binder/{sheets.DEPUTY_RECEPTIONS}.xlsx")
async def deputy_receptions_xlsx(request: Request, ctx: TenantContext, station: str | None = None,
                                 year: str | None = None) -> Response:
    return await _xlsx(request, ctx, sheets.DEPUTY_RECEPTIONS, station, year)


# --- the whole binder: one workbook, one print-out ----------------------------------------------------

async def _book(ctx: TenantContext, station: str | None, year: str | None):
    """(the reach, the year, every part of the binder): access first, then a fixed number of queries."""
    scope = await ctx.scope()
    reach = await access.reach(ctx.db, scope, station)
    y = access.read_year(year, ctx.today())
    return reach, y, await book.read(ctx.db, scope, reach.station_ids, y, ctx.tenant.timezone)


def _rows(request: Request, context: dict):
    """Prints a part's lines with the ``rows`` block of its own template (a register's page, or the
    plain cells template), so that the print-out reuses the registers' markup instead of a copy."""
    env = request.app.template_engine.engine

    def rows(section: book.Section) -> Markup:
        template = env.get_template(section.template)
        local = template.new_context({**context, "lines": section.lines, "section": section})
        return Markup("".join(template.blocks["rows"](local)))
    return rows


@get("/binder/book.xlsx")
async def book_xlsx(request: Request, ctx: TenantContext, station: str | None = None,
                    year: str | None = None) -> Response:
    try:
        reach, y, sections = await _book(ctx, station, year)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    heading = book.title(_place(ctx, reach), y)
    # the binder carries deputies' names and the public's matters: who took a copy is logged
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="binder_exported",
                 target="binder:book", client_addr=client_addr(request),
                 details={"station_id": reach.chosen[0] if reach.chosen else None, "year": y, "format": "xlsx"})
    return download(book.xlsx(sections, heading, ctx.tz), f"{heading}.xlsx")


@get("/binder/print")
async def book_print(request: Request, ctx: TenantContext, station: str | None = None,
                     year: str | None = None) -> Response:
    try:
        reach, y, sections = await _book(ctx, station, year)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    place = _place(ctx, reach)
    context = dict(base=ctx.base, STATE_NAMES=STATE_NAMES, MEETING_STATUS_NAMES=MEETING_STATUS_NAMES,
                   present_name=sheets.present_name)
    return page(request, "binder/book.html", sections=sections, place=place, heading=book.title(place, y),
                rows=_rows(request, context), **_index(ctx, reach, y))


@get("/binder/print.css")
async def book_css(request: Request, ctx: TenantContext, station: str | None = None,
                   year: str | None = None) -> Response:
    """The print-out's running header and page numbers (a stylesheet: no inline style is allowed)."""
    reach = await access.reach(ctx.db, await ctx.scope(), station)
    try:
        y = access.read_year(year, ctx.today())
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    return Response(book.print_css(book.title(_place(ctx, reach), y)), media_type="text/css")


route_handlers: list = [binder, attendance_page, attendance_xlsx, reception_page, reception_xlsx,
                        deputy_receptions_page, deputy_receptions_xlsx, reports_page, reports_xlsx, book_xlsx,
                        book_print, book_css, *reception_routes.route_handlers]
