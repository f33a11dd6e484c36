"""What activities need from cases, plugged in by app.wiring (cases sit above activities: a case may
come from an activity and turn into a deputy's suggestion; app.core.ports).

Every opinion registered at an activity or in a deputy's register becomes a case to be handled.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Opinion
from app.core.ports import Port


class Cases(Protocol):
    async def register_opinion_case(self, db: AsyncSession, *, tenant_id: int, actor_id: int | None,
                                    opinion: Opinion, source: str, client_addr: str | None = None): ...


cases: Port[Cases] = Port("cases (the opinions of activities)")


async def register_opinion_case(db: AsyncSession, *, tenant_id: int, actor_id: int | None, opinion: Opinion,
                                source: str, client_addr: str | None = None) -> None:
    """The opinion's case, registered in the same transaction."""
    await cases().register_opinion_case(db, tenant_id=tenant_id, actor_id=actor_id, opinion=opinion, source=source,
                                        client_addr=client_addr)
