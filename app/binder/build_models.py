"""A county-wide binder built by the worker (app.binder.builds): who asked, with which role, for which
station (None: every station in their reach) and year, its progress in parts, and the workbook."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, LargeBinary, String,
                        func)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

BUILD_STATUS_NAMES = {
    "queued": lazy("Waiting to be prepared"),
    "running": lazy("Being prepared"),
    "done": lazy("Ready to download"),
    "failed": lazy("Could not be prepared"),
    "expired": lazy("Expired and deleted"),
}


class BinderBuild(Base):
    __tablename__ = "binder_builds"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "station_id"], ["stations.tenant_id", "stations.id"], ondelete="CASCADE"),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))  # the role asked with: the job builds only for it
    locale: Mapped[str] = mapped_column(String(10))  # the workbook's language: the asking page's
    station_id: Mapped[int | None] = mapped_column(BigInteger)  # None: every station in the member's reach
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    parts_done: Mapped[int] = mapped_column(Integer, default=0)
    parts_total: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def shown_status(self, at: datetime) -> str:
        if self.status == "done" and self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return self.status
