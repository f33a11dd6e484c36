"""Joint stations across a border (省际人大代表联络站): the agreement between counties, one copy per
party county and one in the joint tenant, with its history copied likewise."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (BigInteger, DateTime, ForeignKey, ForeignKeyConstraint, Identity, String,
                        Uuid, func)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

SHARES = ("deputies", "activities", "cases", "ledgers")
SHARE_NAMES = {
    "deputies": lazy("Deputies' public profiles"),
    "activities": lazy("Joint activities"),
    "cases": lazy("Cases and their referrals"),
    "ledgers": lazy("Ledgers and statistics"),
}
STATUSES = ("proposed", "active", "declined", "archived")
STATUS_NAMES = {
    "proposed": lazy("Proposed, waiting for answers"),
    "active": lazy("In force"),
    "declined": lazy("Declined"),
    "archived": lazy("Archived (one member left)"),
}
PARTY_STATUSES = ("proposer", "invited", "accepted", "declined", "withdrawn")
PARTY_STATUS_NAMES = {
    "proposer": lazy("Proposed it"),
    "invited": lazy("Invited, not yet answered"),
    "accepted": lazy("Accepted"),
    "declined": lazy("Declined the agreement"),
    "withdrawn": lazy("Withdrew from the agreement"),
}
EVENT_NAMES = {
    "proposed": lazy("Joint station proposed"),
    "accepted": lazy("Agreement accepted"),
    "declined": lazy("Agreement declined"),
    "activated": lazy("Joint station set up"),
    "withdrawn": lazy("Member withdrew"),
    "archived": lazy("Joint station archived"),
    "granted": lazy("Role in the joint station given"),
    "revoked": lazy("Role in the joint station taken back"),
    "deputies_joined": lazy("Deputies joined the joint station"),
    "deputy_left": lazy("Deputy taken out of the joint station"),
}

MEMBER_STATES = ("proposer", "accepted")  # a party in one of these is a member county

class JointAgreement(Base):
    __tablename__ = "joint_agreements"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    agreement_key: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(80))
    slug: Mapped[str] = mapped_column(String(40))
    proposer_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    # [{"tenant_id", "name", "status", "towns", "co_heads", "deputy_heads", "staff", "decided_at"}]
    parties: Mapped[list] = mapped_column(JSONB)
    shares: Mapped[list[str]] = mapped_column(ARRAY(String(12)))
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    joint_tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def party(self, tenant_id: int) -> dict | None:
        return next((p for p in self.parties if p["tenant_id"] == tenant_id), None)


class JointEvent(Base):
    __tablename__ = "joint_agreement_events"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "agreement_id"], ["joint_agreements.tenant_id", "joint_agreements.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    agreement_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    actor_name: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict] = mapped_column(JSONB, default=dict)


class JointDeputy(Base):
    """In a joint tenant: the agreed public fields of a member county's deputy (the county owns the deputy)."""

    __tablename__ = "joint_deputies"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "photo_id"], ["images.tenant_id", "images.id"]),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    home_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    home_deputy_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(40))
    levels: Mapped[list[str]] = mapped_column(ARRAY(String(10)), default=list)
    public_contact: Mapped[str] = mapped_column(String(60), default="")
    home_photo_id: Mapped[int | None] = mapped_column(BigInteger)
    photo_id: Mapped[int | None] = mapped_column(BigInteger)
    deputy_id: Mapped[int | None] = mapped_column(BigInteger)  # the joint tenant's own deputies row
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


