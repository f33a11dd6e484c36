"""A station's yearly activity plan (年度活动计划): drafted at the start of the year, filled from the
station's fixed days, published (then shown on its public page), and changed with a visible record.

The plan's entries are the station's activities with ``plan_id``. Before publishing, entries come and
go freely; after publishing every change is an ``ActivityEvent`` with ``plan_change=True`` — an entry
added here ("added_to_plan"), or a reschedule or cancellation by the activity's own verbs.

Seeing a plan follows the station (``app.stations.access.get_station``); changing it follows who may
run the station's activities (``app.activities.access.can_run_at``). Services do not commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import services
from app.activities.access import can_run_at, get_activity
from app.activities.models import Activity, ActivityEvent, ActivityPlan
from app.audit.services import record
from app.core.calendar import WorkingCalendar, load_calendar
from app.core.errors import NotFound, Refusal
from app.core.i18n import gettext, lazy
from app.stations.access import StationRef, get_station
from app.stations.schedule import next_reception_days, parse_rule
from app.tenancy.scope import Scope

NOTE_MAX = 1000
# every item of a rule gives at most 53 dates a year and a rule has at most 7 items
MAX_DATES_A_YEAR = 7 * 53

PLAN_EXISTS = lazy("This station already has a plan for %(year)s.")
BAD_PLAN_YEAR = lazy("A plan can be started for this year or next year.")
NO_FIXED_DAYS = lazy("Please write the fixed days, e.g. 每月15日 or 每月第一个星期五.")
BAD_TIMES = lazy("Please give the start and end times as hours and minutes, e.g. 09:00 and 11:30.")
BAD_ENTRY_DATE = lazy("Please give a date in %(year)s.")
GENERATE_PUBLISHED = lazy("This plan has been published: add single entries instead, so that each change is on record.")
EMPTY_PLAN = lazy("An empty plan cannot be published: generate or add its entries first.")
ALREADY_PUBLISHED = lazy("This plan has already been published.")
PLACE_LABEL = lazy("Activity place")
TOPIC_LABEL = lazy("Activity topic")
NOTE_LABEL = lazy("Plan note")
HOLIDAY_REASON = lazy("%(day)s is a public holiday (%(holiday)s): moved to the next working day.")
NOT_ON_HOLIDAY = lazy("This entry is not a planned activity on a public holiday that is still ahead.")
TARGET_TAKEN = lazy("The next working day already has an activity of this kind in the plan: cancel this entry "
                    "instead.")


@dataclass
class PlanRef:
    station: StationRef
    plan: ActivityPlan


def can_change(scope: Scope, ref: StationRef) -> bool:
    return can_run_at(scope, ref.station, ref.node)


def require_change(scope: Scope, ref: StationRef) -> None:
    """Members who may see the station but not run its activities get the same 404 as a stranger."""
    if not can_change(scope, ref):
        raise NotFound()


async def get_plan(db: AsyncSession, scope: Scope, station_id: int, year: int, *,
                   for_update: bool = False) -> PlanRef:
    """The station's plan for the year, or 404 (no such plan, station out of scope or missing)."""
    ref = await get_station(db, scope, station_id)
    query = select(ActivityPlan).where(ActivityPlan.station_id == ref.station.id, ActivityPlan.year == year)
    if for_update:
        query = query.with_for_update()
    plan = await db.scalar(query)
    if plan is None:
        raise NotFound()
    return PlanRef(ref, plan)


@dataclass
class PlanRow:
    plan: ActivityPlan
    entries: int
    cancelled: int


async def station_plans(db: AsyncSession, station_id: int) -> list[PlanRow]:
    """The station's plans, newest year first, with their number of entries (one query)."""
    counts = (
        select(Activity.plan_id, func.count().label("n"),
               func.count().filter(Activity.status == "cancelled").label("c"))
        .where(Activity.plan_id.is_not(None)).group_by(Activity.plan_id).subquery()
    )
    rows = await db.execute(
        select(ActivityPlan, counts.c.n, counts.c.c)
        .outerjoin(counts, counts.c.plan_id == ActivityPlan.id)
        .where(ActivityPlan.station_id == station_id).order_by(ActivityPlan.year.desc())
    )
    return [PlanRow(plan, n or 0, c or 0) for plan, n, c in rows]


async def create_plan(db: AsyncSession, scope: Scope, ref: StationRef, *, tenant_id: int, actor_id: int,
                      year: int | None, today: date, client_addr: str | None = None) -> ActivityPlan:
    """A draft plan for this year or next year; one per station and year."""
    require_change(scope, ref)
    if year not in (today.year, today.year + 1):
        raise Refusal(BAD_PLAN_YEAR)
    exists = await db.scalar(select(ActivityPlan.id).where(ActivityPlan.station_id == ref.station.id,
                                                            ActivityPlan.year == year))
    if exists is not None:
        raise Refusal(PLAN_EXISTS, year=year)
    plan = ActivityPlan(tenant_id=tenant_id, station_id=ref.station.id, year=year, status="draft",
                        created_by=actor_id)
    try:
        async with db.begin_nested():  # a second click racing the first meets the unique key
            db.add(plan)
            await db.flush()
    except IntegrityError:
        raise Refusal(PLAN_EXISTS, year=year) from None
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="plan_created",
                 target=f"plan:{plan.id}", client_addr=client_addr,
                 details={"station_id": ref.station.id, "year": year})
    return plan


# --- dates --------------------------------------------------------------------------------------

def dates_in_year(rule: str, year: int) -> list[date]:
    """Every date a normalised rule (``parse_rule``) gives in the year, sorted."""
    days = next_reception_days(rule, date(year, 1, 1), MAX_DATES_A_YEAR)
    return [d for d in days if d.year == year]


def read_rule(text: str) -> str:
    """The normalised rule for what staff wrote; Refusal with the schedule's own message."""
    try:
        rule = parse_rule(text)
    except Refusal as error:
        raise Refusal(error.message, **error.variables) from None
    if not rule:
        raise Refusal(NO_FIXED_DAYS)
    return rule


def read_time(text: str | None) -> time | None:
    text = (text or "").strip()
    if not 4 <= len(text) <= 8:
        return None
    try:
        return time.fromisoformat(text if len(text) != 4 else "0" + text)
    except ValueError:
        return None


def read_date(text: str | None) -> date | None:
    text = (text or "").strip()
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@dataclass
class Slot:
    """What every entry made at once shares: kind, times of day, place, topic, the deputies invited."""
    kind_id: int | None
    start: time | None
    end: time | None
    place: str = ""
    topic: str = ""
    invite: bool = False


async def _checked(db: AsyncSession, slot: Slot) -> Slot:
    """The slot with its text trimmed; Refusal for a bad kind, times or text (nothing written yet)."""
    await services.active_kind(db, slot.kind_id)
    if slot.start is None or slot.end is None:
        raise Refusal(BAD_TIMES)
    if slot.end <= slot.start:
        raise Refusal(services.ENDS_BEFORE_START)
    place = services.check_text(gettext(PLACE_LABEL), slot.place, services.TEXT_MAX["place"])
    topic = services.check_text(gettext(TOPIC_LABEL), slot.topic, services.TEXT_MAX["topic"])
    return Slot(slot.kind_id, slot.start, slot.end, place, topic, slot.invite)


def _new(slot: Slot, day: date, tz: tzinfo, plan: ActivityPlan, deputy_ids: list[int]) -> services.NewActivity:
    return services.NewActivity(
        kind_id=slot.kind_id, starts_at=datetime.combine(day, slot.start, tzinfo=tz),
        ends_at=datetime.combine(day, slot.end, tzinfo=tz), place=slot.place, topic=slot.topic,
        deputy_ids=tuple(deputy_ids), plan_id=plan.id,
    )


async def _taken_days(db: AsyncSession, plan: ActivityPlan, kind_id: int, tz: tzinfo) -> set[date]:
    """Days the plan already has an activity of this kind on — including the days that rescheduled
    entries moved away from, so that generating again does not fill a gap a reschedule left."""
    rows = await db.execute(select(Activity.id, Activity.starts_at)
                            .where(Activity.plan_id == plan.id, Activity.kind_id == kind_id))
    ids, taken = [], set()
    for activity_id, starts_at in rows:
        ids.append(activity_id)
        taken.add(starts_at.astimezone(tz).date())
    if ids:
        for (data,) in await db.execute(select(ActivityEvent.data).where(ActivityEvent.activity_id.in_(ids),
                                                                         ActivityEvent.action == "rescheduled")):
            moved = moved_from(data)
            if moved is not None:
                taken.add(moved.astimezone(tz).date())
    return taken


def moved_from(data: dict | None) -> datetime | None:
    """The old start of a reschedule event (``{"from": [start, end], "to": [start, end]}`` in ISO
    format; a bare ISO string is read too), else None."""
    return _iso((data or {}).get("from"))


def moved_to(data: dict | None) -> datetime | None:
    return _iso((data or {}).get("to"))


def _iso(value) -> datetime | None:
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class Generated:
    created: int = 0
    past: int = 0  # dates already past: skipped
    existing: int = 0  # dates the plan already has an activity of this kind on: skipped
    holidays: int = 0  # of the created, on a public holiday (flagged on the plan, to be moved)


async def generate(db: AsyncSession, scope: Scope, pref: PlanRef, *, tenant_id: int, actor_id: int, days_text: str,
                   slot: Slot, tz: tzinfo, now: datetime | None = None,
                   client_addr: str | None = None) -> Generated:
    """One planned activity per date the fixed days give in the plan's year that is still ahead and
    not yet in the plan with this kind. A draft only: a published plan changes entry by entry."""
    require_change(scope, pref.station)
    now = now or datetime.now(timezone.utc)
    if pref.plan.status != "draft":
        raise Refusal(GENERATE_PUBLISHED)
    rule = read_rule(days_text)
    slot = await _checked(db, slot)
    taken = await _taken_days(db, pref.plan, slot.kind_id, tz)
    deputy_ids = await services.station_deputy_ids(db, pref.station.station.id) if slot.invite else []
    calendar = await load_calendar(db, since=date(pref.plan.year, 1, 1))
    result = Generated()
    for day in dates_in_year(rule, pref.plan.year):
        new = _new(slot, day, tz, pref.plan, deputy_ids)
        if new.starts_at <= now:
            result.past += 1
        elif day in taken:
            result.existing += 1
        else:
            await services.create_activity(db, scope, tenant_id=tenant_id, actor_id=actor_id, station=pref.station,
                                           group=None, new=new, now=now, client_addr=client_addr)
            result.created += 1
            if calendar.is_holiday(day):
                result.holidays += 1
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="plan_generated",
                 target=f"plan:{pref.plan.id}", client_addr=client_addr,
                 details={"rule": rule, "kind_id": slot.kind_id, "created": result.created, "past": result.past,
                          "existing": result.existing, "holidays": result.holidays})
    return result


# --- entries on public holidays -------------------------------------------------------------------

@dataclass
class HolidayEntry:
    activity_id: int
    day: date
    holiday: str  # "国庆节"
    move_to: date | None  # the next working day; None when the plan already has this kind there


def holiday_entries(rows, calendar: WorkingCalendar, tz: tzinfo, now: datetime) -> dict[int, HolidayEntry]:
    """The planned entries still ahead that fall on a public holiday, by activity id. ``rows`` are
    (id, kind id, starts_at, status). An entry is not moved onto a day that already has (or another
    move gives) an activity of its kind."""
    rows = sorted(rows, key=lambda r: (r[2], r[0]))
    taken = {(kind_id, starts.astimezone(tz).date()) for _, kind_id, starts, status in rows if status == "planned"}
    out = {}
    for activity_id, kind_id, starts, status in rows:
        day = starts.astimezone(tz).date()
        name = calendar.holiday_name(day) if status == "planned" and starts > now else None
        if name is None:
            continue
        target = calendar.next_working_day(day)
        if (kind_id, target) in taken:
            target = None
        else:
            taken.add((kind_id, target))
        out[activity_id] = HolidayEntry(activity_id, day, name, target)
    return out


async def plan_holidays(db: AsyncSession, plan: ActivityPlan, tz: tzinfo, now: datetime) -> dict[int, HolidayEntry]:
    """``holiday_entries`` of the plan (2 queries)."""
    rows = (await db.execute(select(Activity.id, Activity.kind_id, Activity.starts_at, Activity.status)
                             .where(Activity.plan_id == plan.id))).all()
    return holiday_entries(rows, await load_calendar(db, since=date(plan.year, 1, 1)), tz, now)


async def move_off_holidays(db: AsyncSession, scope: Scope, pref: PlanRef, *, activity_id: int | None,
                            tenant_id: int, actor_id: int, tz: tzinfo, now: datetime | None = None,
                            client_addr: str | None = None) -> int:
    """Reschedule one flagged entry (``activity_id``) or every one that can move (None) to the next
    working day at the same times, each kept in its history (a published plan: as a plan change).
    Returns how many moved."""
    require_change(scope, pref.station)
    now = now or datetime.now(timezone.utc)
    flagged = await plan_holidays(db, pref.plan, tz, now)
    if activity_id is None:
        chosen = [e for e in flagged.values() if e.move_to is not None]
    elif activity_id not in flagged:
        raise Refusal(NOT_ON_HOLIDAY)
    elif flagged[activity_id].move_to is None:
        raise Refusal(TARGET_TAKEN)
    else:
        chosen = [flagged[activity_id]]
    for entry in chosen:
        ref = await get_activity(db, scope, entry.activity_id, for_update=True)
        shift = timedelta(days=(entry.move_to - entry.day).days)
        start, end = ref.activity.starts_at.astimezone(tz), ref.activity.ends_at.astimezone(tz)
        await services.reschedule(
            db, scope, ref, actor_id=actor_id, now=now, client_addr=client_addr,
            starts_at=datetime.combine(start.date() + shift, start.time(), tzinfo=tz),
            ends_at=datetime.combine(end.date() + shift, end.time(), tzinfo=tz),
            reason=gettext(HOLIDAY_REASON, day=entry.day.isoformat(), holiday=entry.holiday))
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="plan_holidays_moved",
                 target=f"plan:{pref.plan.id}", client_addr=client_addr,
                 details={"moved": [[e.activity_id, e.day.isoformat(), e.move_to.isoformat()] for e in chosen]})
    return len(chosen)


async def add_entry(db: AsyncSession, scope: Scope, pref: PlanRef, *, tenant_id: int, actor_id: int,
                    day: date | None, slot: Slot, tz: tzinfo, now: datetime | None = None,
                    client_addr: str | None = None) -> Activity:
    """One entry on a date of the plan's year; on a published plan it is recorded as a change."""
    require_change(scope, pref.station)
    if day is None or day.year != pref.plan.year:
        raise Refusal(BAD_ENTRY_DATE, year=pref.plan.year)
    slot = await _checked(db, slot)
    deputy_ids = await services.station_deputy_ids(db, pref.station.station.id) if slot.invite else []
    activity = await services.create_activity(
        db, scope, tenant_id=tenant_id, actor_id=actor_id, station=pref.station, group=None,
        new=_new(slot, day, tz, pref.plan, deputy_ids), now=now, client_addr=client_addr,
    )
    if pref.plan.status == "published":
        await services.add_event(db, activity, "added_to_plan", actor_id, plan_change=True,
                                 data={"to": activity.starts_at.isoformat()})
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="plan_entry_added",
                 target=f"plan:{pref.plan.id}", client_addr=client_addr, details={"activity_id": activity.id})
    return activity


async def publish(db: AsyncSession, scope: Scope, pref: PlanRef, *, tenant_id: int, actor_id: int,
                  now: datetime | None = None, client_addr: str | None = None) -> None:
    """Draft → published, for good (no unpublishing): from now on changes are on record."""
    require_change(scope, pref.station)
    if pref.plan.status == "published":
        raise Refusal(ALREADY_PUBLISHED)
    entries = await db.scalar(select(func.count()).select_from(Activity).where(Activity.plan_id == pref.plan.id))
    if not entries:
        raise Refusal(EMPTY_PLAN)
    pref.plan.status = "published"
    pref.plan.published_at = now or datetime.now(timezone.utc)
    pref.plan.published_by = actor_id
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="plan_published",
                 target=f"plan:{pref.plan.id}", client_addr=client_addr, details={"entries": entries})


async def save_note(db: AsyncSession, scope: Scope, pref: PlanRef, *, tenant_id: int, actor_id: int, note: str,
                    client_addr: str | None = None) -> None:
    require_change(scope, pref.station)
    pref.plan.note = services.check_text(gettext(NOTE_LABEL), note, NOTE_MAX)
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="plan_note_saved",
                 target=f"plan:{pref.plan.id}", client_addr=client_addr)
