"""The worker's refresh of the compliance snapshots (app.compliance.snapshots), every
``snapshots.REFRESH_SECONDS``: one statement finds the tenants due (``compliance_due_tenants``,
migration 0040: marked stale by a change, without a snapshot, or past a period's end), so a tick
where nothing changed costs that statement alone; each due tenant is recomputed in its own
transaction bound to it. Safe to run twice at once: a tenant being refreshed is skipped (an
advisory lock), and its markers stay for the next tick if a change came in meanwhile."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import text

from app.core.db import every_county
from app.compliance import snapshots
from app.core.clock import now as clock_now
from app.tenancy.models import Tenant

log = logging.getLogger("lianluo.compliance")
LOCK_CLASS = 20040  # pg_advisory_xact_lock(class, tenant id): one refresh of a tenant at a time


async def due_tenants(database, now: datetime) -> list[int]:
    async with database.transaction() as db:
        return list((await every_county(db, "SELECT tenant_id FROM compliance_due_tenants(:now)",
                                        {"now": now})).scalars())


async def refresh_tenant(database, tenant_id: int, now: datetime) -> bool:
    """Recompute one tenant's snapshot; False when another refresh of it is under way."""
    async with database.transaction(tenant_id=tenant_id) as db:
        if not await db.scalar(text("SELECT pg_try_advisory_xact_lock(:c, CAST(:t AS integer))"),
                               {"c": LOCK_CLASS, "t": tenant_id}):
            return False
        tenant = await db.get(Tenant, tenant_id)
        if tenant is None:
            return False
        await snapshots.refresh(db, tenant, now=now)
    return True


async def refresh_due(database, *, now: datetime | None = None) -> int:
    """Refresh every due tenant; returns how many were refreshed. One tenant's failure is logged and
    does not stop the others (it stays due and is tried again next tick)."""
    now = now or clock_now()
    done = 0
    for tenant_id in await due_tenants(database, now):
        try:
            done += await refresh_tenant(database, tenant_id, now)
        except Exception:
            log.exception("compliance snapshot of tenant %s failed", tenant_id)
    return done
