"""A job whose payload names a tenant binds it before its first query, and a payload without a
(valid) tenant is refused before anything runs — also through a real arq worker and Redis."""

from __future__ import annotations

import pytest
from arq import create_pool
from arq.worker import Worker, func
from sqlalchemy import text

from app.core.redis import arq_settings
from app.jobs import TenantRequired, tenant_job
from app.jobs.worker import run_import, worker_settings
from tests.factories import make_tenant


class Untouchable:
    """A ctx["db"] that fails the test if a job uses it."""

    def __getattr__(self, name):
        raise AssertionError(f"the job touched the database ({name}) before checking its tenant")


@tenant_job
async def which_tenant(ctx, tenant_id: int) -> str:
    async with ctx["db"].transaction() as db:  # no tenant named here: the decorator bound it
        return await db.scalar(text("SELECT current_setting('app.tenant_id', true)"))


@pytest.mark.parametrize("payload", [None, "", 0, -3, "abc", "1; DROP TABLE tenants", True, 2**63, 1.5])
async def test_a_payload_without_a_valid_tenant_is_refused_before_any_query(payload):
    with pytest.raises(TenantRequired):
        await run_import({"db": Untouchable()}, payload, 1)


async def test_the_job_runs_bound_to_its_tenant(database):
    tenant = await make_tenant(database, "alpha")
    assert await which_tenant({"db": database}, tenant.id) == str(tenant.id)
    assert await which_tenant({"db": database}, str(tenant.id)) == str(tenant.id)  # as JSON might carry it


async def test_a_job_cannot_open_a_session_for_another_tenant(database):
    @tenant_job
    async def sneaky(ctx, tenant_id: int) -> None:
        async with ctx["db"].transaction(tenant_id=tenant_id + 1):
            pass

    tenant = await make_tenant(database, "alpha")
    with pytest.raises(PermissionError):
        await sneaky({"db": database}, tenant.id)


async def test_the_worker_refuses_an_import_without_a_tenant_and_runs_the_next_job(settings, database, monkeypatch):
    tenant = await make_tenant(database, "alpha")
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATABASE_APP_URL", settings.app_database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    redis = await create_pool(arq_settings(settings.redis_url))
    try:
        await redis.enqueue_job("run_import", None, 7, _job_id=f"import-none-{id(redis)}")
        await redis.enqueue_job("which_tenant", tenant.id, _job_id=f"which-{id(redis)}")
        options = worker_settings()
        options.pop("cron_jobs")
        options["functions"] = [run_import, func(which_tenant, name="which_tenant")]
        worker = Worker(**options, burst=True, poll_delay=0.05, keep_result=5, max_tries=1)
        await worker.main()
        await worker.close()
        results = {r.job_id: r for r in await redis.all_job_results()}
    finally:
        await redis.aclose()
    assert worker.jobs_failed == 1 and worker.jobs_complete == 1
    refused = results[f"import-none-{id(redis)}"]
    assert not refused.success and isinstance(refused.result, TenantRequired)
    assert results[f"which-{id(redis)}"].result == str(tenant.id)
