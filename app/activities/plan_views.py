"""What the staff page of a yearly plan shows: its entries by month, and its change record (调整记录).
Read-only, a fixed number of queries whatever the plan's size."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.activities.models import Activity, ActivityEvent, ActivityKind, ActivityPlan
from app.activities.plans import moved_from, moved_to
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


async def _entries(db: AsyncSession, plan_id: int, tz: tzinfo) -> list[Entry]:
    rows = await db.execute(
        select(Activity, ActivityKind.name)
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .where(Activity.plan_id == plan_id).order_by(Activity.starts_at, Activity.id)
    )
    out = []
    for a, kind in rows:
        start, end = a.starts_at.astimezone(tz), a.ends_at.astimezone(tz)
        out.append(Entry(id=a.id, day=start.date(), start=start.time(), end=end.time(), kind=kind, topic=a.topic,
                         place=a.place, status=a.status))
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


async def plan_view(db: AsyncSession, plan: ActivityPlan, tz: tzinfo) -> PlanView:
    """The plan's entries grouped by month (each rescheduled one with the date first planned) and its
    change record, newest first (4 queries)."""
    entries = await _entries(db, plan.id, tz)
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
                    published_on=_local_date(plan.published_at, tz))
