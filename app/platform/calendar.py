"""The operator's part of China's working calendar (/ops/calendar): the days of years the
`chinese-calendar` library does not cover yet, entered from the State Council's notice, and which
years nobody knows yet. The calendar itself is `app.core.calendar`. Services do not commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.audit.services import record_platform
from app.core.calendar import (HOLIDAY, KINDS, LIBRARY_YEARS, WORKDAY, CalendarDay, WorkingCalendar,
                               library_covers, missing_years, table_years)
from app.core.errors import Refusal
from app.core.i18n import lazy

NAME_MAX = 20
MAX_ROWS = 2000  # a few dozen days a year: far more than the table will ever need
KIND_NAMES = {HOLIDAY: lazy("Holiday (day off)"), WORKDAY: lazy("Make-up working day")}

BAD_DAY = lazy("Please give the date as YYYY-MM-DD, in %(first)s to %(last)s.")
BAD_KIND = lazy("Please choose whether the day is a holiday or a make-up working day.")
BAD_NAME = lazy("Please name the holiday (at most %(max)s characters), e.g. 春节 or 国庆节调休上班.")
DAY_EXISTS = lazy("%(day)s is already in the table: remove it first to change it.")
NOT_A_WEEKEND = lazy("%(day)s is already a working day: a make-up working day is a Saturday or Sunday (or a day "
                     "the calendar has as a holiday).")
TABLE_FULL = lazy("The table already holds %(max)s days: remove old years first.")
NO_SUCH_DAY = lazy("%(day)s is not in the table.")


def year_range(today: date) -> tuple[int, int]:
    """Days may be entered for last year to two years ahead (a notice is for next year)."""
    return today.year - 1, today.year + 2


def _read_day(text: str, today: date) -> date:
    first, last = year_range(today)
    try:
        day = date.fromisoformat(str(text or "").strip()) if len(str(text or "").strip()) == 10 else None
    except ValueError:
        day = None
    if day is None or not first <= day.year <= last:
        raise Refusal(BAD_DAY, input_name="day", first=first, last=last)
    return day


def _checked(day_text: str, kind: str, name: str, today: date) -> tuple[date, str, str]:
    day = _read_day(day_text, today)
    if kind not in KINDS:
        raise Refusal(BAD_KIND, input_name="kind")
    name = str(name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise Refusal(BAD_NAME, input_name="name", max=NAME_MAX)
    # a make-up working day typed on an ordinary weekday is almost surely a typo
    if kind == WORKDAY and WorkingCalendar().is_working_day(day):
        raise Refusal(NOT_A_WEEKEND, input_name="day", day=day.isoformat())
    return day, kind, name


async def add_day(db: AsyncSession, *, day: str, kind: str, name: str, today: date, actor: User,
                  client_addr: str | None) -> CalendarDay:
    """One day of a year's arrangement; it overrides the library for its date. Audited."""
    checked_day, kind, name = _checked(day, kind, name, today)
    if (await db.scalar(select(func.count()).select_from(CalendarDay)) or 0) >= MAX_ROWS:
        raise Refusal(TABLE_FULL, max=MAX_ROWS)
    added = await db.scalar(
        insert(CalendarDay).values(day=checked_day, kind=kind, name=name, created_by=actor.id)
        .on_conflict_do_nothing(index_elements=["day"]).returning(CalendarDay.day)
    )
    if added is None:
        raise Refusal(DAY_EXISTS, input_name="day", day=checked_day.isoformat())
    await record_platform(db, actor_user_id=actor.id, action="calendar_day_added",
                          target=f"calendar:{checked_day.isoformat()}", client_addr=client_addr,
                          details={"kind": kind, "name": name})
    return await db.get(CalendarDay, checked_day)


async def remove_day(db: AsyncSession, *, day: str, actor: User, client_addr: str | None) -> None:
    text = str(day or "").strip()[:10]
    try:
        checked_day = date.fromisoformat(text)
    except ValueError:
        raise Refusal(NO_SUCH_DAY, day=text) from None
    removed = (await db.execute(delete(CalendarDay).where(CalendarDay.day == checked_day)
                                .returning(CalendarDay.kind, CalendarDay.name))).first()
    if removed is None:
        raise Refusal(NO_SUCH_DAY, day=text)
    await record_platform(db, actor_user_id=actor.id, action="calendar_day_removed",
                          target=f"calendar:{checked_day.isoformat()}", client_addr=client_addr,
                          details={"kind": removed[0], "name": removed[1]})


@dataclass
class YearState:
    year: int
    source: str  # "library", "table" or "missing"
    days: int = 0  # days entered in the table


@dataclass
class CalendarState:
    years: list[YearState]  # this year and the next two
    missing: list[int]  # years to warn about now (app.core.calendar.missing_years)
    library_years: tuple[int, int] = LIBRARY_YEARS


async def calendar_state(db: AsyncSession, today: date) -> CalendarState:
    """Who knows the arrangement of this year and the next two, and which years to warn about (2 queries)."""
    entered = await table_years(db)
    counts = {int(y): n for y, n in (await db.execute(
        select(func.extract("year", CalendarDay.day), func.count())
        .where(CalendarDay.day >= date(today.year, 1, 1)).group_by(func.extract("year", CalendarDay.day))
    )).all()}
    years = []
    for year in range(today.year, today.year + 3):
        days = counts.get(year, 0)
        source = "library" if library_covers(year) else "table" if year in entered else "missing"
        years.append(YearState(year, source, days))
    return CalendarState(years, missing_years(today, entered))


async def missing(db: AsyncSession, today: date) -> list[int]:
    """The years the console warns about (1 query): for the dashboard."""
    return missing_years(today, await table_years(db))


async def table_days(db: AsyncSession, today: date) -> list[CalendarDay]:
    """The days entered from last year on, by date."""
    first, _ = year_range(today)
    return list(await db.scalars(select(CalendarDay).where(CalendarDay.day >= date(first, 1, 1))
                                 .order_by(CalendarDay.day)))
