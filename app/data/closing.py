"""The operator closes a tenant (issue 16, PIPL): suspend → final export offered → deletion scheduled
after a grace period (`GRACE`, shown and cancellable) → the worker's `delete_due` removes every row of
the tenant when it is due.

- `schedule` needs a suspended tenant and a reason; `cancel` clears the date. Both on the platform log.
- The deletion, in one transaction: the county first leaves its joint stations through the joint
  agreements' own withdrawal (declines the proposals still waiting for its answer), acting as the
  operator who scheduled the deletion; then the SECURITY DEFINER function `delete_tenant_data`
  (migration 0019, extended by 0022), which itself checks that the tenant is suspended and due, deletes
  the rows of every tenant table and the platform rows naming the tenant, anonymises the accounts that
  belonged to this county alone (no active membership elsewhere, not operators: username `deleted:<id>`,
  display name a placeholder, no mobile, e-mail, password or second factor, disabled, sessions
  revoked; the row stays because other tenants' records and the platform log point at it), and leaves
  the `tenants` row as a tombstone (status `deleted`: other tenants' rows may name it). The platform
  log keeps the counts, the anonymised accounts among them.
No web imports here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.audit.services import record_platform
from app.core.clock import now as clock_now
from app.core.db import across_shards, one_connection_per_node
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.joint import agreements
from app.joint.models import MEMBER_STATES
from app.tenancy.models import Tenant

log = logging.getLogger("lianluo.data")

GRACE = timedelta(days=30)
REASON_MAX = 500
REASON_REQUIRED = lazy("Please give a reason (at most %(n)s characters).")
NOT_SUSPENDED = lazy("Suspend the county's account before scheduling its deletion.")
ALREADY_SCHEDULED = lazy("The deletion of this county's data is already scheduled.")
NOT_SCHEDULED = lazy("No deletion of this county's data is scheduled.")


async def _locked(db: AsyncSession, tenant_id: int) -> Tenant:
    tenant = await db.get(Tenant, tenant_id, with_for_update=True, populate_existing=True)
    if tenant is None:
        raise LookupError(tenant_id)
    return tenant


async def schedule(db: AsyncSession, tenant_id: int, *, actor: User, reason: str, client_addr: str | None = None,
                   now: datetime | None = None) -> Tenant:
    """Schedule the deletion of a suspended tenant's data GRACE from now. LookupError: no tenant."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise Refusal(REASON_REQUIRED, input_name="reason", n=REASON_MAX)
    tenant = await _locked(db, tenant_id)
    if tenant.status != "suspended":
        raise Refusal(NOT_SUSPENDED)
    if tenant.deletion_due_at is not None:
        raise Refusal(ALREADY_SCHEDULED)
    tenant.deletion_due_at = (now or clock_now()) + GRACE
    tenant.deletion_scheduled_by = actor.id
    await record_platform(db, actor_user_id=actor.id, action="tenant_deletion_scheduled",
                          subject_tenant_id=tenant.id, target=f"tenant:{tenant.slug}", client_addr=client_addr,
                          details={"reason": reason, "due_at": tenant.deletion_due_at.isoformat()})
    return tenant


async def cancel(db: AsyncSession, tenant_id: int, *, actor: User, client_addr: str | None = None) -> Tenant:
    """Cancel a scheduled deletion (the tenant stays suspended). LookupError: no tenant."""
    tenant = await _locked(db, tenant_id)
    if tenant.status != "suspended" or tenant.deletion_due_at is None:
        raise Refusal(NOT_SCHEDULED)
    due = tenant.deletion_due_at
    tenant.deletion_due_at = tenant.deletion_scheduled_by = None
    await record_platform(db, actor_user_id=actor.id, action="tenant_deletion_cancelled",
                          subject_tenant_id=tenant.id, target=f"tenant:{tenant.slug}", client_addr=client_addr,
                          details={"was_due_at": due.isoformat()})
    return tenant


async def delete_due(database, *, now: datetime | None = None) -> list[int]:
    """The worker's pass: every suspended tenant whose deletion is due is deleted, each in its own
    transaction (one failing does not hold up the others). Returns the ids deleted."""
    at = now or clock_now()
    async with database.transaction() as db:
        due = list(await db.scalars(select(Tenant.id).where(
            Tenant.status == "suspended", Tenant.deletion_due_at <= at).order_by(Tenant.id)))
    deleted = []
    for tenant_id in due:
        try:
            if await delete_tenant(database, tenant_id, now=at) is not None:
                deleted.append(tenant_id)
        except Exception:
            log.exception("deleting tenant %s failed", tenant_id)
    return deleted


async def delete_tenant(database, tenant_id: int, *, now: datetime | None = None) -> dict | None:
    """Withdraw from joint agreements, then delete every row of the tenant. None when the tenant is no
    longer due (cancelled, reactivated, deleted meanwhile). Separate transactions: the deletion is a
    SECURITY DEFINER function, which Citus runs over connections of the function's owner — rows the
    runtime role's connection had locked or written in the same transaction (the tenant's row, the
    agreements it left) would wait on that connection, and Citus cancels the transaction as a
    distributed deadlock. The function checks again, under its own lock, that the deletion is due."""
    at = now or clock_now()
    async with database.transaction(tenant_id=tenant_id) as db:
        tenant = await _locked(db, tenant_id)
        if not _due(tenant, at):
            return None
        actor = await db.get(User, tenant.deletion_scheduled_by) if tenant.deletion_scheduled_by else None
        left = await _leave_joint_stations(db, tenant, actor) if actor else 0
    async with database.transaction(tenant_id=tenant_id) as db:
        tenant = await db.get(Tenant, tenant_id, populate_existing=True)
        if not _due(tenant, at):
            return None
        await one_connection_per_node(db)  # it reads across shards, then writes users and tenants
        async with across_shards(db):  # its members' other counties (are they members elsewhere?)
            counts = (await db.execute(text("SELECT delete_tenant_data(:tenant_id)"),
                                       {"tenant_id": tenant_id})).scalar_one()
    anonymised = counts.pop("users_anonymised", 0)
    rows = {table: n for table, n in sorted(counts.items()) if n}
    # a third transaction: on Citus the runtime role may not write a reference table (platform_audit_log)
    # after the function's owner wrote others (users, tenants) in the same one
    async with database.transaction() as db:
        await record_platform(db, actor_user_id=None, action="tenant_deleted", subject_tenant_id=tenant_id,
                              target=f"tenant:{tenant.slug}",
                              details={"rows": rows, "total": sum(rows.values()), "joint_agreements_left": left,
                                       "users_anonymised": anonymised, "scheduled_by": tenant.deletion_scheduled_by})
    log.info("tenant %s deleted: %s rows, %s accounts anonymised", tenant_id, sum(rows.values()), anonymised)
    return rows


def _due(tenant: Tenant, at: datetime) -> bool:
    return tenant.status == "suspended" and tenant.deletion_due_at is not None and tenant.deletion_due_at <= at


async def _leave_joint_stations(db: AsyncSession, tenant: Tenant, actor: User) -> int:
    """The county leaves every joint agreement it is in (and declines those waiting for its answer)
    through the agreements' own steps, so the other counties' copies and the joint tenant follow."""
    left = 0
    for agreement in await agreements.list_for(db):
        party = agreement.party(tenant.id)
        if party is None or agreement.status not in ("proposed", "active"):
            continue
        if party["status"] in MEMBER_STATES:
            await agreements.withdraw(db, tenant=tenant, actor=actor, key=agreement.agreement_key)
        elif party["status"] == "invited" and agreement.status == "proposed":
            await agreements.answer(db, tenant=tenant, actor=actor, key=agreement.agreement_key, accept=False)
        else:
            continue
        left += 1
    return left
