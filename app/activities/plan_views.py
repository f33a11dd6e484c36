"""What the staff page of a yearly plan shows: its entries by month, and its change record (调整记录).
Read-only, a fixed number of queries whatever the plan's size."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone, tzinfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.activities.models import Activity, ActivityEvent, ActivityKind, ActivityPlan
from app.activities.plans import holiday_entries, moved_from, moved_to
from app.core.calendar import load_calendar
from app.core.i18n import lazy

CHANGE_NAMES = {
    "rescheduled": lazy("Rescheduled"),
    "cancelled": lazy("Cancelled"),
    "added_to_plan": lazy("Added to the plan"),
}
OTHER_CHANGE = lazy("Changed")
_ZH_WEEKDAY = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_EN_WEEKDAY = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTH = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")


def weekday(d: date, locale: str) -> str:
    return (_EN_WEEKDAY if (locale or "").startswith("en") else _ZH_WEEKDAY)[d.weekday()]


def short_day(d: date, locale: str) -> str:
    """"3月15日" / "15 March": a date within a plan whose year is already said."""
    return f"{d.day} {_EN_MONTH[d.month]}" if (locale or "").startswith("en") else f"{d.month}月{d.day}日"


def month_name(month: int, locale: str) -> str:
    return _EN_MONTH[month] if (locale or "").startswith("en") else f"{month}月"


@dataclass
class Entry:
    id: int
    day: date
    start: time
    end: time
    kind: str
    topic: str
    place: str
    status: str
    moved_from: date | None = None  # the date first planned, if it was rescheduled
    holiday: str = ""  # a planned entry still ahead on a public holiday: its name (flagged)
    move_to: date | None = None  # where the one-click move takes it (None: that day has this kind already)


@dataclass
class Month:
    month: int
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Change:
    at: datetime  # in the tenant's zone
    action: str
    activity_id: int
    day: date  # the entry's date now
    kind: str
    topic: str
    old: date | None
    new: date | None
    who: str
    reason: str

    @property
    def known(self) -> bool:
        return self.action in CHANGE_NAMES


@dataclass
class PlanView:
    plan: ActivityPlan
    months: list[Month]
    changes: list[Change]
    entries: int
    cancelled: int
    publisher: str = ""
    published_on: date | None = None
    on_holidays: int = 0  # flagged entries
    movable: int = 0  # of them, those the one-click move can take to the next working day


async def _entries(db: AsyncSession, plan: ActivityPlan, tz: tzinfo, now: datetime) -> list[Entry]:
    """The entries, the planned ones still ahead on a public holiday flagged (2 queries)."""
    rows = (await db.execute(
        select(Activity, ActivityKind.name)
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .where(Activity.plan_id == plan.id).order_by(Activity.starts_at, Activity.id)
    )).all()
    calendar = await load_calendar(db, since=date(plan.year, 1, 1))
    flagged = holiday_entries([(a.id, a.kind_id, a.starts_at, a.status) for a, _ in rows], calendar, tz, now)
    out = []
    for a, kind in rows:
        start, end = a.starts_at.astimezone(tz), a.ends_at.astimezone(tz)
        entry = Entry(id=a.id, day=start.date(), start=start.time(), end=end.time(), kind=kind, topic=a.topic,
                      place=a.place, status=a.status)
        if a.id in flagged:
            entry.holiday, entry.move_to = flagged[a.id].holiday, flagged[a.id].move_to
        out.append(entry)
    return out


async def _events(db: AsyncSession, plan_id: int):
    """Reschedules (for the first planned dates) and every change to the published plan, oldest first."""
    return (await db.execute(
        select(ActivityEvent, User.display_name)
        .join(Activity, and_(Activity.tenant_id == ActivityEvent.tenant_id, Activity.id == ActivityEvent.activity_id))
        .outerjoin(User, User.id == ActivityEvent.actor_user_id)
        .where(Activity.plan_id == plan_id,
               or_(ActivityEvent.plan_change.is_(True), ActivityEvent.action == "rescheduled"))
        .order_by(ActivityEvent.at, ActivityEvent.id)
    )).all()


def _local_date(value: datetime | None, tz: tzinfo) -> date | None:
    return value.astimezone(tz).date() if value else None


async def plan_view(db: AsyncSession, plan: ActivityPlan, tz: tzinfo, now: datetime | None = None) -> PlanView:
    """The plan's entries grouped by month (each rescheduled one with the date first planned, each on a
    public holiday flagged) and its change record, newest first (5 queries)."""
    entries = await _entries(db, plan, tz, now or datetime.now(timezone.utc))
    by_id = {e.id: e for e in entries}
    changes = []
    for event, who in await _events(db, plan.id):
        entry = by_id.get(event.activity_id)
        old = _local_date(moved_from(event.data), tz)
        if entry and old and entry.moved_from is None:
            entry.moved_from = old  # the first reschedule holds the date the plan gave
        if event.plan_change and entry:
            changes.append(Change(at=event.at.astimezone(tz), action=event.action, activity_id=entry.id,
                                  day=entry.day, kind=entry.kind, topic=entry.topic, old=old,
                                  new=_local_date(moved_to(event.data), tz), who=who or "", reason=event.note))
    changes.reverse()
    months: dict[int, Month] = {}
    for e in entries:
        months.setdefault(e.day.month, Month(e.day.month)).entries.append(e)
    publisher = ""
    if plan.published_by:
        publisher = await db.scalar(select(User.display_name).where(User.id == plan.published_by)) or ""
    return PlanView(plan=plan, months=list(months.values()), changes=changes, entries=len(entries),
                    cancelled=sum(1 for e in entries if e.status == "cancelled"), publisher=publisher,
                    published_on=_local_date(plan.published_at, tz),
                    on_holidays=sum(1 for e in entries if e.holiday),
                    movable=sum(1 for e in entries if e.move_to))
