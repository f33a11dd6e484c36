"""The arq worker: housekeeping, spreadsheet imports, and reminders and notifications.

Postgres is the truth and Redis only carries work (DESIGN.md): every job here is safe to run twice.
- `deliver_notifications` (every 10 s) runs the outbox sweep (app.notify.sweep) until nothing is due;
- `produce_reminders` (hourly, at minute 5) writes the time-based reminders (app.jobs.scheduled);
- `sweep_imports` (every minute) enqueues imports that Redis lost;
- `run_data_export` / `run_operator_export` build the ZIP of a county's records (app.data.exports),
  `sweep_data_exports` (every minute) enqueues those Redis lost and builds that died, and
  `purge_data_exports` (hourly) drops the bytes of expired ones;
- `run_binder_build` builds a member's whole station binder (app.binder.builds), `sweep_binder_builds`
  (every minute) enqueues those Redis lost and builds that died, `purge_binder_builds` (hourly) drops
  expired workbooks;
- `purge_signin_codes` (hourly) deletes unused sign-in codes expired over a day ago;
- `refresh_compliance` (every 15 s) recomputes the compliance snapshots of the tenants whose records
  changed or whose periods ended (app.compliance.snapshot_jobs).
`run_forever` (the CLI's `worker`) starts the worker again when Redis goes away, so `./run start`
keeps running and the crons catch up when Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from arq import cron
from sqlalchemy import delete, or_

from app.core.clock import now
from app.accounts.models import FailedLogin, UserSession
from app.core.db import Database
from app.core.errortracking import error_tracking
from app.core.logs import configure_logging
from app.core.redis import arq_settings
from app.core.settings import load_settings
from app.jobs import tenant_job
from app.jobs.metrics import count_channels, counted
from app.wiring import plug_in

log = logging.getLogger("lianluo.worker")

# One deliver_notifications run sweeps again and again, starting no pass after this long; a pass
# starts no send after app.notify.sweep.PASS_SECONDS and waits out the sends under way (SEND_LIMIT),
# so a run ends well inside its timeout (below). Cancelled (SIGTERM, timeout), it still finishes and
# records the sends under way before it ends: arq waits for it before closing the worker.
SWEEP_BUDGET_SECONDS = 50
RESTART_DELAYS = (1, 2, 3, 5)  # seconds before starting again after losing Redis (then 5 each time)


async def purge_expired_sessions(ctx) -> int:
    """Delete sessions that ended over a day ago and failed sign-ins older than a day."""
    database: Database = ctx["db"]
    cutoff = now() - timedelta(days=1)
    async with database.transaction() as db:
        gone = await db.execute(
            delete(UserSession).where(or_(UserSession.expires_at < cutoff, UserSession.revoked_at < cutoff))
        )
        await db.execute(delete(FailedLogin).where(FailedLogin.at < cutoff))
    log.info("purged %s sessions", gone.rowcount)
    return gone.rowcount


@tenant_job
async def run_import(ctx, tenant_id: int, job_id: int) -> str:
    """A confirmed spreadsheet import (app.deputies.imports): the payload names its tenant, and every
    transaction of the job is bound to it. Safe to run twice: only a queued job is claimed."""
    from app.deputies.imports import run_import as run

    return await run(ctx["db"], tenant_id, int(job_id))


@tenant_job
async def run_data_export(ctx, tenant_id: int, export_id: int) -> str:
    """A county admin's export of all of the county's records (app.data.exports), bound to the tenant."""
    from app.data.exports import run_export

    return await run_export(ctx["db"], tenant_id, int(export_id))


@tenant_job
async def run_operator_export(ctx, tenant_id: int, export_id: int) -> str:
    """The same export for the operator at the county's written request: built bound to the tenant,
    so the operator's web session never reads the tenant's rows."""
    from app.data.exports import run_export

    return await run_export(ctx["db"], tenant_id, int(export_id), operator=True)


async def purge_data_exports(ctx) -> int:
    """Exports of a county's data past their expiry lose their bytes (app.data.exports.purge_expired)."""
    from app.data.exports import purge_expired

    dropped = await purge_expired(ctx["db"])
    if dropped:
        log.info("dropped %s expired data exports", dropped)
    return dropped


async def sweep_data_exports(ctx) -> int:
    """Exports queued in Postgres but not in Redis, and builds whose worker died, are enqueued again
    (app.data.exports.sweep)."""
    from app.data.exports import sweep

    return await sweep(ctx["db"], ctx["settings"].redis_url)


@tenant_job
async def run_binder_build(ctx, tenant_id: int, build_id: int) -> str:
    """A member's whole binder of every station in their reach (app.binder.builds), bound to the tenant."""
    from app.binder.builds import run_build

    return await run_build(ctx["db"], tenant_id, int(build_id))


async def sweep_binder_builds(ctx) -> int:
    """Binder builds Redis lost, and builds that died, enqueued again (app.binder.builds.sweep)."""
    from app.binder.builds import sweep

    return await sweep(ctx["db"], ctx["settings"].redis_url)


async def purge_binder_builds(ctx) -> int:
    """Binder workbooks past their expiry lose their bytes, old builds go (app.binder.builds.purge_expired)."""
    from app.binder.builds import purge_expired

    return await purge_expired(ctx["db"])


async def apply_retention(ctx) -> dict:
    """Nightly: every county's retention periods applied (app.data.retention.apply_all)."""
    from app.data.retention import apply_all

    changed = await apply_all(ctx["db"])
    if any(changed.values()):
        log.info("retention applied: %s", changed)
    return changed


async def sweep_imports(ctx) -> int:
    """Imports that are queued in Postgres but not in Redis (it was down, or lost them), and runs
    that died, are enqueued again."""
    from app.deputies.imports import sweep

    return await sweep(ctx["db"], ctx["settings"].redis_url)


async def deliver_notifications(ctx) -> dict:
    """Send what the outbox holds that is due, tenant by tenant, pass after pass while there is work
    (bounded in time). A run that finds the previous one still going returns at once."""
    from app.notify.sweep import sweep

    lock: asyncio.Lock = ctx["sweep_lock"]
    if lock.locked():
        return {"busy": 1}
    totals: Counter = Counter()
    async with lock:
        deadline = time.monotonic() + SWEEP_BUDGET_SECONDS
        while True:
            counts = await sweep(ctx["db"], channels=ctx["channels"], stale_after=ctx["stale_after"])
            totals.update(counts)
            if not any(counts.values()) or time.monotonic() > deadline:
                break
        operators = await _operator_digests(ctx)
        if operators:
            totals["operator_digests"] = operators
    return dict(totals)


async def _operator_digests(ctx) -> int:
    """The operators' e-mail about new sign-up applications (platform level: no tenant's outbox)."""
    from app.platform.notices import send_due

    try:
        return await send_due(ctx["db"], ctx["channels"].mail)
    except Exception:  # the counties' messages must not wait for it: tried again in 10 seconds
        log.exception("sending the operators' digests failed")
        return 0


async def produce_reminders(ctx) -> int:
    """The time-based reminders and notices of every tenant (each producer is idempotent)."""
    from app.jobs.scheduled import run_scheduled

    return await run_scheduled(ctx["db"])


async def purge_signin_codes(ctx) -> int:
    """Unused sign-in codes expired over a day ago (app.activities.signin.purge_codes)."""
    from app.activities.signin import purge_codes

    removed = await purge_codes(ctx["db"])
    log.info("purged %s sign-in codes", removed)
    return removed


async def sync_joint_deputies(ctx) -> int:
    """Joint stations' projections of the member counties' deputies follow the counties' changes."""
    from app.joint.deputies import sync_all

    return await sync_all(ctx["db"])


async def refresh_compliance(ctx) -> int:
    """The compliance boards' counts follow the records (app.compliance.snapshot_jobs)."""
    from app.compliance.snapshot_jobs import refresh_due

    return await refresh_due(ctx["db"])


async def delete_closed_tenants(ctx) -> int:
    """Tenants the operator closed whose grace period is over lose every row (app.data.closing)."""
    from app.data.closing import delete_due

    return len(await delete_due(ctx["db"]))


async def startup(ctx) -> None:
    from app.notify.sweep import channels_from_settings

    ctx["settings"] = load_settings()
    configure_logging(handlers=error_tracking(ctx["settings"].sentry_dsn))
    plug_in()  # the ports: joint stations and cases take part in activities
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per SMS sent is noise
    ctx["db"] = Database(ctx["settings"])
    ctx["channels"] = channels_from_settings(ctx["settings"])
    count_channels(ctx["channels"])  # SMS and e-mail sent/failed, for /metrics
    ctx["stale_after"] = timedelta(seconds=ctx["settings"].outbox_stale_seconds)
    ctx["sweep_lock"] = asyncio.Lock()


async def shutdown(ctx) -> None:
    channels = ctx.pop("channels", None)
    if channels is not None:
        await channels.aclose()
    database = ctx.pop("db", None)
    if database is not None:
        await database.dispose()


def worker_settings() -> dict:
    settings = load_settings()
    return _counting({
        "functions": [purge_expired_sessions, purge_signin_codes, run_import, sweep_imports, deliver_notifications,
                      produce_reminders, sync_joint_deputies, run_data_export, run_operator_export, purge_data_exports,
                      apply_retention, run_binder_build, refresh_compliance],
        "cron_jobs": [
            cron(purge_expired_sessions, minute={7, 37}, run_at_startup=True),
            cron(purge_signin_codes, minute={47}, second={0}, run_at_startup=True, timeout=600),
            cron(sweep_imports, second={0}, run_at_startup=True),  # every minute
            cron(deliver_notifications, second={0, 10, 20, 30, 40, 50}, run_at_startup=True,
                 timeout=SWEEP_BUDGET_SECONDS + 60, keep_result=60),
            cron(produce_reminders, minute={5}, second={0}, run_at_startup=True, timeout=1800, keep_result=3600),
            cron(sweep_data_exports, second={30}, run_at_startup=True),  # every minute
            cron(purge_data_exports, minute={27}, second={0}, run_at_startup=True, timeout=600),
            cron(sweep_binder_builds, second={40}, run_at_startup=True),  # every minute
            cron(purge_binder_builds, minute={29}, second={0}, run_at_startup=True, timeout=600),
            # 03:15 in Asia/Shanghai (the worker's cron zone, below): the quietest hour of the counties' day.
            cron(apply_retention, hour={3}, minute={15}, second={0}, timeout=3600),
            cron(delete_closed_tenants, minute={53}, second={0}, run_at_startup=True, timeout=1800),
            cron(sync_joint_deputies, minute=set(range(2, 60, 10)), second={30}, run_at_startup=True, timeout=600),
            cron(refresh_compliance, second={5, 20, 35, 50}, run_at_startup=True, timeout=600, keep_result=60),
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": arq_settings(settings.redis_url),
        "health_check_interval": 60,
        # arq reads cron hours in this zone (the host's own zone when unset); the other crons name only
        # minutes and seconds, the same in every whole-hour zone.
        "timezone": ZoneInfo("Asia/Shanghai"),
    })


def _counting(options: dict) -> dict:
    """Every job, queued or cron, counts its runs and failures (app.jobs.metrics, read by /metrics)."""
    options["functions"] = [counted(f) for f in options["functions"]]
    for job in options["cron_jobs"]:
        job.coroutine = counted(job.coroutine)  # the name stays "cron:<function>"
    return options


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop()


def run_forever() -> None:
    """Run the arq worker; when it stops because Redis went away (or any other failure), wait a
    little and start it again. A signal (Ctrl-C, SIGTERM) stops it for good."""
    from arq.worker import create_worker

    configure_logging(handlers=error_tracking(load_settings().sentry_dsn))
    failures = 0
    try:
        while True:
            worker = create_worker(worker_settings())
            # arq calls on_stop(signal) in its own signal handler: a stop asked for while Redis is
            # away must not be taken for "Redis went away, start again".
            stopping: list = []
            worker.on_stop = stopping.append
            try:
                worker.run()
                return  # stopped by a signal
            except Exception as exc:
                if stopping:
                    log.info("worker stopped by a signal (closing without Redis: %s)", type(exc).__name__)
                    _close_quietly(worker)
                    return
                failures += 1
                delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS)) - 1]
                log.warning("worker stopped (%s: %s); starting again in %s s", type(exc).__name__, exc, delay)
            _close_quietly(worker)
            if not _wait(delay):
                return
    except _Stop:
        log.info("worker stopped by a signal")


def _close_quietly(worker) -> None:
    """What arq's close() could not do without Redis: close the database and the channels."""
    try:
        worker.loop.run_until_complete(shutdown(worker.ctx))
    except Exception:
        log.exception("closing the stopped worker failed")


def _wait(seconds: float) -> bool:
    """Sleep, but let Ctrl-C / SIGTERM end the worker meanwhile (arq's own handlers are gone)."""
    loop = asyncio.get_event_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        signal.signal(sig, _raise_stop)
    try:
        time.sleep(seconds)
        return True
    except _Stop:
        log.info("worker stopped by a signal while waiting for Redis")
        return False
