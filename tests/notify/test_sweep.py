"""The sweep against the local fake SMS gateway (a real HTTP server in a subprocess): due messages reach
the gateway once, at the right time; quiet hours, the SMS quota, retries with backoff, permanent
failures, a worker that died mid-send. The clock is moved by passing `now=`."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from app.core.db import Database, query_counter
from app.notify import outbox
from app.notify.models import Delivery, Outbox
from app.notify.sms import HttpSmsProvider
from app.notify.sweep import MAX_ATTEMPTS, Channels, _claim, backoff, sweep
from app.tenancy.models import Tenant
from tests.activities.world import build_activity_county
from tests.notify.test_outbox import set_config

# 10:00 in Shanghai on a Friday
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


def channels(gateway, timeout: float = 2) -> Channels:
    return Channels(sms=HttpSmsProvider(gateway.url, gateway.key_id, gateway.key_secret, "联络", timeout=timeout))


async def receipts(database, tenant_id, mobiles, *, due=NOW, subject="case:1", code="ABC123"):
    """Receipt SMS to people who gave a number (SMS only, no account)."""
    async with database.transaction(tenant_id=tenant_id) as db:
        await outbox.notify(db, tenant_id=tenant_id, kind="case_receipt", subject=subject,
                            recipients=[outbox.person(m) for m in mobiles], due_at=due,
                            params={"code": code, "link": "http://x/p/alpha/lookup"}, now=NOW - timedelta(days=1))


async def rows(database, tenant_id, **where):
    async with database.transaction(tenant_id=tenant_id) as db:
        q = select(Outbox).order_by(Outbox.id)
        for k, v in where.items():
            q = q.where(getattr(Outbox, k) == v)
        return list((await db.scalars(q)).all())


async def deliveries(database, tenant_id):
    async with database.transaction(tenant_id=tenant_id) as db:
        return list((await db.scalars(select(Delivery).order_by(Delivery.outbox_id, Delivery.attempt))).all())


async def test_due_sms_reach_the_gateway_once_with_the_providers_id(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["13900000001", "13900000002"])
    await receipts(database, t, ["13900000003"], due=NOW + timedelta(hours=1), subject="case:2")
    ch = channels(sms_gateway)
    try:
        assert (await sweep(database, now=NOW, channels=ch))["sent"] == 2
        assert (await sweep(database, now=NOW + timedelta(minutes=1), channels=ch))["sent"] == 0
        got = sms_gateway.messages()
        assert sorted(m["mobile"] for m in got) == ["13900000001", "13900000002"]
        assert {m["template"] for m in got} == {"LIANLUO_CASE_RECEIPT"} and got[0]["params"]["code"] == "ABC123"
        sent = await rows(database, t, status="sent")
        assert {f"{t}-{r.id}" for r in sent} == {m["out_id"] for m in got}
        assert {r.provider_id for r in sent} == {m["biz_id"] for m in got}
        assert [(d.attempt, d.result) for d in await deliveries(database, t)] == [(1, "sent"), (1, "sent")]
        # the third falls due an hour later
        assert (await sweep(database, now=NOW + timedelta(hours=1), channels=ch))["sent"] == 1
        assert len(sms_gateway.messages()) == 3 and sms_gateway.requests() == 3
    finally:
        await ch.aclose()


async def test_quiet_hours_hold_sms_until_morning_but_not_the_inbox(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    evening = datetime(2026, 11, 20, 14, 30, tzinfo=timezone.utc)  # 22:30 in Shanghai
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.deputies(db, t, [ac.deputies["张伟"], ac.deputies["李娜"]])
        await outbox.notify(db, tenant_id=t, kind="activity_eve", subject="activity:5", recipients=who,
                            due_at=evening, params={"place": "站里"}, now=NOW)
    ch = channels(sms_gateway)
    try:
        counts = await sweep(database, now=evening, channels=ch)
        assert counts["sent"] == 1  # 张伟's inbox
        assert sms_gateway.messages() == []
        waiting = await rows(database, t, channel="sms")
        morning = datetime(2026, 11, 21, 0, 0, tzinfo=timezone.utc)  # 08:00 in Shanghai
        assert {(r.status, r.next_attempt_at, r.attempts) for r in waiting} == {("pending", morning, 0)}
        assert (await sweep(database, now=morning - timedelta(minutes=1), channels=ch))["sent"] == 0
        assert (await sweep(database, now=morning, channels=ch))["sent"] == 2
        assert sorted(m["mobile"] for m in sms_gateway.messages()) == ["13800000001", "13800000002"]
    finally:
        await ch.aclose()


async def test_gateway_errors_are_retried_with_backoff_then_failed_and_shown_to_the_county_admin(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["13900000001"])
    sms_gateway.mode("error500")
    ch = channels(sms_gateway)
    at = NOW
    try:
        for attempt in range(1, MAX_ATTEMPTS):
            assert (await sweep(database, now=at, channels=ch)) == {"sent": 0, "retry": 1, "failed": 0, "skipped": 0}
            [row] = await rows(database, t)
            assert (row.status, row.attempts, row.next_attempt_at) == ("pending", attempt, at + backoff(attempt))
            # not before the backoff is over
            assert (await sweep(database, now=at + backoff(attempt) - timedelta(seconds=1), channels=ch))["retry"] == 0
            at += backoff(attempt)
        assert (await sweep(database, now=at, channels=ch))["failed"] == 1
        assert (await sweep(database, now=at + timedelta(days=1), channels=ch)) == {
            "sent": 0, "retry": 0, "failed": 0, "skipped": 0}
        assert sms_gateway.requests() == MAX_ATTEMPTS and sms_gateway.messages() == []
        [row] = await rows(database, t, kind="case_receipt")
        assert row.status == "failed" and row.attempts == MAX_ATTEMPTS and "500" in row.last_error
        assert [d.result for d in await deliveries(database, t)] == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
        [notice] = await rows(database, t, kind="delivery_failed")
        assert notice.user_id == ac.users["admin"].id and notice.status == "sent" and notice.channel == "inapp"
        assert "139****0001" in notice.body and "13900000001" not in notice.body
    finally:
        await ch.aclose()


async def test_a_gateway_that_times_out_is_retried(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["13900000001"])
    sms_gateway.mode("timeout", times=1)
    ch = channels(sms_gateway, timeout=0.5)
    try:
        assert (await sweep(database, now=NOW, channels=ch))["retry"] == 1
        [row] = await rows(database, t)
        assert row.last_error == "timeout" and row.status == "pending"
        assert (await sweep(database, now=NOW + backoff(1), channels=ch))["sent"] == 1
        assert len(sms_gateway.messages()) == 1
    finally:
        await ch.aclose()


async def test_a_bad_number_fails_at_once_without_retry(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["1390000"])
    ch = channels(sms_gateway)
    try:
        assert (await sweep(database, now=NOW, channels=ch))["failed"] == 1
        assert (await sweep(database, now=NOW + timedelta(days=1), channels=ch))["failed"] == 0
    finally:
        await ch.aclose()
    [row] = await rows(database, t, kind="case_receipt")
    assert row.status == "failed" and row.attempts == 1 and "MOBILE_NUMBER_ILLEGAL" in row.last_error
    assert sms_gateway.requests() == 1
    assert len(await rows(database, t, kind="delivery_failed")) == 1


async def test_a_worker_that_died_mid_send_is_replaced_and_the_message_goes_once(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["13900000001", "13900000002"])
    stale = timedelta(seconds=300)
    # a worker claims both, reaches the gateway with the first, and dies before recording anything
    _config, claimed, _ = await _claim(database, t, NOW, 200, stale)
    first = HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络")
    try:
        await first.send(mobile=claimed[0].address, template="LIANLUO_CASE_RECEIPT", params=claimed[0].params,
                         text=claimed[0].body, reference=f"{t}-{claimed[0].id}")
    finally:
        await first.aclose()
    ch = channels(sms_gateway)
    try:
        # still claimed: nobody else takes them yet
        assert (await sweep(database, now=NOW + stale - timedelta(seconds=1), channels=ch))["sent"] == 0
        assert (await sweep(database, now=NOW + stale + timedelta(seconds=1), channels=ch))["sent"] == 2
    finally:
        await ch.aclose()
    assert sorted(m["mobile"] for m in sms_gateway.messages()) == ["13900000001", "13900000002"]
    assert sms_gateway.requests() == 3  # the first was sent again, with the same reference
    got = await rows(database, t)
    assert {(r.status, r.attempts) for r in got} == {("sent", 1)}
    assert [(d.attempt, d.result) for d in await deliveries(database, t)] == [(1, "sent"), (1, "sent")]


async def test_sms_beyond_the_monthly_quota_go_to_the_inbox_and_the_county_admin_is_told_once(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    async with database.transaction() as db:
        await db.execute(update(Tenant).where(Tenant.id == t).values(sms_quota=2))
    await receipts(database, t, ["13900000001"])
    for name in ("李娜", "张伟"):  # 张伟's SMS comes last: beyond the quota
        async with database.transaction(tenant_id=t) as db:
            who = await outbox.deputies(db, t, [ac.deputies[name]])
            await outbox.notify(db, tenant_id=t, kind="activity_sms", subject="activity:3", recipients=who,
                                due_at=NOW + timedelta(minutes=5), params={"station": "东街"}, now=NOW)
    ch = channels(sms_gateway)
    try:
        assert (await sweep(database, now=NOW, channels=ch))["sent"] == 1
        counts = await sweep(database, now=NOW + timedelta(minutes=5), channels=ch)
        assert counts["skipped"] == 1 and counts["sent"] == 2  # 李娜's SMS, 张伟's inbox
        # a later SMS this month is skipped too; the admin is not told again
        await receipts(database, t, ["13900000009"], due=NOW + timedelta(days=2), subject="case:9")
        assert (await sweep(database, now=NOW + timedelta(days=2), channels=ch))["skipped"] == 1
    finally:
        await ch.aclose()
    assert len(sms_gateway.messages()) == 2
    skipped = await rows(database, t, status="skipped")
    assert len(skipped) == 2 and {r.last_error for r in skipped} == {"quota"}
    told = await rows(database, t, kind="sms_quota_reached")
    assert [(r.user_id, r.status) for r in told] == [(ac.users["admin"].id, "sent")] and "2" in told[0].body
    assert skipped[0].deputy_id == ac.deputies["张伟"]
    # 张伟 has the message in the inbox once (it was going there anyway), not twice
    [inbox] = await rows(database, t, kind="activity_sms", channel="inapp")
    assert inbox.user_id == ac.users["rep"].id and inbox.status == "sent"


async def test_two_sweeps_at_once_send_each_message_once(database, settings, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, [f"139000000{n:02d}" for n in range(40)])
    sms_gateway.mode("slow", delay_ms=20)
    other = Database(settings)
    ch1, ch2 = channels(sms_gateway), channels(sms_gateway)
    try:
        a, b = await asyncio.gather(sweep(database, now=NOW, channels=ch1, batch=10),
                                    sweep(other, now=NOW, channels=ch2, batch=10))
        while (await sweep(database, now=NOW, channels=ch1, batch=10))["sent"]:
            pass
    finally:
        await ch1.aclose()
        await ch2.aclose()
        await other.dispose()
    assert a["sent"] + b["sent"] == 20
    got = sms_gateway.messages()
    assert len(got) == 40 and len({m["mobile"] for m in got}) == 40 and sms_gateway.requests() == 40


async def test_the_statements_per_tenant_do_not_grow_with_the_rows(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    ch = channels(sms_gateway)

    async def counted(n: int, subject: str) -> int:
        await receipts(database, t, [f"1390000{i:04d}" for i in range(n)], subject=subject)
        counter = [0]
        token = query_counter.set(counter)
        try:
            assert (await sweep(database, now=NOW, channels=ch))["sent"] == n
        finally:
            query_counter.reset(token)
        return counter[0]

    try:
        assert await counted(3, "case:1") == await counted(60, "case:2")
    finally:
        await ch.aclose()
