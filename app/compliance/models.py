"""Rules (活动规范) a tenant's stations, deputies and deputy groups must meet, per period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import lazy

SUBJECTS = ("station", "deputy", "group")
SUBJECT_NAMES = {
    "station": lazy("Each station"),
    "deputy": lazy("Each deputy"),
    "group": lazy("Each deputy group"),
}
COUNTS = ("activities", "opinions", "suggestions")
COUNT_NAMES = {
    "activities": lazy("Activities held"),
    "opinions": lazy("Opinions registered"),
    "suggestions": lazy("Suggestions filed"),
}
PERIODS = ("month", "quarter", "half", "year")
PERIOD_NAMES = {
    "month": lazy("Per month"),
    "quarter": lazy("Per quarter"),
    "half": lazy("Per half year"),
    "year": lazy("Per year"),
}
# The most a minimum may ask for per period: one a day.
MAX_MINIMUM = {"month": 31, "quarter": 92, "half": 184, "year": 366}
VERDICTS = ("met", "at_risk", "missed", "open", "not_started")
VERDICT_NAMES = {
    "met": lazy("Met"),
    "at_risk": lazy("At risk"),
    "missed": lazy("Missed"),
    "open": lazy("Under way"),
    "not_started": lazy("Not started"),
}


class Rule(Base):
    """Each subject (every station, deputy or deputy group) must reach ``minimum`` of what ``counts``
    (activities of ``kind_codes``; opinions registered; suggestions filed) in each ``period``.
    Conditions: ``min_deputies`` present at a counted activity; ``station_kind_codes`` /
    ``deputy_levels`` limit the subjects it applies to (empty: all)."""

    __tablename__ = "activity_rules"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(10))
    counts: Mapped[str] = mapped_column(String(12), default="activities")
    kind_codes: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    period: Mapped[str] = mapped_column(String(8))
    minimum: Mapped[int] = mapped_column(Integer)
    min_deputies: Mapped[int | None] = mapped_column(Integer)
    station_kind_codes: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    deputy_levels: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
