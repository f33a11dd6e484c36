"""County congresses' applications to use the product (platform level, no tenant yet)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

APPLICATION_STATUSES = ("pending", "approved", "rejected")


class SignupApplication(Base):
    __tablename__ = "signup_applications"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    division_code: Mapped[str] = mapped_column(String(6))
    county_name: Mapped[str] = mapped_column(String(120))
    contact_name: Mapped[str] = mapped_column(String(60))
    contact_phone: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    client_addr: Mapped[str | None] = mapped_column(String(64))


class OperatorDigest(Base):
    """One e-mail to an operator (with an address) per kind and half hour: how many sign-up applications
    came in (app.platform.notices). Operators are platform users: no tenant, no outbox."""

    __tablename__ = "operator_digests"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
