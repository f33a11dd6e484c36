"""The yearly appraisal (履职测评): an appraisal per county and year, a result per serving deputy (with
the notice's delivery and the deputy's rectification report), and talks recorded with deputies."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Integer, Numeric, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

GRADES = ("excellent", "pass", "fail")
GRADE_NAMES = {"excellent": lazy("Excellent"), "pass": lazy("Satisfactory"), "fail": lazy("Unsatisfactory")}
STATUS_NAMES = {"draft": lazy("Draft, not yet published"), "published": lazy("Published to the deputies")}
MAX_REASON = 200
MAX_REPORT = 2000
MAX_AGREED = 1000
MAX_TALKED_BY = 60


class Appraisal(Base):
    __tablename__ = "appraisals"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    excellent: Mapped[int] = mapped_column(Integer, default=90)
    pass_: Mapped[int] = mapped_column("pass", Integer, default=80)
    report_due: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AppraisalResult(Base):
    __tablename__ = "appraisal_results"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "appraisal_id"], ["appraisals.tenant_id", "appraisals.id"]),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    appraisal_id: Mapped[int] = mapped_column(BigInteger)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    computed: Mapped[Decimal] = mapped_column(Numeric(4, 1))
    adjusted: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    reason: Mapped[str] = mapped_column(String(MAX_REASON), default="")
    grade: Mapped[str] = mapped_column(String(10))
    notice_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    report_text: Mapped[str] = mapped_column(String(MAX_REPORT), default="")
    report_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    report_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def score(self) -> Decimal:
        return self.computed if self.adjusted is None else self.adjusted


class AppraisalTalk(Base):
    __tablename__ = "appraisal_talks"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "appraisal_id"], ["appraisals.tenant_id", "appraisals.id"]),
        ForeignKeyConstraint(["tenant_id", "deputy_id"], ["deputies.tenant_id", "deputies.id"]),
    )

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    appraisal_id: Mapped[int] = mapped_column(BigInteger)
    deputy_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    talked_by: Mapped[str] = mapped_column(String(MAX_TALKED_BY))
    agreed: Mapped[str] = mapped_column(String(MAX_AGREED))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
