"""Periods of the rules (month, quarter, half year, year) in the tenant's time zone, their keys
(2026-03, 2026-Q1, 2026-H1, 2026), labels, and the verdict of a count in a period.

A period covers its days [first day 00:00, last day + 1 00:00) local time: an activity at 23:30 on
the last day of March counts for March, one at 00:10 on 1 April does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.core.i18n import gettext, lazy

KEY_RE = re.compile(r"^(\d{4})(?:-(?:(\d{2})|Q([1-4])|H([12])))?$")
MONTH_NAMES = (lazy("January"), lazy("February"), lazy("March"), lazy("April"), lazy("May"), lazy("June"),
               lazy("July"), lazy("August"), lazy("September"), lazy("October"), lazy("November"),
               lazy("December"))
QUARTER_NAMES = (lazy("First quarter"), lazy("Second quarter"), lazy("Third quarter"), lazy("Fourth quarter"))
HALF_NAMES = (lazy("First half-year"), lazy("Second half-year"))
MONTH_LABEL = lazy("%(month)s %(year)s")
PART_LABEL = lazy("%(part)s of %(year)s")  # a quarter or a half of a year
YEAR_LABEL = lazy("Year %(year)s")


@dataclass(frozen=True)
class Period:
    kind: str  # month | quarter | half | year
    first: date
    last: date

    @property
    def key(self) -> str:
        y, m = self.first.year, self.first.month
        return {"month": f"{y}-{m:02d}", "quarter": f"{y}-Q{(m - 1) // 3 + 1}", "half": f"{y}-H{(m - 1) // 6 + 1}",
                "year": f"{y}"}[self.kind]

    @property
    def label(self) -> str:
        """In the user's language: 2026年3月 / March 2026, 2026年第一季度, 2026年上半年, 2026年."""
        y, m = self.first.year, self.first.month
        if self.kind == "month":
            return gettext(MONTH_LABEL, month=gettext(MONTH_NAMES[m - 1]), year=y)
        if self.kind == "quarter":
            return gettext(PART_LABEL, part=gettext(QUARTER_NAMES[(m - 1) // 3]), year=y)
        if self.kind == "half":
            return gettext(PART_LABEL, part=gettext(HALF_NAMES[(m - 1) // 6]), year=y)
        return gettext(YEAR_LABEL, year=y)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: local midnight of the first day and of the day after the last."""
        return (datetime.combine(self.first, time(0), tzinfo=tz),
                datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=tz))

    def next(self) -> "Period":
        return period_of(self.kind, self.last + timedelta(days=1))

    def previous(self) -> "Period":
        return period_of(self.kind, self.first - timedelta(days=1))


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def period_of(kind: str, day: date) -> Period:
    """The period of this kind that contains ``day``."""
    y, m = day.year, day.month
    if kind == "month":
        return Period(kind, date(y, m, 1), _month_end(y, m))
    if kind == "quarter":
        start = (m - 1) // 3 * 3 + 1
        return Period(kind, date(y, start, 1), _month_end(y, start + 2))
    if kind == "half":
        start = 1 if m <= 6 else 7
        return Period(kind, date(y, start, 1), _month_end(y, start + 5))
    if kind == "year":
        return Period(kind, date(y, 1, 1), date(y, 12, 31))
    raise ValueError(kind)


def parse_key(key: str) -> Period | None:
    """2026-03 → March 2026; 2026-Q1, 2026-H2, 2026. None if it is not such a key."""
    m = KEY_RE.match((key or "").strip())
    if not m:
        return None
    year = int(m.group(1))
    if not 2000 <= year <= 2100:
        return None
    if m.group(2):
        month = int(m.group(2))
        return period_of("month", date(year, month, 1)) if 1 <= month <= 12 else None
    if m.group(3):
        return period_of("quarter", date(year, int(m.group(3)) * 3, 1))
    if m.group(4):
        return period_of("half", date(year, int(m.group(4)) * 6, 1))
    return period_of("year", date(year, 1, 1))


def local_today(tz: ZoneInfo) -> date:
    return datetime.now(tz).date()


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Asia/Shanghai")
    except (ValueError, KeyError):  # an unknown zone name: the country's zone
        return ZoneInfo("Asia/Shanghai")


def verdict(count: int, minimum: int, period: Period, today: date, at_risk_days: int) -> str:
    """met: reached (whenever); missed: ended short; not_started: still to come; at_risk: under way,
    short, and its last day is at most ``at_risk_days`` away; open: under way otherwise."""
    if count >= minimum:
        return "met"
    if today > period.last:
        return "missed"
    if today < period.first:
        return "not_started"
    if (period.last - today).days <= at_risk_days:
        return "at_risk"
    return "open"
