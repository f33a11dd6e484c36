"""A deputy's home, made for a phone: the next activity they are invited to, with a "签到" button while
its sign-in is open (the deputy's personal sign-in link, app.activities.signin_routes); their tasks
(opinions they received or registered still open, coming activities they are invited to) and their
record this year (activities attended, opinions received, suggestions filed), each linking to the page
that lists them. The county's sign-in window and two statements; above the domains, no web imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.attendance import counted
from app.activities.models import (
    Activity, ActivityKind, Attendance, Invitation, JointAttendance, Opinion, Suggestion,
)
from app.activities.signin import signin_open, signin_window
from app.cases.models import Case
from app.cases.queries import OPEN_STATES
from app.core.i18n import lazy
from app.core.periods import period_of
from app.deputies.models import Deputy, DeputyGroup
from app.home import figures
from app.home.items import Group, Item, When, Workbench
from app.stations.models import Station
from app.tenancy.config import get_config
from app.tenancy.scope import Scope


@dataclass
class NextActivity:
    activity: Activity
    kind: str
    where: str  # the station's (or the deputy group's) name
    token: str  # the deputy's personal sign-in link: /signin/<slug>/<token>
    signed_at: datetime | None
    open: bool  # sign-in is open now
    opens_at: datetime


@dataclass
class DeputyHome:
    next: NextActivity | None


def _mine(scope: Scope, tenant_id: int):
    return select(Deputy.id).where(Deputy.tenant_id == tenant_id, Deputy.user_id == scope.user_id)


async def deputy_home(db: AsyncSession, scope: Scope, tenant_id: int, when: When) -> Workbench:
    config = await get_config(db, tenant_id)
    home = DeputyHome(next=await _next_activity(db, scope, tenant_id, when.now, config))
    start, end = period_of("year", when.today).bounds(when.tz)
    first, last = date(when.today.year, 1, 1), date(when.today.year, 12, 31)
    mine = _mine(scope, tenant_id)
    attended = (select(func.count()).select_from(Attendance)
                .join(Activity, and_(Activity.tenant_id == Attendance.tenant_id, Activity.id == Attendance.activity_id))
                .where(Attendance.tenant_id == tenant_id, Attendance.deputy_id.in_(mine), counted(when.now),
                       Activity.starts_at >= start, Activity.starts_at < end))
    at_joint = select(func.count()).select_from(JointAttendance).where(
        JointAttendance.tenant_id == tenant_id, JointAttendance.deputy_id.in_(mine), JointAttendance.present,
        JointAttendance.status != "cancelled",
        or_(JointAttendance.status == "held", JointAttendance.starts_at <= when.now),
        JointAttendance.starts_at >= start, JointAttendance.starts_at < end)
    opinions = select(func.count()).select_from(Opinion).where(
        Opinion.tenant_id == tenant_id, Opinion.deputy_id.in_(mine), Opinion.received_on.between(first, last))
    suggestions = select(func.count()).select_from(Suggestion).where(
        Suggestion.tenant_id == tenant_id, Suggestion.deputy_id.in_(mine), Suggestion.filed_on.between(first, last))
    coming = and_(Activity.status == "planned", Activity.ends_at >= when.now)
    row = await figures.read_row(
        db,
        figures.case_counts(scope, tenant_id, {"open": Case.state.in_(OPEN_STATES)}),
        figures.activity_counts(scope, tenant_id, {"invited": coming}),
        columns=(attended.scalar_subquery().label("attended"), at_joint.scalar_subquery().label("at_joint"),
                 opinions.scalar_subquery().label("opinions"), suggestions.scalar_subquery().label("suggestions"),
                 select(func.min(Deputy.id)).where(Deputy.id.in_(mine)).scalar_subquery().label("deputy_id")))
    deputy_id, year = row["deputy_id"], when.today.year
    records = f"/deputies/{deputy_id}/records?year={year}" if deputy_id else None
    tasks = Group(lazy("Your tasks"), [
        Item("invited", lazy("Coming activities you are invited to"), row["invited"], "/activities?when=upcoming",
             warn=True),
        Item("open-cases", lazy("Opinions you received, still open"), row["open"], "/cases?open=1"),
    ])
    record = Group(lazy("Your record this year"), [
        Item("attended", lazy("Activities attended"), row["attended"] + row["at_joint"],
             f"/deputies/{deputy_id}/attendance?year={year}" if deputy_id else None),
        Item("opinions", lazy("Opinions reported"), row["opinions"], records and records + "#opinions"),
        Item("suggestions", lazy("Suggestions filed"), row["suggestions"], records and records + "#suggestions"),
    ])
    return Workbench([tasks, record], deputy=home)


async def _next_activity(db: AsyncSession, scope: Scope, tenant_id: int, now: datetime, config) -> NextActivity | None:
    """The first activity the deputy is invited to that has not ended, or whose sign-in is still open
    and that they have not signed in to yet."""
    closes = timedelta(minutes=config.signin_closes_minutes)
    row = (await db.execute(
        select(Activity, ActivityKind.name, func.coalesce(Station.name, DeputyGroup.name, ""), Invitation.token,
               Attendance.signed_at)
        .select_from(Invitation)
        .join(Activity, and_(Activity.tenant_id == Invitation.tenant_id, Activity.id == Invitation.activity_id))
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .outerjoin(Station, and_(Station.tenant_id == Activity.tenant_id, Station.id == Activity.station_id))
        .outerjoin(DeputyGroup, and_(DeputyGroup.tenant_id == Activity.tenant_id, DeputyGroup.id == Activity.group_id))
        .outerjoin(Attendance, and_(Attendance.tenant_id == Invitation.tenant_id,
                                    Attendance.activity_id == Invitation.activity_id,
                                    Attendance.deputy_id == Invitation.deputy_id))
        .where(Invitation.tenant_id == tenant_id, Invitation.deputy_id.in_(_mine(scope, tenant_id)),
               Invitation.withdrawn_at.is_(None), Activity.status != "cancelled",
               or_(Activity.ends_at >= now, and_(Activity.ends_at >= now - closes, Attendance.deputy_id.is_(None))))
        .order_by(Activity.starts_at, Activity.id).limit(1))).first()
    if row is None:
        return None
    activity, kind, where, token, signed_at = row
    return NextActivity(activity, kind, where, token, signed_at, open=signin_open(activity, config, now),
                        opens_at=signin_window(activity, config)[0])
