"""The county's points scheme (履职积分) and its quarterly publication (亮分): migration 0030."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Integer, Numeric, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

SOURCES = ("entry", "activity")
SOURCE_NAMES = {"entry": lazy("Approved duty entries of a kind"),
                "activity": lazy("Attendance at held activities of a kind")}
CAP_PERIODS = ("month", "quarter", "year")
CAP_PERIOD_NAMES = {"month": lazy("per month"), "quarter": lazy("per quarter"), "year": lazy("per year")}
CORRECTION_STATUSES = ("open", "accepted", "dismissed")
CORRECTION_STATUS_NAMES = {"open": lazy("Correction waiting for staff"), "accepted": lazy("Correction accepted"),
                           "dismissed": lazy("Correction dismissed")}
MAX_CORRECTION = 300


class PointsItem(Base):
    __tablename__ = "points_items"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10))
    source_code: Mapped[str] = mapped_column(String(30))
    points: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    cap_period: Mapped[str | None] = mapped_column(String(8))
    cap_points: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    deputy_levels: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The audit log keeps JSON: the numbers as written ("-1.0").
    @property
    def points_text(self) -> str:
        return str(self.points)

    @property
    def cap_text(self) -> str | None:
        return None if self.cap_points is None else str(self.cap_points)


class PointsPublication(Base):
    __tablename__ = "points_publications"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    deputies: Mapped[int] = mapped_column(Integer)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PublishedPoints(Base):
    __tablename__ = "points_published"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    publication_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    points: Mapped[Decimal] = mapped_column(Numeric(8, 1))
    rank: Mapped[int] = mapped_column(Integer)
    peers: Mapped[int] = mapped_column(Integer)
    ranked_in: Mapped[str] = mapped_column(String(100), default="")


class PointsCorrection(Base):
    __tablename__ = "points_corrections"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    publication_id: Mapped[int] = mapped_column(BigInteger)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(String(MAX_CORRECTION))
    status: Mapped[str] = mapped_column(String(10), default="open")
    answer: Mapped[str] = mapped_column(String(MAX_CORRECTION), default="")
    filed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
