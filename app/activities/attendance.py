"""Attendance (出勤): per deputy and per station, per month and per year, and the yearly attendance
report of a deputy (年度出勤情况报告) that also lists the other deputies of the same station(s).

What counts: an invitation that was not withdrawn, to an activity that was not cancelled and was
held or has started (a past activity nobody recorded still counts as one the deputy was due at).
Present: an attendance row, whatever the method; a staff sign-in carries its reason everywhere.
Months and years are the tenant's local calendar. Every function runs a fixed number of queries
(no query per deputy or per activity); none needs a web request (the reminders deliver the report).

The deputy's registers (opinions 社情民意, suggestions 代表建议) live here too: the compliance rules
count them per deputy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import SUGGESTION_KINDS, Activity, ActivityKind, Attendance, Invitation, Opinion, Suggestion
from app.audit.services import record
from app.activities.cases_port import register_opinion_case
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.deputies.models import Deputy, DeputyGroup, StationDeputy
from app.activities.counting import Counts, year_bounds
from app.activities.joint_lines import JointLine, county_counts, county_lines
from app.stations.models import Station
from app.stations.refusals import FIELD_TOO_LONG as TEXT_TOO_LONG
from app.tenancy.models import Tenant
from app.tenancy.scope import Scope

MONTHS = tuple(range(1, 13))
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass
class Line:
    """One activity a deputy was invited to in the year."""

    activity_id: int
    starts_at: datetime  # local time
    topic: str
    kind: str
    place: str  # the station's name, or the deputy group's
    station_id: int | None
    status: str
    counted: bool
    present: bool
    method: str | None
    reason: str
    late: bool
    left_early: bool


def local_month(tz: str):
    return extract("month", func.timezone(tz, Activity.starts_at))


def invitation_join():
    return and_(Invitation.tenant_id == Activity.tenant_id, Invitation.activity_id == Activity.id)


def attendance_join():
    """Outer-joined to the invitation: the deputy's attendance, if they were there."""
    return and_(Attendance.tenant_id == Invitation.tenant_id, Attendance.activity_id == Invitation.activity_id,
                Attendance.deputy_id == Invitation.deputy_id)


def counted(now: datetime):
    """The activities a deputy is due at: not cancelled, and held or already started."""
    return and_(Activity.status != "cancelled", or_(Activity.status == "held", Activity.starts_at <= now))


def total_of(months: dict[int, Counts]) -> Counts:
    total = Counts()
    for c in months.values():
        total.add(c)
    return total


def by_month(lines: list[Line]) -> tuple[dict[int, Counts], Counts]:
    months = {m: Counts() for m in MONTHS}
    for line in lines:
        if line.counted:
            c = months[line.starts_at.month]
            c.invited += 1
            c.present += line.present
            c.staff += line.present and line.method == "staff"
            c.late += line.present and line.late
            c.left_early += line.present and line.left_early
    return months, total_of(months)


async def deputy_lines(db: AsyncSession, deputy_id: int, year: int, tz: str, now: datetime) -> list[Line]:
    """The deputy's invitations of the year (withdrawn ones left out), oldest first: one query."""
    start, end = year_bounds(year, tz)
    query = (
        select(Activity, ActivityKind.name, Station.name, DeputyGroup.name, Attendance, counted(now).label("due"))
        .join(Invitation, invitation_join())
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .outerjoin(Station, and_(Station.tenant_id == Activity.tenant_id, Station.id == Activity.station_id))
        .outerjoin(DeputyGroup, and_(DeputyGroup.tenant_id == Activity.tenant_id, DeputyGroup.id == Activity.group_id))
        .outerjoin(Attendance, attendance_join())
        .where(Invitation.deputy_id == deputy_id, Invitation.withdrawn_at.is_(None),
               Activity.starts_at >= start, Activity.starts_at < end)
        .order_by(Activity.starts_at, Activity.id)
    )
    zone = ZoneInfo(tz)
    out = []
    for activity, kind, station, group, att, due in await db.execute(query):
        present = bool(due) and att is not None
        out.append(Line(
            activity_id=activity.id, starts_at=activity.starts_at.astimezone(zone), topic=activity.topic, kind=kind,
            place=station or group or "", station_id=activity.station_id, status=activity.status,
            counted=bool(due), present=present, method=att.method if present else None,
            reason=att.on_behalf_reason if present and att.method == "staff" else "",
            late=present and att.late, left_early=present and att.left_early,
        ))
    return out


# --- stations --------------------------------------------------------------------------------------

@dataclass
class StationMember:
    station_id: int
    deputy_id: int
    name: str


async def stationed_during(db: AsyncSession, station_ids: list[int], year: int, tz: str) -> list[StationMember]:
    """The deputies stationed at these stations at any time during the year: one query."""
    if not station_ids:
        return []
    start, end = year_bounds(year, tz)
    rows = await db.execute(
        select(StationDeputy.station_id, Deputy.id, Deputy.name).distinct()
        .join(Deputy, and_(Deputy.tenant_id == StationDeputy.tenant_id, Deputy.id == StationDeputy.deputy_id))
        .where(StationDeputy.station_id.in_(station_ids), StationDeputy.assigned_at < end,
               or_(StationDeputy.ended_at.is_(None), StationDeputy.ended_at >= start))
        .order_by(StationDeputy.station_id, Deputy.name, Deputy.id)
    )
    return [StationMember(*row) for row in rows]


async def station_counts(db: AsyncSession, station_ids: list[int], year: int, tz: str, now: datetime
                         ) -> dict[tuple[int, int], dict[int, Counts]]:
    """(station id, deputy id) -> month -> counts, at the activities of these stations: one query."""
    out: dict[tuple[int, int], dict[int, Counts]] = defaultdict(lambda: {m: Counts() for m in MONTHS})
    if not station_ids:
        return out
    start, end = year_bounds(year, tz)
    month = local_month(tz)
    present = Attendance.deputy_id.is_not(None)
    query = (
        select(Activity.station_id, Invitation.deputy_id, month, func.count(),
               func.count(Attendance.deputy_id), func.count().filter(Attendance.method == "staff"),
               func.count().filter(present, Attendance.late), func.count().filter(present, Attendance.left_early))
        .join(Invitation, invitation_join())
        .outerjoin(Attendance, attendance_join())
        .where(Activity.station_id.in_(station_ids), Invitation.withdrawn_at.is_(None), counted(now),
               Activity.starts_at >= start, Activity.starts_at < end)
        .group_by(Activity.station_id, Invitation.deputy_id, month)
    )
    for station_id, deputy_id, m, invited, attended, staff, late, early in await db.execute(query):
        out[(station_id, deputy_id)][int(m)] = Counts(invited, attended, staff, late, early)
    return out


async def held_per_month(db: AsyncSession, station_id: int, year: int, tz: str) -> dict[int, int]:
    start, end = year_bounds(year, tz)
    month = local_month(tz)
    rows = await db.execute(
        select(month, func.count()).where(Activity.station_id == station_id, Activity.status == "held",
                                          Activity.starts_at >= start, Activity.starts_at < end)
        .group_by(month)
    )
    held = {m: 0 for m in MONTHS}
    held.update({int(m): n for m, n in rows})
    return held


@dataclass
class MonthActivity:
    activity_id: int
    starts_at: datetime
    topic: str
    kind: str
    status: str
    invited: int
    present: int


async def station_month_activities(db: AsyncSession, station_id: int, year: int, month: int, tz: str
                                   ) -> list[MonthActivity]:
    """The station's activities of one month with how many were invited and present: one query."""
    zone = ZoneInfo(tz)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    query = (
        select(Activity.id, Activity.starts_at, Activity.topic, ActivityKind.name, Activity.status,
               func.count(Invitation.deputy_id).filter(Invitation.withdrawn_at.is_(None)),
               func.count(Attendance.deputy_id))
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .outerjoin(Invitation, invitation_join())
        .outerjoin(Attendance, attendance_join())
        .where(Activity.station_id == station_id, Activity.starts_at >= start, Activity.starts_at < end)
        .group_by(Activity.id, Activity.starts_at, Activity.topic, ActivityKind.name, Activity.status)
        .order_by(Activity.starts_at, Activity.id)
    )
    rows = await db.execute(query)
    return [MonthActivity(i, at.astimezone(zone), t, k, st, inv, pr) for i, at, t, k, st, inv, pr in rows]


@dataclass
class StationRow:
    deputy_id: int
    name: str
    months: dict[int, Counts]
    total: Counts


async def station_grid(db: AsyncSession, station_id: int, year: int, tz: str, now: datetime) -> list[StationRow]:
    """Deputies stationed during the year × 12 months: two queries whatever the number of deputies."""
    members = await stationed_during(db, [station_id], year, tz)
    counts = await station_counts(db, [station_id], year, tz, now)
    rows = []
    for m in members:
        months = counts[(station_id, m.deputy_id)]
        rows.append(StationRow(m.deputy_id, m.name, months, total_of(months)))
    return rows


# --- the yearly report -------------------------------------------------------------------------------

@dataclass
class Peer:
    deputy_id: int
    name: str
    counts: Counts


@dataclass
class PeerStation:
    station_id: int
    name: str
    peers: list[Peer] = field(default_factory=list)


@dataclass
class YearlyReport:
    county: str
    deputy_id: int
    deputy: str
    year: int
    stations: list[PeerStation]
    months: dict[int, Counts]
    total: Counts
    lines: list[Line]
    joint_lines: list[JointLine] = field(default_factory=list)  # at joint stations, counted apart
    joint_total: Counts = field(default_factory=Counts)


async def yearly_report(db: AsyncSession, tenant_id: int, deputy_id: int, year: int,
                        now: datetime | None = None) -> YearlyReport:
    """The deputy's yearly attendance report, with the other deputies stationed at the same station(s)
    during the year and their attendance at that station's activities. ``db`` is bound to the tenant;
    access is the caller's business. LookupError if the deputy does not exist. Seven queries (the last:
    the deputy's activities at joint stations, from the county's own `joint_attendance`)."""
    now = now or datetime.now(timezone.utc)
    county, tz = (await db.execute(select(Tenant.name, Tenant.timezone).where(Tenant.id == tenant_id))).one()
    deputy = await db.scalar(select(Deputy).where(Deputy.tenant_id == tenant_id, Deputy.id == deputy_id))
    if deputy is None:
        raise LookupError(deputy_id)
    start, end = year_bounds(year, tz)
    stations = [PeerStation(sid, name) for sid, name in await db.execute(
        select(Station.id, Station.name).distinct()
        .join(StationDeputy, and_(StationDeputy.tenant_id == Station.tenant_id, StationDeputy.station_id == Station.id))
        .where(StationDeputy.deputy_id == deputy_id, StationDeputy.assigned_at < end,
               or_(StationDeputy.ended_at.is_(None), StationDeputy.ended_at >= start))
        .order_by(Station.name, Station.id)
    )]
    ids = [s.station_id for s in stations]
    members = await stationed_during(db, ids, year, tz)
    counts = await station_counts(db, ids, year, tz, now)
    by_station = {s.station_id: s for s in stations}
    for m in (m for m in members if m.deputy_id != deputy_id):
        by_station[m.station_id].peers.append(Peer(m.deputy_id, m.name, total_of(counts[(m.station_id, m.deputy_id)])))
    lines = await deputy_lines(db, deputy_id, year, tz, now)
    months, total = by_month(lines)
    joint_lines = await county_lines(db, deputy_id, year, tz, now)
    return YearlyReport(county=county, deputy_id=deputy.id, deputy=deputy.name, year=year, stations=stations,
                        months=months, total=total, lines=lines, joint_lines=joint_lines,
                        joint_total=county_counts(joint_lines))


# --- the deputy's registers: opinions and suggestions --------------------------------------------------

async def register_lists(db: AsyncSession, deputy_id: int, year: int) -> tuple[list, list[Suggestion]]:
    """The deputy's opinions of the year with the activity they came from (if any), and suggestions."""
    opinions = list(await db.execute(
        select(Opinion, Activity.topic)
        .outerjoin(Activity, and_(Activity.tenant_id == Opinion.tenant_id, Activity.id == Opinion.activity_id))
        .where(Opinion.deputy_id == deputy_id, Opinion.received_on >= date(year, 1, 1),
               Opinion.received_on <= date(year, 12, 31))
        .order_by(Opinion.received_on.desc(), Opinion.id.desc())
    ))
    suggestions = list(await db.scalars(
        select(Suggestion).where(Suggestion.deputy_id == deputy_id, Suggestion.filed_on >= date(year, 1, 1),
                                 Suggestion.filed_on <= date(year, 12, 31))
        .order_by(Suggestion.filed_on.desc(), Suggestion.id.desc())
    ))
    return opinions, suggestions


REGISTER_ROLES = ("deputy", "county_admin", "township_staff", "station_staff")
LIMITS = {"content": 2000, "raised_by": 40, "title": 200}
FIELD_LABELS = {"content": lazy("Opinion content"), "raised_by": lazy("Opinion raised by"),
                "title": lazy("Title of the suggestion or motion")}
CONTENT_REQUIRED = lazy("Please write down the opinion.")
TITLE_REQUIRED = lazy("Please give the title of the suggestion or motion.")
KIND_BAD = lazy("Please choose whether it is a suggestion or a motion.")
DATE_BAD = lazy("Please give a valid date that is not in the future.")
NOT_ALLOWED = lazy("You may read this deputy's registers but not add to them.")


def can_register(scope: Scope) -> bool:
    """Who may add to the registers of a deputy they can see (``access_deputy``): the deputy
    themself and the staff who reach the deputy; viewers read only."""
    return scope.role in REGISTER_ROLES


def _text(values: dict, key: str, required: str | None = None) -> str:
    text = str(values.get(key) or "").strip()
    if required and not text:
        raise Refusal(required)
    if len(text) > LIMITS[key]:
        raise Refusal(TEXT_TOO_LONG, field=gettext(FIELD_LABELS[key]), max=LIMITS[key])
    return text


def _day(value: object, today: date) -> date:
    try:
        day = date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise Refusal(DATE_BAD) from None
    if day > today or day.year < MIN_YEAR:
        raise Refusal(DATE_BAD)
    return day


async def add_opinion(db: AsyncSession, scope: Scope, *, tenant_id: int, actor_id: int, deputy: Deputy,
                      values: dict, today: date, client_addr: str | None = None) -> Opinion:
    """An opinion (社情民意) the deputy received, outside any activity, and its case. Refusal: nothing
    written."""
    if not can_register(scope):
        raise Refusal(NOT_ALLOWED, status=403)
    content = _text(values, "content", CONTENT_REQUIRED)
    raised_by = _text(values, "raised_by")
    day = _day(values.get("received_on"), today)
    # the station it is counted for: the deputy's only current station, if there is exactly one
    stations = list(await db.scalars(select(StationDeputy.station_id).where(
        StationDeputy.deputy_id == deputy.id, StationDeputy.ended_at.is_(None)).limit(2)))
    opinion = Opinion(tenant_id=tenant_id, deputy_id=deputy.id, station_id=stations[0] if len(stations) == 1 else None,
                      received_on=day, raised_by=raised_by, content=content, registered_by=actor_id)
    db.add(opinion)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="opinion_registered",
                 target=f"opinion:{opinion.id}", client_addr=client_addr, details={"name": deputy.name})
    await register_opinion_case(db, tenant_id=tenant_id, actor_id=actor_id, opinion=opinion, source="other",
                                client_addr=client_addr)
    return opinion


async def add_suggestion(db: AsyncSession, scope: Scope, *, tenant_id: int, actor_id: int, deputy: Deputy,
                         values: dict, today: date, client_addr: str | None = None) -> Suggestion:
    """A suggestion (代表建议) or motion (议案) the deputy filed. Refusal: nothing written."""
    if not can_register(scope):
        raise Refusal(NOT_ALLOWED, status=403)
    kind = str(values.get("kind") or "")
    if kind not in SUGGESTION_KINDS:
        raise Refusal(KIND_BAD)
    title = _text(values, "title", TITLE_REQUIRED)
    day = _day(values.get("filed_on"), today)
    suggestion = Suggestion(tenant_id=tenant_id, deputy_id=deputy.id, kind=kind, title=title, filed_on=day,
                            recorded_by=actor_id)
    db.add(suggestion)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="suggestion_recorded",
                 target=f"suggestion:{suggestion.id}", client_addr=client_addr,
                 details={"name": deputy.name, "kind": kind})
    return suggestion
