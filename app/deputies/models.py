"""Deputies (人大代表), their mandates, groups, station assignments, commitments and contact rosters."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger, Boolean, Date, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, LargeBinary, String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

LEVELS = ("national", "provincial", "city", "county", "township")
LEVEL_NAMES = {
    "national": lazy("National level"),
    "provincial": lazy("Provincial level"),
    "city": lazy("City level"),
    "county": lazy("County level"),
    "township": lazy("Township level"),
}
DEPUTY_STATUSES = ("active", "resigned", "deceased", "removed")
DEPUTY_STATUS_NAMES = {
    "active": lazy("Serving"),
    "resigned": lazy("Resigned"),
    "deceased": lazy("Deceased"),
    "removed": lazy("Removed"),
}


class DeputyGroup(Base):
    """代表小组, with a leader."""

    __tablename__ = "deputy_groups"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "leader_deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    leader_deputy_id: Mapped[int | None] = mapped_column(BigInteger)


class Deputy(Base):
    __tablename__ = "deputies"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "group_id"], ["deputy_groups.tenant_id", "deputy_groups.id"]),
        ForeignKeyConstraint(["tenant_id", "photo_id"], ["images.tenant_id", "images.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    group_id: Mapped[int | None] = mapped_column(BigInteger)
    occupation: Mapped[str] = mapped_column(String(60), default="")
    work_unit: Mapped[str] = mapped_column(String(120), default="")
    mobile: Mapped[str | None] = mapped_column(String(11))  # personal: masked in lists, reveals audited
    public_contact: Mapped[str] = mapped_column(String(60), default="")  # what the public page shows
    photo_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="active")
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # set by a trigger (0020)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Mandate(Base):
    """One seat: a level, a term (届), directly elected in a constituency or by an electoral unit."""

    __tablename__ = "deputy_mandates"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
        ForeignKeyConstraint(["tenant_id", "constituency_node_id"], ["admin_nodes.tenant_id", "admin_nodes.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(String(10))
    term: Mapped[int] = mapped_column(Integer)
    direct: Mapped[bool] = mapped_column(Boolean)
    constituency_node_id: Mapped[int | None] = mapped_column(BigInteger)  # 原选区 as a node of the tree
    constituency: Mapped[str] = mapped_column(String(120), default="")  # 选区 or 选举单位, as written


class StationDeputy(Base):
    """A deputy stationed at a home or station (进站); ended_at closes the assignment."""

    __tablename__ = "station_deputies"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Commitment(Base):
    """A deputy's yearly commitment (履职承诺), shown on the station's wall and public page."""

    __tablename__ = "deputy_commitments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    year: Mapped[int] = mapped_column(Integer)
    commitment: Mapped[str] = mapped_column(String(500))


class RosterEntry(Base):
    """A constituent a deputy keeps in contact with (联系选民花名册). Personal data throughout."""

    __tablename__ = "roster_entries"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),)

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(40))
    age: Mapped[int | None] = mapped_column(Integer)
    education: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    work_unit: Mapped[str] = mapped_column(String(120), default="")
    mobile: Mapped[str | None] = mapped_column(String(11))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RosterContact(Base):
    __tablename__ = "roster_contacts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "entry_id"], ["roster_entries.tenant_id", "roster_entries.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    contacted_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(1000), default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ImportJob(Base):
    """A spreadsheet import: previewed (problems listed), then queued and run by the worker."""

    __tablename__ = "import_jobs"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="previewed")
    filename: Mapped[str] = mapped_column(String(200), default="")
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list] = mapped_column(JSONB, default=list)
    # the file's rows as read, for the row-by-row preview (app.deputies.import_preview)
    preview: Mapped[dict | None] = mapped_column(JSONB)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
