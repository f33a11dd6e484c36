"""The operator's view of joint-station agreements: their metadata only (name, proposer, member
counties, status, created), read through the SECURITY DEFINER function platform_joint_agreements()
(operators never read tenant rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import every_county
from app.tenancy.models import Tenant


@dataclass
class AgreementRow:
    name: str
    proposer: str
    counties: list[str]
    status: str
    joint_tenant_id: int | None
    created_at: datetime


async def joint_agreements(db: AsyncSession) -> list[AgreementRow]:
    rows = (await every_county(db, "SELECT name, proposer_tenant_id, status, parties, joint_tenant_id, created_at "
                                "FROM platform_joint_agreements() ORDER BY created_at DESC")).all()
    ids = {r.proposer_tenant_id for r in rows} | {t for r in rows for t in r.parties}
    names = dict((await db.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids)))).all()) if ids else {}
    return [AgreementRow(name=r.name, proposer=names.get(r.proposer_tenant_id, ""),
                         counties=[names.get(t, "") for t in r.parties], status=r.status,
                         joint_tenant_id=r.joint_tenant_id, created_at=r.created_at) for r in rows]
