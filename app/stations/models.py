"""Homes and stations (家 · 站 · 室): kinds, stations, their history, staff, goals and checklists, the
star rating per year and the yearly model homes and stations (示范点)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger, Boolean, Date, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, String, func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

STATUSES = ("proposed", "approved", "filed", "active", "closed")
STATUS_NAMES = {
    "proposed": lazy("Proposed"),
    "approved": lazy("Approved by the township"),
    "filed": lazy("Filed with the county"),
    "active": lazy("In operation"),
    "closed": lazy("Closed down"),
}
STAFF_ROLES = ("head", "deputy_head", "liaison", "convener")
STAFF_ROLE_NAMES = {
    "head": lazy("Station head"),
    "deputy_head": lazy("Deputy head"),
    "liaison": lazy("Liaison officer"),
    "convener": lazy("Convener"),
}


class StationKind(Base):
    """A tenant's kind of place: 代表之家, 代表联络站, 代表工作室, 驻外联络站 or its own."""

    __tablename__ = "station_kinds"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(40))
    node_kinds: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)  # where it may be set up
    # e.g. "绵阳市{county}{township}{village}人大代表联络站"; empty: no canonical name
    name_pattern: Mapped[str] = mapped_column(String(200), default="")
    sort: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Station(Base):
    __tablename__ = "stations"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "kind_id"], ["station_kinds.tenant_id", "station_kinds.id"]),
        ForeignKeyConstraint(["tenant_id", "node_id"], ["admin_nodes.tenant_id", "admin_nodes.id"]),
        ForeignKeyConstraint(["tenant_id", "photo_id"], ["images.tenant_id", "images.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind_id: Mapped[int] = mapped_column(BigInteger)
    node_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    address: Mapped[str] = mapped_column(String(200), default="")
    contact_name: Mapped[str] = mapped_column(String(40), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    opening_hours: Mapped[str] = mapped_column(String(200), default="")
    reception_rule: Mapped[str] = mapped_column(String(100), default="")
    holiday_reception: Mapped[str] = mapped_column(String(10), default="moved")  # schedule.HOLIDAY_RECEPTION
    intro: Mapped[str] = mapped_column(String(2000), default="")
    photo_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StationEvent(Base):
    """One step of a station's history: created, approved, filed, activated, closed, renamed …"""

    __tablename__ = "station_events"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(10))
    to_status: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(500), default="")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StationStaff(Base):
    __tablename__ = "station_staff"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(12))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deputy_id: Mapped[int | None] = mapped_column(BigInteger)


class StationGoal(Base):
    __tablename__ = "station_goals"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    year: Mapped[int] = mapped_column(Integer)
    goal: Mapped[str] = mapped_column(String(500))
    progress: Mapped[str] = mapped_column(String(500), default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class ChecklistItem(Base):
    """One line of the tenant's standards checklist (八有: 有场所、有标识 …)."""

    __tablename__ = "checklist_items"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    label: Mapped[str] = mapped_column(String(200))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StationScore(Base):
    __tablename__ = "station_scores"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),
        ForeignKeyConstraint(["tenant_id", "item_id"], ["checklist_items.tenant_id", "checklist_items.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    met: Mapped[bool] = mapped_column(Boolean)
    evidence: Mapped[str] = mapped_column(String(500), default="")
    scored_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StarRating(Base):
    """The star rating a station was given in a year: written whenever it is scored on the checklist
    (the year in the tenant's zone), so the history stays when the checklist is scored again."""

    __tablename__ = "station_star_ratings"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    stars: Mapped[int] = mapped_column(Integer)
    met: Mapped[int] = mapped_column(Integer)
    items: Mapped[int] = mapped_column(Integer)
    scored_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ModelStation(Base):
    """A home or station the county selected as a model (示范点) for a year, with the reason and date."""

    __tablename__ = "model_stations"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    year: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    selected_on: Mapped[date] = mapped_column(Date)
    selected_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
