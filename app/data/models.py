"""Exports of a county's records: the county admins' (tenant table) and the operator's (platform)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

EXPORT_STATES = ("queued", "running", "done", "failed")
STATUS_NAMES = {
    "queued": lazy("Waiting to be prepared"),
    "running": lazy("Being prepared"),
    "done": lazy("Ready to download"),
    "failed": lazy("Could not be prepared"),
    "expired": lazy("Expired and deleted"),
    "downloaded": lazy("Downloaded and deleted"),
}


class _ExportFields:
    status: Mapped[str] = mapped_column(String(10), default="queued")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    processed: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 0


class DataExport(_ExportFields, Base):
    """A county admin's export: kept until it expires, downloadable by the county's admins."""

    __tablename__ = "data_exports"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)

    def shown_status(self, at: datetime) -> str:
        if self.status == "done" and self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return self.status


class OperatorExport(_ExportFields, Base):
    """The same export made for the operator at a county's written request: downloaded once."""

    __tablename__ = "operator_exports"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # not `tenant_id`: that column makes a tenant table (row-level security), which this is not
    subject_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    reason: Mapped[str] = mapped_column(String(500))
    downloaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def shown_status(self, at: datetime) -> str:
        if self.downloaded_at is not None:
            return "downloaded"
        if self.status == "done" and self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return self.status
