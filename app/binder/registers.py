"""Three registers of the station binder (五簿), per year, over a list of stations the caller has
already checked are in the member's reach (``app.binder.access.reach``):

- 人大代表活动考勤登记簿 (attendance): each held activity, with the deputies invited, present (a
  sign-in by staff, 代签, marked with its reason) and absent, each absence with its reason (请假,
  ``app.activities.absences``) when one was given;
- 人大代表接待选民登记簿 (reception): each held reception (kind code "reception"), the deputies on
  duty (those who signed in; those invited when nobody was recorded), the people received (the
  recorded number, else the cases registered at it), the matters raised and their state — only the
  cases the member may open (``app.cases.access.case_filter``);
- 人大代表述职登记簿 (duty reports): each 述职评议 meeting with its voters present and rating.

Every register is read in a fixed number of statements, whatever the number of rows: two for
attendance, three for receptions, two for duty reports. Years are the tenant's local calendar.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.attendance import attendance_join
from app.activities.counting import year_bounds
from app.activities.models import Activity, ActivityKind, Attendance, Invitation
from app.cases.access import case_filter, cases_query
from app.cases.models import Case
from app.deputies.models import Deputy
from app.duties.meeting_models import DutyReportMeeting
from app.duties.meetings import Result, meetings_query, results
from app.stations.models import Station
from app.tenancy.scope import Scope

RECEPTION = "reception"  # the standard kind code of 接待选民
EXCERPT = 60  # characters of a matter raised, as the quarterly list cuts its issues


@dataclass
class Deputies:
    """The deputies of one activity: invited (withdrawn invitations left out), present, absent."""

    invited: list[str] = field(default_factory=list)
    present: list[tuple[str, str | None]] = field(default_factory=list)  # (name, 代签 reason or None)
    absent: list[tuple[str, str | None]] = field(default_factory=list)  # (name, leave reason or None)


@dataclass
class AttendanceLine:
    activity_id: int
    day: date
    station: str
    kind: str
    topic: str
    deputies: Deputies


@dataclass
class Matter:
    case_id: int
    text: str
    state: str


@dataclass
class ReceptionLine:
    activity_id: int
    day: date
    station: str
    topic: str
    on_duty: list[str]
    people: int
    matters: list[Matter] = field(default_factory=list)


@dataclass
class ReportLine:
    meeting_id: int
    day: date
    station: str
    deputy: str
    voters_present: int | None
    status: str
    result: Result


def _held(station_ids: list[int], year: int, tz: str, kind_code: str | None = None):
    """The held activities of these stations in the year (a WHERE for a select joined with its kind)."""
    start, end = year_bounds(year, tz)
    where = [Activity.station_id.in_(station_ids), Activity.status == "held",
             Activity.starts_at >= start, Activity.starts_at < end]
    if kind_code is not None:
        where.append(ActivityKind.code == kind_code)
    return and_(*where)


def _kind_join():
    return and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id)


def _held_ids(station_ids: list[int], year: int, tz: str, kind_code: str | None):
    return select(Activity.id).join(ActivityKind, _kind_join()).where(_held(station_ids, year, tz, kind_code))


def held_activities(station_ids: list[int], year: int, tz: str, kind_code: str | None, *columns):
    return (
        select(Activity.id, Activity.starts_at, Station.name, ActivityKind.name, Activity.topic, *columns)
        .join(ActivityKind, _kind_join())
        .join(Station, and_(Station.tenant_id == Activity.tenant_id, Station.id == Activity.station_id))
        .where(_held(station_ids, year, tz, kind_code))
        .order_by(Activity.starts_at, Activity.id)
    )


async def _deputies(db: AsyncSession, station_ids: list[int], year: int, tz: str,
                    kind_code: str | None) -> dict[int, Deputies]:
    """activity id -> its deputies, for every held activity of the register: one query."""
    rows = await db.execute(
        select(Invitation.activity_id, Deputy.name, Attendance.method, Attendance.on_behalf_reason,
               Invitation.absence_reason)
        .join(Deputy, and_(Deputy.tenant_id == Invitation.tenant_id, Deputy.id == Invitation.deputy_id))
        .outerjoin(Attendance, attendance_join())
        .where(Invitation.activity_id.in_(_held_ids(station_ids, year, tz, kind_code)),
               Invitation.withdrawn_at.is_(None))
        .order_by(Invitation.activity_id, Deputy.name, Deputy.id)
    )
    out: dict[int, Deputies] = defaultdict(Deputies)
    for activity_id, name, method, reason, leave in rows:
        d = out[activity_id]
        d.invited.append(name)
        if method is None:
            d.absent.append((name, leave))
        else:
            d.present.append((name, (reason or "") if method == "staff" else None))
    return out


def _day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


async def attendance(db: AsyncSession, station_ids: list[int], year: int, tz: str) -> list[AttendanceLine]:
    """The attendance register: two queries."""
    zone = ZoneInfo(tz)
    found = await _deputies(db, station_ids, year, tz, None)
    rows = await db.execute(held_activities(station_ids, year, tz, None))
    return [AttendanceLine(aid, _day(at, zone), station, kind, topic, found.get(aid) or Deputies())
            for aid, at, station, kind, topic in rows]


async def receptions(db: AsyncSession, scope: Scope, station_ids: list[int], year: int,
                     tz: str) -> list[ReceptionLine]:
    """The reception register: three queries (receptions, their deputies, the cases raised at them)."""
    zone = ZoneInfo(tz)
    found = await _deputies(db, station_ids, year, tz, RECEPTION)
    lines = []
    for aid, at, station, _kind, topic, people in await db.execute(
            held_activities(station_ids, year, tz, RECEPTION, Activity.people_received)):
        d = found.get(aid) or Deputies()
        lines.append(ReceptionLine(aid, _day(at, zone), station, topic, [n for n, _ in d.present] or d.invited,
                                   people if people is not None else -1))
    by_id = {line.activity_id: line for line in lines}
    held = _held_ids(station_ids, year, tz, RECEPTION)
    for case_id, activity_id, text, state in await db.execute(
            cases_query(Case.id, Case.activity_id, func.substr(Case.content, 1, EXCERPT), Case.state)
            .where(case_filter(scope), Case.activity_id.in_(held)).order_by(Case.created_at, Case.id)):
        if activity_id in by_id:
            by_id[activity_id].matters.append(Matter(case_id, text, state))
    for line in lines:
        if line.people < 0:  # nobody recorded how many came: the matters registered stand for them
            line.people = len(line.matters)
    return lines


async def duty_reports(db: AsyncSession, station_ids: list[int], year: int) -> list[ReportLine]:
    """The duty report register (述职评议): two queries (the meetings, then every result at once)."""
    rows = (await db.execute(
        meetings_query().where(DutyReportMeeting.station_id.in_(station_ids),
                               DutyReportMeeting.held_on.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(DutyReportMeeting.held_on, DutyReportMeeting.id)
    )).all()
    found = await results(db, [m.id for m, _, _ in rows])
    return [ReportLine(m.id, m.held_on, station, deputy, m.voters_present, m.status, found[m.id])
            for m, deputy, station in rows]
