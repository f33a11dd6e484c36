"""Yearly plans (年度活动计划), drafting: start a plan, fill it from fixed days as staff write them,
add single entries; who may see and who may change."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.activities import plans
from app.activities.models import Activity
from app.tenancy.scope import Scope
from tests.activities.world import EAST, HOME, TZ, build_activity_county
from tests.deputies.deputy_world import count, post, signed_in, text_of

NEXT_YEAR = datetime.now(TZ).year + 1


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


def plan_url(ac, year: int = NEXT_YEAR, station: str = EAST) -> str:
    return f"/t/{ac.slug}/stations/{ac.stations[station]}/plans/{year}"


async def entries(owner_sql, where: str = "true") -> list[dict]:
    return await owner_sql(f"SELECT a.*, (a.starts_at AT TIME ZONE 'Asia/Shanghai') AS local_start "
                           f"FROM activities a WHERE plan_id IS NOT NULL AND {where} ORDER BY starts_at")


def first_fridays(year: int) -> list[date]:
    """Worked out independently of the schedule module."""
    out = []
    for month in range(1, 13):
        weeks = calendar.monthcalendar(year, month)
        day = weeks[0][calendar.FRIDAY] or weeks[1][calendar.FRIDAY]
        out.append(date(year, month, day))
    return out


def slot(ac, kind: str = "reception", **more) -> dict:
    return {"kind_id": str(ac.kinds[kind]), "start": "09:00", "end": "11:30", "place": "东街社区服务中心",
            "topic": "接待选民", **more}


# --- dates ----------------------------------------------------------------------------------------

def test_dates_in_year_for_the_common_fixed_days():
    assert plans.dates_in_year("nth:1:fri", 2027) == [
        date(2027, 1, 1), date(2027, 2, 5), date(2027, 3, 5), date(2027, 4, 2), date(2027, 5, 7),
        date(2027, 6, 4), date(2027, 7, 2), date(2027, 8, 6), date(2027, 9, 3), date(2027, 10, 1),
        date(2027, 11, 5), date(2027, 12, 3),
    ]
    assert plans.dates_in_year("nth:1:fri", 2027) == first_fridays(2027)
    assert plans.dates_in_year("day:15", 2027) == [date(2027, m, 15) for m in range(1, 13)]
    assert plans.dates_in_year("day:31", 2027)[1] == date(2027, 2, 28)  # a 31st in a short month: its last day
    tuesdays = plans.dates_in_year("week:tue", 2027)
    assert len(tuesdays) == 52 and {d.weekday() for d in tuesdays} == {1} and tuesdays[0] == date(2027, 1, 5)
    assert plans.dates_in_year("day:15;week:tue", 2027)[:3] == [date(2027, 1, 5), date(2027, 1, 12),
                                                                date(2027, 1, 15)]


# --- drafting over HTTP ---------------------------------------------------------------------------

async def test_start_a_plan_once_per_year(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        listing = f"{client.base}/stations/{ac.stations[EAST]}/plans"
        page = (await client.get(listing)).text
        assert "has no yearly activity plan yet" in page and f"Start the plan for {NEXT_YEAR}" in page
        r = await post(client, listing, {"year": str(NEXT_YEAR)}, page=listing)
        assert r.status_code == 303 and r.headers["location"].endswith(f"/plans/{NEXT_YEAR}?done=created")
        again = await post(client, listing, {"year": str(NEXT_YEAR)}, page=listing)
        assert again.status_code == 400 and f"already has a plan for {NEXT_YEAR}" in again.text
        far = await post(client, listing, {"year": str(NEXT_YEAR + 5)}, page=listing)
        assert far.status_code == 400 and "this year or next year" in far.text
        page = text_of((await client.get(listing)).text)
        assert f"Activity plan for {NEXT_YEAR} Draft plan 0 0" in page
        assert f"Start the plan for {NEXT_YEAR}" not in page and f"Start the plan for {NEXT_YEAR - 1}" in page
    assert await count(owner_sql, "activity_plans") == 1
    assert [r["action"] for r in await owner_sql("SELECT action FROM audit_log WHERE action LIKE 'plan%'")] == [
        "plan_created"]


async def test_generate_monthly_days_for_next_year(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        await post(client, f"{client.base}/stations/{ac.stations[EAST]}/plans", {"year": str(NEXT_YEAR)})
        url = plan_url(ac)
        page = (await client.get(url)).text
        assert 'value="每月15日、每月第一个星期五"' not in page  # the station has no reception days yet
        r = await post(client, url + "/generate", {"days": "每月15日", **slot(ac, invite="1")})
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        assert "Entries added to the plan: 12." in page.text and "skipped" not in page.text
        r = await post(client, url + "/generate", {"days": "每月第一个星期五", **slot(ac, "visit", topic="走访选区")})
        assert r.status_code == 303 and "made=12" in r.headers["location"]

        fifteenth = await entries(owner_sql, f"kind_id = {ac.kinds['reception']}")
        assert [e["local_start"] for e in fifteenth] == [datetime(NEXT_YEAR, m, 15, 9, 0) for m in range(1, 13)]
        assert all(e["ends_at"] - e["starts_at"] == timedelta(hours=2, minutes=30) for e in fifteenth)
        assert {e["place"] for e in fifteenth} == {"东街社区服务中心"} and {e["status"] for e in fifteenth} == {"planned"}
        fridays = await entries(owner_sql, f"kind_id = {ac.kinds['visit']}")
        assert [e["local_start"].date() for e in fridays] == first_fridays(NEXT_YEAR)
        # the station's four deputies are invited to each reception, nobody to the visits (box unticked)
        assert await count(owner_sql, "activity_invitations") == 12 * 4

        # the same days again: nothing new, and the page says why
        again = await post(client, url + "/generate", {"days": "每月15号", **slot(ac)})
        assert "made=0" in again.headers["location"] and "existing=12" in again.headers["location"]
        shown = text_of((await client.get(again.headers["location"])).text)
        assert "Entries added to the plan: 0." in shown and "already in the plan with this kind, skipped: 12" in shown
        assert await count(owner_sql, "activities") == 24

        # the plan page: by month, with weekday, time, kind, topic, place and status
        text = text_of((await client.get(url)).text)
        first = first_fridays(NEXT_YEAR)[0]
        # (1 January is New Year's Day: such an entry is flagged between its date and its weekday)
        assert f"January {first.day} January " in text
        assert f"{first:%A} 09:00–11:30 走访选区 走访选区 东街社区服务中心 Planned" in text
        assert "15 March" in text and "December" in text and "Plan entries 24" in text
    actions = [r["action"] for r in
               await owner_sql("SELECT action FROM audit_log WHERE action LIKE 'plan%' ORDER BY id")]
    assert actions == ["plan_created", "plan_generated", "plan_generated", "plan_generated"]


async def test_reception_days_prefill_the_form(app, ac, database):
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        from app.stations.models import Station

        station = await db.scalar(select(Station).where(Station.id == ac.stations[EAST]))
        station.reception_rule = "day:15;nth:1:fri"
    async with signed_in(app, ac.county, "station") as client:
        await post(client, f"{client.base}/stations/{ac.stations[EAST]}/plans", {"year": str(NEXT_YEAR)})
        page = (await client.get(plan_url(ac))).text
        assert 'name="days" value="每月15日、每月第一个星期五"' in page
        assert f'<option value="{ac.kinds["reception"]}" selected>' in page


async def test_bad_fixed_days_or_times_are_explained_and_nothing_is_written(app, ac, owner_sql):
    async with signed_in(app, ac.county, "town") as client:
        await post(client, f"{client.base}/stations/{ac.stations[EAST]}/plans", {"year": str(NEXT_YEAR)})
        url = plan_url(ac)
        for days, fields, message in (
            ("每月32日", {}, "There is no day 32 in a month"),
            ("随便哪天", {}, "We could not read “随便哪天”"),
            ("每月第五个星期五", {}, "only four full weeks"),
            ("", {}, "Please write the fixed days"),
            ("每月15日", {"end": "08:00"}, "must end after it starts"),
            ("每月15日", {"start": "nine"}, "start and end times"),
            ("每月15日", {"kind_id": "999999"}, "choose the kind of activity"),
            ("每月15日", {"topic": "题" * 201}, "“Activity topic” may have at most 200 characters"),
        ):
            r = await post(client, url + "/generate", {"days": days, **slot(ac), **fields})
            assert r.status_code == 400 and message in r.text, days
            assert f'value="{days}"' in r.text  # what was typed stays in the form
    assert await count(owner_sql, "activities") == 0
    assert await count(owner_sql, "audit_log", "action = 'plan_generated'") == 0


async def test_past_dates_are_skipped_and_counted(ac, database):
    """Generating mid-year: the dates already past are left out (the service takes "now")."""
    admin = Scope(role="county_admin", node_path=None, station_id=None, user_id=ac.users["admin"].id)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        from app.stations.access import get_station

        ref = await get_station(db, admin, ac.stations[EAST])
        plan = await plans.create_plan(db, admin, ref, tenant_id=ac.tenant.id, actor_id=admin.user_id,
                                       year=NEXT_YEAR, today=date(NEXT_YEAR, 1, 1))
        pref = plans.PlanRef(ref, plan)
        made = await plans.generate(
            db, admin, pref, tenant_id=ac.tenant.id, actor_id=admin.user_id, days_text="每月15日",
            slot=plans.Slot(ac.kinds["reception"], *map(plans.read_time, ("09:00", "11:00"))), tz=TZ,
            now=datetime(NEXT_YEAR, 7, 15, 10, 0, tzinfo=TZ),  # the July reception has begun
        )
        assert (made.created, made.past, made.existing) == (5, 7, 0)
        starts = [a.starts_at.astimezone(TZ).month
                  for a in await db.scalars(select(Activity).order_by(Activity.starts_at))]
        assert starts == [8, 9, 10, 11, 12]


async def test_single_entries_belong_to_the_plan_year(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        await post(client, f"{client.base}/stations/{ac.stations[EAST]}/plans", {"year": str(NEXT_YEAR)})
        url = plan_url(ac)
        bad = await post(client, url + "/entries", {"day": f"{NEXT_YEAR + 1}-03-01", **slot(ac, "training")})
        assert bad.status_code == 400 and f"a date in {NEXT_YEAR}" in bad.text
        r = await post(client, url + "/entries", {"day": f"{NEXT_YEAR}-03-01", **slot(ac, "training", topic="学习宪法")})
        assert r.status_code == 303
        assert "The entry has been added to the plan." in (await client.get(r.headers["location"])).text
    rows = await entries(owner_sql)
    assert [(r["local_start"], r["topic"]) for r in rows] == [(datetime(NEXT_YEAR, 3, 1, 9, 0), "学习宪法")]
    # a draft is not published yet: adding to it is not a change on record
    assert await count(owner_sql, "activity_events", "plan_change") == 0
    assert await count(owner_sql, "audit_log", "action = 'plan_entry_added'") == 1


# --- who sees, who changes ------------------------------------------------------------------------

async def test_who_sees_and_who_changes(app, ac, owner_sql):
    async with signed_in(app, ac.county, "station") as client:  # the station's own staff may plan
        await post(client, f"{client.base}/stations/{ac.stations[EAST]}/plans", {"year": str(NEXT_YEAR)})
        r = await post(client, plan_url(ac) + "/generate", {"days": "每月15日", **slot(ac)})
        assert r.status_code == 303
    before = await count(owner_sql, "activities")
    forms = {"/generate": {"days": "每月1日", **slot(ac)}, "/entries": {"day": f"{NEXT_YEAR}-05-05", **slot(ac)},
             "/publish": {}, "/note": {"note": "闯入"}}
    for who in ("viewer", "rep"):  # they see the plan and change nothing
        async with signed_in(app, ac.county, who) as client:
            page = await client.get(plan_url(ac))
            assert page.status_code == 200 and "15 January" in page.text, who
            assert "/generate" not in page.text and "/publish" not in page.text
            for path, data in forms.items():
                assert (await post(client, plan_url(ac) + path, data)).status_code == 404, (who, path)
            listing = f"{client.base}/stations/{ac.stations[EAST]}/plans"
            assert "Start the plan" not in (await client.get(listing)).text
            assert (await post(client, listing, {"year": str(NEXT_YEAR - 1)})).status_code == 404
    async with signed_in(app, ac.county, "heba") as client:  # township staff of another township: nothing exists
        assert (await client.get(plan_url(ac))).status_code == 404
        assert (await client.get(f"{client.base}/stations/{ac.stations[EAST]}/plans")).status_code == 404
        for path, data in forms.items():
            assert (await post(client, plan_url(ac) + path, data)).status_code == 404, path
        assert (await post(client, f"{client.base}/stations/{ac.stations[EAST]}/plans",
                           {"year": str(NEXT_YEAR - 1)})).status_code == 404
    async with signed_in(app, ac.county, "town") as client:  # the township's own staff may
        assert (await client.get(plan_url(ac))).status_code == 200
        assert (await client.get(plan_url(ac, station=HOME))).status_code == 404  # no plan there: 404 too
        assert (await client.get(plan_url(ac, year=NEXT_YEAR + 1))).status_code == 404
    async with signed_in(app, ac.county, "handler") as client:
        assert (await client.get(plan_url(ac))).status_code == 404
    assert await count(owner_sql, "activities") == before
    assert await count(owner_sql, "activity_plans") == 1
    assert dict((await owner_sql("SELECT note, status FROM activity_plans"))[0]) == {"note": "", "status": "draft"}
