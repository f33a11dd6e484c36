"""人大接待代表登记簿's record: the township presidium (or, with no township, the county congress)
receiving deputies on a day, who received them, the matter raised and the reply (empty until given).
The deputies received are rows of their own (composite keys to deputies, as every tenant table)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, String, func
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


# --- 人大主席团花名册 and 人大代表主席团成员联系人大代表花名册 (0035) --------------------------------------

MAX_MEMBER_NAME = 40
MAX_POST = 40
MAX_SORT = 999


class PresidiumMember(Base):
    """A member of a township's presidium (乡镇人大主席团): name, post, the deputy they are (if one),
    a mobile (personal: masked in lists) and their place in the list. Removing a member deletes the
    row (the audit entry keeps who and what post): the roster is the presidium as it stands."""

    __tablename__ = "presidium_members"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "node_id"], ["admin_nodes.tenant_id", "admin_nodes.id"]),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    node_id: Mapped[int] = mapped_column(BigInteger)  # the township (or street)
    name: Mapped[str] = mapped_column(String(MAX_MEMBER_NAME))
    post: Mapped[str] = mapped_column(String(MAX_POST))
    deputy_id: Mapped[int | None] = mapped_column(BigInteger)
    mobile: Mapped[str | None] = mapped_column(String(11))  # personal: masked in lists and the binder
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PresidiumContact(Base):
    """A presidium member's fixed contact with a deputy (主席团成员联系代表)."""

    __tablename__ = "presidium_contacts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["presidium_members.tenant_id", "presidium_members.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
