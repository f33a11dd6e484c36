"""China's working calendar (app.core.calendar): statutory holidays and make-up working days from the
`chinese-calendar` library, the operator's table for years it does not cover, and the holidays the
law fixes for years nobody has entered yet."""

from __future__ import annotations

from datetime import date

from app.core.calendar import WorkingCalendar, library_covers, load_calendar, missing_years


def test_national_day_2026_and_its_make_up_working_days():
    cal = WorkingCalendar()
    for day in range(1, 8):  # 国庆节 2026: 1–7 October off
        assert not cal.is_working_day(date(2026, 10, day))
        assert cal.holiday_name(date(2026, 10, day)) == "国庆节"
    # 调休: Sunday 20 September and Saturday 10 October 2026 are working days
    assert cal.is_working_day(date(2026, 9, 20)) and cal.is_working_day(date(2026, 10, 10))
    assert cal.holiday_name(date(2026, 10, 10)) is None
    assert not cal.is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    assert cal.is_working_day(date(2026, 9, 28))


def test_five_working_days_from_28_september_2026_fall_after_national_day():
    cal = WorkingCalendar()
    # 29, 30 September, then 8, 9 and the make-up Saturday 10 October (weekdays only would say 5 October)
    assert cal.add_working_days(date(2026, 9, 28), 5) == date(2026, 10, 10)
    assert cal.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 9, 28), 0) == date(2026, 9, 28)


def test_spring_festival_2026():
    cal = WorkingCalendar()
    assert cal.holiday_name(date(2026, 2, 17)) == "春节"
    assert cal.is_working_day(date(2026, 2, 14))  # a make-up Saturday
    assert cal.next_working_day(date(2026, 2, 13)) == date(2026, 2, 14)
    assert cal.next_working_day(date(2026, 2, 14)) == date(2026, 2, 24)


def test_a_year_nobody_entered_still_keeps_the_holidays_the_law_fixes():
    assert not library_covers(2027)  # chinese-calendar 1.11 stops at 2026
    cal = WorkingCalendar()
    assert cal.holiday_name(date(2027, 1, 1)) == "元旦"  # a Friday
    assert cal.holiday_name(date(2027, 10, 1)) == "国庆节"
    assert cal.holiday_name(date(2027, 4, 5)) == "清明节"  # at its solar term
    assert cal.holiday_name(date(2027, 5, 2)) == "劳动节"
    assert cal.next_working_day(date(2026, 12, 31)) == date(2027, 1, 4)
    # the rest is an ordinary week until someone enters the year's arrangement
    assert cal.is_working_day(date(2027, 2, 8)) and not cal.is_working_day(date(2027, 2, 6))


async def test_table_rows_add_a_future_year_and_override_the_library(database, owner_sql):
    await owner_sql("INSERT INTO working_calendar_days (day, kind, name) VALUES "
                    "('2027-02-08', 'holiday', '春节'), ('2027-02-20', 'workday', '春节调休上班'), "
                    "('2026-10-07', 'workday', '测试覆盖')")
    async with database.session() as db:
        cal = await load_calendar(db)
        later = await load_calendar(db, since=date(2027, 1, 1))
    assert cal.holiday_name(date(2027, 2, 8)) == "春节" and not cal.is_working_day(date(2027, 2, 8))
    assert cal.is_working_day(date(2027, 2, 20))  # a Saturday entered as a make-up working day
    assert cal.is_working_day(date(2026, 10, 7))  # the table wins over the library for its date
    assert later.is_working_day(date(2026, 10, 7)) is False  # rows before ``since`` are not loaded
    assert later.holiday_name(date(2027, 2, 8)) == "春节"
    # a working day count crosses the entered holiday
    assert cal.add_working_days(date(2027, 2, 5), 1) == date(2027, 2, 9)


def test_missing_years_warn_about_next_year_from_november():
    assert missing_years(date(2026, 6, 1), set()) == []  # 2026 is in the library
    assert missing_years(date(2026, 11, 1), set()) == [2027]
    assert missing_years(date(2026, 12, 6), {2027}) == []
    assert missing_years(date(2027, 3, 1), set()) == [2027]  # the year itself, whatever the month
