"""The arq worker: periodic housekeeping and spreadsheet imports; reminders and notifications join it later.

Postgres is the truth and Redis only carries work (DESIGN.md): every job here is safe to run twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from arq import cron
from sqlalchemy import delete, or_

from app.accounts.access import now
from app.accounts.models import FailedLogin, UserSession
from app.core.db import Database
from app.core.logs import configure_logging
from app.core.redis import arq_settings
from app.core.settings import load_settings

log = logging.getLogger("lianluo.worker")


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


async def run_import(ctx, tenant_id: int, job_id: int) -> str:
    """A confirmed spreadsheet import (app.deputies.imports): the payload names its tenant, and every
    transaction of the job is bound to it. Safe to run twice: only a queued job is claimed."""
    from app.deputies.imports import run_import as run

    return await run(ctx["db"], int(tenant_id), int(job_id))


async def sweep_imports(ctx) -> int:
    """Imports that are queued in Postgres but not in Redis (it was down, or lost them), and runs
    that died, are enqueued again."""
    from app.deputies.imports import sweep

    return await sweep(ctx["db"], ctx["settings"].redis_url)


async def startup(ctx) -> None:
    configure_logging()
    ctx["settings"] = load_settings()
    ctx["db"] = Database(ctx["settings"])


async def shutdown(ctx) -> None:
    await ctx["db"].dispose()


def worker_settings() -> dict:
    settings = load_settings()
    return {
        "functions": [purge_expired_sessions, run_import, sweep_imports],
        "cron_jobs": [
            cron(purge_expired_sessions, minute={7, 37}, run_at_startup=True),
            cron(sweep_imports, second={0}, run_at_startup=True),  # every minute
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": arq_settings(settings.redis_url),
        "health_check_interval": 60,
    }
