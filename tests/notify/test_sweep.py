"""The sweep against the local fake SMS gateway (a real HTTP server in a subprocess, which, like the real
provider, sends every request it accepts): due messages reach the gateway once, at the right time;
quiet hours, the SMS quota, retries with backoff, permanent failures, a worker that died mid-send, a
send whose outcome is unknown (checked with the provider, never sent blindly again), delivery
receipts, the provider's documented errors. The clock is moved by passing `now=`."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from app.core.db import Database, query_counter
from app.notify import outbox
from app.notify.models import Delivery, Outbox
from app.notify.sms import HttpSmsProvider
from app.notify.sweep import MAX_ATTEMPTS, STALE_AFTER, TELL_AFTER_ATTEMPTS, Channels, _claim, backoff, sweep
from app.tenancy.models import Tenant
from tests.activities.world import build_activity_county
from tests.notify.reliability_helpers import no_quiet_hours
from tests.notify.test_outbox import set_config

# 10:00 in Shanghai on a Friday
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


async def live(database, ac) -> datetime:
    """Tests that ask the provider about a message run on today's date: the fake gateway, like the
    real one, files each message under the day it received it (quiet hours off: any hour will do)."""
    await no_quiet_hours(database, ac.tenant.id)
    return datetime.now(timezone.utc)


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


async def test_gateway_errors_are_retried_with_backoff_and_the_county_admin_is_told_at_the_third(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["13900000001"])
    sms_gateway.mode("error500")
    ch = channels(sms_gateway)
    at = NOW
    try:
        for attempt in range(1, MAX_ATTEMPTS):
            assert (await sweep(database, now=at, channels=ch)) == {"sent": 0, "retry": 1, "failed": 0, "skipped": 0}
            [row] = await rows(database, t, kind="case_receipt")
            assert (row.status, row.attempts, row.next_attempt_at) == ("pending", attempt, at + backoff(attempt))
            # told after the third failed attempt (about 6 minutes), not only when it is given up
            told = await rows(database, t, kind="delivery_failed")
            assert len(told) == (1 if attempt >= TELL_AFTER_ATTEMPTS else 0)
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


async def test_a_send_that_timed_out_unaccepted_is_sent_again_only_once_the_provider_has_no_record(
        database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["13900000001"])
    sms_gateway.mode("timeout", times=1)  # held and never kept by the gateway
    ch = channels(sms_gateway, timeout=0.5)
    try:
        assert (await sweep(database, now=NOW, channels=ch))["checking"] == 1
        [row] = await rows(database, t)
        assert row.status == "checking" and "outcome unknown" in row.last_error
        # asked: no record yet, but the provider may not know it yet: not sent again
        await sweep(database, now=NOW + timedelta(seconds=30), channels=ch)
        assert (await rows(database, t))[0].status == "checking" and sms_gateway.requests() == 1
        # the grace is over and the provider still has no record: sent again, once
        assert (await sweep(database, now=NOW + timedelta(seconds=61), channels=ch))["sent"] == 1
        assert sms_gateway.requests() == 2 and len(sms_gateway.messages()) == 1
    finally:
        await ch.aclose()
    [row] = await rows(database, t)
    assert (row.status, row.attempts) == ("sent", 2)
    assert [(d.attempt, d.result) for d in await deliveries(database, t)] == [(1, "retry"), (2, "sent")]


async def test_a_reply_after_the_clients_timeout_is_found_by_asking_and_never_sent_again(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    now = await live(database, ac)
    await receipts(database, t, ["13900000001", "13900000002"], due=now)
    sms_gateway.mode("late", delay_ms=1500)  # accepted at once, answered after the client gave up
    ch = channels(sms_gateway, timeout=0.5)
    try:
        assert (await sweep(database, now=now, channels=ch))["checking"] == 2
        sms_gateway.mode("ok")
        counts = await sweep(database, now=now + timedelta(seconds=10), channels=ch)
        assert counts["delivered"] == 2 and counts["sent"] == 0
        for later in (timedelta(minutes=2), timedelta(hours=2)):
            await sweep(database, now=now + later, channels=ch)
    finally:
        await ch.aclose()
    assert sms_gateway.requests() == 2 and len(sms_gateway.messages()) == 2
    got = await rows(database, t)
    assert {(r.status, r.receipt, r.attempts) for r in got} == {("sent", "delivered", 1)}
    assert [d.result for d in await deliveries(database, t)] == ["sent", "sent"]


async def test_when_the_provider_cannot_say_the_row_waits_for_staff_and_the_admins_are_told(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["13900000001"])
    sms_gateway.mode("late", delay_ms=1500, query="error")
    ch = channels(sms_gateway, timeout=0.5)
    try:
        await sweep(database, now=NOW, channels=ch)
        for minutes in (1, 2, 3, 4):  # asked again each minute, never sent again
            await sweep(database, now=NOW + timedelta(minutes=minutes), channels=ch)
            assert (await rows(database, t, kind="case_receipt"))[0].status == "checking"
        assert (await sweep(database, now=NOW + timedelta(minutes=5, seconds=1), channels=ch))["unknown"] == 1
        for days in (1, 2):
            await sweep(database, now=NOW + timedelta(days=days), channels=ch)
    finally:
        await ch.aclose()
    assert sms_gateway.requests() == 1
    [row] = await rows(database, t, kind="case_receipt")
    assert row.status == "unknown" and "could not say" in row.last_error
    [notice] = await rows(database, t, kind="delivery_failed")
    assert notice.user_id == ac.users["admin"].id and "139****0001" in notice.body


async def test_receipts_turn_accepted_into_delivered_or_failed_on_the_handset(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    now = await live(database, ac)
    sms_gateway.mode("ok", receipt_delay_ms=3_600_000)  # the receipts come later
    await receipts(database, t, ["13900000001"], due=now)
    ch = channels(sms_gateway)
    try:
        assert (await sweep(database, now=now, channels=ch))["sent"] == 1
        sms_gateway.mode("ok", receipt="failed", receipt_delay_ms=0)  # this one fails on the handset
        await receipts(database, t, ["13900000002"], subject="case:2", due=now)
        assert (await sweep(database, now=now, channels=ch))["sent"] == 1
        [first, second] = await rows(database, t, kind="case_receipt")
        assert (first.status, first.receipt, second.status, second.receipt) == ("sent", None, "sent", None)
        # asked for the receipts: still waiting for the first; the second failed on the handset
        counts = await sweep(database, now=now + timedelta(minutes=1), channels=ch)
        assert counts["failed"] == 1
        [first, second] = await rows(database, t, kind="case_receipt")
        assert (first.status, first.receipt) == ("sent", None) and first.receipt_check_at is not None
        assert (second.status, second.receipt) == ("failed", "failed") and "MK:0001" in second.last_error
        assert len(await rows(database, t, kind="delivery_failed")) == 1
    finally:
        await ch.aclose()
    assert sms_gateway.requests() == 2


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
    now = await live(database, ac)
    await receipts(database, t, ["13900000001", "13900000002"], due=now)
    stale = STALE_AFTER
    # a worker claims both, reaches the gateway with the first, and dies before recording anything
    _config, claimed, _ = await _claim(database, t, now, 200)
    first = HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络")
    try:
        await first.send(mobile=claimed[0].address, template="LIANLUO_CASE_RECEIPT", params=claimed[0].params,
                         text=claimed[0].body, reference=f"{t}-{claimed[0].id}")
    finally:
        await first.aclose()
    ch = channels(sms_gateway)
    try:
        # still claimed: nobody else takes them yet
        assert (await sweep(database, now=now + stale - timedelta(seconds=1), channels=ch))["sent"] == 0
        counts = await sweep(database, now=now + stale + timedelta(seconds=1), channels=ch)
        assert (counts["delivered"], counts["sent"]) == (1, 1)  # found at the provider; sent now
    finally:
        await ch.aclose()
    # the provider was asked: it has the first (not sent again), not the second (sent now)
    assert sorted(m["mobile"] for m in sms_gateway.messages()) == ["13900000001", "13900000002"]
    assert sms_gateway.requests() == 2
    got = {r.address: r for r in await rows(database, t)}
    assert [(got[m].status, got[m].attempts) for m in ("13900000001", "13900000002")] == [("sent", 1), ("sent", 2)]
    assert [(d.outbox_id, d.attempt, d.result) for d in await deliveries(database, t)] == [
        (got["13900000001"].id, 1, "sent"), (got["13900000002"].id, 1, "retry"), (got["13900000002"].id, 2, "sent")]


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


async def test_the_statements_per_message_stay_a_small_constant(database, sms_gateway):
    """Each outcome is written as soon as it is known (a worker that stops loses none), so statements
    grow with the messages, but by a few per message, never by a query per recipient or per row read."""
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
        few, many = await counted(3, "case:1"), await counted(60, "case:2")
        assert (many - few) / 57 <= 5
    finally:
        await ch.aclose()


# --- the provider's documented errors ---------------------------------------------------------------

async def test_throttling_is_retried_soon_and_a_daily_limit_waits_for_the_next_day(database, sms_gateway):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["13900000001"])
    ch = channels(sms_gateway)
    try:
        sms_gateway.mode("throttle", times=1)  # HTTP 400 Throttling.Api: transient all the same
        assert (await sweep(database, now=NOW, channels=ch))["retry"] == 1
        [row] = await rows(database, t)
        assert (row.status, row.next_attempt_at) == ("pending", NOW + backoff(1)) and "Throttling.Api" in row.last_error
        sms_gateway.mode("day_limit")
        at = row.next_attempt_at
        assert (await sweep(database, now=at, channels=ch))["retry"] == 1
        [row] = await rows(database, t)
        # midnight in Shanghai (then the county's quiet hours hold it until the morning), not 5 tries today
        assert (row.status, row.next_attempt_at) == ("pending", datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc))
        for minutes in (1, 5, 60, 300):
            await sweep(database, now=at + timedelta(minutes=minutes), channels=ch)
        assert sms_gateway.requests() == 2
        for day in range(1, 6):  # the limit again and again: it waits, it does not fail
            await sweep(database, now=NOW + timedelta(days=day), channels=ch)
        [row] = await rows(database, t, kind="case_receipt")
        assert row.status == "pending" and await rows(database, t, kind="delivery_failed") == []
        sms_gateway.mode("ok")
        assert (await sweep(database, now=NOW + timedelta(days=6), channels=ch))["sent"] == 1
    finally:
        await ch.aclose()


async def provider_row(owner_sql) -> dict | None:
    found = await owner_sql("SELECT held_since, held_code, probe_at FROM sms_provider_status")
    return dict(found[0]) if found else None


async def alerts(owner_sql) -> list[tuple[str, bool]]:
    return [(r["kind"], r["resolved_at"] is None) for r in await owner_sql(
        "SELECT kind, resolved_at FROM platform_alerts ORDER BY id")]


async def test_arrears_hold_every_sms_of_the_platform_until_a_probe_succeeds(database, owner_sql, sms_gateway):
    from tests.factories import make_tenant

    tenants = [(await make_tenant(database, f"arrears{n}")).id for n in range(2)]
    for n, t in enumerate(tenants):
        await receipts(database, t, [f"1390000{n}{i:03d}" for i in range(3)])
    ch = channels(sms_gateway)
    try:
        sms_gateway.mode("arrears")
        await sweep(database, now=NOW, channels=ch)
        refused = sms_gateway.requests()
        assert (await provider_row(owner_sql))["held_code"] == "isv.AMOUNT_NOT_ENOUGH"
        assert await alerts(owner_sql) == [("sms_account_held", True)]  # for the operator's console
        for t in tenants:
            assert {r.status for r in await rows(database, t)} == {"pending"}  # held, not dropped
        sms_gateway.mode("ok")  # topped up; nobody has told us yet
        for minutes in (1, 5, 9):
            await sweep(database, now=NOW + timedelta(minutes=minutes), channels=ch)
        assert sms_gateway.requests() == refused  # no SMS at all while held
        # the probe: one SMS; it goes through, so the hold ends and the alert is resolved
        await sweep(database, now=NOW + timedelta(minutes=10), channels=ch)
        assert sms_gateway.requests() == refused + 1
        assert (await provider_row(owner_sql))["held_since"] is None
        assert await alerts(owner_sql) == [("sms_account_held", False)]
        await sweep(database, now=NOW + timedelta(minutes=10), channels=ch)
    finally:
        await ch.aclose()
    assert len(sms_gateway.messages()) == 6 and len({m["mobile"] for m in sms_gateway.messages()}) == 6
    for t in tenants:
        assert {r.status for r in await rows(database, t)} == {"sent"}
        assert await rows(database, t, kind="delivery_failed") == []


async def test_an_operator_lifts_the_hold(database, owner_sql, sms_gateway):
    from app.notify import provider_status

    ac = await build_activity_county(database)
    t = ac.tenant.id
    await receipts(database, t, ["13900000001", "13900000002"])
    ch = channels(sms_gateway)
    try:
        sms_gateway.mode("out_of_service", times=2)
        await sweep(database, now=NOW, channels=ch)
        assert (await provider_row(owner_sql))["held_code"] == "isv.OUT_OF_SERVICE"
        async with database.transaction() as db:
            assert await provider_status.lift(db, NOW + timedelta(minutes=1))
        await sweep(database, now=NOW + timedelta(minutes=1), channels=ch)
    finally:
        await ch.aclose()
    assert {r.status for r in await rows(database, t, kind="case_receipt")} == {"sent"}
    assert await alerts(owner_sql) == [("sms_account_held", False)]
