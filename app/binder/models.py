"""人大接待代表登记簿's record: the township presidium (or, with no township, the county congress)
receiving deputies on a day, who received them, the matter raised and the reply (empty until given).
The deputies received are rows of their own (composite keys to deputies, as every tenant table)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, ForeignKeyConstraint, Identity, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

MAX_RECEIVED_BY = 100
MAX_MATTER = 1000
MAX_REPLY = 1000


class DeputyReception(Base):
    __tablename__ = "deputy_receptions"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "node_id"], ["admin_nodes.tenant_id", "admin_nodes.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    node_id: Mapped[int | None] = mapped_column(BigInteger)  # the township; None: the county congress
    received_on: Mapped[date] = mapped_column(Date)
    received_by: Mapped[str] = mapped_column(String(MAX_RECEIVED_BY))
    matter: Mapped[str] = mapped_column(String(MAX_MATTER))
    reply: Mapped[str] = mapped_column(String(MAX_REPLY), default="")
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeputyReceptionDeputy(Base):
    __tablename__ = "deputy_reception_deputies"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "reception_id"], ["deputy_receptions.tenant_id", "deputy_receptions.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reception_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
