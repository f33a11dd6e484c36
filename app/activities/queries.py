"""Reading activities: the list (one filter, a fixed number of queries per page), the detail page's
parts, and the choices the forms offer. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, and_, bindparam, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.activities.access import RUN_ROLES, VIEW_ROLES, activities_query, activity_filter, runnable_stations
from app.activities.models import (
    Activity, ActivityEvent, ActivityKind, ActivityPhoto, Attendance, Invitation, Opinion,
)
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy, DeputyGroup, StationDeputy
from app.stations.access import station_filter
from app.stations.access import node_join as station_node_join
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

PER_PAGE = 50
CHANGE_ACTIONS = ("rescheduled", "cancelled")
SEARCH_LIMIT = 20


@dataclass
class ListRow:
    activity: Activity
    kind_name: str
    where: str  # the station's or the group's name
    invited: int
    present: int
    changes: list = field(default_factory=list)  # [(action, at)] rescheduled / cancelled


@dataclass
class ActivityList:
    rows: list[ListRow]
    total: int
    page: int
    pages: int


def month_range(month: str | None, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """'YYYY-MM' → [first day 00:00, next month's first day) in the tenant's zone; None if not a month."""
    text = (month or "").strip()
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        return None
    year, mon = int(text[:4]), int(text[5:])
    if not (1 <= mon <= 12 and 1900 < year < 3000):
        return None
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return start, end


def _counts():
    invited = (select(func.count()).select_from(Invitation)
               .where(Invitation.tenant_id == Activity.tenant_id, Invitation.activity_id == Activity.id,
                      Invitation.withdrawn_at.is_(None)).correlate(Activity).scalar_subquery())
    present = (select(func.count()).select_from(Attendance)
               .where(Attendance.tenant_id == Activity.tenant_id, Attendance.activity_id == Activity.id)
               .correlate(Activity).scalar_subquery())
    return invited, present


# The list's "when" filter: planned activities not yet over, and those over but never recorded.
WHEN = ("upcoming", "unrecorded")


def when_condition(when: str, now: datetime):
    """upcoming: planned and not yet ended; unrecorded: planned and ended without a record (留痕)."""
    ended = Activity.ends_at < now
    return and_(Activity.status == "planned", ended if when == "unrecorded" else ~ended)


async def list_activities(db: AsyncSession, scope: Scope, *, now: datetime, tz: ZoneInfo,
                          station_id: int | None = None, kind_id: int | None = None, status: str | None = None,
                          month: str | None = None, when: str | None = None, page: int = 1) -> ActivityList:
    """Activities in scope: upcoming ones first (soonest first), then past ones (latest first)."""
    conditions = [activity_filter(scope)]
    if when in WHEN:
        conditions.append(when_condition(when, now))
    if station_id:
        conditions.append(Activity.station_id == station_id)
    if kind_id:
        conditions.append(Activity.kind_id == kind_id)
    if status:
        conditions.append(Activity.status == status)
    span = month_range(month, tz)
    if span:
        conditions.append(and_(Activity.starts_at >= span[0], Activity.starts_at < span[1]))
    total = await db.scalar(activities_query(func.count(Activity.id)).where(*conditions)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    invited, present = _counts()
    rows = (await db.execute(
        activities_query(Activity, ActivityKind.name, func.coalesce(Station.name, DeputyGroup.name, ""), invited,
                         present)
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .outerjoin(DeputyGroup, and_(DeputyGroup.tenant_id == Activity.tenant_id, DeputyGroup.id == Activity.group_id))
        .where(*conditions)
        .order_by((Activity.starts_at < now).asc(), case((Activity.starts_at >= now, Activity.starts_at)).asc(),
                  Activity.starts_at.desc(), Activity.id.desc())
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    )).all()
    result = [ListRow(a, k, w, i, p) for a, k, w, i, p in rows]
    changes = await changes_of(db, [r.activity.id for r in result])
    for row in result:
        row.changes = changes.get(row.activity.id, [])
    return ActivityList(rows=result, total=total, page=page, pages=pages)


async def changes_of(db: AsyncSession, activity_ids: list[int]) -> dict[int, list]:
    """The latest reschedule / cancellation of each activity, in one query (the invited deputies' mark)."""
    if not activity_ids:
        return {}
    rows = await db.execute(
        select(ActivityEvent.activity_id, ActivityEvent.action, func.max(ActivityEvent.at))
        .where(ActivityEvent.activity_id.in_(activity_ids), ActivityEvent.action.in_(CHANGE_ACTIONS))
        .group_by(ActivityEvent.activity_id, ActivityEvent.action)
    )
    out: dict[int, list] = {}
    for activity_id, action, at in rows:
        out.setdefault(activity_id, []).append((action, at))
    return out


async def filter_choices(db: AsyncSession, scope: Scope) -> tuple[list, list]:
    """(stations in scope, activity kinds) for the list's filters."""
    stations = (await db.execute(
        select(Station.id, Station.name).join(AdminNode, station_node_join()).where(station_filter(scope))
        .order_by(AdminNode.path, Station.name)
    )).all()
    kinds = (await db.scalars(select(ActivityKind).order_by(ActivityKind.sort, ActivityKind.id))).all()
    return list(stations), list(kinds)


# --- the form for a new activity ----------------------------------------------------------------

async def new_choices(db: AsyncSession, scope: Scope, tenant_id: int) -> dict:
    stations = (await db.execute(
        select(Station.id, Station.name).join(AdminNode, station_node_join())
        .where(runnable_stations(scope), Station.status == "active").order_by(AdminNode.path, Station.name)
    )).all()
    groups = []
    if scope.role == "county_admin":
        groups = (await db.execute(select(DeputyGroup.id, DeputyGroup.name).order_by(DeputyGroup.name))).all()
    kinds = (await db.scalars(select(ActivityKind).where(ActivityKind.retired_at.is_(None))
                              .order_by(ActivityKind.sort, ActivityKind.name))).all()
    return {"stations": list(stations), "groups": list(groups), "kinds": list(kinds),
            "staff": await staff_members(db, tenant_id)}


async def staff_members(db: AsyncSession, tenant_id: int) -> list:
    """(user id, name) of the tenant's members in staff roles: who may be responsible. (Memberships
    also show the user's own rows of other tenants: hence the explicit tenant filter.)"""
    return list((await db.execute(
        select(User.id, User.display_name).join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id, Membership.role.in_(RUN_ROLES), Membership.revoked_at.is_(None))
        .order_by(User.display_name, User.id).distinct()
    )).all())


async def station_deputies(db: AsyncSession, station_id: int) -> list[Deputy]:
    return list(await db.scalars(
        select(Deputy).join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id,
                                                StationDeputy.deputy_id == Deputy.id))
        .where(StationDeputy.station_id == station_id, StationDeputy.ended_at.is_(None), Deputy.status == "active")
        .order_by(Deputy.name, Deputy.id).distinct()
    ))


async def group_deputies(db: AsyncSession, group_id: int) -> list[Deputy]:
    return list(await db.scalars(select(Deputy).where(Deputy.group_id == group_id, Deputy.status == "active")
                                 .order_by(Deputy.name, Deputy.id)))


# --- the detail page ----------------------------------------------------------------------------

async def invitations(db: AsyncSession, activity_id: int) -> list[tuple]:
    """(Deputy, Invitation, Attendance | None) of the current invitations, by name."""
    rows = await db.execute(
        select(Deputy, Invitation, Attendance)
        .join(Deputy, and_(Deputy.tenant_id == Invitation.tenant_id, Deputy.id == Invitation.deputy_id))
        .outerjoin(Attendance, and_(Attendance.tenant_id == Invitation.tenant_id,
                                    Attendance.activity_id == Invitation.activity_id,
                                    Attendance.deputy_id == Invitation.deputy_id))
        .where(Invitation.activity_id == activity_id, Invitation.withdrawn_at.is_(None))
        .order_by(Deputy.name, Deputy.id)
    )
    return [tuple(r) for r in rows]


async def photos(db: AsyncSession, activity_id: int) -> list[ActivityPhoto]:
    return list(await db.scalars(select(ActivityPhoto).where(ActivityPhoto.activity_id == activity_id)
                                 .order_by(ActivityPhoto.id)))


async def opinions(db: AsyncSession, activity_id: int) -> list[tuple]:
    """(Opinion, name of the deputy who received it or None)."""
    rows = await db.execute(
        select(Opinion, Deputy.name)
        .outerjoin(Deputy, and_(Deputy.tenant_id == Opinion.tenant_id, Deputy.id == Opinion.deputy_id))
        .where(Opinion.activity_id == activity_id).order_by(Opinion.id)
    )
    return [tuple(r) for r in rows]


async def history(db: AsyncSession, activity: Activity) -> tuple[list, dict, dict]:
    """(events newest first with the actor's name, {deputy id: name} for the ids the events name,
    {user id: name} for the responsible person and the actors)."""
    rows = (await db.execute(
        select(ActivityEvent, User.display_name).outerjoin(User, User.id == ActivityEvent.actor_user_id)
        .where(ActivityEvent.activity_id == activity.id).order_by(ActivityEvent.at.desc(), ActivityEvent.id.desc())
    )).all()
    ids = {int(i) for e, _ in rows for i in (e.data or {}).get("deputy_ids", []) if str(i).isdigit()}
    names = {}
    if ids:
        names = dict((await db.execute(select(Deputy.id, Deputy.name).where(Deputy.id.in_(ids)))).all())
    user_ids = {activity.responsible_user_id, activity.recorded_by} - {None}
    for e, _ in rows:
        value = (e.data or {}).get("responsible_user_id")
        if isinstance(value, list):
            user_ids.update(v for v in value if isinstance(v, int))
    users = {}
    if user_ids:
        users = dict((await db.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))).all())
    return [tuple(r) for r in rows], names, users


async def invite_candidates(db: AsyncSession, scope: Scope, activity: Activity, search: str) -> list[Deputy]:
    """Deputies to invite: the station's (or group's) deputies not invited yet, then those in scope
    whose name contains ``search``."""
    invited = select(Invitation.deputy_id).where(Invitation.activity_id == activity.id,
                                                 Invitation.withdrawn_at.is_(None))
    if activity.station_id:
        own = await station_deputies(db, activity.station_id)
    elif activity.group_id:
        own = await group_deputies(db, activity.group_id)
    else:
        own = []
    taken = set(await db.scalars(invited))
    out = [d for d in own if d.id not in taken]
    search = (search or "").strip()[:40]
    if search:
        found = await db.scalars(
            select(Deputy).where(deputies_in_scope(scope), Deputy.status == "active",
                                 Deputy.name.contains(search, autoescape=True), Deputy.id.not_in(invited))
            .order_by(Deputy.name, Deputy.id).limit(SEARCH_LIMIT)
        )
        seen = {d.id for d in out}
        out += [d for d in found if d.id not in seen]
    return out



async def upcoming(db: AsyncSession, scope: Scope, *, now: datetime, days: int = 14, limit: int = 5) -> list[tuple]:
    """(Activity, kind name, station or group name) of the next planned activities in scope, for the
    tenant's home page: the staff see what is coming, a deputy what they are invited to."""
    if scope.role in VIEW_ROLES and scope.whole_tenant:  # a county admin's or viewer's every home
        statement = _whole_tenant_upcoming(days, limit)
    else:
        statement = _upcoming(activity_filter(scope), days, limit)
    return list((await db.execute(statement, {"now": now})).all())


def _upcoming(in_scope, days: int, limit: int):
    now = bindparam("now", type_=DateTime(timezone=True))
    return (
        activities_query(Activity, ActivityKind.name, func.coalesce(Station.name, DeputyGroup.name, ""))
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .outerjoin(DeputyGroup, and_(DeputyGroup.tenant_id == Activity.tenant_id, DeputyGroup.id == Activity.group_id))
        .where(in_scope, Activity.status == "planned", Activity.ends_at >= now,
               Activity.starts_at < now + timedelta(days=days))
        .order_by(Activity.starts_at, Activity.id).limit(limit)
    )


@cache
def _whole_tenant_upcoming(days: int, limit: int):
    """Built once (issue 20): the whole tenant's filter is true (row-level security picks the tenant)."""
    return _upcoming(true(), days, limit)
