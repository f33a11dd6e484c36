"""The whole station binder for a year, as one workbook and one print-out: the registers of
``sheets.REGISTERS`` in order, then the case register (选民反映情况和代表建议、批评和意见登记簿: the
cases registered at these stations that year, through ``app.cases.ledgers``), then the roster of the
deputies stationed there (三级人大代表花名册, mobiles masked: a binder is a list).

The stations are the caller's (``access.reach``: one station, or every station in reach), so a
township's binder holds only its township's rows. Every part is read in a fixed number of queries.
Each part is a ``Section``: its title, head, lines and the function turning a line into cells, shared
by the sheet and the printed table, and the template whose ``rows`` block prints its lines (the
registers' own pages, so that paper and screen say the same)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.binder import album, archive, presidium_book, receptions, registers, sheets, voter_contacts
from app.binder.parts import ROWS_TEMPLATE, Binding, Section
from app.cases import ledgers
from app.core import spreadsheets
from app.core.i18n import gettext, lazy
from app.core.periods import period_of
from app.core.security import mask_mobile
from app.deputies.models import LEVEL_NAMES, LEVELS, Deputy, Mandate, StationDeputy
from app.stations.models import Station
from app.tenancy.scope import Scope

CASE_TITLE = lazy("Register of opinions and suggestions")
ROSTER_TITLE = lazy("Roster of deputies of the three levels")
ROSTER_HEAD = (lazy("Deputy"), lazy("Levels"), lazy("Station"), lazy("Constituency"), lazy("Mobile"))
CONTENTS = lazy("Table of contents")
BINDER_TITLE = lazy("Binder of %(place)s, %(year)s")
LINES = lazy("Lines")
PAGE_OF = lazy("Page %(page)s of %(pages)s")  # the register's pager's words: 第x页，共y页

# key -> how its lines are read: (db, scope, station ids, year, tenant zone name) -> lines
READERS = {
    "attendance": lambda db, scope, ids, year, tz: registers.attendance(db, ids, year, tz),
    "reception": registers.receptions,
    sheets.DEPUTY_RECEPTIONS: lambda db, scope, ids, year, tz: receptions.register(db, ids, year),
    "reports": lambda db, scope, ids, year, tz: registers.duty_reports(db, ids, year),
}


@dataclass
class RosterLine:
    station: str
    name: str
    mobile: str  # masked
    levels: list[str] = field(default_factory=list)
    constituencies: list[str] = field(default_factory=list)


def roster_cells(line: RosterLine) -> list:
    return [line.name, sheets.SEPARATOR.join(gettext(LEVEL_NAMES[lv]) for lv in line.levels), line.station,
            sheets.SEPARATOR.join(line.constituencies), line.mobile]


async def roster(db: AsyncSession, station_ids: list[int]) -> list[RosterLine]:
    """The serving deputies stationed at these stations (one line per deputy and station, in the
    stations' order), each with the levels they sit at: one query."""
    rows = await db.execute(
        select(StationDeputy.station_id, Station.name, Deputy.id, Deputy.name, Deputy.mobile, Mandate.level,
               Mandate.constituency)
        .join(Deputy, and_(Deputy.tenant_id == StationDeputy.tenant_id, Deputy.id == StationDeputy.deputy_id))
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .outerjoin(Mandate, and_(Mandate.tenant_id == Deputy.tenant_id, Mandate.deputy_id == Deputy.id))
        .where(StationDeputy.station_id.in_(station_ids), StationDeputy.ended_at.is_(None),
               Deputy.status == "active")
        .order_by(Deputy.name, Deputy.id, Mandate.id)
    )
    found: dict[tuple[int, int], RosterLine] = {}
    for station_id, station, deputy_id, name, mobile, level, constituency in rows:
        line = found.setdefault((station_id, deputy_id), RosterLine(station, name, mask_mobile(mobile)))
        if level in LEVEL_NAMES and level not in line.levels:
            line.levels.append(level)
        if constituency and constituency not in line.constituencies:
            line.constituencies.append(constituency)
    order = {sid: n for n, sid in enumerate(station_ids)}
    for line in found.values():
        line.levels.sort(key=LEVELS.index)
    return [found[k] for k in sorted(found, key=lambda k: order.get(k[0], 0))]  # stable: names stay sorted


async def _registers(b: Binding) -> list[Section]:
    out = []
    for key, (title, head, cells) in sheets.REGISTERS.items():
        lines = await READERS[key](b.db, b.scope, b.station_ids, b.year, b.tz)
        out.append(Section(key, title, head, lines, cells, f"binder/{key}.html"))
    return out


async def _cases(b: Binding) -> list[Section]:
    zone = ZoneInfo(b.tz)
    cases = await ledgers.station_register(b.db, b.scope, b.station_ids, period_of("year", date(b.year, 1, 1)), zone)
    return [Section("cases", CASE_TITLE, ledgers.REGISTER_HEAD, cases,
                    lambda row: ledgers.register_cells(row, zone), ROWS_TEMPLATE, day_columns=(0, 10))]


async def _deputies(b: Binding) -> list[Section]:
    return [Section("deputies", ROSTER_TITLE, ROSTER_HEAD, await roster(b.db, b.station_ids), roster_cells,
                    ROWS_TEMPLATE)]


async def _presidium(b: Binding) -> list[Section]:
    """人大主席团花名册 and 人大代表主席团成员联系人大代表花名册 (``presidium_book``): two queries."""
    return [Section("presidium", presidium_book.MEMBERS_TITLE, presidium_book.MEMBERS_HEAD,
                    await presidium_book.members(b.db, b.station_ids), presidium_book.member_cells, ROWS_TEMPLATE),
            Section("presidium-contacts", presidium_book.CONTACTS_TITLE, presidium_book.CONTACTS_HEAD,
                    await presidium_book.contacts(b.db, b.station_ids), presidium_book.contact_cells, ROWS_TEMPLATE)]


async def _voter_contacts(b: Binding) -> list[Section]:
    """人大代表联系选民花名册 (``voter_contacts``): masked unless the binder is revealed; one query."""
    lines = await voter_contacts.read(b.db, b.scope, b.station_ids, b.year, b.tz, reveal=b.reveal)
    return [Section(voter_contacts.KEY, voter_contacts.TITLE, voter_contacts.HEAD, lines, voter_contacts.cells,
                    f"binder/{voter_contacts.KEY}.html")]


# The binder's parts in the binder's order (五簿, then 五册, then 一档案): each reads its sections in a
# fixed number of queries.
PARTS: list[Callable[[Binding], Awaitable[list[Section]]]] = [
    _registers,
    _cases,
    _deputies,
    _presidium,
    _voter_contacts,
    album.part,  # 照片册 (app/binder/album.py): printed by its own template
    archive.part,  # 一档案 (app/binder/archive.py): every deputy's dossier, last
]


async def read(db: AsyncSession, scope: Scope, station_ids: list[int], year: int, tz: str, *,
               reveal: bool = False) -> list[Section]:
    """Every part of the binder, in the binder's order."""
    binding = Binding(db, scope, station_ids, year, tz, reveal)
    out = []
    for part in PARTS:
        out.extend(await part(binding))
    return out


def title(place: str, year: int) -> str:
    return gettext(BINDER_TITLE, place=place, year=year)


def xlsx(sections: list[Section], heading: str, tz) -> bytes:
    """The workbook: the contents sheet first (the binder's title, then each sheet's name and number
    of lines), then a sheet per part. The names are worked out first as the book gives them (the same
    titles, in the same order, through the same ``sheet_name``), so that the contents name each sheet as
    its tab does."""
    taken: set[str] = set()
    spreadsheets.sheet_name(gettext(CONTENTS), taken)
    names = [spreadsheets.sheet_name(gettext(s.title), taken) for s in sections]
    book = spreadsheets.Book(tz=tz)
    contents = book.sheet(gettext(CONTENTS), [heading, gettext(LINES)], filter=False)
    for section, name in zip(sections, names):
        contents.append([name, len(section.lines)])
        sheet = book.sheet(gettext(section.title), [gettext(h) for h in section.head])
        for line in section.lines:
            sheet.append(section.cells(line))
    return book.save()


def css_text(text: str) -> str:
    """``text`` as a CSS string: every character but letters and digits escaped, so that a place's
    name cannot end the string or the rule."""
    return '"' + "".join(ch if ch.isascii() and ch.isalnum() else f"\\{ord(ch):06x}" for ch in text) + '"'


def print_css(heading: str) -> str:
    """The print-out's running header (the binder's title) and page numbers, in the page's margin
    boxes (Chromium since 131); each part starts on a new page. Served as a stylesheet of its own,
    as the content security policy allows no inline style."""
    marker = "\x00"
    page_of = gettext(PAGE_OF, page=marker + "page" + marker,
                      pages=marker + "pages" + marker)
    parts = []
    for n, piece in enumerate(page_of.split(marker)):
        if n % 2:
            parts.append(f"counter({piece})")
        elif piece:
            parts.append(css_text(piece))
    return ("@media print{"
            f"@page{{margin:16mm 12mm;@top-center{{content:{css_text(heading)};font-size:9pt;color:#555}}"
            f"@bottom-center{{content:{' '.join(parts) or 'counter(page)'};font-size:9pt;color:#555}}}}"
            ".binder-part+.binder-part{break-before:page}"
            "}\n")
