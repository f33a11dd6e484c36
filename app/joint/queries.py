"""Read-only helpers for the joint-station pages (app/joint/routes.py and the joint tenant's home)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.deputies.models import Deputy
from app.joint.models import MEMBER_STATES, PARTY_STATUS_NAMES, SHARE_NAMES, STATUS_NAMES, JointAgreement
from app.tenancy.models import AdminNode, Tenant

MAX_CANDIDATES = 500


async def township_choices(db: AsyncSession) -> list[str]:
    """The names of the county's townships and streets in use (the propose and accept forms)."""
    return list((await db.scalars(select(AdminNode.name).where(
        AdminNode.kind.in_(("township", "street")), AdminNode.retired_at.is_(None))
        .order_by(AdminNode.path, AdminNode.name))).all())


def allowed(agreement: JointAgreement, tenant_id: int) -> dict[str, bool]:
    """What the county may do with the agreement now (the forms shown to its admins)."""
    party = agreement.party(tenant_id) or {}
    status = party.get("status")
    return {
        "answer": agreement.status == "proposed" and status == "invited",
        "withdraw": status in MEMBER_STATES and agreement.status in ("proposed", "active"),
        "grant": status in MEMBER_STATES and agreement.status == "active" and agreement.joint_tenant_id is not None,
    }


@dataclass
class HomeCard:
    """What a joint tenant's home page says of its agreement (msgids, translated where shown)."""
    status: str
    parties: list[tuple[str, str, list[str]]]  # county name, its state, its townships
    shares: list[str]


async def home_card(db: AsyncSession, tenant: Tenant) -> HomeCard | None:
    """In a joint tenant: its own copy of the agreement, for the home page's card."""
    if tenant.kind != "joint":
        return None
    agreement = await db.scalar(select(JointAgreement).where(JointAgreement.tenant_id == tenant.id).limit(1))
    if agreement is None:
        return None
    return HomeCard(status=STATUS_NAMES.get(agreement.status, agreement.status),
                    parties=[(p["name"], PARTY_STATUS_NAMES.get(p["status"], p["status"]), p.get("towns") or [])
                             for p in agreement.parties],
                    shares=[SHARE_NAMES.get(s, s) for s in agreement.shares])


async def deputy_candidates(db: AsyncSession, joined_ids) -> list[tuple[int, str]]:
    """The county's serving deputies not yet in the joint station (the join form; at most 500)."""
    query = select(Deputy.id, Deputy.name).where(Deputy.status == "active").order_by(Deputy.name, Deputy.id)
    if joined_ids:
        query = query.where(Deputy.id.not_in(list(joined_ids)))
    return [(i, n) for i, n in (await db.execute(query.limit(MAX_CANDIDATES))).all()]
