"""The station binder's registers under /t/{tenant_slug}/binder: a page choosing the station (or all
in reach) and the year, and per register a page (``?print=1``: the A4 layout, no header or menu) and
an XLSX download; and the whole binder as one workbook (book.xlsx) and one print-out (print, with its
print.css). Access is ``access.reach`` (roles and the station's scope); the reading is ``registers``
(through ``book.READERS``); the columns are ``sheets``, shared by page and spreadsheet."""

from __future__ import annotations

from litestar import Request, Response, get
from markupsafe import Markup

from app.audit.services import record
from app.binder import (access, album, archive, book, build_routes, parts, presidium_routes, reception_routes,
                        sheets, voter_contacts)
from app.binder.receptions import RECORD_ROLES
from app.cases.models import STATE_NAMES
from app.duties import dossiers
from app.duties.appraisal_models import GRADE_NAMES
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
    """A bad year (or a reveal the role may not ask for): the binder's own page with the message and
    the form to choose again (no register read). The station was already found in reach, or the
    request would have ended in a 404."""
    scope = await ctx.scope()
    reach = await access.reach(ctx.db, scope, station)
    return page(request, "binder/index.html", status_code=refusal.status, error=refusal.text(),
                may_reveal=voter_contacts.may_reveal(scope), **_index(ctx, reach, ctx.today().year))


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
                present_name=sheets.present_name, absent_name=sheets.absent_name, **extra, **_index(ctx, reach, y))


async def _log_export(request: Request, ctx: TenantContext, reach: access.Reach, year: int, key: str) -> None:
    """A register's or a part's workbook: they carry deputies' names and the public's matters, so who
    took a copy is logged."""
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="binder_register_exported",
                 target=f"binder:{key}", client_addr=client_addr(request),
                 details={"station_id": reach.chosen[0] if reach.chosen else None, "year": year, "format": "xlsx"})


async def _xlsx(request: Request, ctx: TenantContext, key: str, station: str | None, year: str | None) -> Response:
    try:
        reach, y, lines = await _read(ctx, key, station, year)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    title = gettext(sheets.REGISTERS[key][0])
    await _log_export(request, ctx, reach, y, key)
    return download(sheets.xlsx(key, lines, ctx.tz), f"{title}-{_place(ctx, reach)}-{y}.xlsx")


@get("/binder")
async def binder(request: Request, ctx: TenantContext, station: str | None = None,
                 year: str | None = None) -> Response:
    scope = await ctx.scope()
    reach = await access.reach(ctx.db, scope, station)
    try:
        y = access.read_year(year, ctx.today())
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    return page(request, "binder/index.html", may_reveal=voter_contacts.may_reveal(scope), **_index(ctx, reach, y))


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


# --- the photo album (照片册): a part of the whole binder, with a page of its own ---------------------

async def _album(ctx: TenantContext, station: str | None, year: str | None):
    """(the reach, the year, the album's photos): access first, then one query."""
    reach = await access.reach(ctx.db, await ctx.scope(), station)
    y = access.read_year(year, ctx.today())
    return reach, y, await album.photos(ctx.db, reach.station_ids, y, ctx.tenant.timezone)


@get(f"/binder/{album.ALBUM}")
async def album_page(request: Request, ctx: TenantContext, station: str | None = None,
                     year: str | None = None) -> Response:
    try:
        reach, y, lines = await _album(ctx, station, year)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    printing = request.query_params.get("print") == "1"
    # on screen the thumbnails load as they come into view (slow links); printed, all of them at once
    return page(request, "binder/album.html", key=album.ALBUM, lines=lines, title=album.TITLE, head=album.HEAD,
                place=_place(ctx, reach), printing=printing, lazy_images=not printing, **_index(ctx, reach, y))


@get(f"/binder/{album.ALBUM}.xlsx")
async def album_xlsx(request: Request, ctx: TenantContext, station: str | None = None,
                     year: str | None = None) -> Response:
    try:
        reach, y, lines = await _album(ctx, station, year)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    await _log_export(request, ctx, reach, y, album.ALBUM)
    return download(album.xlsx(lines, ctx.tz), f"{gettext(album.TITLE)}-{_place(ctx, reach)}-{y}.xlsx")


# --- 一档案: every stationed deputy's dossier, a part of the whole binder with a page of its own -------

async def _archive(ctx: TenantContext, station: str | None, year: str | None):
    """(the reach, the year, the archive): access first, then a fixed number of queries."""
    scope = await ctx.scope()
    reach = await access.reach(ctx.db, scope, station)
    y = access.read_year(year, ctx.today())
    return reach, y, await archive.read(ctx.db, scope, reach.station_ids, y, ctx.tenant.timezone)


@get(f"/binder/{archive.KEY}")
async def archive_page(request: Request, ctx: TenantContext, station: str | None = None,
                       year: str | None = None) -> Response:
    try:
        reach, y, found = await _archive(ctx, station, year)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    printing = request.query_params.get("print") == "1"
    # printed, the dossiers go on portrait pages: the register's layout turns landscape on a wide head
    return page(request, "binder/archive.html", key=archive.KEY, lines=found.lines, title=archive.TITLE,
                head=() if printing else found.head, with_points=found.with_points, place=_place(ctx, reach),
                printing=printing, GRADE_NAMES=GRADE_NAMES, **dossiers.NAMES, **_index(ctx, reach, y))


@get(f"/binder/{archive.KEY}.xlsx")
async def archive_xlsx(request: Request, ctx: TenantContext, station: str | None = None,
                       year: str | None = None) -> Response:
    try:
        reach, y, found = await _archive(ctx, station, year)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    await _log_export(request, ctx, reach, y, archive.KEY)
    return download(archive.xlsx(found, ctx.tz), f"{gettext(archive.TITLE)}-{_place(ctx, reach)}-{y}.xlsx")


# --- 人大代表联系选民花名册: a part of the whole binder, with a page of its own, masked unless revealed ----

async def _asked(ctx: TenantContext, station: str | None, year: str | None, reveal: str | None):
    """(the scope, the reach, the year, whether unmasked): access first, then the year and the reveal
    (``?reveal=1`` from a role that may not reveal: a Refusal, 403)."""
    scope = await ctx.scope()
    reach = await access.reach(ctx.db, scope, station)
    y = access.read_year(year, ctx.today())
    return scope, reach, y, voter_contacts.read_reveal(scope, reveal)


async def _contacts(ctx: TenantContext, station: str | None, year: str | None, reveal: str | None):
    """(the reach, the year, whether unmasked, the roster's lines): one query after the access."""
    scope, reach, y, revealed = await _asked(ctx, station, year, reveal)
    lines = await voter_contacts.read(ctx.db, scope, reach.station_ids, y, ctx.tenant.timezone, reveal=revealed)
    return reach, y, revealed, lines


async def _log_reveal(request: Request, ctx: TenantContext, reach: access.Reach, year: int, target: str,
                      entries: int, fmt: str) -> None:
    await voter_contacts.record_reveal(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                       client_addr=client_addr(request), target=target,
                                       station_id=reach.chosen[0] if reach.chosen else None, year=year,
                                       entries=entries, fmt=fmt)


@get(f"/binder/{voter_contacts.KEY}")
async def voter_contacts_page(request: Request, ctx: TenantContext, station: str | None = None,
                              year: str | None = None, reveal: str | None = None) -> Response:
    try:
        reach, y, revealed, lines = await _contacts(ctx, station, year, reveal)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    printing = request.query_params.get("print") == "1"
    if revealed:  # every unmasked page and print-out is one audit entry
        await _log_reveal(request, ctx, reach, y, f"binder:{voter_contacts.KEY}", len(lines),
                          "print" if printing else "page")
    index = _index(ctx, reach, y)
    masked_query = index["query"]
    index["query"] += "&reveal=1" if revealed else ""  # its print and Excel links stay unmasked
    return page(request, f"binder/{voter_contacts.KEY}.html", key=voter_contacts.KEY, lines=lines,
                title=voter_contacts.TITLE, head=voter_contacts.HEAD, place=_place(ctx, reach), printing=printing,
                revealed=revealed, masked_query=masked_query,
                may_reveal=voter_contacts.may_reveal(await ctx.scope()), **index)


@get(f"/binder/{voter_contacts.KEY}.xlsx")
async def voter_contacts_xlsx(request: Request, ctx: TenantContext, station: str | None = None,
                              year: str | None = None, reveal: str | None = None) -> Response:
    try:
        reach, y, revealed, lines = await _contacts(ctx, station, year, reveal)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    target = f"binder:{voter_contacts.KEY}"
    await _log_export(request, ctx, reach, y, voter_contacts.KEY)
    if revealed:
        await _log_reveal(request, ctx, reach, y, target, len(lines), "xlsx")
    return download(voter_contacts.xlsx(lines, ctx.tz),
                    f"{gettext(voter_contacts.TITLE)}-{_place(ctx, reach)}-{y}.xlsx")


# --- the whole binder: one workbook, one print-out ----------------------------------------------------

async def _book(ctx: TenantContext, station: str | None, year: str | None, reveal: str | None = None):
    """(the reach, the year, every part of the binder): access first, then the reveal checked (see
    ``_asked``), then a fixed number of queries."""
    scope, reach, y, revealed = await _asked(ctx, station, year, reveal)
    return reach, y, await book.read(ctx.db, scope, reach.station_ids, y, ctx.tenant.timezone, reveal=revealed)


async def _book_revealed(request: Request, ctx: TenantContext, reach: access.Reach, year: int, sections: list,
                         reveal: str | None, fmt: str) -> bool:
    """Whether the whole binder was read unmasked (``_book`` let the role through), and if so its one
    audit entry, besides ``binder_exported``: how many voters' contact details were shown."""
    if not voter_contacts.read_reveal(await ctx.scope(), reveal):
        return False
    entries = sum(len(s.lines) for s in sections if s.key == voter_contacts.KEY)
    await _log_reveal(request, ctx, reach, year, "binder:book", entries, fmt)
    return True


def _rows(request: Request, context: dict):
    """Prints a part's lines with the ``rows`` block of its own template (a register's page, or the
    plain cells template), so that the print-out reuses the registers' markup instead of a copy."""
    env = request.app.template_engine.engine

    def rows(section: parts.Section) -> Markup:
        template = env.get_template(section.template)
        local = template.new_context({**context, "lines": section.lines, "section": section})
        return Markup("".join(template.blocks["rows"](local)))
    return rows


@get("/binder/book.xlsx")
async def book_xlsx(request: Request, ctx: TenantContext, station: str | None = None,
                    year: str | None = None, reveal: str | None = None) -> Response:
    try:
        reach, y, sections = await _book(ctx, station, year, reveal)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    await _book_revealed(request, ctx, reach, y, sections, reveal, "xlsx")
    heading = book.title(_place(ctx, reach), y)
    # the binder carries deputies' names and the public's matters: who took a copy is logged
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="binder_exported",
                 target="binder:book", client_addr=client_addr(request),
                 details={"station_id": reach.chosen[0] if reach.chosen else None, "year": y, "format": "xlsx"})
    return download(book.xlsx(sections, heading, ctx.tz), f"{heading}.xlsx")


@get("/binder/print")
async def book_print(request: Request, ctx: TenantContext, station: str | None = None,
                     year: str | None = None, reveal: str | None = None) -> Response:
    try:
        reach, y, sections = await _book(ctx, station, year, reveal)
    except Refusal as refusal:
        return await _refused(request, ctx, refusal, station)
    revealed = await _book_revealed(request, ctx, reach, y, sections, reveal, "print")
    place = _place(ctx, reach)
    context = dict(base=ctx.base, STATE_NAMES=STATE_NAMES, MEETING_STATUS_NAMES=MEETING_STATUS_NAMES,
                   present_name=sheets.present_name, absent_name=sheets.absent_name)
    return page(request, "binder/book.html", sections=sections, place=place, heading=book.title(place, y),
                rows=_rows(request, context), revealed=revealed, **dossiers.NAMES, **_index(ctx, reach, y))


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
                        album_page, album_xlsx, archive_page, archive_xlsx, voter_contacts_page, voter_contacts_xlsx,
                        book_print, book_css, *reception_routes.route_handlers,
                        *build_routes.route_handlers, *presidium_routes.route_handlers]
