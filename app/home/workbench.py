"""What waits for each member on the home page (/t/<slug>/): a workbench of items, each a count (or a
figure) that links to the list it counts, filtered so the list shows exactly those rows.

- station staff: opinions to handle and to classify, activities to record, today's activities (each
  with its sign-in screen), the mailbox opening due this week;
- township staff: stations waiting for their approval, cases to assign, due soon, overdue, rules at risk;
- a handling unit: cases newly assigned, due soon, overdue, sent back;
- county admins and viewers: the county at a glance (open and overdue cases, days to reply and
  satisfaction this quarter, activities and people received this month, the attendance rate this year,
  rules met / at risk / missed) and the county's own matters (cases to assign, stations whose next
  step is the county's);
- deputies: app.home.deputy_home.
``for_member`` picks the member's home by role.

Costs: all counts of a home, and the county settings they need, in one statement (app.home.figures;
the county home's built once per process, its values bound);
plus, where rules are shown, the compliance board's own evaluation (its queries do not grow with the
data either), and for station staff today's activities and the mailbox's week.
Above the domains it reads from; no web imports.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Date, DateTime, Select, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.access import activities_query, activity_filter
from app.activities.models import Activity, ActivityKind
from app.cases.mailbox import weekly_check
from app.cases.models import Case
from app.cases.queries import OPEN_STATES, due_soon_condition, overdue_condition
from app.compliance import engine, snapshots
from app.core.i18n import lazy
from app.core.periods import period_of
from app.home import figures
from app.home.deputy_home import deputy_home
from app.home.items import Group, Item, When, Workbench
from app.stations.lifecycle import FORWARD_STEPS, forward_path, next_status
from app.stations.models import Station
from app.tenancy.scope import Scope

TODAY_SHOWN = 3  # today's activities of a station, each with its sign-in screen

WAITING = ("proposed", "approved", "filed")  # the statuses a station waits in for its next step
# Steps of a station's lifecycle that wait on the county (app.stations.lifecycle.may_take: township
# staff approve, everything else is the county's), as the county's home names them.
COUNTY_STEP_LABELS = {"file": lazy("Stations to file"), "activate": lazy("Stations to put into operation")}


def _n(row: dict, key: str) -> int:
    return int(row.get(key) or 0)


# --- station staff --------------------------------------------------------------------------------

async def station_home(db: AsyncSession, scope: Scope, tenant_id: int, when: When) -> Workbench:
    station_id = scope.station_id
    if station_id is None:
        return Workbench()
    registered = Case.state == "registered"
    unrecorded = and_(Activity.status == "planned", Activity.ends_at < when.now)
    row = await figures.read_row(
        db,
        figures.case_counts(scope, tenant_id, {"to_handle": registered,
                                               "to_classify": and_(registered, Case.category_id.is_(None))}),
        figures.activity_counts(scope, tenant_id, {"to_record": unrecorded}),
        columns=(select(Station.status).where(Station.tenant_id == tenant_id, Station.id == station_id)
                 .scalar_subquery().label("station_status"),))
    work = Group(lazy("Your work"), [
        Item("to-handle", lazy("Opinions to handle"), _n(row, "to_handle"), "/cases?state=registered", warn=True),
        Item("to-classify", lazy("Opinions to classify"), _n(row, "to_classify"),
             "/cases?state=registered&uncategorised=1", warn=True),
        Item("to-record", lazy("Activities to record"), _n(row, "to_record"), "/activities?when=unrecorded",
             warn=True),
    ])
    work.items += await _today(db, scope, tenant_id, when)
    if row["station_status"] == "active":
        week = (await weekly_check(db, station_id, 1, when.today, when.tz))[0]
        work.items.append(Item("mailbox", lazy("Mailbox to open this week"), int(week.status == "open"),
                               f"/stations/{station_id}/mailbox", warn=True))
    return Workbench([work])


async def _today(db: AsyncSession, scope: Scope, tenant_id: int, when: When) -> list[Item]:
    """Today's activities of the member's station, each linking to its sign-in screen (its QR code)."""
    start = datetime.combine(when.today, datetime.min.time(), tzinfo=when.tz)
    rows = (await db.execute(
        activities_query(Activity.id, Activity.starts_at, Activity.topic, ActivityKind.name)
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .where(Activity.tenant_id == tenant_id, activity_filter(scope), Activity.status != "cancelled",
               Activity.starts_at >= start, Activity.starts_at < start + timedelta(days=1))
        .order_by(Activity.starts_at, Activity.id).limit(TODAY_SHOWN))).all()
    if not rows:
        return [Item("today", lazy("Activities today"), 0, "/activities?when=upcoming")]
    return [Item(f"today-{aid}", lazy("Today's activity: open the sign-in screen"),
                 starts.astimezone(when.tz).strftime("%H:%M"), f"/activities/{aid}/screen",
                 detail=f"{kind}{'：' + topic if topic else ''}")
            for aid, starts, topic, kind in rows]


# --- township staff -------------------------------------------------------------------------------

async def township_home(db: AsyncSession, scope: Scope, tenant_id: int, when: When) -> Workbench:
    row = await figures.read_row(
        db,
        figures.case_counts(scope, tenant_id, {
            "to_assign": and_(Case.state == "registered", Case.level == "township"),
            "due_soon": due_soon_condition(when.today), "overdue": overdue_condition(when.today)}),
        figures.station_counts(scope, tenant_id, ["proposed"]),
        columns=figures.config_columns(tenant_id))
    items = []
    if "approved" in row["lifecycle"]:  # township staff approve only where the county's lifecycle asks
        items.append(Item("stations-proposed", lazy("Stations to approve"), _n(row, "status_proposed"),
                          "/stations?status=proposed", warn=True))
    items += [
        Item("to-assign", lazy("Cases to assign"), _n(row, "to_assign"), "/cases?state=registered&level=township",
             warn=True),
        Item("due-soon", lazy("Due soon"), _n(row, "due_soon"), "/cases?due_soon=1", warn=True),
        Item("overdue", lazy("Cases overdue"), _n(row, "overdue"), "/cases?overdue=1", warn=True),
    ]
    verdicts = await _verdicts(db, scope, when, row["at_risk_days"])
    items.append(Item("at-risk", lazy("Rules at risk"), verdicts["at_risk"], "/compliance?verdict=at_risk",
                      warn=True))
    return Workbench([Group(lazy("Your work"), items)])


async def _verdicts(db: AsyncSession, scope: Scope, when: When, at_risk_days: int,
                    tenant_id: int | None = None) -> Counter:
    """How many (rule, subject) cells of the member's board are met, at risk, missed…: the board's own
    evaluation and summary (app.compliance.engine), so the home and the board agree — for the whole
    county, from the same snapshot as the board's county level when one holds (app.compliance.snapshots)."""
    if tenant_id is not None:
        counts = await snapshots.verdict_counts(db, scope, tenant_id, when.today, at_risk_days)
        if counts is not None:
            return counts
    board = await engine.evaluate(db, scope, tz=when.tz, today=when.today, at_risk_days=at_risk_days)
    return board.summary()


# --- a handling unit ------------------------------------------------------------------------------

async def unit_home(db: AsyncSession, scope: Scope, tenant_id: int, when: When) -> Workbench:
    assigned = Case.state == "assigned"
    row = await figures.read_row(db, figures.case_counts(scope, tenant_id, {
        "new": and_(assigned, Case.rehandled == 0), "due_soon": due_soon_condition(when.today),
        "overdue": overdue_condition(when.today), "sent_back": and_(assigned, Case.rehandled > 0)}))
    return Workbench([Group(lazy("Your work"), [
        Item("new", lazy("Newly assigned"), _n(row, "new"), "/cases?state=assigned&sent_back=0", warn=True),
        Item("due-soon", lazy("Due soon"), _n(row, "due_soon"), "/cases?due_soon=1", warn=True),
        Item("overdue", lazy("Cases overdue"), _n(row, "overdue"), "/cases?overdue=1", warn=True),
        Item("sent-back", lazy("Sent back"), _n(row, "sent_back"), "/cases?state=assigned&sent_back=1", warn=True),
    ])])


# --- county admins and viewers --------------------------------------------------------------------

def _county_steps(lifecycle) -> list[tuple[str, str]]:
    """(status, step) for each status whose next step is the county's (filing, putting into operation)."""
    out = []
    for status in forward_path(lifecycle)[:-1]:
        step = FORWARD_STEPS[next_status(lifecycle, status)]
        if step != "approve":
            out.append((status, step))
    return out


# The county home's figures as ONE statement built once per process (issue 20): building it and its
# SQLAlchemy cache key was most of the home's CPU. Its values are bind parameters: the county (row-level
# security binds it too), its local day and the quarter's, month's and year's bounds in its zone, and
# now. County admins and viewers see the whole tenant, so their filters do not depend on the member.
_COUNTY_FIGURES: dict[tuple, Select] = {}
_DAY, _NOW = bindparam("today", type_=Date), bindparam("now", type_=DateTime(timezone=True))
_BOUNDS = {name: bindparam(name, type_=DateTime(timezone=True))
           for name in ("quarter_start", "quarter_end", "month_start", "month_end", "year_start", "year_end")}
_TENANT = bindparam("tenant_id", type_=BigInteger)


def _county_figures(scope: Scope) -> Select:
    key = (scope.role, scope.whole_tenant)
    statement = _COUNTY_FIGURES.get(key)
    if statement is None:
        b = _BOUNDS
        quarter_columns, cohort = figures.quarter_figures(b["quarter_start"], b["quarter_end"])
        conditions = {"open": Case.state.in_(OPEN_STATES), "overdue": overdue_condition(_DAY),
                      "county_to_assign": and_(Case.state == "registered", Case.level == "county")}
        held = and_(Activity.status == "held", Activity.starts_at >= b["month_start"],
                    Activity.starts_at < b["month_end"])
        statement = _COUNTY_FIGURES[key] = figures.combined(
            figures.case_counts(scope, _TENANT, conditions, extra=quarter_columns,
                                reach=or_(*conditions.values(), cohort)),
            figures.activity_counts(scope, _TENANT, {"held": held}, extra=(figures.people_received(held),)),
            figures.attendance_rate(_TENANT, b["year_start"], b["year_end"], _NOW),
            figures.station_counts(scope, _TENANT, WAITING),
            columns=figures.config_columns(_TENANT))
    return statement


async def county_home(db: AsyncSession, scope: Scope, tenant_id: int, when: When) -> Workbench:
    quarter, month = period_of("quarter", when.today), period_of("month", when.today)
    year_start, year_end = period_of("year", when.today).bounds(when.tz)
    month_start, month_end = month.bounds(when.tz)
    quarter_start, quarter_end = quarter.bounds(when.tz)
    row = await figures.read_combined(db, _county_figures(scope), {
        "tenant_id": tenant_id, "today": when.today, "now": when.now,
        "quarter_start": quarter_start, "quarter_end": quarter_end, "month_start": month_start,
        "month_end": month_end, "year_start": year_start, "year_end": year_end})
    steps = _county_steps(row["lifecycle"])
    verdicts = await _verdicts(db, scope, when, row["at_risk_days"], tenant_id)
    glance = Group(lazy("The county at a glance"), [
        Item("open", lazy("Open cases"), _n(row, "open"), "/cases?open=1"),
        Item("overdue", lazy("Cases overdue"), _n(row, "overdue"), "/cases?overdue=1", warn=True),
        Item("reply-days", lazy("Days to reply, this quarter"), _days(row["reply_seconds"]),
             f"/cases/stats?period={quarter.key}"),
        Item("satisfaction", lazy("Satisfied, this quarter"), _percent(row["satisfied"], row["rated"]),
             f"/cases/stats?period={quarter.key}"),
        Item("held", lazy("Activities held this month"), _n(row, "held"), f"/activities?status=held&month={month.key}"),
        Item("people", lazy("People received this month"), _n(row, "people"),
             f"/activities?status=held&month={month.key}"),
        Item("attendance", lazy("Attendance this year"), _percent(row["present"], row["invited"]),
             f"/activities/stats?year={when.today.year}"),
        Item("rules-met", lazy("Rules met"), verdicts["met"], "/compliance?verdict=met"),
        Item("at-risk", lazy("Rules at risk"), verdicts["at_risk"], "/compliance?verdict=at_risk", warn=True),
        Item("rules-missed", lazy("Rules missed"), verdicts["missed"], "/compliance?verdict=missed", warn=True),
    ])
    own = Group(lazy("County matters to handle"), [
        Item("county-to-assign", lazy("County cases to assign"), _n(row, "county_to_assign"),
             "/cases?state=registered&level=county", warn=True)])
    own.items += [Item(f"stations-{status}", COUNTY_STEP_LABELS[step], _n(row, f"status_{status}"),
                       f"/stations?status={status}", warn=True) for status, step in steps]
    return Workbench([glance, own])


def _days(seconds) -> str | None:
    return None if seconds is None else f"{float(seconds) / 86400:.1f}"


def _percent(part, whole) -> str | None:
    return f"{round(100 * part / whole)}%" if whole else None


BUILDERS = {"county_admin": county_home, "viewer": county_home, "township_staff": township_home,
            "station_staff": station_home, "handling_unit": unit_home, "deputy": deputy_home}


async def for_member(db: AsyncSession, scope: Scope, tenant_id: int, when: When) -> Workbench:
    """The member's workbench, by role (a role without one: empty)."""
    build = BUILDERS.get(scope.role)
    return await build(db, scope, tenant_id, when) if build else Workbench()
