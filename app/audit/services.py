"""Writing to the append-only audit logs. Callers pass the session of the change being audited, so
the entry commits (or rolls back) with it."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry, PlatformAuditEntry


async def record(
    db: AsyncSession,
    *,
    tenant_id: int,
    actor_user_id: int | None,
    action: str,
    target: str | None = None,
    client_addr: str | None = None,
    details: dict | None = None,
) -> None:
    await db.execute(
        insert(AuditEntry).values(
            tenant_id=tenant_id,
            actor_user_id=actor_user_id,
            action=action,
            target=target,
            client_addr=client_addr,
            details=details,
        )
    )


async def record_platform(
    db: AsyncSession,
    *,
    actor_user_id: int | None,
    action: str,
    subject_tenant_id: int | None = None,
    target: str | None = None,
    client_addr: str | None = None,
    details: dict | None = None,
) -> None:
    await db.execute(
        insert(PlatformAuditEntry).values(
            actor_user_id=actor_user_id,
            action=action,
            subject_tenant_id=subject_tenant_id,
            target=target,
            client_addr=client_addr,
            details=details,
        )
    )


async def tenant_entries(db: AsyncSession, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
    """The bound tenant's entries, newest first (RLS keeps other tenants' out)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list((await db.scalars(query)).all())


async def platform_entries(db: AsyncSession, limit: int = 100, before_id: int | None = None) -> list[PlatformAuditEntry]:
    query = select(PlatformAuditEntry).order_by(PlatformAuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(PlatformAuditEntry.id < before_id)
    return list((await db.scalars(query)).all())
