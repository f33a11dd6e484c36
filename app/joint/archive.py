"""An archived joint station (one member county left: app.joint.agreements.withdraw) is read-only for
everyone there, but no dead end:

- ``archive_steward``: its former staff (``memberships.archived_role`` county admin, township or
  station staff; viewers now) still finish the cases it holds — refer to the remaining member county,
  answer on the spot, feed back, record the satisfaction (app.cases.workflow.ARCHIVE_STEPS). Nothing
  new starts there: everyone is a viewer and the public form is closed. Whoever was only a viewer
  stays one.
- ``where_to_go``: its public page and opinion form take no more opinions and name the counties that
  ran it, with their own public pages (app.cases.public).
Both read the joint tenant's own copy of the agreement, in a session bound to the joint tenant.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.joint.models import MEMBER_STATES, JointAgreement
from app.tenancy.models import Tenant

STEWARD_ROLES = ("county_admin", "township_staff", "station_staff")


@dataclass(frozen=True)
class Elsewhere:
    """A county that ran the joint station, and the slug of its public pages (None: not open)."""
    name: str
    slug: str | None


async def archived(db: AsyncSession, joint_id: int) -> JointAgreement | None:
    """The joint tenant's copy of its agreement if the station is archived, else None."""
    agreement = await db.scalar(select(JointAgreement).where(JointAgreement.joint_tenant_id == joint_id)
                                .order_by(JointAgreement.id).limit(1))
    return agreement if agreement is not None and agreement.status == "archived" else None


async def archive_steward(db: AsyncSession, joint_id: int, user_id: int) -> bool:
    """May this member finish the archived joint station's cases (see the module)?"""
    if await archived(db, joint_id) is None:
        return False
    role = await db.scalar(select(Membership.archived_role).where(
        Membership.tenant_id == joint_id, Membership.user_id == user_id, Membership.role == "viewer",
        Membership.revoked_at.is_(None)))
    return role in STEWARD_ROLES


async def where_to_go(db: AsyncSession, joint_id: int) -> list[Elsewhere] | None:
    """None while the joint station takes opinions; archived, the counties that ran it (the remaining
    member first, then those that withdrew), each with its public pages when they are open."""
    agreement = await archived(db, joint_id)
    if agreement is None:
        return None
    ran = [p for p in agreement.parties if p["status"] in MEMBER_STATES]
    ran += [p for p in agreement.parties if p["status"] == "withdrawn"]
    slugs = dict((await db.execute(select(Tenant.id, Tenant.slug).where(
        Tenant.id.in_([p["tenant_id"] for p in ran]), Tenant.status == "active"))).all())
    return [Elsewhere(p["name"], slugs.get(p["tenant_id"])) for p in ran]
