"""The worker's runs, failures and sends reach /metrics (through Redis: the worker serves no port)."""

from __future__ import annotations

import dataclasses

import pytest
from arq import create_pool
from arq.worker import Worker
from litestar.testing import AsyncTestClient

from app.core.redis import arq_settings, redis_client
from app.jobs import metrics as job_metrics
from app.jobs.worker import worker_settings
from app.main import create_app
from app.notify.mail import Mailer
from app.notify.sms import TransientSendError
from app.notify.sweep import Channels
from tests.core.test_metrics import TOKEN, _value
from tests.notify.conftest import free_port, mail_server  # noqa: F401 (the fixture)


@pytest.fixture
async def fresh_counters(settings):
    client = redis_client(settings.redis_url)
    await client.delete(job_metrics.WORKER_KEY)
    await client.aclose()
    job_metrics._pending.clear()


async def _scrape(settings) -> str:
    app = create_app(dataclasses.replace(settings, metrics_token=TOKEN))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        r = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    return r.text


async def _run_worker(settings, monkeypatch, *jobs) -> Worker:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATABASE_APP_URL", settings.app_database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    redis = await create_pool(arq_settings(settings.redis_url))
    try:
        for i, (name, args) in enumerate(jobs):
            await redis.enqueue_job(name, *args, _job_id=f"metrics-test-{id(redis)}-{i}")
        options = worker_settings()
        options.pop("cron_jobs")
        worker = Worker(**options, burst=True, poll_delay=0.05, keep_result=0)
        await worker.main()
        await worker.close()
    finally:
        await redis.aclose()
    return worker


async def test_job_runs_and_failures_are_counted(settings, monkeypatch, fresh_counters):
    # run_import without a valid tenant is refused (raises): a failure
    worker = await _run_worker(settings, monkeypatch, ("purge_expired_sessions", ()), ("purge_signin_codes", ()),
                               ("run_import", ("not-a-tenant", 1)))
    assert worker.jobs_complete == 2 and worker.jobs_failed == 1
    body = await _scrape(settings)
    assert _value(body, "lianluo_jobs_total", job="purge_expired_sessions", result="ok") == 1
    assert _value(body, "lianluo_jobs_total", job="purge_signin_codes", result="ok") == 1
    assert _value(body, "lianluo_jobs_total", job="run_import", result="failed") == 1
    assert _value(body, "lianluo_scrape_source_up", source="worker") == 1


async def test_e_mail_sent_and_failed_are_counted(settings, mail_server, fresh_counters):
    channels = Channels(sms=None, mail=Mailer(mail_server.host, mail_server.port, "a@santai.example.cn", timeout=5))
    job_metrics.count_channels(channels)
    for i in range(2):
        await channels.mail.send(to="zhang@example.cn", subject="s", text="t", reference=f"1-{i}")
    mail_server.refuse["nobody@example.cn"] = "550 5.1.1 No such mailbox"
    with pytest.raises(Exception):
        await channels.mail.send(to="nobody@example.cn", subject="s", text="t", reference="1-9")
    channels.mail._inner.port = free_port()  # the server went away: tried again later
    with pytest.raises(TransientSendError):
        await channels.mail.send(to="zhang@example.cn", subject="s", text="t", reference="1-10")
    redis = redis_client(settings.redis_url)
    try:
        await job_metrics.flush(redis)
    finally:
        await redis.aclose()
    body = await _scrape(settings)
    assert _value(body, "lianluo_messages_total", channel="email", result="sent") == 2
    assert _value(body, "lianluo_messages_total", channel="email", result="failed") == 1
    assert _value(body, "lianluo_messages_total", channel="email", result="error") == 1
