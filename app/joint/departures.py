"""Deputies leaving a joint station: taken out one by one (app.joint.deputies.leave, or no longer
serving), or all of a county's at once when it withdraws (remove_county, called by the agreement's
withdraw). Their invitations to coming joint activities are withdrawn and those rows leave their
counties, the joint tenant's deputies rows stay as `removed` (past attendance keeps its names), their
deputy memberships end and their pending reminders are withdrawn in their counties. Called bound to the
joint tenant, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.activities.models import Activity, ActivityEvent, Invitation
from app.core.db import as_tenant
from app.deputies.models import Deputy, StationDeputy
from app.joint import attendance
from app.joint import reminders as joint_reminders
from app.joint.models import JointDeputy

def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _retire_local(db: AsyncSession, deputy_ids: list[int]) -> None:
    """Projections taken out: the joint tenant's deputies rows stay (past attendance keeps its names)
    as `removed`, leave the joint station, and their deputy memberships are revoked."""
    if not deputy_ids:
        return
    users = [u for u in (await db.scalars(select(Deputy.user_id).where(Deputy.id.in_(deputy_ids)))).all() if u]
    await revoke_deputy_members(db, users)
    await db.execute(update(Deputy).where(Deputy.id.in_(deputy_ids)).values(status="removed", user_id=None)
                     .execution_options(synchronize_session=False))
    await db.execute(update(StationDeputy).where(StationDeputy.deputy_id.in_(deputy_ids),
                                                 StationDeputy.ended_at.is_(None)).values(ended_at=_now())
                     .execution_options(synchronize_session=False))


async def _uninvite_upcoming(db: AsyncSession, rows: list[JointDeputy]) -> None:
    """Their invitations to joint activities not yet started are withdrawn (the activity's history says
    so), and the county's rows of those activities removed — they are not history yet."""
    home_deputies = {r.deputy_id: (r.home_tenant_id, r.home_deputy_id) for r in rows if r.deputy_id}
    if not home_deputies:
        return
    now = _now()
    upcoming = (await db.execute(
        select(Invitation.activity_id, Invitation.deputy_id)
        .join(Activity, and_(Activity.tenant_id == Invitation.tenant_id, Activity.id == Invitation.activity_id))
        .where(Invitation.deputy_id.in_(list(home_deputies)), Invitation.withdrawn_at.is_(None),
               Activity.status == "planned", Activity.starts_at > now))).all()
    if not upcoming:
        return
    await db.execute(update(Invitation).where(Invitation.deputy_id.in_(list(home_deputies)),
                                              Invitation.withdrawn_at.is_(None),
                                              Invitation.activity_id.in_({a for a, _ in upcoming}))
                     .values(withdrawn_at=now).execution_options(synchronize_session=False))
    by_activity: dict[int, list[int]] = {}
    for activity_id, deputy_id in upcoming:
        by_activity.setdefault(activity_id, []).append(deputy_id)
    db.add_all([ActivityEvent(tenant_id=rows[0].tenant_id, activity_id=a, action="uninvited",
                              data={"deputy_ids": ids, "left_joint_station": True}) for a, ids in by_activity.items()])
    by_county: dict[int, list[tuple[int, int]]] = {}
    for activity_id, deputy_id in upcoming:
        county_id, home_id = home_deputies[deputy_id]
        by_county.setdefault(county_id, []).append((activity_id, home_id))
    for county_id, pairs in by_county.items():
        await attendance.drop_upcoming(db, rows[0].tenant_id, county_id, pairs)


async def take_out(db: AsyncSession, rows: list[JointDeputy]) -> None:
    """Projections out (bound to the joint tenant): invitations to coming activities
    withdrawn, local rows retired, and the deputies' pending reminders of the joint station's
    activities withdrawn in their counties."""
    await _uninvite_upcoming(db, rows)
    await _retire_local(db, [r.deputy_id for r in rows if r.deputy_id])
    if rows:
        await db.execute(delete(JointDeputy).where(JointDeputy.id.in_([r.id for r in rows])))
    by_county: dict[int, list[int]] = {}
    for r in rows:
        by_county.setdefault(r.home_tenant_id, []).append(r.home_deputy_id)
    for county_id, home_ids in by_county.items():
        await joint_reminders.withdraw_deputies(db, rows[0].tenant_id, county_id, home_ids)


async def revoke_deputy_members(db: AsyncSession, user_ids) -> None:
    """Deputy memberships of these users in the bound joint tenant end (staff roles a county gave stay)."""
    if user_ids:
        await db.execute(update(Membership).where(Membership.user_id.in_(list(user_ids)), Membership.role == "deputy",
                                                  Membership.revoked_at.is_(None))
                         .values(revoked_at=_now()).execution_options(synchronize_session=False))


async def remove_county(db: AsyncSession, *, county_id: int, joint_id: int) -> int:
    """Every projection of the county out of the joint tenant (the county withdrew)."""
    async with as_tenant(db, joint_id):
        rows = list((await db.scalars(select(JointDeputy).where(JointDeputy.home_tenant_id == county_id))).all())
        await take_out(db, rows)
    return len(rows)
