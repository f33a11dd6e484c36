"""What cases need from joint stations, plugged in by app.joint (a layer above; app.core.ports).

A joint station refers its cases to the member counties; a county's case referred from one mirrors
its progress back there, and the joint station's feed-back and rating pass on to it. Only such cases
ask the port: a case with no joint station behind it (``referred_from_tenant_id`` empty, no referral
rows) never does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.access import CaseRef
from app.cases.models import Case, JointReferral
from app.core.ports import Port
from app.tenancy.scope import Scope

class JointStations(Protocol):
    async def joint_feeds_back(self, db: AsyncSession, case: Case) -> bool: ...

    async def mirror(self, db: AsyncSession, county_case: Case, *, now: datetime | None = None): ...

    async def passed_on(self, db: AsyncSession, joint_case: Case, *, actor_id: int | None = None,
                        client_addr: str | None = None, now: datetime | None = None) -> int: ...

    async def refer(self, db: AsyncSession, scope: Scope, ref: CaseRef, *, county_tenant_ids, note: str = "",
                    level: str = "township", actor_id: int, client_addr: str | None = None,
                    now: datetime | None = None) -> list[JointReferral]: ...

    async def member_counties(self, db: AsyncSession, joint_id: int) -> list[tuple[int, str]]: ...

    async def referrals_of(self, db: AsyncSession, case: Case) -> list[tuple[JointReferral, str]]: ...

    async def archive_steward(self, db: AsyncSession, joint_id: int, user_id: int) -> bool: ...

    async def where_to_go(self, db: AsyncSession, joint_id: int) -> list | None: ...


joint_stations: Port[JointStations] = Port("joint stations (cases)")


async def joint_feeds_back(db: AsyncSession, case: Case) -> bool:
    """A county's case referred from a joint station that still feeds back and rates for it."""
    if case.referred_from_tenant_id is None:
        return False
    return await joint_stations().joint_feeds_back(db, case)


async def mirror(db: AsyncSession, case: Case, now: datetime | None = None) -> None:
    """A county's case referred from a joint station: its agreed status fields go back there."""
    if case.referred_from_tenant_id is not None:
        await joint_stations().mirror(db, case, now=now)


async def passed_on(db: AsyncSession, case: Case, *, actor_id: int | None, client_addr: str | None,
                    now: datetime) -> None:
    """A joint station's case fed back or rated: the member counties' referred cases follow (one
    look-up finds no referral for any other case)."""
    referred = await db.scalar(select(JointReferral.id).where(JointReferral.case_id == case.id).limit(1))
    if referred is not None:
        await joint_stations().passed_on(db, case, actor_id=actor_id, client_addr=client_addr, now=now)


async def refer(db: AsyncSession, scope: Scope, ref: CaseRef, **step) -> list[JointReferral]:
    """The joint station's step "refer" (the workflow offers it only there)."""
    return await joint_stations().refer(db, scope, ref, **step)


async def where_to_go(db: AsyncSession, tenant_id: int, tenant_kind: str) -> list | None:
    """None while the tenant's stations take opinions; an archived joint station: the counties to turn
    to instead (app.joint.archive.Elsewhere: name, slug of their public pages or None)."""
    if tenant_kind != "joint":
        return None
    return await joint_stations().where_to_go(db, tenant_id)
