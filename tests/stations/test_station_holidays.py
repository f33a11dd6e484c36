"""What a station does with a reception day that falls on a statutory holiday (moved to the next
working day, or no reception that day): set with the profile, shown with the next reception days."""

from datetime import date

from app.core.calendar import WorkingCalendar
from app.stations.profile import reception_preview
from tests.stations.places import add_station, county, person, post, sign_in, snapshot

PROFILE = {"address": "北坝村村委会二楼", "contact_name": "", "contact_phone": "", "opening_hours": "",
           "reception_rule": "每月第一个星期五", "intro": ""}


async def setup(database):
    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"))
    await person(database, c, "liaison", "station_staff", station_id=sid)
    return c, sid


async def test_the_choice_is_saved_with_the_profile_and_shown(client, database, owner_sql):
    c, sid = await setup(database)
    await sign_in(client, "liaison")
    page = await client.get(f"{c.base}/stations/{sid}")
    assert 'name="holiday_reception"' in page.text and "顺延至下一个工作日" in page.text
    r = await post(client, c, f"/stations/{sid}/profile", {**PROFILE, "holiday_reception": "cancelled"})
    assert r.status_code == 303
    assert (await owner_sql("SELECT holiday_reception FROM stations WHERE id = $1", sid))[0]["holiday_reception"] \
        == "cancelled"
    audit = await owner_sql("SELECT details FROM audit_log WHERE action = 'station_profile_changed'")
    assert "holiday_reception" in str(audit[-1]["details"])
    page = await client.get(f"{c.base}/stations/{sid}")
    assert "遇法定节假日： 当天不接待" in page.text
    assert '<option value="cancelled" selected>' in page.text
    # a form without the choice (an older page) keeps it
    await post(client, c, f"/stations/{sid}/profile", {**PROFILE, "address": "新地址"})
    assert (await owner_sql("SELECT holiday_reception FROM stations WHERE id = $1", sid))[0]["holiday_reception"] \
        == "cancelled"


async def test_a_bad_choice_is_refused_and_nothing_changes(client, database, owner_sql):
    c, sid = await setup(database)
    await sign_in(client, "liaison")
    await client.get(f"{c.base}/stations/{sid}")
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, f"/stations/{sid}/profile", {**PROFILE, "holiday_reception": "sometimes"})
    assert r.status_code == 400 and "请选择接待日遇法定节假日时如何安排" in r.text
    assert await snapshot(owner_sql, c.tenant) == before


def test_the_staff_page_preview_moves_or_cancels_new_years_day():
    calendar = WorkingCalendar()
    _, days, cancelled = reception_preview("nth:1:fri", date(2026, 12, 20), "zh_Hans", calendar, "moved")
    assert days[0] == "2027年1月4日 星期一（由2027年1月1日 星期五顺延，元旦）"
    assert days[1:] == ["2027年2月5日 星期五", "2027年3月5日 星期五"] and cancelled == []
    _, days, cancelled = reception_preview("nth:1:fri", date(2026, 12, 20), "zh_Hans", calendar, "cancelled")
    assert days[0] == "2027年2月5日 星期五"
    assert cancelled == ["2027年1月1日 星期五（元旦）不接待"]
