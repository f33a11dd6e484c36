"""人大代表联系选民花名册 in the station binder: the contact rosters (``app.deputies.roster``) of the
deputies serving and stationed at the binder's stations, with each constituent's contacts in the year.

Masked like every list of the rosters (``mask_mobile``, ``mask_address``) unless the binder is asked
for unmasked (``reveal``): a reveal, allowed to the roles that may reveal a roster entry today
(``roster.ROSTER_ROLES``: not viewers, whose binder stays masked), and logged once per page, print-out
or workbook (``record_reveal``). A revealed binder reads only the deputies the member could reveal one
by one on the roster pages (``roster.roster_filter``): for the binder's roles and stations that is
every deputy stationed there, so it changes nothing but stays true if either rule moves.
No web imports: the binder's routes and the whole binder (``book.PARTS``) read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core import spreadsheets
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.core.security import mask_mobile
from app.deputies.models import Deputy, RosterContact, RosterEntry, StationDeputy
from app.deputies.roster import ROSTER_ROLES, mask_address, roster_filter
from app.stations.models import Station
from app.tenancy.scope import Scope

KEY = "voter-contacts"  # the part's key: its page's address, its template, its place in the print-out
TITLE = lazy("Roster of deputies' contacts with voters")
HEAD = (lazy("Deputy"), lazy("Station"), lazy("Constituent's name"), lazy("Age"), lazy("Education"),
        lazy("Work unit"), lazy("Home address"), lazy("Mobile"), lazy("Contacts in the year"),
        lazy("Last contact in the year"))
REVEAL_REFUSED = lazy("Your role may not show voters' mobile numbers and addresses: the binder can be "
                      "printed and downloaded with them masked.")
REVEAL_ACTION = "binder_contacts_revealed"


@dataclass
class ContactLine:
    deputy: str
    station: str
    name: str
    age: int | None
    education: str
    work_unit: str
    address: str  # masked unless revealed
    mobile: str  # masked unless revealed
    contacts: int  # in the binder's year
    last_contact: date | None  # the last in the binder's year


def cells(line: ContactLine) -> list:
    """The line's cells, for the sheet and the print-out: blanks empty, the count a number, the day a date."""
    return [line.deputy, line.station, line.name, line.age, line.education or None, line.work_unit or None,
            line.address or None, line.mobile or None, line.contacts, line.last_contact]


def xlsx(lines: list[ContactLine], tz) -> bytes:
    """The part's own workbook: one sheet, as the whole binder's sheet of it."""
    book = spreadsheets.Book(tz=tz)
    sheet = book.sheet(gettext(TITLE), [gettext(h) for h in HEAD])
    for line in lines:
        sheet.append(cells(line))
    return book.save()


def may_reveal(scope: Scope) -> bool:
    """Whether the member may have the binder's roster unmasked: the roles that reveal roster entries."""
    return scope.role in ROSTER_ROLES


def read_reveal(scope: Scope, value: str | None) -> bool:
    """``?reveal=1`` asks for the roster unmasked; anything else is the masked binder. A role that may
    not reveal is refused, not quietly given the masked one: a print-out or a workbook taken for the
    full roster when it is not would be worse than a clear no (and a workbook has no page for a note)."""
    if (value or "").strip() != "1":
        return False
    if not may_reveal(scope):
        raise Refusal(REVEAL_REFUSED, status=403)
    return True


async def read(db: AsyncSession, scope: Scope, station_ids: list[int], year: int, tz: str, *,
               reveal: bool = False) -> list[ContactLine]:
    """Every entry of the rosters of the serving deputies stationed at these stations (one line per
    station, deputy and entry; in the stations' order, then by deputy and constituent) that was on the
    roster in ``year`` (not taken off before it began), with its contacts that year: one query."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    seen = (select(RosterContact.tenant_id, RosterContact.entry_id, func.count().label("n"),
                   func.max(RosterContact.contacted_on).label("last"))
            .where(RosterContact.contacted_on >= first, RosterContact.contacted_on <= last)
            .group_by(RosterContact.tenant_id, RosterContact.entry_id).subquery())
    query = (
        select(StationDeputy.station_id, Station.name, Deputy.name, RosterEntry, seen.c.n, seen.c.last)
        .join(Deputy, and_(Deputy.tenant_id == StationDeputy.tenant_id, Deputy.id == StationDeputy.deputy_id))
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .join(RosterEntry, and_(RosterEntry.tenant_id == Deputy.tenant_id, RosterEntry.deputy_id == Deputy.id))
        .outerjoin(seen, and_(seen.c.tenant_id == RosterEntry.tenant_id, seen.c.entry_id == RosterEntry.id))
        .where(StationDeputy.station_id.in_(station_ids), StationDeputy.ended_at.is_(None),
               Deputy.status == "active",
               or_(RosterEntry.retired_at.is_(None),
                   RosterEntry.retired_at >= datetime(year, 1, 1, tzinfo=ZoneInfo(tz))))
        .order_by(Deputy.name, Deputy.id, RosterEntry.name, RosterEntry.id)
    )
    if reveal:
        query = query.where(roster_filter(scope))
    found: dict[tuple[int, int], ContactLine] = {}
    for station_id, station, deputy, entry, n, last_day in await db.execute(query):
        found.setdefault((station_id, entry.id), _line(deputy, station, entry, n or 0, last_day, reveal))
    order = {sid: n for n, sid in enumerate(station_ids)}
    return [found[k] for k in sorted(found, key=lambda k: order.get(k[0], 0))]  # stable: names stay sorted


def _line(deputy: str, station: str, entry: RosterEntry, contacts: int, last_contact: date | None,
          reveal: bool) -> ContactLine:
    address = entry.address if reveal else mask_address(entry.address)
    mobile = (entry.mobile or "") if reveal else mask_mobile(entry.mobile)
    return ContactLine(deputy, station, entry.name, entry.age, entry.education, entry.work_unit, address or "",
                       mobile, contacts, last_contact)


async def record_reveal(db: AsyncSession, *, tenant_id: int, actor_id: int, client_addr: str | None, target: str,
                        station_id: int | None, year: int, entries: int, fmt: str) -> None:
    """The one audit entry of an unmasked page, print-out or workbook: who saw how many voters'
    mobiles and addresses, of which station (None: every station in reach) and year."""
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action=REVEAL_ACTION, target=target,
                 client_addr=client_addr,
                 details={"station_id": station_id, "year": year, "entries": entries, "format": fmt})
