"""The deputy mailbox (代表信箱) of a station: each opening logged (who, when, how many letters), and
the weekly check (the box is opened at least once a week, Monday to Sunday in the tenant's time zone).
The letters themselves become cases with the source "mailbox" (the cases' registration form).

Seeing the mailbox page: whoever sees the station (``app.stations.access.get_station``). Logging an
opening: the station's staff, township staff in whose subtree it is, county admins
(``app.stations.access.can_edit_profile``). Services audit and do not commit; bad input raises Refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.audit.services import record
from app.cases.models import MailboxOpening
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.stations.access import StationRef, can_edit_profile
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
    status: str  # opened | missed | open (the current week, no opening yet)


async def _tz(db: AsyncSession, station_id: int) -> ZoneInfo:
    """The time zone of the station's tenant."""
    from app.stations.models import Station

    name = await db.scalar(select(Tenant.timezone).where(
        Tenant.id == select(Station.tenant_id).where(Station.id == station_id).scalar_subquery()))
    return ZoneInfo(name or "Asia/Shanghai")


async def weekly_check(db: AsyncSession, station_id: int, weeks: int, today: date,
                       tz: ZoneInfo | None = None) -> list[Week]:
    """The week of ``today`` and the ``weeks - 1`` before it, newest first, each opened or missed
    (the current week is "open" until an opening is logged). One query."""
    tz = tz or await _tz(db, station_id)
    start, end = _window(weeks, today, tz)
    rows = (await db.execute(select(MailboxOpening.opened_at, MailboxOpening.letters).where(
        MailboxOpening.station_id == station_id, MailboxOpening.opened_at >= start,
        MailboxOpening.opened_at < end))).all()
    return _weeks(rows, weeks, today, tz)


def _window(weeks: int, today: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=weeks - 1)
    return (datetime.combine(first, time.min, tzinfo=tz),
            datetime.combine(this_monday + timedelta(days=7), time.min, tzinfo=tz))


def _weeks(rows, weeks: int, today: date, tz: ZoneInfo) -> list[Week]:
    """The weeks (newest first) from the openings ``rows`` of one station: (opened_at, letters)."""
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
        status = "opened" if found else ("open" if monday == this_monday else "missed")
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
    start, end = _window(weeks, today, tz)
    rows = (await db.execute(select(MailboxOpening.station_id, MailboxOpening.opened_at, MailboxOpening.letters).where(
        MailboxOpening.station_id.in_(ids), MailboxOpening.opened_at >= start, MailboxOpening.opened_at < end))).all()
    by_station: dict[int, list] = {sid: [] for sid in ids}
    for station_id, opened_at, letters in rows:
        by_station[station_id].append((opened_at, letters))
    out = {}
    for sid, found in by_station.items():
        missed = sorted(w.monday for w in _weeks(found, weeks, today, tz) if w.status == "missed")
        if missed:
            out[sid] = missed
    return out
