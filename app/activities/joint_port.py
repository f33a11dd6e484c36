"""What activities need from joint stations, plugged in by app.joint (a layer above; app.core.ports).

At a joint station (a tenant of kind ``joint``) the invited deputies belong to the member counties:
their attendance is rolled up into each county's records and their reminders are relayed into the
county's outbox. A county tenant has no other side: one look-up of the tenant's kind tells, and the
port is not asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity
from app.core.ports import Port
from app.tenancy.models import Tenant

@dataclass(frozen=True)
class RelayedMessage:
    """One message of an activity to one projected deputy, as the joint tenant would have written it."""

    county_id: int
    home_deputy_id: int
    kind: str
    due_at: datetime
    params: dict


class JointStations(Protocol):
    async def roll_up(self, db: AsyncSession, activity: Activity, *, actor_id: int | None = None,
                      client_addr: str | None = None) -> dict[int, int]: ...

    async def home_counties(self, db: AsyncSession, joint_id: int, deputy_ids) -> dict[int, tuple[int, int]]: ...

    async def relay(self, db: AsyncSession, activity: Activity, messages: list[RelayedMessage], *,
                    now: datetime) -> dict[int, int]: ...

    async def withdraw(self, db: AsyncSession, activity: Activity, home_deputies: dict[int, tuple[int, int]], *,
                       kinds=None, deputy_id: int | None = None, due_after: datetime | None = None) -> int: ...


joint_stations: Port[JointStations] = Port("joint stations (activities)")


async def is_joint_tenant(db: AsyncSession, tenant_id: int) -> bool:
    return await db.scalar(select(Tenant.kind).where(Tenant.id == tenant_id)) == "joint"


async def roll_up(db: AsyncSession, activity: Activity, *, actor_id: int | None = None,
                  client_addr: str | None = None) -> None:
    """After an attendance change: at a joint station, into the deputies' home counties (same
    transaction); at a county, nothing."""
    if await is_joint_tenant(db, activity.tenant_id):
        await joint_stations().roll_up(db, activity, actor_id=actor_id, client_addr=client_addr)
