"""Entries a deputy or staff file in the deputy's dossier (代表履职档案), reviewed by staff: only
approved entries count. The rest of the dossier is read from the product's own records.

An entry may carry a photo (a thumbnail in ``images``) and a document (a PDF or Word .docx kept as
uploaded, in ``duty_documents``: a table of its own so lists of entries never load its bytes)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger, Date, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, LargeBinary, String, func,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

STATUSES = ("filed", "approved", "rejected")
STATUS_NAMES = {
    "filed": lazy("Waiting for review"),
    "approved": lazy("Entry approved"),
    "rejected": lazy("Entry rejected"),
}
MAX_TEXT = 500
MAX_REASON = 200
# A document is kept whole (unlike a photo, which becomes a thumbnail), so its size is what it costs.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_DOCUMENT_NAME = 100
PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCUMENT_SUFFIXES = {PDF_TYPE: "pdf", DOCX_TYPE: "docx"}


class DutyDocument(Base):
    __tablename__ = "duty_documents"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(80))
    file_name: Mapped[str] = mapped_column(String(MAX_DOCUMENT_NAME))  # as uploaded, made safe
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DutyEntry(Base):
    __tablename__ = "duty_entries"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
        ForeignKeyConstraint(["tenant_id", "image_id"], ["images.tenant_id", "images.id"]),
        ForeignKeyConstraint(["tenant_id", "document_id"], ["duty_documents.tenant_id", "duty_documents.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(MAX_TEXT))
    image_id: Mapped[int | None] = mapped_column(BigInteger)
    document_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="filed")
    reject_reason: Mapped[str] = mapped_column(String(MAX_REASON), default="")
    filed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
