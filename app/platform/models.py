"""County congresses' applications to use the product (platform level, no tenant yet)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, String, func
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
