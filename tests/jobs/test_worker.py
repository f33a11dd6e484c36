"""The arq worker runs jobs from the real Redis against the real database."""

from arq import create_pool
from arq.worker import Worker

from app.core.redis import arq_settings
from app.jobs.worker import worker_settings
from tests.factories import login, make_tenant, make_user, add_member


async def test_worker_purges_long_ended_sessions(settings, database, client, owner_sql, monkeypatch):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user)
    await login(client, "wang")  # a live session
    await login(client, "wang")  # rotates: the first one is revoked now
    await owner_sql("UPDATE user_sessions SET revoked_at = now() - interval '2 days' WHERE revoked_at IS NOT NULL")

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATABASE_APP_URL", settings.app_database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    redis = await create_pool(arq_settings(settings.redis_url))
    try:
        await redis.enqueue_job("purge_expired_sessions", _job_id=f"purge-test-{id(redis)}")
        options = worker_settings()
        options.pop("cron_jobs")
        worker = Worker(**options, burst=True, poll_delay=0.05, keep_result=0)
        await worker.main()
        await worker.close()
    finally:
        await redis.aclose()
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    remaining = await owner_sql("SELECT revoked_at FROM user_sessions")
    assert len(remaining) == 1 and remaining[0]["revoked_at"] is None
