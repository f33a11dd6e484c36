"""The deputy mailbox (代表信箱) of a station: each opening logged (who, when, how many letters), and
the weekly check (the box is opened at least once a week, Monday to Sunday in the tenant's time zone).
The letters themselves become cases with the source "mailbox" (the cases' registration form).

Only weeks since the station opened count: a week that began before the day it was put into
operation (its "activated" step; a station set up in operation from the start: its creation) is not
missed. A logged opening earlier than that shows the station was running already, so the check
starts from the earlier of the two.

Seeing the mailbox page: whoever sees the station (``app.stations.access.get_station``). Logging an
opening: the station's staff, township staff in whose subtree it is, county admins
(``app.stations.access.can_edit_profile``). Services audit and do not commit; bad input raises Refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.audit.services import record
from app.cases.models import MailboxOpening
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.stations.access import StationRef, can_edit_profile
from app.stations.models import Station, StationEvent
from app.tenancy.models import Tenant
from app.tenancy.scope import Scope

LETTERS_MAX = 10000
NOTE_MAX = 500
WEEKS_SHOWN = 12
LIST_MAX = 50

WHEN_BAD = lazy("Please give the date and time of the opening (e.g. 2026-03-02 and 09:30).")
WHEN_FUTURE = lazy("The opening cannot be in the future.")
LETTERS_BAD = lazy("The number of letters is a whole number from 0 to 10000.")
NOTE_TOO_LONG = lazy("The note on the opening may have at most 500 characters.")


def can_log(scope: Scope, ref: StationRef) -> bool:
    return can_edit_profile(scope, ref)


def parse_when(day: str, clock: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The opening's moment from the form (tenant's local date and time); not after ``now``."""
    try:
        local = datetime.combine(date.fromisoformat(str(day).strip()), time.fromisoformat(str(clock).strip()))
    except ValueError:
        raise Refusal(WHEN_BAD) from None
    moment = local.replace(tzinfo=tz)
    if moment > now + timedelta(minutes=1):  # a minute's grace for a clock a little ahead
        raise Refusal(WHEN_FUTURE)
    return moment


def parse_letters(text: str) -> int:
    text = str(text or "").strip()
    if not text.isdigit() or int(text) > LETTERS_MAX:
        raise Refusal(LETTERS_BAD)
    return int(text)


async def log_opening(db: AsyncSession, scope: Scope, ref: StationRef, *, tenant_id: int, actor_id: int, day: str,
                      clock: str, letters: str, note: str, tz: ZoneInfo, now: datetime | None = None,
                      client_addr: str | None = None) -> MailboxOpening:
    """Record one opening of the station's mailbox. Refusal (404) for a member who may not log."""
    if not can_log(scope, ref):
        raise Refusal(WHEN_BAD, status=404)
    opened_at = parse_when(day, clock, tz, now or datetime.now(timezone.utc))
    count = parse_letters(letters)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise Refusal(NOTE_TOO_LONG)
    opening = MailboxOpening(tenant_id=tenant_id, station_id=ref.station.id, opened_at=opened_at, opened_by=actor_id,
                             letters=count, note=note)
    db.add(opening)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="mailbox_opened",
                 target=f"station:{ref.station.id}", client_addr=client_addr,
                 details={"opening_id": opening.id, "letters": count, "opened_at": opened_at.isoformat()})
    return opening


async def list_openings(db: AsyncSession, station_id: int, limit: int = LIST_MAX) -> list[tuple[MailboxOpening, str]]:
    """The latest openings with who opened the box: one query."""
    rows = await db.execute(
        select(MailboxOpening, User.display_name).outerjoin(User, User.id == MailboxOpening.opened_by)
        .where(MailboxOpening.station_id == station_id)
        .order_by(MailboxOpening.opened_at.desc(), MailboxOpening.id.desc()).limit(limit))
    return [(o, name or "") for o, name in rows.all()]


@dataclass
class Week:
    monday: date
    sunday: date
    openings: int
    letters: int
    # opened | missed | open (the current week, no opening yet) | before (began before the station opened)
    status: str


async def _tz(db: AsyncSession, station_id: int) -> ZoneInfo:
    """The time zone of the station's tenant."""
    name = await db.scalar(select(Tenant.timezone).where(
        Tenant.id == select(Station.tenant_id).where(Station.id == station_id).scalar_subquery()))
    return ZoneInfo(name or "Asia/Shanghai")


def _since():
    """The moment a station (the row's Station) opened: its activation, else its creation, or an earlier
    logged opening of its mailbox."""
    activated = (select(func.max(StationEvent.at))
                 .where(StationEvent.tenant_id == Station.tenant_id, StationEvent.station_id == Station.id,
                        StationEvent.action == "activated").correlate(Station).scalar_subquery())
    first_opening = (select(func.min(MailboxOpening.opened_at))
                     .where(MailboxOpening.tenant_id == Station.tenant_id, MailboxOpening.station_id == Station.id)
                     .correlate(Station).scalar_subquery())
    return func.least(func.coalesce(activated, Station.created_at), first_opening)


async def _openings(db: AsyncSession, ids: list[int], weeks: int, today: date, tz: ZoneInfo
                    ) -> tuple[dict[int, list], dict[int, date]]:
    """Per station: its openings in the window (opened_at, letters) and the local day it opened. One
    query (a station without openings is one row of NULLs)."""
    start, end = _window(weeks, today, tz)
    rows = await db.execute(
        select(Station.id, _since(), MailboxOpening.opened_at, MailboxOpening.letters)
        .outerjoin(MailboxOpening, and_(MailboxOpening.tenant_id == Station.tenant_id,
                                        MailboxOpening.station_id == Station.id,
                                        MailboxOpening.opened_at >= start, MailboxOpening.opened_at < end))
        .where(Station.id.in_(ids)))
    found: dict[int, list] = {sid: [] for sid in ids}
    since: dict[int, date] = {}
    for sid, opened, opened_at, letters in rows.all():
        if opened is not None:
            since[sid] = opened.astimezone(tz).date()
        if opened_at is not None:
            found[sid].append((opened_at, letters))
    return found, since


async def weekly_check(db: AsyncSession, station_id: int, weeks: int, today: date,
                       tz: ZoneInfo | None = None) -> list[Week]:
    """The week of ``today`` and the ``weeks - 1`` before it, newest first, each opened or missed
    (the current week is "open" until an opening is logged; weeks before the station opened are
    "before"). One query."""
    tz = tz or await _tz(db, station_id)
    found, since = await _openings(db, [station_id], weeks, today, tz)
    return _weeks(found[station_id], weeks, today, tz, since.get(station_id))


def _window(weeks: int, today: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=weeks - 1)
    return (datetime.combine(first, time.min, tzinfo=tz),
            datetime.combine(this_monday + timedelta(days=7), time.min, tzinfo=tz))


def _weeks(rows, weeks: int, today: date, tz: ZoneInfo, since: date | None = None) -> list[Week]:
    """The weeks (newest first) from the openings ``rows`` of one station: (opened_at, letters); a week
    that began before ``since`` (the day the station opened) is not missed."""
    this_monday = today - timedelta(days=today.weekday())
    counts: dict[date, list[int]] = {}
    for opened_at, letters in rows:
        local = opened_at.astimezone(tz).date()
        monday = local - timedelta(days=local.weekday())
        counts.setdefault(monday, []).append(letters)
    out = []
    for n in range(weeks):
        monday = this_monday - timedelta(weeks=n)
        found = counts.get(monday, [])
        if found:
            status = "opened"
        elif monday == this_monday:
            status = "open"
        else:
            status = "before" if since is not None and monday < since else "missed"
        out.append(Week(monday, monday + timedelta(days=6), len(found), sum(found), status))
    return out


async def missed_weeks(db: AsyncSession, station_id: int, weeks: int, today: date,
                       tz: ZoneInfo | None = None) -> list[date]:
    """The Mondays of the finished weeks, among the last ``weeks`` (the current one included, though it
    cannot be missed yet), in which the station's mailbox was not opened; oldest first. For the
    reminders and the compliance board."""
    return sorted(w.monday for w in await weekly_check(db, station_id, weeks, today, tz) if w.status == "missed")


async def missed_weeks_by_station(db: AsyncSession, station_ids, weeks: int, today: date,
                                  tz: ZoneInfo) -> dict[int, list[date]]:
    """``missed_weeks`` for many stations at once (the compliance board): one query, whatever their
    number. Stations with no missed week are left out."""
    ids = sorted({int(s) for s in station_ids})
    if not ids:
        return {}
    by_station, since = await _openings(db, ids, weeks, today, tz)
    out = {}
    for sid, found in by_station.items():
        missed = sorted(w.monday for w in _weeks(found, weeks, today, tz, since.get(sid)) if w.status == "missed")
        if missed:
            out[sid] = missed
    return out
