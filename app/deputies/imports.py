"""Spreadsheet import of the administrative tree, stations, handling units, deputies and contact
rosters (the kinds: app.deputies.import_kinds): parse, preview, confirm, run as a job.

1. ``preview``: the uploaded XLSX (openpyxl, read-only, streamed) or CSV (UTF-8, with or without BOM,
   or GB18030) is checked row by row against the tenant's records; every problem is listed by row
   number and column, every row is kept as read for the row-by-row preview (``import_jobs.preview``,
   app.deputies.import_preview), and the file in ``import_jobs.data``, with status ``previewed``.
2. ``confirm``: only a file without problems; status ``queued``, then ``enqueue`` hands the job to
   arq (tenant and job id in the payload). Redis being down leaves it queued: the worker's
   ``sweep`` finds queued jobs (and runs that died) and enqueues them again.
3. ``run_import`` (the worker): claims the job (queued → running, atomically), checks the file again,
   and inserts every row in ONE transaction; progress is committed in separate short transactions.
   Any failure rolls the whole insert back: zero rows written, status ``failed`` with a message.
No web imports here. Reading files is in ``import_files``, checking rows in ``import_checks``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import null, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.accounts.models import Membership
from app.audit.services import record
from app.core.db import Database, every_county
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.deputies.import_checks import _problem
from app.deputies import import_kinds
from app.deputies.import_kinds import KINDS as KIND_SPECS, JobContext, ImportKind
from app.deputies.models import ImportJob
from app.tenancy.scope import Scope, scope_of

log = logging.getLogger("lianluo.imports")

KINDS = tuple(KIND_SPECS)
KIND_NAMES = {code: kind.name for code, kind in KIND_SPECS.items()}
IMPORT_ROLES = import_kinds.IMPORT_ROLES
BATCH = 500
STALE_RUN = timedelta(minutes=15)
PREVIEW_KEPT = timedelta(days=2)

# --- messages (English msgids, shown in Chinese) ----------------------------------------------------
IMPORT_FAILED_ROW = lazy("Row %(row)s could not be saved (%(error)s). Nothing was imported.")
IMPORT_FAILED = lazy("The import failed (%(error)s). Nothing was imported.")
IMPORT_CHANGED = lazy("The records changed since the preview: please upload the file again. Nothing was imported.")
IMPORT_NO_ACCESS = lazy("The person who started the import no longer has access. Nothing was imported.")


def problem_text(problem: dict) -> str:
    msgid = problem["message"]
    return gettext(msgid, **(problem.get("vars") or {}))


# --- jobs ------------------------------------------------------------------------------------------

async def create_preview(db: AsyncSession, *, tenant_id: int, scope: Scope, actor_id: int, kind: str, data: bytes,
                         filename: str, client_addr: str | None = None) -> ImportJob:
    """Check the file and keep it with its problems and its rows as read (status previewed). Raises
    Refusal. The caller has checked that the member's role may import this kind."""
    checked = await KIND_SPECS[kind].check(db, tenant_id, scope, data, filename)
    # files of previews nobody confirmed are personal data without a purpose after a while
    await db.execute(update(ImportJob).where(
        ImportJob.tenant_id == tenant_id, ImportJob.status == "previewed", ImportJob.data.is_not(None),
        ImportJob.created_at < _now() - PREVIEW_KEPT).values(data=None, preview=null()))
    job = ImportJob(tenant_id=tenant_id, kind=kind, status="previewed", filename=filename[:200], data=data,
                    total=checked.total, processed=0, problems=checked.problems, preview=checked.preview,
                    created_by=actor_id)
    db.add(job)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="import_previewed",
                 target=f"import_job:{job.id}", client_addr=client_addr,
                 details={"name": job.filename, "rows": checked.total, "problems": len(checked.problems)})
    return job


def visible_jobs_filter(scope: Scope):
    """County admins see every import of the tenant; township staff their own."""
    if scope.role == "county_admin":
        return ImportJob.tenant_id.is_not(None)
    return ImportJob.created_by == scope.user_id


async def confirm(db: AsyncSession, *, tenant_id: int, job: ImportJob, actor_id: int,
                  client_addr: str | None = None) -> bool:
    """previewed, without problems → queued. False when there is nothing to confirm."""
    if job.status != "previewed" or job.problems:
        return False
    done = await db.execute(
        update(ImportJob).where(ImportJob.id == job.id, ImportJob.status == "previewed").values(status="queued")
    )
    if done.rowcount != 1:
        return False
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="import_confirmed",
                 target=f"import_job:{job.id}", client_addr=client_addr,
                 details={"name": job.filename, "rows": job.total})
    return True


def _arq_settings(redis_url: str):
    from app.core.redis import arq_settings

    settings = arq_settings(redis_url)
    settings.conn_retries = 0
    settings.conn_timeout = 2
    return settings


async def enqueue(redis_url: str, tenant_id: int, job_id: int, *, suffix: str = "") -> bool:
    """Hand the job to arq; False (and the job stays queued for the sweep) when Redis is away."""
    from arq import create_pool

    try:
        pool = await asyncio.wait_for(create_pool(_arq_settings(redis_url)), timeout=3)
        try:
            await asyncio.wait_for(
                pool.enqueue_job("run_import", tenant_id, job_id, _job_id=f"import:{tenant_id}:{job_id}{suffix}"),
                timeout=3,
            )
        finally:
            await pool.aclose()
        return True
    except Exception:  # Redis down or slow: Postgres holds the job, the sweep catches up
        log.warning("import job %s/%s not enqueued; the sweep will pick it up", tenant_id, job_id)
        return False


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _set_progress(database: Database, tenant_id: int, job_id: int, processed: int) -> None:
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(update(ImportJob).where(ImportJob.id == job_id).values(processed=processed))


async def _fail(database: Database, tenant_id: int, job_id: int, problems: list[dict]) -> None:
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(update(ImportJob).where(ImportJob.id == job_id).values(
            status="failed", processed=0, problems=problems, finished_at=_now(), data=None, preview=null()))


class _RowFailed(Exception):
    def __init__(self, row: int, error: str):
        super().__init__(error)
        self.row, self.error = row, error


def _db_error(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text_ = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    text_ = re.sub(r"^<class '[^']+'>:\s*", "", text_)
    return text_[:200]


async def _insert_batch(db: AsyncSession, kind: ImportKind, job: JobContext, rows: list[tuple[int, dict]]) -> None:
    """Insert a batch; when the database refuses it, find the row (savepoints) and raise _RowFailed."""
    try:
        async with db.begin_nested():
            await kind.insert(db, job, rows)
        return
    except DBAPIError as exc:
        batch_error = _db_error(exc)
    for row in rows:
        try:
            async with db.begin_nested():
                await kind.insert(db, job, [row])
        except DBAPIError as exc:
            raise _RowFailed(row[0], _db_error(exc)) from None
    raise _RowFailed(rows[0][0], batch_error)


async def run_import(database: Database, tenant_id: int, job_id: int) -> str:
    """The worker's job: safe to run twice (only a queued job is claimed, and the insert is one
    transaction). Returns the job's final status (or 'skipped')."""
    async with database.transaction(tenant_id=tenant_id) as db:
        claimed = (await db.execute(
            update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == "queued")
            .values(status="running", started_at=_now(), processed=0)
            .returning(ImportJob.kind, ImportJob.filename, ImportJob.created_by, ImportJob.data)
        )).first()
    if claimed is None:
        return "skipped"
    code, filename, created_by, data = claimed
    kind = KIND_SPECS[code]
    try:
        async with database.transaction(tenant_id=tenant_id, user_id=created_by) as db:
            membership = await db.scalar(select(Membership).where(
                Membership.tenant_id == tenant_id, Membership.user_id == created_by,
                Membership.revoked_at.is_(None), Membership.role.in_(kind.roles)))
            if membership is None or data is None:
                raise _Abort([_problem(None, "", IMPORT_NO_ACCESS)])
            scope = await scope_of(db, membership)
            try:
                checked = await kind.check(db, tenant_id, scope, data, filename)
            except Refusal as error:
                raise _Abort([_problem(None, "", error.message, **error.variables)]) from None
            if checked.problems:
                raise _Abort([_problem(None, "", IMPORT_CHANGED), *checked.problems])
            done = 0
            job = JobContext(tenant_id=tenant_id, actor_id=created_by)
            for start in range(0, len(checked.rows), BATCH):
                batch = checked.rows[start:start + BATCH]
                await _insert_batch(db, kind, job, batch)
                done += kind.rows_of(batch)
                await _set_progress(database, tenant_id, job_id, done)  # its own short transaction
            await db.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                status="done", processed=done, finished_at=_now(), data=None, preview=null()))
            await record(db, tenant_id=tenant_id, actor_user_id=created_by, action="import_completed",
                         target=f"import_job:{job_id}", details={"name": filename, "rows": done})
        return "done"
    except _Abort as abort:
        await _fail(database, tenant_id, job_id, abort.problems)
    except _RowFailed as failed:
        await _fail(database, tenant_id, job_id,
                    [_problem(failed.row, "", IMPORT_FAILED_ROW, row=failed.row, error=failed.error)])
    except Exception as exc:
        log.exception("import job %s/%s failed", tenant_id, job_id)
        await _fail(database, tenant_id, job_id, [_problem(None, "", IMPORT_FAILED, error=_db_error(exc))])
    return "failed"


class _Abort(Exception):
    def __init__(self, problems: list[dict]):
        super().__init__("import aborted")
        self.problems = problems


async def sweep(database: Database, redis_url: str) -> int:
    """Queued jobs (Redis lost them or was down) and runs that died are enqueued again; files of
    previews nobody confirmed are dropped (at the next preview) after two days. Returns how many jobs were enqueued."""
    async with database.transaction() as db:
        waiting = (await every_county(db, "SELECT tenant_id, job_id FROM import_jobs_waiting(:stale)",
                                      {"stale": STALE_RUN})).all()
    count = 0
    window = int(_now().timestamp() // 600)
    for tenant_id, job_id in waiting:
        async with database.transaction(tenant_id=tenant_id) as db:
            await db.execute(update(ImportJob).where(
                ImportJob.id == job_id, ImportJob.status == "running", ImportJob.started_at < _now() - STALE_RUN,
            ).values(status="queued"))
        if await enqueue(redis_url, tenant_id, job_id, suffix=f":{window}"):
            count += 1
    return count


async def job_progress(db: AsyncSession, scope: Scope, job_id: int) -> ImportJob | None:
    if not 0 < job_id <= 2**63 - 1:
        return None
    return await db.scalar(select(ImportJob).options(defer(ImportJob.data), defer(ImportJob.preview))
                           .where(ImportJob.id == job_id, visible_jobs_filter(scope)))


async def recent_jobs(db: AsyncSession, scope: Scope, limit: int = 20) -> list[ImportJob]:
    return list((await db.scalars(
        select(ImportJob).options(defer(ImportJob.data), defer(ImportJob.problems), defer(ImportJob.preview))
        .where(visible_jobs_filter(scope)).order_by(ImportJob.id.desc()).limit(limit)
    )).all())
