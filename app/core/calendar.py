"""China's working calendar: which days are working days, statutory holidays and make-up working days
(调休上班).

Three sources, the first that knows a date wins:
1. ``working_calendar_days``: days the operator entered (the console's /ops/calendar) for years the
   library does not cover yet — the State Council publishes each year's arrangement in late autumn.
2. The ``chinese-calendar`` library (holidays and make-up working days of the years it covers).
3. For a year neither covers: the statutory holidays whose dates the law itself fixes (元旦 1 January,
   清明 at its solar term, 劳动节 1–2 May, 国庆节 1–3 October), so no page ever announces a reception
   or plans an activity on them; the lunar holidays and the 调休 arrangement are unknown until
   entered, and the console warns about it.
Any other day is a working day from Monday to Friday.

``load_calendar(db, since)`` reads the operator's rows from ``since`` on in one query (a few dozen
rows a year) and returns a ``WorkingCalendar`` whose methods are plain functions: no cache, so a web
process and the worker see an operator's change at once, and so do tests. No web imports here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import chinese_calendar
from chinese_calendar import constants as library
from sqlalchemy import BigInteger, Date, DateTime, String, func, literal, select
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.i18n import gettext, lazy

HOLIDAY, WORKDAY = "holiday", "workday"
KINDS = (HOLIDAY, WORKDAY)
LIBRARY_YEARS = (min(d.year for d in library.holidays), max(d.year for d in library.holidays))
# a moved reception or a plan entry never needs to look further than the longest holiday block
_MAX_SEARCH_DAYS = 60

# the library names its holidays in English: marked as msgids, shown in the reader's language
HOLIDAY_NAMES = frozenset({
    lazy("New Year's Day"), lazy("Spring Festival"), lazy("Tomb-sweeping Day"), lazy("Labour Day"),
    lazy("Dragon Boat Festival"), lazy("National Day"), lazy("Mid-autumn Festival"), lazy("Anti-Fascist 70th Day"),
})


class CalendarDay(Base):
    """A day the operator entered; it overrides the library for its date (platform table)."""

    __tablename__ = "working_calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Known:
    kind: str  # HOLIDAY or WORKDAY
    name: str  # shown as it is (an operator's text) or a msgid (the library's and the law's)
    translate: bool = False

    def label(self) -> str:
        return gettext(self.name) if self.translate else self.name


def library_covers(year: int) -> bool:
    return LIBRARY_YEARS[0] <= year <= LIBRARY_YEARS[1]


def _from_library(d: date) -> Known | None:
    for kind, days in ((HOLIDAY, library.holidays), (WORKDAY, library.workdays)):
        name = days.get(d)
        if name is not None:
            return Known(kind, name, translate=name in HOLIDAY_NAMES)
    return None


def _qingming(year: int) -> date | None:
    try:
        terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
    except NotImplementedError:  # outside 1900–2100
        return None
    return next((d for d, name in terms if name == "清明"), None)


_FIXED = {(1, 1): "New Year's Day", (5, 1): "Labour Day", (5, 2): "Labour Day", (10, 1): "National Day",
          (10, 2): "National Day", (10, 3): "National Day"}


def _by_law(d: date) -> Known | None:
    """The statutory holidays whose dates are known without the year's arrangement."""
    name = _FIXED.get((d.month, d.day))
    if name is None and d.month == 4 and d == _qingming(d.year):
        name = "Tomb-sweeping Day"
    return Known(HOLIDAY, name, translate=True) if name else None


class WorkingCalendar:
    """Answers about days; built by ``load_calendar`` (or empty: the library and the law only)."""

    def __init__(self, entries: dict[date, Known] | None = None):
        self._entries = entries or {}

    def known(self, d: date) -> Known | None:
        if d in self._entries:
            return self._entries[d]
        if library_covers(d.year):
            return _from_library(d)
        return _by_law(d)

    def is_working_day(self, d: date) -> bool:
        known = self.known(d)
        if known is not None:
            return known.kind == WORKDAY
        return d.weekday() < 5

    def is_holiday(self, d: date) -> bool:
        """A day off of a statutory holiday (the weekend days inside a holiday's block too)."""
        known = self.known(d)
        return known is not None and known.kind == HOLIDAY

    def holiday_name(self, d: date) -> str | None:
        """"国庆节" for a day off of a holiday, else None."""
        known = self.known(d)
        return known.label() if known is not None and known.kind == HOLIDAY else None

    def next_working_day(self, d: date) -> date:
        """The first working day after ``d``."""
        day = d
        for _ in range(_MAX_SEARCH_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError(f"no working day within {_MAX_SEARCH_DAYS} days after {d}")

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d`` (``d`` itself does not count); n ≤ 0 gives ``d``."""
        day = d
        for _ in range(max(n, 0)):
            day = self.next_working_day(day)
        return day


async def load_calendar(db: AsyncSession, since: date | None = None) -> WorkingCalendar:
    """The calendar with the operator's days from ``since`` on (all of them without it): one query."""
    query = select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)
    if since is not None:
        query = query.where(CalendarDay.day >= since)
    rows = await db.execute(query)
    return WorkingCalendar({day: Known(kind, name) for day, kind, name in rows})


def calendar_column(since: date):
    """The operator's days from ``since`` on as one JSON value, for a page on a query budget to read in
    a query it makes anyway (``calendar_from`` turns it into the calendar)."""
    rows = func.json_agg(func.json_build_array(CalendarDay.day, CalendarDay.kind, CalendarDay.name))
    return select(func.coalesce(rows, literal("[]").cast(JSON))).where(CalendarDay.day >= since).scalar_subquery()


def calendar_from(value) -> WorkingCalendar:
    rows = json.loads(value) if isinstance(value, str) else value or []
    return WorkingCalendar({date.fromisoformat(day): Known(kind, name) for day, kind, name in rows})


async def table_years(db: AsyncSession) -> set[int]:
    """The years the operator has entered days for."""
    rows = await db.scalars(select(func.distinct(func.extract("year", CalendarDay.day))))
    return {int(y) for y in rows}


def missing_years(today: date, entered: set[int]) -> list[int]:
    """Years whose arrangement nobody knows yet and that matter now: this year always, next year from
    November on (the State Council publishes it in late autumn; before that its absence is normal)."""
    wanted = [today.year] + ([today.year + 1] if today.month >= 11 else [])
    return [y for y in wanted if not library_covers(y) and y not in entered]
