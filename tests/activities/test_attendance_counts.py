"""Attendance per deputy and per station, per month and per year: what counts, the methods, the
staff sign-in's reason, scope, and a constant number of queries on the station page."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

from app.activities import attendance as att
from tests.activities.test_attendance_world import EAST, HOME, REASON, attendance_year
from tests.activities.world import build_activity_county, local, put_activity
from tests.deputies.deputy_world import add_deputy, signed_in, text_of

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


async def test_deputy_counts_per_month_with_every_method(database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        lines = await att.deputy_lines(db, ac.deputies["张伟"], 2024, "Asia/Shanghai", NOW)
        months, total = att.by_month(lines)
        li_months, li_total = att.by_month(await att.deputy_lines(db, ac.deputies["李娜"], 2024, "Asia/Shanghai", NOW))
    jan = months[1]
    assert (jan.invited, jan.present, jan.staff, jan.late, jan.left_early) == (3, 3, 0, 1, 1)
    assert (months[2].invited, months[2].present) == (1, 0)
    assert months[3].invited == 0  # cancelled, and an invitation withdrawn
    assert (months[4].invited, months[4].present) == (1, 0)  # planned, past, never recorded: due, absent
    assert (months[5].invited, months[5].present) == (1, 1)  # at the township home
    assert months[12].invited == 0  # 1 January 2025 07:00 Beijing time is not 2024
    assert (total.invited, total.present, total.rate) == (6, 4, 67)
    topics = [line.topic for line in lines]
    assert "撤回邀请的活动" not in topics and "取消的接待日" in topics and "二〇二五年元旦" not in topics
    assert (li_months[1].invited, li_months[1].present, li_months[1].staff) == (2, 1, 1)
    assert (li_total.invited, li_total.present, li_total.rate) == (3, 1, 33)


async def test_station_grid_counts_only_the_stations_activities(database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        rows = await att.station_grid(db, ac.stations[EAST], 2024, "Asia/Shanghai", NOW)
        held = await att.held_per_month(db, ac.stations[EAST], 2024, "Asia/Shanghai")
        month = await att.station_month_activities(db, ac.stations[EAST], 2024, 1, "Asia/Shanghai")
    by_name = {r.name: r for r in rows}
    assert set(by_name) == {"张伟", "李娜", "王强", "赵敏"}  # not 孙丽 of the township home
    assert (by_name["张伟"].total.invited, by_name["张伟"].total.present) == (5, 3)
    assert (by_name["张伟"].months[1].present, by_name["张伟"].months[1].invited) == (3, 3)
    assert (by_name["李娜"].total.invited, by_name["李娜"].total.present, by_name["李娜"].total.staff) == (3, 1, 1)
    assert by_name["王强"].total.invited == 0 and by_name["王强"].total.rate is None
    assert (held[1], held[2], held[3], held[4], held[5]) == (3, 1, 1, 0, 0)
    assert [(a.topic, a.present, a.invited) for a in month] == [("新年学习", 1, 1), ("一月接待日", 2, 2), ("走访东街", 1, 2)]


async def test_deputy_page_shows_months_methods_and_the_staff_reason(app, database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(f"{client.base}/deputies/{ac.deputies['李娜']}/attendance?year=2024")
        assert r.status_code == 200
        text = text_of(r.text)
        assert f"Signed in by staff: {REASON}" in text
        assert "Month 1 2 1 1 0 0 50%" in text and "Whole year 3 1 1 0 0 33%" in text
        r = await client.get(f"{client.base}/deputies/{ac.deputies['张伟']}/attendance?year=2024")
        text = text_of(r.text)
        assert "Month 1 3 3 0 1 1 100%" in text and "Whole year 6 4 0 1 1 67%" in text
        assert "Arrived late" in text and "Left early" in text and "Absent" in text and "未登记的代表会议" in text
        assert "Scanned the code at the station" in text and "Personal link" in text
        assert "13800000001" not in r.text
        # a year out of range or junk: the current year, not an error
        assert (await client.get(f"{client.base}/deputies/{ac.deputies['张伟']}/attendance?year=x")).status_code == 200


async def test_station_page_grid_and_month(app, database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    async with signed_in(app, ac.county, "station") as client:
        r = await client.get(f"{client.base}/stations/{ac.stations[EAST]}/attendance?year=2024&month=1")
        assert r.status_code == 200
        text = text_of(r.text)
        assert "张伟 3/3 0/1 — 0/1 — —" in text and "3/5 60%" in text and "李娜 1/2 0/1" in text
        assert "孙丽" not in text and "Activities held 3 1 1 0" in text
        assert "一月接待日" in text and f'/deputies/{ac.deputies["李娜"]}/attendance?year=2024' in r.text


async def test_scope_of_attendance_pages(app, database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    zhang, li = ac.deputies["张伟"], ac.deputies["李娜"]
    async with signed_in(app, ac.county, "heba") as client:  # township staff of another township
        assert (await client.get(f"{client.base}/deputies/{zhang}/attendance?year=2024")).status_code == 404
        assert (await client.get(f"{client.base}/stations/{ac.stations[EAST]}/attendance")).status_code == 404
    async with signed_in(app, ac.county, "town") as client:
        assert (await client.get(f"{client.base}/deputies/{zhang}/attendance?year=2024")).status_code == 200
        assert (await client.get(f"{client.base}/stations/{ac.stations[EAST]}/attendance")).status_code == 200
    async with signed_in(app, ac.county, "rep") as client:  # the deputy 张伟
        assert (await client.get(f"{client.base}/deputies/{zhang}/attendance?year=2024")).status_code == 200
        assert (await client.get(f"{client.base}/deputies/{li}/attendance?year=2024")).status_code == 404
        assert (await client.get(f"{client.base}/stations/{ac.stations[HOME]}/attendance")).status_code == 404
    async with signed_in(app, ac.county, "handler") as client:
        assert (await client.get(f"{client.base}/deputies/{zhang}/attendance")).status_code == 404
        assert (await client.get(f"{client.base}/stations/{ac.stations[EAST]}/attendance")).status_code == 404


async def test_station_page_query_count_is_constant(app, database, owner_sql):
    ac = await build_activity_county(database)
    names = ["张伟", "李娜", "王强", "赵敏"]

    async def add_month(month: int):
        await put_activity(database, ac, kind="reception", starts_at=local(2024, month, 10), invited=tuple(names),
                           present=tuple(names[::2]))

    await add_month(1)
    await owner_sql("UPDATE station_deputies SET assigned_at = '2020-01-01T00:00:00Z'")
    url = f"/t/{ac.slug}/stations/{ac.stations[EAST]}/attendance?year=2024&month=1"
    async with signed_in(app, ac.county, "admin") as client:
        await client.get(url)  # the first request of a session also records entering the unit
        few = int((await client.get(url)).headers["x-query-count"])
        for n in range(12):
            name = f"代表{n:02d}"
            ac.deputies[name] = await add_deputy(database, ac.county, name, station=EAST)
            names.append(name)
        for month in (2, 3, 4):
            await add_month(month)
        await owner_sql("UPDATE station_deputies SET assigned_at = '2020-01-01T00:00:00Z'")
        r = await client.get(url)
        assert "代表11" in r.text
        assert int(r.headers["x-query-count"]) == few
        assert len(gzip.compress(r.content)) < 14 * 1024  # DESIGN.md's first-page budget
