"""The worker on the Citus cluster (issue 21): its cross-county functions (migration 0044, owned by the
sweep role) find every county with work in one statement sent to every shard, and the reminders of
an activity reach the deputies' phones through the fake SMS gateway — once. Until 0044 those
functions bound each county with set_config, which stays on the coordinator: on the cluster, with the
non-superuser owner deploy/README.md installs with, they found nothing and no reminder ever went out."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from app.core.db import every_county
from app.notify.sms import HttpSmsProvider
from app.notify.sweep import Channels, sweep
from tests.notify.conftest import sms_gateway, sms_gateway_process  # noqa: F401

pytestmark = pytest.mark.citus


def nine_local(start: datetime, days_before: int) -> datetime:
    from tests.activities.world import TZ

    return datetime.combine(start.astimezone(TZ).date() - timedelta(days=days_before), time(9), tzinfo=TZ)


async def _call(database, statement: str, params: dict | None = None) -> list:
    async with database.transaction() as db:  # the worker's own call: no county bound
        return (await every_county(db, statement, params)).all()


async def test_an_activitys_reminders_reach_the_phones_once_and_only_its_county_is_visited(
        citus_database, sms_gateway, coordinator_sql):
    from tests.activities.world import build_activity_county
    from tests.notify.test_activity_reminders import schedule

    busy = await build_activity_county(citus_database, "cz-remind")
    idle = await build_activity_county(citus_database, "cz-idle")
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=6)
    activity_id = await schedule(citus_database, busy, start=start, now=datetime.now(timezone.utc))
    due = nine_local(start, 3)
    shards = {r["nodeport"] for r in await coordinator_sql(
        "SELECT DISTINCT nodeport FROM citus_shards WHERE table_name = 'outbox'::regclass")}
    assert len(shards) == 2  # the outbox's shards lie on both workers

    ours = {busy.tenant.id, idle.tenant.id}  # other tests' counties share this database

    async def due_counties(at: datetime) -> set[int]:
        found = await _call(citus_database, "SELECT tenant_id FROM outbox_due_tenants(:at, interval '5 minutes')",
                            {"at": at})
        return {t for (t,) in found} & ours

    assert await due_counties(due - timedelta(minutes=1)) == set()
    assert await due_counties(due) == {busy.tenant.id}

    channels = Channels(sms=HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络"))
    await sweep(citus_database, now=due - timedelta(minutes=1), channels=channels, tenant_ids=ours)
    assert sms_gateway.messages() == []
    for _ in range(2):  # the second pass finds the rows sent and sends nothing again
        await sweep(citus_database, now=due, channels=channels, tenant_ids=ours)
    phones = sorted(m["mobile"] for m in sms_gateway.messages())
    # 张伟 and 李娜 have mobiles (王强 none): the three-days-ahead SMS, one each
    assert phones == ["13800000001", "13800000002"], phones
    sent = await coordinator_sql("SELECT count(*) FROM outbox WHERE tenant_id = $1 AND subject = $2 "
                                 "AND channel = 'sms' AND status = 'sent'", busy.tenant.id, f"activity:{activity_id}")
    assert sent == [(2,)]
    assert not await coordinator_sql("SELECT 1 FROM outbox WHERE tenant_id = $1", idle.tenant.id)


async def test_the_cross_county_functions_read_every_county_on_the_cluster(citus_database):
    """Each county's figures come back from the shard it lives on, in one call."""
    from tests.activities.world import build_activity_county

    one = await build_activity_county(citus_database, "cz-usage1")
    two = await build_activity_county(citus_database, "cz-usage2")
    usage = {row.tenant_id: row for row in await _call(
        citus_database, "SELECT tenant_id, members, stations, deputies, open_cases FROM platform_tenant_usage()")}
    for county in (one, two):
        row = usage[county.tenant.id]
        assert row.members > 0 and row.stations > 0 and row.deputies == len(county.deputies) == 4
    due = {t for (t,) in await _call(citus_database, "SELECT tenant_id FROM compliance_due_tenants(now())")}
    assert {one.tenant.id, two.tenant.id} <= due  # no verdicts computed yet for either
    assert await _call(citus_database, "SELECT * FROM import_jobs_waiting(interval '5 minutes')") == []


async def test_a_closed_county_is_deleted_from_its_shard_and_a_member_elsewhere_keeps_the_account(
        citus_database, coordinator_sql):
    """The worker's deletion of a closed county (delete_tenant_data, 0045: bound with SET LOCAL): its
    rows go from its shard; of its members, the one who is also a member of another county — whose
    membership lives on that county's shard — keeps the account, the other is anonymised."""
    from app.data import closing
    from tests.factories import add_member, make_tenant, make_user

    closed = await make_tenant(citus_database, "cz-closed", nodes=[("关闭镇", "township")])
    kept = await make_tenant(citus_database, "cz-kept", nodes=[("留存镇", "township")])
    alone = await make_user(citus_database, "cz-closed-only")
    both = await make_user(citus_database, "cz-closed-and-kept")
    await add_member(citus_database, closed, alone)
    await add_member(citus_database, closed, both)
    await add_member(citus_database, kept, both)
    await coordinator_sql("UPDATE tenants SET status = 'suspended', deletion_due_at = now() - interval '1 minute' "
                          "WHERE id = $1", closed.id)

    assert closed.id in await closing.delete_due(citus_database)

    count = "SELECT count(*) FROM {} WHERE tenant_id = $1"
    for table in ("admin_nodes", "memberships"):
        assert await coordinator_sql(count.format(table), closed.id) == [(0,)], table
        assert (await coordinator_sql(count.format(table), kept.id))[0][0] > 0, table
    names = dict(await coordinator_sql("SELECT id, username FROM users WHERE id = ANY($1::bigint[])",
                                       [alone.id, both.id]))
    assert names == {alone.id: f"deleted:{alone.id}", both.id: "cz-closed-and-kept"}
