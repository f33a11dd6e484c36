"""Duty reports to voters (述职评议): the meeting and its ballots (migration 0029)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

MEETING_STATUSES = ("planned", "open", "closed")
MEETING_STATUS_NAMES = {
    "planned": lazy("Planned: phone voting not open"),
    "open": lazy("Phone voting open"),
    "closed": lazy("Held; voting closed"),
}
RATINGS = ("satisfied", "basic", "unsatisfied")
RATING_NAMES = {
    "satisfied": lazy("Satisfied"),
    "basic": lazy("Basically satisfied"),
    "unsatisfied": lazy("Not satisfied"),
}
SOURCES = ("paper", "phone")
SOURCE_NAMES = {"paper": lazy("Paper ballot"), "phone": lazy("Phone ballot")}
COMMENT_MAX = 200
PLACE_MAX = 200


class DutyReportMeeting(Base):
    """A deputy's report to the voters at a station (述职评议会)."""

    __tablename__ = "duty_report_meetings"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
        ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    station_id: Mapped[int] = mapped_column(BigInteger)
    held_on: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    place: Mapped[str] = mapped_column(String(PLACE_MAX), default="")
    voters_present: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="planned")
    ballot_token: Mapped[str] = mapped_column(String(40))  # the secret of the QR link
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DutyReportBallot(Base):
    """One voter's rating: a paper ballot entered by staff, or a phone's (one per phone per meeting)."""

    __tablename__ = "duty_report_ballots"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "meeting_id"], ["duty_report_meetings.tenant_id", "duty_report_meetings.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(BigInteger)
    rating: Mapped[str] = mapped_column(String(12))
    comment: Mapped[str] = mapped_column(String(COMMENT_MAX), default="")
    source: Mapped[str] = mapped_column(String(5))
    phone_hash: Mapped[str | None] = mapped_column(String(64))  # keyed hash of the phone's ballot cookie
    client_hash: Mapped[str | None] = mapped_column(String(64))  # keyed hash of the address: the rate limit
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
