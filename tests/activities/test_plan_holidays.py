"""Yearly plans on China's working calendar: entries on a statutory holiday are flagged on the plan,
and one click moves one of them, or all, to the next working day (kept in the entry's history)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.activities import plans
from app.core.calendar import WorkingCalendar
from tests.activities.world import EAST, TZ, build_activity_county
from tests.deputies.deputy_world import count, post, signed_in, text_of

NEXT_YEAR = datetime.now(TZ).year + 1
CALENDAR = WorkingCalendar()  # a test adds no table rows: the library and the law
# 1 January, 1 May and 1 October are statutory holidays in every year
FIRSTS = [date(NEXT_YEAR, m, 1) for m in range(1, 13)]
ON_HOLIDAYS = [d for d in FIRSTS if CALENDAR.holiday_name(d)]


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


def plan_url(ac) -> str:
    return f"/t/{ac.slug}/stations/{ac.stations[EAST]}/plans/{NEXT_YEAR}"


def slot(ac) -> dict:
    return {"kind_id": str(ac.kinds["reception"]), "start": "09:00", "end": "11:30", "place": "东街社区服务中心",
            "topic": "接待选民"}


async def local_days(owner_sql) -> list[date]:
    rows = await owner_sql("SELECT (starts_at AT TIME ZONE 'Asia/Shanghai') AS s FROM activities "
                           "WHERE plan_id IS NOT NULL ORDER BY starts_at")
    return [r["s"].date() for r in rows]


async def test_generated_entries_on_holidays_are_flagged_and_moved_in_one_click(app, ac, owner_sql):
    assert {date(NEXT_YEAR, 1, 1), date(NEXT_YEAR, 5, 1), date(NEXT_YEAR, 10, 1)} <= set(ON_HOLIDAYS)
    async with signed_in(app, ac.county, "station") as client:
        await post(client, f"{client.base}/stations/{ac.stations[EAST]}/plans", {"year": str(NEXT_YEAR)})
        r = await post(client, plan_url(ac) + "/generate", {"days": "每月1日", **slot(ac)})
        assert r.status_code == 303 and f"holidays={len(ON_HOLIDAYS)}" in r.headers["location"]
        text = text_of((await client.get(r.headers["location"])).text)
        assert f"Of the entries added, on public holidays (flagged below): {len(ON_HOLIDAYS)}." in text
        assert f"Entries on public holidays: {len(ON_HOLIDAYS)}." in text
        assert "Public holiday: National Day" in text and "Public holiday: New Year&#39;s Day" in text
        october = CALENDAR.next_working_day(date(NEXT_YEAR, 10, 1))
        assert f"Move to {october.day} October" in text

        # one entry: National Day's
        oct1 = (await owner_sql("SELECT id FROM activities WHERE (starts_at AT TIME ZONE 'Asia/Shanghai')::date "
                                "= $1", date(NEXT_YEAR, 10, 1)))[0]["id"]
        r = await post(client, plan_url(ac) + "/holidays", {"activity": str(oct1)}, page=plan_url(ac))
        assert r.status_code == 303 and "done=moved" in r.headers["location"]
        moved = await owner_sql("SELECT (starts_at AT TIME ZONE 'Asia/Shanghai') AS s, "
                                "(ends_at AT TIME ZONE 'Asia/Shanghai') AS e FROM activities WHERE id = $1", oct1)
        assert (moved[0]["s"], moved[0]["e"]) == (datetime.combine(october, datetime.min.time()) + timedelta(hours=9),
                                                  datetime.combine(october, datetime.min.time())
                                                  + timedelta(hours=11, minutes=30))
        event = await owner_sql("SELECT note FROM activity_events WHERE activity_id = $1 AND action = 'rescheduled'",
                                oct1)
        assert "National Day" in event[0]["note"]
        text = text_of((await client.get(plan_url(ac))).text)
        assert f"Entries on public holidays: {len(ON_HOLIDAYS) - 1}." in text and "Moved from 1 October" in text

        # then all the others
        r = await post(client, plan_url(ac) + "/holidays", {"activity": "all"}, page=plan_url(ac))
        assert r.status_code == 303
        text = text_of((await client.get(plan_url(ac))).text)
        assert "Entries on public holidays" not in text and "Public holiday:" not in text
    days = await local_days(owner_sql)
    assert len(days) == 12 and not [d for d in days if CALENDAR.holiday_name(d)]
    assert await count(owner_sql, "audit_log", "action = 'plan_holidays_moved'") == 2


async def test_only_flagged_entries_move_and_only_for_those_who_plan(app, ac, owner_sql):
    async with signed_in(app, ac.county, "station") as client:
        await post(client, f"{client.base}/stations/{ac.stations[EAST]}/plans", {"year": str(NEXT_YEAR)})
        await post(client, plan_url(ac) + "/generate", {"days": "每月1日", **slot(ac)})
        before = await local_days(owner_sql)
        ordinary = (await owner_sql("SELECT id FROM activities WHERE (starts_at AT TIME ZONE 'Asia/Shanghai')::date "
                                    "= ANY($1::date[])", [d for d in FIRSTS if d not in ON_HOLIDAYS]))[0]["id"]
        for value in (str(ordinary), "x", "99999999999999999999"):
            r = await post(client, plan_url(ac) + "/holidays", {"activity": value}, page=plan_url(ac))
            assert r.status_code == 400 and "not a planned activity on a public holiday" in r.text, value
    for who in ("viewer", "rep", "heba"):  # see the plan (or not) but never change it
        async with signed_in(app, ac.county, who) as client:
            page = await client.get(plan_url(ac))
            assert "/holidays" not in page.text
            assert (await post(client, plan_url(ac) + "/holidays", {"activity": "all"})).status_code == 404, who
    assert await local_days(owner_sql) == before
    assert await count(owner_sql, "activity_events", "action = 'rescheduled'") == 0


def test_an_entry_is_not_moved_onto_a_day_that_already_has_its_kind():
    """Every Thursday: 1 October 2026 is 国庆节, and Thursday 8 October already has the reception."""
    tz, now = TZ, datetime(2026, 9, 1, tzinfo=timezone.utc)
    def at(day: int) -> datetime:
        return datetime(2026, 10, day, 9, tzinfo=tz)

    # (id, kind id, start, status): kind 7 on 1 and 8 October (and a cancelled one), kind 8 on 2 and 3 October
    rows = [(1, 7, at(1), "planned"), (2, 7, at(8), "planned"), (3, 8, at(2), "planned"), (4, 8, at(3), "planned"),
            (5, 7, at(5), "cancelled")]
    flagged = plans.holiday_entries(rows, WorkingCalendar(), tz, now)
    assert sorted(flagged) == [1, 3, 4]  # a cancelled entry is not flagged
    assert flagged[1].move_to is None and flagged[1].holiday == "国庆节"
    assert flagged[3].move_to == date(2026, 10, 8) and flagged[4].move_to is None  # two moves never meet
    assert plans.holiday_entries(rows, WorkingCalendar(), tz, datetime(2026, 12, 1, tzinfo=timezone.utc)) == {}
