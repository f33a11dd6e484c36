"""Reading a deputy's dossier for a year or for the term, and the list of entries waiting for review.

The dossier reads the product's own records — attendance (代签 marked), opinions and cases the deputy
received, suggestions and their state, joint-station activities — and the filed entries, one statement
per source for the whole span (never one per kind, month or year), so its cost stays flat as records
grow. Days are the tenant's: a year is [1 January, 1 January) in its zone.

The term (届): the product keeps a mandate's term number but no dates for it (nor does the county's
configuration), and a congress at every level is elected for five years, so "this term" is the five
calendar years up to this year — the years the dossier's year selector offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityKind, Attendance, JointAttendance, Suggestion
from app.cases.models import Case
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy
from app.deputies.services import DeputyDetail, deputy_details
from app.duties import access
from app.duties.kinds import CODES
from app.duties.models import DutyEntry
from app.stations.models import Station
from app.tenancy.scope import Scope

DUTY_REPORT_KIND = "duty_report"  # the activity kind of a 述职 (presets: 述职评议)
REVIEW_PAGE = 200
TERM_YEARS = 5  # a congress's term at every level (Constitution, arts. 60 and 98)
TERM = "term"  # the year selector's choice for the whole term


@dataclass
class Attended:
    day: date
    kind_name: str
    kind_code: str
    topic: str
    station: str
    method: str
    on_behalf_reason: str

    @property
    def by_staff(self) -> bool:  # 代签: signed in by staff on the deputy's behalf
        return self.method == "staff"


@dataclass
class Dossier:
    deputy: Deputy
    detail: DeputyDetail
    years: list[int]  # one year, or the term's years, oldest first
    attended: list[Attended]
    cases: list  # rows: id, receipt_code, created_at, content, state, closed_at, satisfaction
    suggestions: list[Suggestion]
    joint: list[JointAttendance]
    entries: list[DutyEntry]
    calendar: list[tuple[int, list[bool]]] = field(default_factory=list)  # per year, 12 flags: any duty
    subtotals: list[tuple[int, dict[str, int]]] = field(default_factory=list)  # per year, per part

    @property
    def term(self) -> bool:
        return len(self.years) > 1

    @property
    def year(self) -> int:
        return self.years[-1]

    @property
    def months(self) -> list[bool]:
        return self.calendar[-1][1] if self.calendar else [False] * 12

    @property
    def duty_reports(self) -> list[Attended]:
        return [a for a in self.attended if a.kind_code == DUTY_REPORT_KIND]

    @property
    def resolved(self) -> list:
        return [c for c in self.cases if c.state == "closed"]

    @property
    def approved_by_kind(self) -> list[tuple[str, list[DutyEntry]]]:
        """Approved entries grouped by kind, in the kinds' order; only these count."""
        groups = [(k, [e for e in self.entries if e.status == "approved" and e.kind == k]) for k in CODES]
        return [(k, rows) for k, rows in groups if rows]

    @property
    def not_counted(self) -> list[DutyEntry]:
        """Entries still waiting or rejected (shown marked, never counted)."""
        return [e for e in self.entries if e.status != "approved"]


def year_bounds(year: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def term_years(today: date) -> list[int]:
    """The term's years, oldest first (see the module's docstring)."""
    return list(range(today.year - TERM_YEARS + 1, today.year + 1))


async def dossier(db: AsyncSession, scope: Scope, deputy: Deputy, year: int, tz: ZoneInfo) -> Dossier:
    return await span_dossier(db, scope, deputy, [year], tz)


async def span_dossier(db: AsyncSession, scope: Scope, deputy: Deputy, years: list[int], tz: ZoneInfo) -> Dossier:
    """One deputy's dossier over consecutive ``years``: ``span_dossiers`` for one, so that the page and
    the station binder's archive say the same."""
    return (await span_dossiers(db, scope, [deputy], years, tz))[deputy.id]


async def span_dossiers(db: AsyncSession, scope: Scope, deputies: list[Deputy], years: list[int],
                        tz: ZoneInfo) -> dict[int, Dossier]:
    """The dossiers of ``deputies`` (whom the caller may see) over consecutive ``years`` (one year, or
    the term's): the same statements whatever the span and the number of deputies."""
    ids = [d.id for d in deputies]
    start, end = year_bounds(years[0], tz)[0], year_bounds(years[-1], tz)[1]
    first, last = date(years[0], 1, 1), date(years[-1] + 1, 1, 1)
    local_day = func.date(func.timezone(str(tz), Activity.starts_at))
    attended = _by_deputy((row[0], Attended(*row[1:])) for row in (await db.execute(
        select(Attendance.deputy_id, local_day, ActivityKind.name, ActivityKind.code, Activity.topic,
               func.coalesce(Station.name, ""), Attendance.method, Attendance.on_behalf_reason)
        .select_from(Attendance)
        .join(Activity, and_(Activity.tenant_id == Attendance.tenant_id, Activity.id == Attendance.activity_id))
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .outerjoin(Station, and_(Station.tenant_id == Activity.tenant_id, Station.id == Activity.station_id))
        .where(Attendance.deputy_id.in_(ids), Activity.starts_at >= start, Activity.starts_at < end,
               Activity.status != "cancelled")
        .order_by(Activity.starts_at)
    )).all())
    cases = _by_deputy((row.deputy_id, row) for row in (await db.execute(
        select(Case.id, Case.receipt_code, Case.created_at, func.left(Case.content, 80).label("content"), Case.state,
               Case.closed_at, Case.satisfaction, Case.deputy_id)
        .where(Case.deputy_id.in_(ids), Case.created_at >= start, Case.created_at < end)
        .order_by(Case.created_at)
    )).all())
    suggestions = _by_deputy((s.deputy_id, s) for s in (await db.scalars(
        select(Suggestion).where(Suggestion.deputy_id.in_(ids), Suggestion.filed_on >= first,
                                 Suggestion.filed_on < last).order_by(Suggestion.filed_on, Suggestion.id)
    )).all())
    joint = _by_deputy((j.deputy_id, j) for j in (await db.scalars(
        select(JointAttendance).where(JointAttendance.deputy_id.in_(ids), JointAttendance.present.is_(True),
                                      JointAttendance.starts_at >= start, JointAttendance.starts_at < end)
        .order_by(JointAttendance.starts_at)
    )).all())
    entries = _by_deputy((e.deputy_id, e) for e in (await db.scalars(
        select(DutyEntry).where(DutyEntry.deputy_id.in_(ids), DutyEntry.day >= first, DutyEntry.day < last)
        .order_by(DutyEntry.day, DutyEntry.id)
    )).all())
    details = await deputy_details(db, scope, deputies)
    out = {}
    for deputy in deputies:
        result = Dossier(deputy, details[deputy.id], list(years), attended.get(deputy.id, []),
                         cases.get(deputy.id, []), suggestions.get(deputy.id, []), joint.get(deputy.id, []),
                         entries.get(deputy.id, []))
        result.calendar = _calendar(result, tz)
        result.subtotals = _subtotals(result, tz)
        out[deputy.id] = result
    return out


def _by_deputy(pairs) -> dict[int, list]:
    """(deputy id, row) pairs → deputy id → rows, in the order read."""
    out: dict[int, list] = {}
    for deputy_id, row in pairs:
        out.setdefault(deputy_id, []).append(row)
    return out


def _calendar(d: Dossier, tz: ZoneInfo) -> list[tuple[int, list[bool]]]:
    """The calendar strip, a row per year: a month is marked when anything that counts happened in it."""
    months: set[tuple[int, int]] = set()
    months.update((a.day.year, a.day.month) for a in d.attended)
    months.update(_year_month(c.created_at.astimezone(tz)) for c in d.cases)
    months.update((s.filed_on.year, s.filed_on.month) for s in d.suggestions)
    months.update(_year_month(j.starts_at.astimezone(tz)) for j in d.joint)
    months.update((e.day.year, e.day.month) for e in d.entries if e.status == "approved")
    return [(y, [(y, m) in months for m in range(1, 13)]) for y in d.years]


def _year_month(at: datetime) -> tuple[int, int]:
    return at.year, at.month


SUBTOTAL_PARTS = ("attended", "on_behalf", "opinions", "suggestions", "resolved", "duty_reports", "joint",
                  "approved", "not_counted")


def _subtotals(d: Dossier, tz: ZoneInfo) -> list[tuple[int, dict[str, int]]]:
    """How many of each part per year (the term's table; a single year has one row)."""
    rows = {y: dict.fromkeys(SUBTOTAL_PARTS, 0) for y in d.years}

    def add(year: int, part: str) -> None:
        if year in rows:
            rows[year][part] += 1

    for a in d.attended:
        add(a.day.year, "attended")
        if a.by_staff:
            add(a.day.year, "on_behalf")
        if a.kind_code == DUTY_REPORT_KIND:
            add(a.day.year, "duty_reports")
    for c in d.cases:
        add(c.created_at.astimezone(tz).year, "opinions")
        if c.state == "closed":
            add(c.created_at.astimezone(tz).year, "resolved")
    for s in d.suggestions:
        add(s.filed_on.year, "suggestions")
    for j in d.joint:
        add(j.starts_at.astimezone(tz).year, "joint")
    for e in d.entries:
        add(e.day.year, "approved" if e.status == "approved" else "not_counted")
    return list(rows.items())


async def waiting(db: AsyncSession, scope: Scope) -> tuple[list, int]:
    """Filed entries waiting for review in the member's reach (oldest first, one page), and how many."""
    rows = (await db.execute(
        access.entries_in_scope(scope).where(DutyEntry.status == "filed")
        .order_by(DutyEntry.created_at, DutyEntry.id).limit(REVIEW_PAGE)
    )).all()
    total = len(rows) if len(rows) < REVIEW_PAGE else await db.scalar(
        select(func.count()).select_from(access.entries_in_scope(scope).where(DutyEntry.status == "filed").subquery())
    )
    return rows, total


async def deputy_choices(db: AsyncSession, scope: Scope, limit: int = 1000) -> list[tuple[int, str]]:
    """Serving deputies a member may file for, by name (the filing form's list)."""
    return [(i, n) for i, n in (await db.execute(
        select(Deputy.id, Deputy.name).where(deputies_in_scope(scope), Deputy.status == "active")
        .order_by(Deputy.name, Deputy.id).limit(limit)
    )).all()]


async def own_deputy(db: AsyncSession, scope: Scope) -> Deputy | None:
    """A deputy member's own Deputy row (linked by ``deputies.user_id``), if any."""
    if scope.role != "deputy":
        return None
    return await db.scalar(select(Deputy).where(deputies_in_scope(scope)).order_by(Deputy.id).limit(1))


def years_offered(today: date) -> list[int]:
    return list(range(today.year, today.year - 5, -1))
