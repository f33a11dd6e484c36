"""Reminders are never lost and never sent twice (issue 6, DESIGN.md "Jobs and reminders"; issue 15),
proven against real processes: the worker (`python -m app worker`) killed with SIGKILL mid-batch and
restarted, stopped with SIGTERM mid-sweep (a routine deploy), cut off from PostgreSQL mid-sweep, two
workers at once, Redis flushed and Redis stopped under the web app and the worker, and the fake SMS
gateway answering 500, throttling, answering in 4.6 s, answering after the client's timeout or
refusing a number. The gateway, like the real provider, sends every request it accepts whatever its
reference, so what counts is what a recipient would notice: the requests it accepted (never two for
one reference, never the same text to the same number twice), and what the county's staff see (failed
and unknown rows, the county admin's in-app notice). The worker runs on the wall clock (quiet hours
are switched off for its tenants); the retry schedule is walked by calling `sweep(now=...)` directly.
Every wait for something to happen polls with a deadline (the one fixed pause is how long Redis stays
away); the file runs in about three and a half minutes, two of them the 4.6 s provider's 200 SMS."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.core.db import Database, query_counter
from app.core.security import mask_mobile
from app.notify.models import Delivery, Outbox
from app.notify.sms import HttpSmsProvider
from app.notify.sweep import Channels, sweep
from tests.factories import add_member, csrf_from, login, make_tenant, make_user
from tests.notify.reliability_helpers import (
    RedisServer, Written, check_once, due_sms, no_quiet_hours, open_rows, statuses, wait_for, worker, worker_env)

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai: no quiet hours
RECEIPT = "LIANLUO_CASE_RECEIPT"  # the default template code of case_receipt


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A private Redis for the workers of this file (never the shared server's databases)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def procs():
    """Processes a test starts; whatever is still running at its end is stopped."""
    started = []

    def add(proc):
        started.append(proc)
        return proc.start()

    yield add
    for proc in reversed(started):
        proc.stop(timeout=5)


def fresh_db(redis_server, db: int) -> str:
    assert redis_server.command("FLUSHDB", db=db).startswith(b"+OK")
    return redis_server.url(db)


async def tenants_with_due_sms(database, prefix: str, tenants: int, each: int) -> Written:
    written = Written()
    for n in range(tenants):
        t = (await make_tenant(database, f"{prefix}{n}")).id
        await no_quiet_hours(database, t)
        written.extend(await due_sms(database, t, n, each))
    return written


def all_sent(owner_sql, written):
    async def check():
        return await open_rows(owner_sql, written) == 0
    return check


# --- the worker killed, two workers, Redis flushed ------------------------------------------------

async def count_when_still(sms_gateway) -> int:
    """The gateway's message count once it has stopped changing (for a second)."""
    last = -1
    while (now := len(sms_gateway.messages())) != last:
        last = now
        await asyncio.sleep(1)
    return now


async def test_worker_killed_mid_batch_then_restarted_delivers_each_once(
        database, settings, owner_sql, sms_gateway, redis_server, procs, tmp_path):
    written = await tenants_with_due_sms(database, "kill", 3, 100)
    sms_gateway.mode("slow", delay_ms=100)  # a batch takes seconds: there is a middle to kill it in
    env = worker_env(settings, fresh_db(redis_server, 1), sms_gateway, tmp_path)
    first = procs(worker("worker-1", env, tmp_path))
    await wait_for(lambda: len(sms_gateway.messages()) >= 20, timeout=60, what="the first SMS at the gateway",
                   logs=[first])
    first.kill()
    at_kill = await count_when_still(sms_gateway)  # requests already on the wire still land after the kill
    assert at_kill < 300, "the batch finished before the kill: the test proves nothing"
    assert (await statuses(owner_sql, written))["sending"] > 0  # claimed, partly sent, never recorded

    sms_gateway.mode("ok")
    second = procs(worker("worker-2", env, tmp_path))
    await wait_for(all_sent(owner_sql, written), timeout=90, what="every row sent after the restart",
                   logs=[second, first])
    assert check_once(sms_gateway.messages(), written) == []
    assert len(sms_gateway.messages()) == 300
    assert await statuses(owner_sql, written) == {"sent": 300}
    # a row records the gateway's id for its message (one found by asking the provider has none:
    # QuerySendDetails does not return it)
    by_ref = {m["out_id"]: m["biz_id"] for m in sms_gateway.messages()}
    rows = await owner_sql("SELECT tenant_id, id, provider_id FROM outbox WHERE channel = 'sms'")
    assert all(r["provider_id"] in (None, by_ref[f"{r['tenant_id']}-{r['id']}"]) for r in rows)
    assert sum(r["provider_id"] is not None for r in rows) >= 300 - at_kill


async def test_two_workers_at_once_send_nothing_twice(
        database, settings, owner_sql, sms_gateway, redis_server, procs, tmp_path):
    written = await tenants_with_due_sms(database, "two", 3, 100)
    sms_gateway.mode("slow", delay_ms=20)
    # Each worker its own Redis database, so both crons fire and both sweep the same rows; claims
    # are not taken over while fresh (60 s), so a second request for a row would be a double send.
    a = procs(worker("worker-a", worker_env(settings, fresh_db(redis_server, 2), sms_gateway, tmp_path, 60), tmp_path))
    b = procs(worker("worker-b", worker_env(settings, fresh_db(redis_server, 3), sms_gateway, tmp_path, 60), tmp_path))
    await wait_for(all_sent(owner_sql, written), timeout=60, what="every row sent", logs=[a, b])
    assert check_once(sms_gateway.messages(), written) == []
    assert sms_gateway.requests() == 300  # not even a repeat with the same reference
    attempts = await owner_sql("SELECT count(*) AS n, max(attempt) AS top FROM deliveries")
    assert (attempts[0]["n"], attempts[0]["top"]) == (300, 1)


async def test_two_sweeps_at_once_claim_each_row_once(database, settings, owner_sql, sms_gateway):
    """The same race in one process, on two connection pools: SKIP LOCKED hands each row to one."""
    written = Written()
    for n in range(2):
        t = (await make_tenant(database, f"race{n}")).id
        written.extend(await due_sms(database, t, n, 150, due_at=NOW - timedelta(minutes=5)))
    sms_gateway.mode("slow", delay_ms=10)
    other = Database(settings)
    sms = HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络")
    try:
        await asyncio.gather(*(sweep(db, now=NOW, channels=Channels(sms=sms), batch=50) for db in (database, other)))
        for _ in range(10):  # whatever one pass left (batch 50): further passes until nothing is due
            if not await open_rows(owner_sql, written):
                break
            await sweep(database, now=NOW, channels=Channels(sms=sms), batch=50)
    finally:
        await other.dispose()
        await sms.aclose()
    assert await statuses(owner_sql, written) == {"sent": 300}
    assert check_once(sms_gateway.messages(), written) == []
    assert sms_gateway.requests() == 300


async def test_redis_flushed_while_the_worker_runs_still_delivers_once(
        database, settings, owner_sql, sms_gateway, redis_server, procs, tmp_path):
    written = await tenants_with_due_sms(database, "flush", 2, 100)
    sms_gateway.mode("slow", delay_ms=100)
    w = procs(worker("worker", worker_env(settings, fresh_db(redis_server, 4), sms_gateway, tmp_path), tmp_path))
    await wait_for(lambda: len(sms_gateway.messages()) >= 10, timeout=60, what="the first SMS", logs=[w])
    redis_server.command("FLUSHALL")  # every queued job, cron lock and result is gone
    # and more falls due after the flush
    t = (await owner_sql("SELECT id FROM tenants WHERE slug = 'flush0'"))[0]["id"]
    written.extend(await due_sms(database, t, 0, 50, start=1000))
    sms_gateway.mode("ok")
    await wait_for(all_sent(owner_sql, written), timeout=60, what="every row sent after FLUSHALL", logs=[w])
    assert check_once(sms_gateway.messages(), written) == []
    assert len(sms_gateway.messages()) == 250
    assert w.alive


# --- faults mid-sweep: every request the gateway accepted counts --------------------------------------
# The gateway, like the real provider, sends every request it accepts (whatever its reference): these
# tests count accepted requests, so a message sent twice shows, and a row recorded "sent" twice in
# our tables cannot hide it.

async def settled_once(owner_sql, sms_gateway, written: Written, *, logs, timeout: float = 120) -> None:
    """Every row sent, every message accepted exactly once, no number given the same text twice."""
    await wait_for(all_sent(owner_sql, written), timeout=timeout, what="every row settled", logs=logs)
    assert check_once(sms_gateway.messages(), written) == []
    assert sms_gateway.state()["repeats"] == {}
    assert await statuses(owner_sql, written) == {"sent": len(written.rows)}


async def test_sigterm_mid_sweep_records_what_was_sent_and_nothing_goes_twice(
        database, settings, owner_sql, sms_gateway, redis_server, procs, tmp_path):
    """A routine deploy: arq cancels the running job on SIGTERM. The sends under way finish and are
    recorded before the worker exits; the rows not yet sent go back to the queue."""
    written = await tenants_with_due_sms(database, "term", 2, 75)
    sms_gateway.mode("slow", delay_ms=300)
    env = worker_env(settings, fresh_db(redis_server, 1), sms_gateway, tmp_path)
    first = procs(worker("worker-1", env, tmp_path))
    await wait_for(lambda: len(sms_gateway.messages()) >= 20, timeout=60, what="the first SMS", logs=[first])
    first.signal(signal.SIGTERM)
    first.popen.wait(timeout=60)
    accepted = len(sms_gateway.messages())
    assert accepted < 150, "the sweep finished before the signal: the test proves nothing"
    # nothing is left claimed or in doubt: what went out is recorded, the rest waits
    left = await statuses(owner_sql, written)
    assert set(left) <= {"sent", "pending"} and left["sent"] == accepted, (left, accepted)
    sms_gateway.mode("ok")
    second = procs(worker("worker-2", env, tmp_path))
    await settled_once(owner_sql, sms_gateway, written, logs=[second, first])


async def test_postgres_away_mid_sweep_delivers_each_once(
        database, settings, owner_sql, sms_gateway, redis_server, procs, tmp_path):
    """PostgreSQL unreachable for a while mid-sweep (the worker's connections cut and new ones refused):
    sends that could not be recorded are found by asking the provider, not sent again."""
    written = await tenants_with_due_sms(database, "pgaway", 2, 100)
    # the connections open now are this test process's (the web app's pool has no ping: cutting them
    # would cost a later test a 503); the worker's are the ones opened after
    ours = [r["pid"] for r in await owner_sql("SELECT pid FROM pg_stat_activity "
                                              "WHERE datname = current_database() AND usename = $1",
                                              settings.app_role)]
    sms_gateway.mode("slow", delay_ms=150)
    w = procs(worker("worker", worker_env(settings, fresh_db(redis_server, 2), sms_gateway, tmp_path), tmp_path))
    await wait_for(lambda: len(sms_gateway.messages()) >= 20, timeout=60, what="the first SMS", logs=[w])
    role = settings.app_role
    db_name = (await owner_sql("SELECT current_database() AS name"))[0]["name"]
    await owner_sql(f"REVOKE CONNECT ON DATABASE {db_name} FROM PUBLIC, {role}")
    try:
        await owner_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND usename = $1 AND pid <> ALL($2::int[])", role, ours)
        before = len(sms_gateway.messages())
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            await owner_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND usename = $1 AND pid <> ALL($2::int[])", role, ours)
            await asyncio.sleep(0.2)
    finally:
        await owner_sql(f"GRANT CONNECT ON DATABASE {db_name} TO PUBLIC, {role}")
    assert before < 200, "the sweep finished before PostgreSQL went away: the test proves nothing"
    sms_gateway.mode("ok")
    await settled_once(owner_sql, sms_gateway, written, logs=[w])
    assert w.alive


async def test_a_provider_answering_in_four_and_a_half_seconds_delivers_each_once(
        database, settings, owner_sql, sms_gateway, redis_server, procs, tmp_path):
    """200 SMS of one county, each answered after 4.6 s: more than the job's timeout for the whole
    batch. Each outcome is written as it comes back and a pass stops starting sends in time."""
    written = await tenants_with_due_sms(database, "slow", 1, 200)
    sms_gateway.mode("slow", delay_ms=4600)
    w = procs(worker("worker", worker_env(settings, fresh_db(redis_server, 3), sms_gateway, tmp_path, 60),
                     tmp_path))
    await settled_once(owner_sql, sms_gateway, written, logs=[w], timeout=240)


async def test_a_provider_answering_after_the_clients_timeout_delivers_each_once_and_shows_it(
        client, database, settings, owner_sql, sms_gateway, redis_server, procs, tmp_path):
    """The provider accepts each request but answers after the client gave up (5 s): the outcome is
    unknown, the delivery log says so at once, and asking the provider settles every row without a
    second SMS."""
    t, _admin = await county_with_admin(database, "late")
    await no_quiet_hours(database, t)
    written = await due_sms(database, t, 1, 20)
    sms_gateway.mode("late", delay_ms=6000)
    w = procs(worker("worker", worker_env(settings, fresh_db(redis_server, 4), sms_gateway, tmp_path), tmp_path))

    async def unknown_rows():
        return (await statuses(owner_sql, written))["checking"]
    await wait_for(unknown_rows, timeout=60, what="rows whose outcome is unknown", logs=[w])
    client.cookies.set("lang", "en")
    assert (await login(client, "late-admin")).status_code == 303
    log = await client.get("/t/late/notifications/log?status=checking")
    assert log.status_code == 200 and "Outcome unknown: asking the provider" in log.text
    await settled_once(owner_sql, sms_gateway, written, logs=[w])
    assert sms_gateway.requests() == 20
    found = await owner_sql("SELECT receipt, count(*) AS n FROM outbox WHERE channel = 'sms' GROUP BY receipt")
    assert [(r["receipt"], r["n"]) for r in found] == [("delivered", 20)]


# --- Redis stopped under the web app and the worker -----------------------------------------------

async def web_actions(settings, redis_url: str, cc) -> None:
    """A villager's opinion with a mobile on the public form, and an activity in two days arranged by
    the station's staff with 李娜 invited: both answer as usual."""
    from litestar.testing import AsyncTestClient

    from app.main import create_app
    from tests.activities.test_activity_world import form, soon
    from tests.cases.world import EAST
    from tests.deputies.deputy_world import post, signed_in

    app = create_app(dataclasses.replace(settings, redis_url=redis_url))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as public:
        r = await public.post(f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion",
                              data={"content": "东街路灯坏了三盏。", "person_name": "王小明",
                                    "person_mobile": "139 1234 5678", "website": ""})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    async with signed_in(app, cc.county, "station") as staff:
        r = await post(staff, f"{staff.base}/activities/new",
                       form(cc.ac, day=soon(2), deputy_ids=[str(cc.deputies["李娜"])]))
        assert r.status_code == 303, r.text


async def test_redis_stopped_web_actions_succeed_and_receipt_goes_out_once_when_back(
        database, settings, owner_sql, sms_gateway, procs, tmp_path):
    from tests.cases.world import build_case_county

    cc = await build_case_county(database)
    await no_quiet_hours(database, cc.tenant.id)
    expected = {("13912345678", RECEIPT), ("13800000002", "LIANLUO_ACTIVITY_SMS")}
    redis = RedisServer(tmp_path / "redis").start()
    try:
        w = procs(worker("worker", worker_env(settings, redis.url(0), sms_gateway, tmp_path), tmp_path))
        await wait_for(lambda: b":1" in redis.command("EXISTS", "arq:queue:health-check"), timeout=30,
                       what="the worker connected to Redis", logs=[w])
        redis.stop()
        await web_actions(settings, redis.url(0), cc)
        # the reminders are in the outbox, waiting for the worker
        waiting = await owner_sql("SELECT kind, address FROM outbox WHERE channel = 'sms' AND status = 'pending'")
        assert {(r["kind"], r["address"]) for r in waiting} >= {
            ("case_receipt", "13912345678"), ("activity_sms", "13800000002")}
        assert sms_gateway.messages() == []
        await asyncio.sleep(3)  # Redis stays away for a few of the worker's polls

        redis.start()  # back, on the same port, empty
        await wait_for(lambda: expected <= {(m["mobile"], m["template"]) for m in sms_gateway.messages()},
                       timeout=90, what="the receipt and the activity SMS after Redis came back",
                       logs=[w, redis.proc])
        assert w.alive, "the worker must survive Redis going away"
        w.stop()
    finally:
        redis.stop()
    sent = [(m["mobile"], m["template"]) for m in sms_gateway.messages()]
    assert all(sent.count(e) == 1 for e in expected)
    assert len(sent) == len(set(sent))


# --- the gateway fails ----------------------------------------------------------------------------

async def county_with_admin(database, slug: str):
    tenant = await make_tenant(database, slug)
    admin = await make_user(database, f"{slug}-admin")
    await add_member(database, tenant, admin, "county_admin")
    return tenant.id, admin.id


async def row_of(database, tenant_id: int, outbox_id: int) -> Outbox:
    async with database.transaction(tenant_id=tenant_id) as db:
        return await db.get(Outbox, (tenant_id, outbox_id))


async def failure_notices(database, tenant_id: int, user_id: int) -> list[Outbox]:
    async with database.transaction(tenant_id=tenant_id) as db:
        return list(await db.scalars(select(Outbox).where(
            Outbox.kind == "delivery_failed", Outbox.user_id == user_id, Outbox.channel == "inapp",
            Outbox.status == "sent")))


async def attempts_recorded(database, tenant_id: int, outbox_id: int) -> list[str]:
    async with database.transaction(tenant_id=tenant_id) as db:
        return list(await db.scalars(select(Delivery.result).where(Delivery.outbox_id == outbox_id)
                                     .order_by(Delivery.attempt)))


@pytest.mark.parametrize("mode", ["error500", "throttle"])
async def test_gateway_trouble_is_retried_with_backoff_then_failed_and_shown(database, sms_gateway, mode):
    t, admin = await county_with_admin(database, "fail")
    (_, oid), = (await due_sms(database, t, 7, 1, due_at=NOW)).rows
    sms_gateway.mode(mode)
    sms = HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络", timeout=0.5)
    channels = Channels(sms=sms)
    at, gaps = NOW, []
    try:
        for attempt in range(1, 6):
            await sweep(database, now=at, channels=channels)
            row = await row_of(database, t, oid)
            assert row.attempts == attempt
            if row.status == "failed":
                break
            assert row.status == "pending" and row.next_attempt_at > at
            asked = sms_gateway.requests()
            await sweep(database, now=row.next_attempt_at - timedelta(seconds=1), channels=channels)
            assert sms_gateway.requests() == asked  # not before its time
            gaps.append(row.next_attempt_at - at)
            at = row.next_attempt_at
        assert (row.status, row.attempts) == ("failed", 5) and row.last_error
        assert gaps == sorted(gaps) and gaps[-1] > gaps[0]  # backing off
        assert await attempts_recorded(database, t, oid) == ["retry"] * 4 + ["failed"]
        assert sms_gateway.requests() == 5 and sms_gateway.messages() == []
        sms_gateway.mode("ok")
        await sweep(database, now=at + timedelta(days=2), channels=channels)
        assert sms_gateway.requests() == 5  # failed is final (staff may send it again by hand)
    finally:
        await sms.aclose()
    notices = await failure_notices(database, t, admin)
    assert len(notices) == 1
    assert mask_mobile(row.address) in notices[0].body and row.address not in notices[0].body


async def fail_five_times(database, sms_gateway, t: int, oid: int) -> Outbox:
    """Walk a row through its five attempts against a gateway answering 500."""
    sms_gateway.mode("error500", times=5)
    sms = HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络")
    at = NOW
    try:
        for _ in range(5):
            await sweep(database, now=at, channels=Channels(sms=sms))
            row = await row_of(database, t, oid)
            at = row.next_attempt_at
    finally:
        await sms.aclose()
    assert (row.status, row.attempts) == ("failed", 5)
    return row


async def test_failed_sms_is_shown_to_the_county_admin_and_sent_again_once(client, database, sms_gateway):
    t, admin = await county_with_admin(database, "again")
    await no_quiet_hours(database, t)  # sent again on the wall clock below
    (_, oid), = (await due_sms(database, t, 9, 1, due_at=NOW)).rows
    row = await fail_five_times(database, sms_gateway, t, oid)
    client.cookies.set("lang", "en")
    assert (await login(client, "again-admin")).status_code == 303
    log = await client.get("/t/again/notifications/log?status=failed")
    assert log.status_code == 200
    assert mask_mobile(row.address) in log.text and row.address not in log.text
    inbox = await client.get("/t/again/inbox")
    assert inbox.status_code == 200 and mask_mobile(row.address) in inbox.text
    r = await client.post(f"/t/again/notifications/log/{oid}/resend", data={"_csrf_token": csrf_from(log.text)},
                          follow_redirects=False)
    assert r.status_code == 303
    assert (await row_of(database, t, oid)).status == "pending"
    sms = HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络")
    try:
        await sweep(database, channels=Channels(sms=sms))
        await sweep(database, channels=Channels(sms=sms))
    finally:
        await sms.aclose()
    assert (await row_of(database, t, oid)).status == "sent"
    assert [m["out_id"] for m in sms_gateway.messages()] == [f"{t}-{oid}"]


async def test_gateway_500_twice_then_ok_is_sent_once(database, sms_gateway):
    t, admin = await county_with_admin(database, "flaky")
    (_, oid), = (await due_sms(database, t, 8, 1, due_at=NOW)).rows
    sms_gateway.mode("error500", times=2)
    sms = HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络")
    at = NOW
    try:
        for _ in range(3):
            await sweep(database, now=at, channels=Channels(sms=sms))
            row = await row_of(database, t, oid)
            at = row.next_attempt_at
    finally:
        await sms.aclose()
    assert (row.status, row.attempts) == ("sent", 3)
    assert await attempts_recorded(database, t, oid) == ["retry", "retry", "sent"]
    assert [(m["out_id"], m["biz_id"]) for m in sms_gateway.messages()] == [(f"{t}-{oid}", row.provider_id)]
    assert await failure_notices(database, t, admin) == []


async def test_bad_number_fails_at_once_without_retry(database, sms_gateway):
    from app.notify import outbox

    t, admin = await county_with_admin(database, "badnum")
    async with database.transaction(tenant_id=t) as db:
        await outbox.notify(db, tenant_id=t, kind="case_receipt", subject="case:1",
                            recipients=[outbox.person("1380000")], due_at=NOW, params={"code": "X"}, now=NOW)
        oid = await db.scalar(select(Outbox.id))
    sms = HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络")
    try:
        await sweep(database, now=NOW, channels=Channels(sms=sms))
        await sweep(database, now=NOW + timedelta(days=1), channels=Channels(sms=sms))
    finally:
        await sms.aclose()
    row = await row_of(database, t, oid)
    assert (row.status, row.attempts) == ("failed", 1)
    assert await attempts_recorded(database, t, oid) == ["failed"]
    assert sms_gateway.requests() == 1 and sms_gateway.messages() == []
    assert len(await failure_notices(database, t, admin)) == 1


# --- a job always names its tenant ----------------------------------------------------------------

async def test_import_job_without_a_tenant_is_refused_before_any_query(database, settings, redis_server, monkeypatch):
    from arq import create_pool
    from arq.worker import Worker

    from app.core.redis import arq_settings
    from app.jobs import TenantRequired
    from app.jobs.worker import run_import, worker_settings

    counter = [0]
    token = query_counter.set(counter)
    try:
        for bad in (None, "", "abc", 0, -1):
            with pytest.raises(TenantRequired):
                await run_import({"db": database, "settings": settings}, bad, 1)
    finally:
        query_counter.reset(token)
    assert counter[0] == 0

    # and through arq: the job fails, the worker goes on
    url = fresh_db(redis_server, 5)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATABASE_APP_URL", settings.app_database_url)
    monkeypatch.setenv("REDIS_URL", url)
    pool = await create_pool(arq_settings(url))
    try:
        await pool.enqueue_job("run_import", None, 1, _job_id="no-tenant")
        options = {**worker_settings(), "redis_settings": arq_settings(url)}
        options.pop("cron_jobs")
        w = Worker(**options, burst=True, poll_delay=0.05, keep_result=0)
        await w.main()
        await w.close()
    finally:
        await pool.aclose()
    assert (w.jobs_complete, w.jobs_failed) == (0, 1)
