"""Helpers for the workflow tests: a member's scope, and running one step in its own transaction."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import Membership
from app.cases.access import get_case
from app.tenancy.scope import scope_of


async def scope_for(database, cc, username: str):
    user = cc.users[username]
    async with database.transaction(tenant_id=cc.tenant.id, user_id=user.id) as db:
        m = await db.scalar(select(Membership).where(Membership.tenant_id == cc.tenant.id,
                                                     Membership.user_id == user.id))
        return await scope_of(db, m)


async def step(database, cc, username: str, case_id: int, service, **kwargs):
    """Run ``service(db, scope, ref, actor_id=…, **kwargs)`` as the member; commits unless it raises."""
    scope = await scope_for(database, cc, username)
    user = cc.users[username]
    async with database.transaction(tenant_id=cc.tenant.id, user_id=user.id) as db:
        ref = await get_case(db, scope, case_id, for_update=True)
        return await service(db, scope, ref, actor_id=user.id, **kwargs)


async def load(database, cc, case_id: int):
    from app.cases.models import Case

    async with database.transaction(tenant_id=cc.tenant.id) as db:
        return await db.scalar(select(Case).where(Case.id == case_id))
