"""Changes to an activity, each kept in its history: reschedule (from → to, shown to the invited
deputies on their list), cancel, edit, invite and withdraw (not after the deputy signed in)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from app.activities.models import ActivityPlan, Attendance
from tests.activities.test_activity_world import arrange, section, soon
from tests.activities.world import EAST, TZ, build_activity_county, put_activity
from tests.deputies.deputy_world import count, post, signed_in, text_of


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


async def test_reschedule_is_recorded_and_reaches_the_invited_deputy(app, ac, owner_sql):
    new_day = soon(6)
    async with signed_in(app, ac.county, "admin") as client:
        aid = await arrange(client, ac, deputy_ids=[str(ac.deputies["张伟"])])
        r = await post(client, f"{client.base}/activities/{aid}/reschedule",
                       {"day": new_day.strftime("%Y-%m-%d"), "start": "14:00", "end": "16:00", "reason": "会议室检修"})
        assert r.status_code == 303
        page = text_of((await client.get(r.headers["location"])).text)
        assert "The activity has been rescheduled." in page
        assert f"{new_day:%Y-%m-%d} 14:00–16:00" in page
        history = text_of(section((await client.get(f"{client.base}/activities/{aid}")).text, "history"))
        assert "Activity rescheduled" in history and "会议室检修" in history
        assert f"{soon(3):%Y-%m-%d} 09:00–11:30 → {new_day:%Y-%m-%d} 14:00–16:00" in history
    rows = await owner_sql("SELECT data, note, plan_change FROM activity_events WHERE action = 'rescheduled'")
    data = json.loads(rows[0]["data"]) if isinstance(rows[0]["data"], str) else rows[0]["data"]
    assert datetime.fromisoformat(data["from"][0]) == soon(3)
    assert datetime.fromisoformat(data["to"][0]) == new_day.replace(hour=14)
    assert datetime.fromisoformat(data["to"][1]) == new_day.replace(hour=16)
    assert rows[0]["note"] == "会议室检修" and rows[0]["plan_change"] is False
    assert await count(owner_sql, "audit_log", "action = 'activity_rescheduled'") == 1
    async with signed_in(app, ac.county, "rep") as client:  # 张伟
        listing = text_of((await client.get(f"{client.base}/activities")).text)
        assert "Rescheduled on" in listing and f"{new_day:%Y-%m-%d} 14:00–16:00" in listing
        detail = await client.get(f"{client.base}/activities/{aid}")
        assert detail.status_code == 200 and "会议室检修" in detail.text
        assert "Reschedule the activity" not in detail.text  # read-only for the deputy
        r = await post(client, f"{client.base}/activities/{aid}/reschedule",
                       {"day": new_day.strftime("%Y-%m-%d"), "start": "15:00", "end": "16:00", "reason": "x"})
        assert r.status_code == 404


async def test_reschedule_refusals_write_nothing(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        aid = await arrange(client, ac)
        past = datetime.now(TZ) - timedelta(days=1)
        for data, message in [
            ({"day": past.strftime("%Y-%m-%d"), "start": "09:00", "end": "10:00", "reason": "改期"}, "in the past"),
            ({"day": soon(4).strftime("%Y-%m-%d"), "start": "09:00", "end": "10:00", "reason": ""}, "give a reason"),
            ({"day": soon(4).strftime("%Y-%m-%d"), "start": "10:00", "end": "09:00", "reason": "改期"}, "end after"),
        ]:
            r = await post(client, f"{client.base}/activities/{aid}/reschedule", data)
            assert r.status_code == 400 and message in r.text, message
    assert await count(owner_sql, "activity_events", "action = 'rescheduled'") == 0
    assert await count(owner_sql, "activities", "starts_at = $1", soon(3)) == 1


async def test_change_to_a_published_plan_is_marked(app, database, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        aid = await arrange(client, ac)
        async with database.transaction(tenant_id=ac.tenant.id) as db:
            plan = ActivityPlan(tenant_id=ac.tenant.id, station_id=ac.stations[EAST], year=soon(3).year,
                                status="published")
            db.add(plan)
            await db.flush()
            plan_id = plan.id
        await owner_sql("UPDATE activities SET plan_id = $1 WHERE id = $2", plan_id, aid)
        r = await post(client, f"{client.base}/activities/{aid}/cancel", {"reason": "台风"})
        assert r.status_code == 303
        page = await client.get(f"{client.base}/activities/{aid}")
        assert "Change to the published plan" in page.text
    assert await count(owner_sql, "activity_events", "action = 'cancelled' AND plan_change") == 1


async def test_cancel(app, ac, owner_sql):
    async with signed_in(app, ac.county, "station") as client:
        aid = await arrange(client, ac, deputy_ids=[str(ac.deputies["张伟"])])
        r = await post(client, f"{client.base}/activities/{aid}/cancel", {"reason": ""})
        assert r.status_code == 400 and "give a reason" in r.text
        r = await post(client, f"{client.base}/activities/{aid}/cancel", {"reason": "台风预警"})
        assert r.status_code == 303
        page = text_of((await client.get(f"{client.base}/activities/{aid}")).text)
        assert "Cancelled" in page and "台风预警" in page
        # a cancelled activity no longer changes
        r = await post(client, f"{client.base}/activities/{aid}/cancel", {"reason": "再次"})
        assert r.status_code == 400 and "was cancelled" in r.text
        r = await post(client, f"{client.base}/activities/{aid}/reschedule",
                       {"day": soon(5).strftime("%Y-%m-%d"), "start": "09:00", "end": "10:00", "reason": "改"})
        assert r.status_code == 400
    rows = await owner_sql("SELECT status, cancel_reason FROM activities")
    assert [tuple(r) for r in rows] == [("cancelled", "台风预警")]
    assert await count(owner_sql, "activity_events", "action = 'cancelled'") == 1
    assert await count(owner_sql, "audit_log", "action = 'activity_cancelled'") == 1
    async with signed_in(app, ac.county, "rep") as client:
        listing = text_of((await client.get(f"{client.base}/activities")).text)
        assert "Cancelled" in listing


async def test_held_activity_is_not_rescheduled_or_cancelled(app, database, ac, owner_sql):
    aid = await put_activity(database, ac, kind="visit", starts_at=datetime.now(TZ) - timedelta(days=3))
    async with signed_in(app, ac.county, "admin") as client:
        r = await post(client, f"{client.base}/activities/{aid}/cancel", {"reason": "x"})
        assert r.status_code == 400 and "already been held" in r.text
    assert await count(owner_sql, "activities", "status = 'held'") == 1


async def test_edit_place_topic_responsible(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        aid = await arrange(client, ac)
        r = await post(client, f"{client.base}/activities/{aid}/edit",
                       {"place": "社区会议室", "topic": "垃圾分类", "responsible": str(ac.users["town"].id)})
        assert r.status_code == 303
        page = await client.get(f"{client.base}/activities/{aid}")
        history = text_of(section(page.text, "history"))
        assert "Activity details changed" in history and "“东街社区活动室” → “社区会议室”" in history
        r = await post(client, f"{client.base}/activities/{aid}/edit", {"place": "x" * 201, "topic": ""})
        assert r.status_code == 400 and "at most 200 characters" in r.text
    rows = await owner_sql("SELECT place, topic, responsible_user_id FROM activities")
    assert [tuple(r) for r in rows] == [("社区会议室", "垃圾分类", ac.users["town"].id)]
    assert await count(owner_sql, "audit_log", "action = 'activity_edited'") == 1


async def test_invite_and_withdraw(app, ac, owner_sql):
    zhang, li = str(ac.deputies["张伟"]), str(ac.deputies["李娜"])
    async with signed_in(app, ac.county, "station") as client:
        aid = await arrange(client, ac, deputy_ids=[zhang])
        page = await client.get(f"{client.base}/activities/{aid}")
        assert "李娜" in section(page.text, "invite-found")  # the station's deputies are offered
        r = await post(client, f"{client.base}/activities/{aid}/invitations", {"deputy_ids": [li]})
        assert r.status_code == 303
        r = await post(client, f"{client.base}/activities/{aid}/invitations/{zhang}/withdraw")
        assert r.status_code == 303
        invited = section((await client.get(f"{client.base}/activities/{aid}")).text, "invitations")
        assert "李娜" in invited.split('id="invite-found"')[0] and "张伟" not in invited.split('id="invite-found"')[0]
        r = await post(client, f"{client.base}/activities/{aid}/invitations/{zhang}/withdraw")
        assert r.status_code == 400 and "not invited" in r.text
    assert await count(owner_sql, "activity_invitations", "withdrawn_at IS NOT NULL") == 1
    assert await count(owner_sql, "activity_events", "action = 'uninvited'") == 1
    assert await count(owner_sql, "audit_log", "action IN ('activity_invited', 'activity_uninvited')") == 2
    async with signed_in(app, ac.county, "rep") as client:  # 张伟 no longer sees it
        assert (await client.get(f"{client.base}/activities/{aid}")).status_code == 404


async def test_search_offers_deputies_in_scope_only(app, database, ac):
    from tests.deputies.deputy_world import add_deputy
    await add_deputy(database, ac.county, "王远方", node="河坝村", station="河坝村人大代表联络站")
    await add_deputy(database, ac.county, "王近邻", node="西村")
    async with signed_in(app, ac.county, "town") as client:
        aid = await arrange(client, ac)
        found = await client.get(f"{client.base}/activities/{aid}?q=王", headers={"HX-Request": "true",
                                                                                  "HX-Target": "invite-found"})
        assert "王近邻" in found.text and "王远方" not in found.text and "<html" not in found.text


async def test_withdraw_after_sign_in_is_refused(app, database, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        aid = await arrange(client, ac, deputy_ids=[str(ac.deputies["张伟"])])
        async with database.transaction(tenant_id=ac.tenant.id) as db:
            db.add(Attendance(tenant_id=ac.tenant.id, activity_id=aid, deputy_id=ac.deputies["张伟"],
                              method="staff", on_behalf_reason="手机没电"))
        page = text_of((await client.get(f"{client.base}/activities/{aid}")).text)
        assert "Signed in by staff: 手机没电" in page
        r = await post(client, f"{client.base}/activities/{aid}/invitations/{ac.deputies['张伟']}/withdraw")
        assert r.status_code == 400 and "already signed in" in r.text
    assert await count(owner_sql, "activity_invitations", "withdrawn_at IS NULL") == 1


async def test_invite_deputy_of_another_county_is_refused(app, database, ac, owner_sql):
    other = await build_activity_county(database, "beta")
    async with signed_in(app, ac.county, "admin") as client:
        aid = await arrange(client, ac)
        r = await post(client, f"{client.base}/activities/{aid}/invitations",
                       {"deputy_ids": [str(other.deputies["李娜"])]})
        assert r.status_code == 400 and "not a serving deputy of this county" in r.text
    assert await count(owner_sql, "activity_invitations") == 0
