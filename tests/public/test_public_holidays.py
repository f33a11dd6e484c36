"""The public pages never announce a reception on a statutory holiday: it is moved to the next working
day or shown as cancelled, as the station chose (stations.holiday_reception)."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from app.core.calendar import load_calendar
from app.public import services
from app.stations.models import Station
from app.stations.schedule import format_day, next_reception_days
from tests.public.conftest import build_county

BEFORE_NEW_YEAR = date(2026, 12, 20)  # 2027-01-01, a Friday, is New Year's Day: the library stops at 2026


async def _page(database, county, today: date, label: str = "active"):
    async with database.session(tenant_id=county.tenant.id) as db:
        station = await db.scalar(select(Station).where(Station.id == county.stations[label].id))
        return await services.station_page(db, station, today, "zh_Hans")


async def _set(database, county, **values):
    async with database.transaction(tenant_id=county.tenant.id) as db:
        await db.execute(update(Station).where(Station.id == county.stations["active"].id).values(**values))


async def test_a_reception_on_new_years_day_moves_to_the_next_working_day(database):
    county = await build_county(database, "beiba")  # 每月15日、每月第一个星期五: the first Friday of 2027 is 1 January
    view = await _page(database, county, BEFORE_NEW_YEAR)
    assert [r.day for r in view.next_days] == [date(2027, 1, 4), date(2027, 1, 15), date(2027, 2, 5)]
    assert view.next_days[0].moved_from == date(2027, 1, 1) and view.next_days[0].holiday == "元旦"
    async with database.session(tenant_id=county.tenant.id) as db:
        rows, _ = await services.list_stations(db, BEFORE_NEW_YEAR, "zh_Hans")
    assert {r.next_day for r in rows if r.id == county.stations["active"].id} == {date(2027, 1, 4)}


async def test_a_station_that_cancels_shows_the_holiday_without_a_reception(database):
    county = await build_county(database, "beiba")
    await _set(database, county, holiday_reception="cancelled")
    view = await _page(database, county, BEFORE_NEW_YEAR)
    assert [r.day for r in view.next_days] == [date(2027, 1, 15), date(2027, 2, 5), date(2027, 2, 15)]
    assert [(r.day, r.holiday) for r in view.cancelled_days] == [(date(2027, 1, 1), "元旦")]


async def test_national_day_2026_and_an_entered_spring_festival(database, owner_sql):
    county = await build_county(database, "beiba")
    await _set(database, county, reception_rule="week:thu")
    view = await _page(database, county, date(2026, 9, 28))
    # Thursday 1 October is 国庆节; the reception moves to Thursday 8 October (one reception, not two)
    assert [r.day for r in view.next_days] == [date(2026, 10, 8), date(2026, 10, 15), date(2026, 10, 22)]
    await owner_sql("INSERT INTO working_calendar_days (day, kind, name) VALUES ('2027-02-11', 'holiday', '春节')")
    view = await _page(database, county, date(2027, 2, 8))
    assert [r.day for r in view.next_days][:2] == [date(2027, 2, 12), date(2027, 2, 18)]
    assert view.next_days[0].holiday == "春节"


async def test_the_public_page_lists_no_holiday_and_explains_a_moved_reception(client, database):
    """On the wall clock (the route has no other): whatever today is, no listed day is a holiday, and
    every holiday the station's days hit before the last one listed is explained."""
    county = await build_county(database, "beiba")
    await _set(database, county, reception_rule="day:1;day:15;nth:1:fri")
    html = (await client.get(f"/p/beiba/stations/{county.stations['active'].id}")).text
    shown = [date(int(y), int(m), int(d))
             for y, m, d in re.findall(r"<li>(\d{4})年(\d{1,2})月(\d{1,2})日 星期.</li>", html)]
    assert len(shown) == 3
    async with database.session() as db:
        calendar = await load_calendar(db)
    assert not [d for d in shown if calendar.holiday_name(d)], shown
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    hit = [d for d in next_reception_days("day:1;day:15;nth:1:fri", today, 10) if d <= shown[-1]
           and calendar.holiday_name(d)]
    for day in hit:
        assert f"{format_day(day, 'zh_Hans')}是{calendar.holiday_name(day)}，接待顺延至" in html
