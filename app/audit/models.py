"""Append-only audit logs: one per tenant (RLS) and one for the platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy


class AuditEntry(Base):
    __tablename__ = "audit_log"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(200))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict | None] = mapped_column(JSONB)


class PlatformAuditEntry(Base):
    """Sign-ins and operator actions; ``subject_tenant_id`` names the tenant acted on, if any."""

    __tablename__ = "platform_audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(60))
    subject_tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    target: Mapped[str | None] = mapped_column(String(200))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict | None] = mapped_column(JSONB)


# Readable names of tenant audit actions (translated where shown); an action without one is shown
# as its code. Add an entry whenever a domain records a new action.
ACTION_NAMES = {
    "tenant_entered": lazy("Entered the unit"),
    "invitation_created": lazy("Invitation created"),
    "invitation_accepted": lazy("Invitation accepted"),
    "invitation_revoked": lazy("Invitation withdrawn"),
    "membership_role_changed": lazy("Role changed"),
    "membership_removed": lazy("Member removed"),
}
