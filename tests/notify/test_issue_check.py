"""The issue's own check, on the demo: the county admin schedules an activity through the product; the
invited deputies' SMS reach the (fake) gateway once, at the right time — the clock is moved by passing
`now` to the sweep, never by waiting. Rescheduled: the old reminders vanish and new ones appear.
(Killing the worker and stopping Redis are in test_reliability.py.)"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.demo import DEMO_PASSWORD, load_demo
from app.notify.sms import HttpSmsProvider
from app.notify.sweep import Channels, sweep
from tests.deputies.deputy_world import post
from tests.factories import login
from tests.notify.short_link_helpers import target_of

TZ = ZoneInfo("Asia/Shanghai")
STATION = "绵阳市三台县潼川镇北坝村人大代表联络站"


def nine(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=TZ)


async def activity_messages(owner_sql, gateway, activity_id: int) -> list[tuple[str, str]]:
    """(kind, mobile) of what the gateway received for this activity, one entry per message stored."""
    rows = await owner_sql("SELECT tenant_id || '-' || id, kind FROM outbox WHERE subject = $1",
                           f"activity:{activity_id}")
    kinds = {ref: kind for ref, kind in rows}
    return sorted((kinds[m["out_id"]], m["mobile"]) for m in gateway.messages() if m["out_id"] in kinds)


async def test_scheduled_then_rescheduled_activity_sms_arrive_once_at_their_time(client, database, owner_sql,
                                                                                 sms_gateway):
    await load_demo(database)
    station_id, = (await owner_sql("SELECT id FROM stations WHERE name = $1", STATION))[0]
    deputies = await owner_sql(
        "SELECT d.id, d.mobile FROM station_deputies sd JOIN deputies d ON d.tenant_id = sd.tenant_id "
        "AND d.id = sd.deputy_id WHERE sd.station_id = $1 AND sd.ended_at IS NULL AND d.mobile IS NOT NULL", station_id)
    assert len(deputies) >= 2
    mobiles = sorted(m for _, m in deputies)
    kind_id, = (await owner_sql("SELECT k.id FROM activity_kinds k JOIN tenants t ON t.id = k.tenant_id "
                                "WHERE t.slug = 'santai' AND k.code = 'reception'"))[0]
    today = datetime.now(TZ).date()
    r = await login(client, "santai-admin", DEMO_PASSWORD)
    assert r.status_code in (302, 303)
    form = {"station": str(station_id), "kind_id": str(kind_id), "day": str(today + timedelta(days=5)),
            "start": "10:00", "end": "11:30", "place": "北坝村村委会", "topic": "听取村民意见",
            "deputy_ids": [str(d) for d, _ in deputies]}
    r = await post(client, "/t/santai/activities/new", form, page="/t/santai/activities/new")
    assert r.status_code == 303, r.text
    activity_id = int(r.headers["location"].split("/activities/")[1].split("?")[0])

    channels = Channels(sms=HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络"))
    first_due = nine(today + timedelta(days=2))  # three days before, 09:00 in the county
    await sweep(database, now=first_due - timedelta(minutes=1), channels=channels)
    assert await activity_messages(owner_sql, sms_gateway, activity_id) == []

    # moved two days later before the SMS went out: the old reminders are withdrawn, new ones wait
    r = await post(client, f"/t/santai/activities/{activity_id}/reschedule",
                   {"day": str(today + timedelta(days=7)), "start": "10:00", "end": "11:30", "reason": "村委会换届"},
                   page=f"/t/santai/activities/{activity_id}")
    assert r.status_code == 303, r.text
    withdrawn = await owner_sql("SELECT kind, due_at FROM outbox WHERE subject = $1 AND status = 'withdrawn'",
                                f"activity:{activity_id}")
    assert ("activity_sms", first_due) in {(k, d) for k, d in withdrawn}

    await sweep(database, now=first_due, channels=channels)
    # at the old time only the notice of the move has gone out, one per deputy
    assert await activity_messages(owner_sql, sms_gateway, activity_id) == sorted(
        ("activity_moved", m) for m in mobiles)

    new_due = nine(today + timedelta(days=4))
    await sweep(database, now=new_due - timedelta(minutes=1), channels=channels)
    assert len(await activity_messages(owner_sql, sms_gateway, activity_id)) == len(mobiles)
    for _ in range(2):  # a second sweep at the same time sends nothing again
        await sweep(database, now=new_due, channels=channels)
    got = await activity_messages(owner_sql, sms_gateway, activity_id)
    assert got == sorted([("activity_moved", m) for m in mobiles] + [("activity_sms", m) for m in mobiles])
    texts = [m for m in sms_gateway.messages() if m["template"] == "LIANLUO_ACTIVITY_SMS" and m["mobile"] in mobiles]
    targets = [await target_of(database, m["params"]["link"]) for m in texts]
    assert any(t and t.startswith("/signin/") for t in targets)
