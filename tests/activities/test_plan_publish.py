"""Yearly plans (年度活动计划), published: publishing, the change record (调整记录) that every later change
writes, and the plan on the station's public page."""

from __future__ import annotations

from datetime import datetime

import brotli
import pytest
from sqlalchemy import select

from app.activities import plans, services
from app.activities.access import get_activity
from app.activities.models import Activity
from app.stations.access import get_station
from app.tenancy.scope import Scope
from tests.activities.world import EAST, TZ, build_activity_county, local
from tests.deputies.deputy_world import count, post, signed_in, text_of

THIS_YEAR = datetime.now(TZ).year
NEXT_YEAR = THIS_YEAR + 1
KB = 1024


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


def admin_scope(ac) -> Scope:
    return Scope(role="county_admin", node_path=None, station_id=None, user_id=ac.users["admin"].id)


def slot(ac, kind: str = "reception", **more) -> dict:
    return {"kind_id": str(ac.kinds[kind]), "start": "09:00", "end": "11:30", "place": "东街社区服务中心",
            "topic": "接待选民", **more}


async def make_plan(database, ac, year: int, rules, *, publish: bool = True) -> int:
    """A plan filled through the services as if it were the 1st of January of its year."""
    scope, t = admin_scope(ac), ac.tenant.id
    jan1 = datetime(year, 1, 1, tzinfo=TZ)
    async with database.transaction(tenant_id=t) as db:
        ref = await get_station(db, scope, ac.stations[EAST])
        plan = await plans.create_plan(db, scope, ref, tenant_id=t, actor_id=scope.user_id, year=year,
                                       today=jan1.date())
        pref = plans.PlanRef(ref, plan)
        for days, kind in rules:
            await plans.generate(db, scope, pref, tenant_id=t, actor_id=scope.user_id, days_text=days, tz=TZ, now=jan1,
                                 slot=plans.Slot(ac.kinds[kind], plans.read_time("09:00"), plans.read_time("11:30"),
                                                 place="东街社区服务中心", topic=f"{kind}活动"))
        if publish:
            await plans.publish(db, scope, pref, tenant_id=t, actor_id=scope.user_id, now=jan1)
        return plan.id


async def entry_on(database, ac, day: datetime) -> int:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        return await db.scalar(select(Activity.id).where(Activity.starts_at == day))


async def reschedule(database, ac, activity_id: int, to: datetime, reason: str, now: datetime) -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, admin_scope(ac), activity_id, for_update=True)
        await services.reschedule(db, admin_scope(ac), ref, starts_at=to, ends_at=to.replace(hour=11, minute=30),
                                  reason=reason, actor_id=ac.users["admin"].id, now=now)


async def cancel(database, ac, activity_id: int, reason: str) -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, admin_scope(ac), activity_id, for_update=True)
        await services.cancel(db, admin_scope(ac), ref, reason=reason, actor_id=ac.users["admin"].id)


# --- publishing -----------------------------------------------------------------------------------

async def test_publish_a_plan(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        await post(client, f"{client.base}/stations/{ac.stations[EAST]}/plans", {"year": str(NEXT_YEAR)})
        url = f"{client.base}/stations/{ac.stations[EAST]}/plans/{NEXT_YEAR}"
        empty = await post(client, url + "/publish")
        assert empty.status_code == 400 and "An empty plan cannot be published" in empty.text
        await post(client, url + "/generate", {"days": "每月15日", **slot(ac)})
        r = await post(client, url + "/publish")
        assert r.status_code == 303
        page = (await client.get(r.headers["location"])).text
        assert "it now shows on the station&#39;s public page" in page or "it now shows on the station's" in page
        text = text_of(page)
        assert "Published plan" in text and "by Alpha-Admin" in text
        assert "No change since the plan was published." in text
        assert "/generate" not in page and "/publish" not in page  # no forms for what can no longer be done
        refused = await post(client, url + "/generate", {"days": "每月1日", **slot(ac)})
        assert refused.status_code == 400 and "add single entries instead" in refused.text
        again = await post(client, url + "/publish")
        assert again.status_code == 400 and "already been published" in again.text
        long = await post(client, url + "/note", {"note": "注" * 1001})
        assert long.status_code == 400 and "“Plan note” may have at most 1000 characters" in long.text
        assert (await post(client, url + "/note", {"note": "如遇节假日顺延。"})).status_code == 303
        assert "如遇节假日顺延。" in (await client.get(url)).text
    plan = (await owner_sql("SELECT status, published_at, published_by, note FROM activity_plans"))[0]
    assert plan["status"] == "published" and plan["published_at"] is not None
    assert plan["published_by"] == ac.users["admin"].id and plan["note"] == "如遇节假日顺延。"
    assert await count(owner_sql, "activities") == 12
    actions = [r["action"] for r in
               await owner_sql("SELECT action FROM audit_log WHERE action LIKE 'plan%' ORDER BY id")]
    assert actions == ["plan_created", "plan_generated", "plan_published", "plan_note_saved"]


async def test_changes_after_publishing_are_on_record(app, ac, database, owner_sql):
    await make_plan(database, ac, NEXT_YEAR, [("每月15日", "reception")])
    march = await entry_on(database, ac, local(NEXT_YEAR, 3, 15))
    june = await entry_on(database, ac, local(NEXT_YEAR, 6, 15))
    await reschedule(database, ac, march, local(NEXT_YEAR, 3, 20), "与区人大会议冲突", now=datetime.now(TZ))
    await cancel(database, ac, june, "防汛值班")
    async with signed_in(app, ac.county, "station") as client:
        url = f"{client.base}/stations/{ac.stations[EAST]}/plans/{NEXT_YEAR}"
        r = await post(client, url + "/entries", {"day": f"{NEXT_YEAR}-04-02", **slot(ac, "training", topic="学习代表法")})
        assert r.status_code == 303
        page = (await client.get(url)).text
    text = text_of(page)
    # the entries: the moved one on its new day with the day first planned, the cancelled one struck through
    assert "20 March Moved from 15 March" in text
    assert "<s>15 June</s>" in page and "Cancelled" in text
    # the change record, newest first: what, which entry, when, who and why
    record = text[text.index("Change record"):]
    added, cancelled, moved = (record.index(s) for s in ("Added to the plan", "Cancelled", "Rescheduled"))
    assert added < cancelled < moved
    assert "接待选民 of 15 March moved to 20 March" in record and "Reason for the change: 与区人大会议冲突" in record
    assert "Reason for the change: 防汛值班" in record and "Alpha-Admin" in record and "Alpha-Station" in record
    assert await count(owner_sql, "activity_events", "plan_change") == 3
    assert await count(owner_sql, "activity_events", "action = 'added_to_plan' AND plan_change") == 1


async def test_changes_before_publishing_are_not_plan_changes(app, ac, database, owner_sql):
    await make_plan(database, ac, NEXT_YEAR, [("每月15日", "reception")], publish=False)
    march = await entry_on(database, ac, local(NEXT_YEAR, 3, 15))
    await reschedule(database, ac, march, local(NEXT_YEAR, 3, 20), "草稿调整", now=datetime.now(TZ))
    assert await count(owner_sql, "activity_events", "plan_change") == 0
    async with signed_in(app, ac.county, "admin") as client:
        text = text_of((await client.get(f"{client.base}/stations/{ac.stations[EAST]}/plans/{NEXT_YEAR}")).text)
    assert "Change record" not in text and "Moved from 15 March" in text
    # filling from the same days again does not put an entry back on the day it was moved away from
    async with signed_in(app, ac.county, "admin") as client:
        url = f"{client.base}/stations/{ac.stations[EAST]}/plans/{NEXT_YEAR}/generate"
        r = await post(client, url, {"days": "每月15日", **slot(ac)})
    assert "made=0" in r.headers["location"] and "existing=12" in r.headers["location"]


# --- the public page ------------------------------------------------------------------------------

def public_url(ac) -> str:
    return f"/p/{ac.slug}/stations/{ac.stations[EAST]}"


async def test_public_page_shows_this_years_published_plan_only(app, client, ac, database):
    await make_plan(database, ac, THIS_YEAR, [("每月15日", "reception")], publish=False)
    await make_plan(database, ac, NEXT_YEAR, [("每月15日", "reception")])  # published, but not this year's
    r = await client.get(public_url(ac))
    assert r.status_code == 200 and 'id="yearly-plan"' not in r.text

    async with database.transaction(tenant_id=ac.tenant.id) as db:  # publish this year's
        scope = admin_scope(ac)
        pref = await plans.get_plan(db, scope, ac.stations[EAST], THIS_YEAR, for_update=True)
        await plans.publish(db, scope, pref, tenant_id=ac.tenant.id, actor_id=scope.user_id)
    jan1 = datetime(THIS_YEAR, 1, 1, tzinfo=TZ)
    await reschedule(database, ac, await entry_on(database, ac, local(THIS_YEAR, 3, 15)), local(THIS_YEAR, 3, 20),
                     "与区人大会议冲突", now=jan1)
    await cancel(database, ac, await entry_on(database, ac, local(THIS_YEAR, 12, 15)), "防汛值班")

    client.cookies.set("lang", "en")
    r = await client.get(public_url(ac))
    assert r.headers["cache-control"].startswith("public, max-age=") and "set-cookie" not in r.headers
    text = text_of(r.text)
    section = text[text.index(f"Activity plan for {THIS_YEAR}"):text.index("Goals for")]
    assert "reception活动 of 15 March moved to 20 March" not in section  # the kind's name, not its code
    assert "接待选民 of 15 March moved to 20 March" in section and "接待选民 of 15 December cancelled" in section
    assert "plan (12 activities)" in section
    assert "<s>" in r.text and "东街社区服务中心" in section
    now = datetime.now(TZ)
    ahead = [d for d in (local(THIS_YEAR, m, 15) for m in range(1, 12)) if d >= now]  # December's is cancelled
    if ahead:
        assert "Coming activities" in section and "No more activities are planned this year." not in section
    else:
        assert "No more activities are planned this year." in section
    # nothing about the people who changed it, nor their reasons
    for private in ("Alpha-Admin", "与区人大会议冲突", "防汛值班"):
        assert private not in r.text


async def test_public_page_with_a_full_plan_stays_small(app, client, ac, database):
    rules = [("每周二", "reception"), ("每月15日", "visit"), ("每月第一个星期五", "training")]
    big = await make_plan(database, ac, THIS_YEAR, rules)
    other = await build_activity_county(database, "beta")
    await make_plan(database, other, THIS_YEAR, [("每月15日", "reception")])
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ids = list(await db.scalars(select(Activity.id).where(Activity.plan_id == big).order_by(Activity.starts_at)))
    for activity_id in ids[:20]:  # a busy year of changes
        await cancel(database, ac, activity_id, "天气原因")
    async with client.stream("GET", public_url(ac), headers={"Accept-Encoding": "br"}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    html = brotli.decompress(raw).decode()
    expected = sum(len(plans.dates_in_year(plans.read_rule(days), THIS_YEAR)) for days, _ in rules)
    assert len(ids) == expected and html.count("<li>") >= expected
    assert len(raw) <= 14 * KB, f"{len(raw)} B compressed"
    small = await client.get(public_url(other))
    full = r  # both rendered afresh (a second visit is answered from the page cache, without a query)
    assert small.headers["x-query-count"] == full.headers["x-query-count"]
    assert int(full.headers["x-query-count"]) <= 12


async def test_staff_page_of_a_full_plan_in_chinese_stays_small(app, ac, database):
    await make_plan(database, ac, NEXT_YEAR, [("每周二、四", "reception"), ("每月15日", "visit")], publish=False)
    async with signed_in(app, ac.county, "admin") as client:
        client.cookies.set("lang", "zh_Hans")
        url = f"{client.base}/stations/{ac.stations[EAST]}/plans/{NEXT_YEAR}"
        async with client.stream("GET", url, headers={"Accept-Encoding": "br"}) as r:
            raw = b"".join([chunk async for chunk in r.aiter_raw()])
    html = brotli.decompress(raw).decode()
    assert r.status_code == 200 and f"{NEXT_YEAR}年度活动计划" in html and ">调整记录</h" not in html  # a draft: no record yet
    assert "<th colspan=\"7\">1月</th>" in html and "星期二" in html
    assert len(raw) <= 14 * KB, f"{len(raw)} B compressed"
