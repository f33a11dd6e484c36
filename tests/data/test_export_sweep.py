"""Redis only carries the exports' work: an export whose job Redis never got (down when it was asked
for) or lost, and a build whose worker died, are found in PostgreSQL by the worker's sweep and built."""

from __future__ import annotations

import pytest
from arq import create_pool
from arq.worker import Worker
from sqlalchemy import text

from app.core.clock import now as clock_now
from app.core.redis import arq_settings
from app.data import exports
from app.jobs.worker import worker_settings
from tests.data.test_county_data_export import small_world

NO_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
async def empty_queue(settings):
    """Job ids repeat between tests (the tables restart their identities): start from an empty queue."""
    redis = await create_pool(arq_settings(settings.redis_url))
    await redis.flushdb()
    await redis.aclose()


async def run_worker(settings, monkeypatch, keep_result: int = 0) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATABASE_APP_URL", settings.app_database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    options = worker_settings()
    options.pop("cron_jobs")
    worker = Worker(**options, burst=True, poll_delay=0.05, keep_result=keep_result)
    await worker.main()
    await worker.close()


async def county_export(database, w) -> int:
    async with database.transaction(tenant_id=w["tenant"].id) as db:
        return (await exports.request_export(db, tenant_id=w["tenant"].id, actor_id=w["admin"].id)).id


async def statuses(owner_sql) -> list[tuple[int, int, str]]:
    county = await owner_sql("SELECT tenant_id, id, status FROM data_exports ORDER BY tenant_id, id")
    ops = await owner_sql("SELECT subject_tenant_id AS tenant_id, id, status FROM operator_exports ORDER BY id")
    return [(r["tenant_id"], r["id"], r["status"]) for r in county] + [(-r["tenant_id"], r["id"], r["status"])
                                                                         for r in ops]


async def test_exports_asked_for_while_redis_was_down_are_built_when_it_is_back(database, settings, owner_sql,
                                                                               monkeypatch):
    alpha, beta = await small_world(database, "alpha"), await small_world(database, "beta")
    await owner_sql("UPDATE tenants SET status = 'suspended' WHERE id = $1", beta["tenant"].id)  # its last export
    a, b = await county_export(database, alpha), await county_export(database, beta)
    async with database.transaction() as db:
        ops = await exports.request_operator_export(db, tenant_id=alpha["tenant"].id, actor_id=alpha["admin"].id,
                                                    reason="函")
    for tenant_id, export_id, operator in ((alpha["tenant"].id, a, False), (beta["tenant"].id, b, False),
                                           (alpha["tenant"].id, ops.id, True)):
        assert await exports.enqueue(NO_REDIS, tenant_id, export_id, operator=operator) is False
    await run_worker(settings, monkeypatch)  # Redis is back, but holds nothing
    assert {s for *_, s in await statuses(owner_sql)} == {"queued"}
    assert await exports.sweep(database, NO_REDIS) == 0  # still away at the sweep: they stay queued
    assert {s for *_, s in await statuses(owner_sql)} == {"queued"}

    assert await exports.sweep(database, settings.redis_url) == 3
    await run_worker(settings, monkeypatch)

    assert await statuses(owner_sql) == [(alpha["tenant"].id, a, "done"), (beta["tenant"].id, b, "done"),
                                         (-alpha["tenant"].id, ops.id, "done")]
    assert await exports.sweep(database, settings.redis_url) == 0  # nothing left


async def test_a_build_whose_worker_died_is_built_again(database, settings, owner_sql, monkeypatch):
    w = await small_world(database, "alpha")
    t = w["tenant"].id
    export_id = await county_export(database, w)
    # The job ran and its result is still in Redis (arq keeps it an hour): it found the export running
    # already, as a worker that dies mid-build leaves it. The sweep's job must not be taken for it.
    await owner_sql("UPDATE data_exports SET status = 'running', started_at = now() WHERE id = $1", export_id)
    assert await exports.enqueue(settings.redis_url, t, export_id)
    await run_worker(settings, monkeypatch, keep_result=3600)
    assert await exports.sweep(database, settings.redis_url) == 0  # running, not yet stale: left alone

    await owner_sql("UPDATE data_exports SET started_at = now() - interval '31 minutes' WHERE id = $1", export_id)
    assert await exports.sweep(database, settings.redis_url) == 1
    assert (await statuses(owner_sql))[0][2] == "queued"
    await run_worker(settings, monkeypatch, keep_result=3600)
    assert (await statuses(owner_sql))[0][2] == "done"


async def test_a_build_that_keeps_dying_fails_after_a_while(database, settings, owner_sql):
    w = await small_world(database, "alpha")
    export_id = await county_export(database, w)
    await owner_sql("UPDATE data_exports SET status = 'running', started_at = now() - interval '31 minutes', "
                    "created_at = now() - interval '3 hours 1 minute' WHERE id = $1", export_id)
    assert await exports.sweep(database, settings.redis_url) == 0
    [row] = await owner_sql("SELECT status, error FROM data_exports")
    assert (row["status"], row["error"]) == ("failed", "failed")
    redis = await create_pool(arq_settings(settings.redis_url))
    try:
        assert await redis.queued_jobs() == []
    finally:
        await redis.aclose()


async def test_the_listing_needs_the_definer_function_and_reads_each_county_under_its_binding(database, owner_sql):
    alpha, beta = await small_world(database, "alpha"), await small_world(database, "beta")
    a, b = await county_export(database, alpha), await county_export(database, beta)
    before = clock_now() - exports.STALE
    async with database.transaction() as db:  # unbound: row-level security shows no export directly
        assert (await db.execute(text("SELECT count(*) FROM data_exports"))).scalar() == 0
        listed = (await db.execute(text("SELECT tenant_id, export_id FROM data_exports_waiting(:b)"),
                                   {"b": before})).all()
        assert (await db.execute(text("SELECT current_setting('app.tenant_id', true)"))).scalar() in (None, "")
    assert sorted(listed) == sorted([(alpha["tenant"].id, a), (beta["tenant"].id, b)])
    grants = await owner_sql("SELECT grantee FROM information_schema.role_routine_grants "
                             "WHERE routine_name = 'data_exports_waiting' AND privilege_type = 'EXECUTE'")
    assert "PUBLIC" not in {g["grantee"] for g in grants}
