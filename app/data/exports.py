"""Exports of all of a county's records (PIPL: a county takes its data with it).

- A county admin asks (`request_export`, audited); the worker's `run_data_export` builds the ZIP
  (app.data.building) with its progress in short transactions of its own, and keeps the bytes in
  `data_exports` for KEPT. Every download is audited as a reveal of personal data in full.
- At a county's written request the operator asks for the same (`request_operator_export`, audited
  on the platform log with the reason); the worker builds it bound to the tenant and writes the bytes
  into the platform table `operator_exports`, and the county's own log says so. The operator downloads
  it once (`take_operator_export`): the bytes are dropped as they are handed over.
A job is safe to run twice: only a queued export is claimed. Redis only carries the work: the
worker's `sweep` (every minute) enqueues again what is queued in PostgreSQL and builds whose worker
died. No web imports here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from app.core.db import every_county
from app.audit.services import record, record_platform
from app.core.clock import now as clock_now
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.redis import enqueue_job
from app.data.building import ExportTooLarge, build_zip
from app.data.models import DataExport, OperatorExport
from app.tenancy.models import Tenant

log = logging.getLogger("lianluo.data")

EXPORT_ROLES = ("county_admin",)
KEPT = timedelta(days=7)  # a finished export's bytes are dropped after this
STALE = timedelta(minutes=30)  # a queued or running export older than this no longer blocks a new one
# A build running longer than STALE died with its worker (arq cancels a job after 5 minutes) and is
# queued again by the sweep, until RETRY_FOR after it was asked for: then it fails, so that an export
# that kills its worker every time is not built again forever.
RETRY_FOR = timedelta(hours=3)
SWEEP_WINDOW = 600  # seconds: the sweep's job ids change this often, so arq never dedupes against an old job
REASON_MAX = 500
ERROR_TEXTS = {
    "too_large": lazy("The county's data is larger than one export can hold. Please ask the operator."),
    "failed": lazy("The export could not be prepared. Please try again later."),
}
EXPORT_UNDER_WAY = lazy("An export is already being prepared. Please wait for it to finish.")
REASON_REQUIRED = lazy("Please give the county's written request (its reference and date).")
NOT_READY = lazy("This export is not ready to download.")


# --- the county's own exports ---------------------------------------------------------------------

async def _drop_expired(db: AsyncSession, at: datetime) -> None:
    """Bytes of expired exports are personal data without a purpose: dropped at the next request (and
    by the worker's hourly `purge_expired`)."""
    await db.execute(update(DataExport).where(DataExport.data.is_not(None), DataExport.expires_at <= at)
                     .values(data=None))


async def request_export(db: AsyncSession, *, tenant_id: int, actor_id: int, client_addr: str | None = None,
                         now: datetime | None = None) -> DataExport:
    """Queue an export of the county's records (the caller enqueues the job after commit)."""
    at = now or clock_now()
    await _drop_expired(db, at)
    busy = await db.scalar(select(DataExport.id).where(
        DataExport.status.in_(("queued", "running")), DataExport.created_at > at - STALE))
    if busy is not None:
        raise Refusal(EXPORT_UNDER_WAY)
    export = DataExport(tenant_id=tenant_id, status="queued", requested_by=actor_id)
    db.add(export)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="county_data_export_requested",
                 target=f"data_export:{export.id}", client_addr=client_addr)
    return export


async def recent_exports(db: AsyncSession, limit: int = 10) -> list[DataExport]:
    return list((await db.scalars(select(DataExport).order_by(DataExport.id.desc()).limit(limit))).all())


async def get_export(db: AsyncSession, export_id: int | None) -> DataExport:
    """The bound tenant's export (row-level security keeps the others out): NotFound otherwise."""
    export = await db.scalar(select(DataExport).where(DataExport.id == export_id)) if export_id else None
    if export is None:
        raise NotFound()
    return export


async def download(db: AsyncSession, export: DataExport, *, actor_id: int, client_addr: str | None = None,
                   now: datetime | None = None) -> bytes:
    """The ZIP's bytes, audited as a reveal (it holds personal data in full)."""
    at = now or clock_now()
    data = await db.scalar(select(DataExport.data).where(DataExport.id == export.id))
    if export.shown_status(at) != "done" or data is None:
        raise Refusal(NOT_READY, status=409)
    await record(db, tenant_id=export.tenant_id, actor_user_id=actor_id, action="county_data_downloaded",
                 target=f"data_export:{export.id}", client_addr=client_addr, details={"bytes": len(data)})
    return data


# --- the operator's exports -----------------------------------------------------------------------

async def request_operator_export(db: AsyncSession, *, tenant_id: int, actor_id: int, reason: str,
                                  client_addr: str | None = None) -> OperatorExport:
    """Queue an export for the operator at the county's written request. LookupError: no tenant."""
    reason = reason.strip()[:REASON_MAX]
    if not reason:
        raise Refusal(REASON_REQUIRED, input_name="reason")
    if await db.get(Tenant, tenant_id) is None:
        raise LookupError(tenant_id)
    export = OperatorExport(subject_tenant_id=tenant_id, requested_by=actor_id, reason=reason, status="queued")
    db.add(export)
    await db.flush()
    await record_platform(db, actor_user_id=actor_id, action="tenant_data_export_requested",
                          subject_tenant_id=tenant_id, target=f"operator_export:{export.id}",
                          client_addr=client_addr, details={"reason": reason})
    return export


async def operator_exports(db: AsyncSession, tenant_id: int, limit: int = 10) -> list[OperatorExport]:
    return list((await db.scalars(select(OperatorExport).where(OperatorExport.subject_tenant_id == tenant_id)
                                  .order_by(OperatorExport.id.desc()).limit(limit))).all())


class NotReady(Refusal):
    """The operator's export cannot be downloaded (not built, failed, expired or taken already)."""

    def __init__(self, tenant_id: int):
        super().__init__(NOT_READY, status=409)
        self.tenant_id = tenant_id


async def take_operator_export(db: AsyncSession, export_id: int, *, actor_id: int, client_addr: str | None = None,
                               now: datetime | None = None) -> tuple[OperatorExport, Tenant, bytes]:
    """Hand the ZIP over once: its bytes are dropped in the same transaction (a second download, or
    one racing this one, finds nothing). NotFound for an unknown id, NotReady for nothing to hand over."""
    at = now or clock_now()
    export = await db.scalar(select(OperatorExport).options(undefer(OperatorExport.data))
                             .where(OperatorExport.id == export_id).with_for_update())
    if export is None:
        raise NotFound()
    data = export.data
    if export.shown_status(at) != "done" or data is None:
        raise NotReady(export.subject_tenant_id)
    export.data, export.downloaded_at = None, at
    await record_platform(db, actor_user_id=actor_id, action="tenant_data_export_downloaded",
                          subject_tenant_id=export.subject_tenant_id, target=f"operator_export:{export.id}",
                          client_addr=client_addr, details={"bytes": len(data)})
    return export, await db.get(Tenant, export.subject_tenant_id), data


# --- housekeeping --------------------------------------------------------------------------------

async def purge_expired(database, *, now: datetime | None = None) -> int:
    """The worker's hourly pass: bytes of expired exports are dropped, the operator's and those of every
    tenant holding any (`data_exports_expired_tenants`, migration 0042: one call, ids only; each such
    tenant in a short transaction bound to it, suspended ones too: their final export). Returns how
    many exports lost their bytes."""
    at = now or clock_now()
    async with database.transaction() as db:
        tenant_ids = list((await every_county(db, "SELECT tenant_id FROM data_exports_expired_tenants(:at)",
                                              {"at": at})).scalars())
        dropped = (await db.execute(update(OperatorExport).where(
            OperatorExport.data.is_not(None), OperatorExport.expires_at <= at).values(data=None))).rowcount or 0
    for tenant_id in tenant_ids:
        async with database.transaction(tenant_id=tenant_id) as db:
            dropped += (await db.execute(update(DataExport).where(
                DataExport.data.is_not(None), DataExport.expires_at <= at).values(data=None))).rowcount or 0
    return dropped


# --- the worker's job -----------------------------------------------------------------------------

async def run_export(database, tenant_id: int, export_id: int, *, operator: bool = False,
                     now: datetime | None = None) -> str:
    """Build a queued export (the county's, or the operator's with `operator`): claimed once, built in
    one snapshot bound to the tenant, stored with its expiry. Returns the final status or 'skipped'."""
    model = OperatorExport if operator else DataExport
    claimed = await _claim(database, model, tenant_id, export_id)
    if claimed is None:
        return "skipped"

    async def progress(done: int, total: int) -> None:
        async with database.transaction(tenant_id=tenant_id) as db:
            await db.execute(update(model).where(model.id == export_id).values(processed=done, total=total))

    try:
        built = await build_zip(database, tenant_id, progress, now or clock_now())
    except ExportTooLarge:
        return await _fail(database, model, tenant_id, export_id, "too_large")
    except Exception:
        log.exception("export %s/%s failed", tenant_id, export_id)
        return await _fail(database, model, tenant_id, export_id, "failed")
    at = now or clock_now()
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(update(model).where(model.id == export_id).values(
            status="done", data=built.body, size=len(built.body), processed=model.total, finished_at=at,
            expires_at=at + KEPT))
        details = {"bytes": len(built.body), "rows": sum(built.rows.values()), "photos": built.photos,
                   "originals": built.originals, "documents": built.documents}
        if operator:
            details["reason"] = claimed.reason
        await record(db, tenant_id=tenant_id, actor_user_id=None if operator else claimed.requested_by,
                     action="county_data_exported_for_operator" if operator else "county_data_exported",
                     target=f"{model.__tablename__[:-1]}:{export_id}", details=details)
    return "done"


async def _claim(database, model, tenant_id: int, export_id: int):
    async with database.transaction(tenant_id=tenant_id) as db:
        owner = OperatorExport.subject_tenant_id if model is OperatorExport else DataExport.tenant_id
        where = [model.id == export_id, owner == tenant_id, model.status == "queued"]
        returning = [model.requested_by, *([OperatorExport.reason] if model is OperatorExport else [])]
        row = (await db.execute(update(model).where(*where).values(status="running", started_at=clock_now())
                                .returning(*returning))).first()
    if row is None:
        return None
    return _Claimed(requested_by=row[0], reason=row[1] if len(row) > 1 else "")


class _Claimed:
    def __init__(self, requested_by: int | None, reason: str):
        self.requested_by, self.reason = requested_by, reason


async def _fail(database, model, tenant_id: int, export_id: int, error: str) -> str:
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(update(model).where(model.id == export_id).values(
            status="failed", error=error, data=None, finished_at=clock_now()))
    return "failed"


async def enqueue(redis_url: str, tenant_id: int, export_id: int, *, operator: bool = False,
                  suffix: str = "") -> bool:
    """Hand the job to arq; False when Redis is away (the export stays queued for the sweep)."""
    function = "run_operator_export" if operator else "run_data_export"
    return await enqueue_job(redis_url, function, tenant_id, export_id,
                             job_id=f"{function}:{tenant_id}:{export_id}{suffix}")


# --- the worker's sweep: Postgres is the truth, Redis only carries work ----------------------------

async def sweep(database, redis_url: str, *, now: datetime | None = None) -> int:
    """Exports queued in PostgreSQL but not in Redis (it was down when they were asked for, or lost
    them) and builds whose worker died (running since before STALE) are enqueued again, every
    county's (through `data_exports_waiting`, each read under its own binding) and the operator's.
    Returns how many were enqueued."""
    at = now or clock_now()
    async with database.transaction() as db:
        county = (await every_county(db, "SELECT tenant_id, export_id FROM data_exports_waiting(:before)",
                                     {"before": at - STALE})).all()
        ops = (await db.execute(select(OperatorExport.subject_tenant_id, OperatorExport.id).where(
            _waiting(OperatorExport, at)).order_by(OperatorExport.id))).all()
    suffix = f":sweep{int(at.timestamp() // SWEEP_WINDOW)}"
    count = 0
    for operator, tenant_id, export_id in [(False, *row) for row in county] + [(True, *row) for row in ops]:
        if not await _requeue(database, tenant_id, export_id, operator, at):
            continue
        if not await enqueue(redis_url, tenant_id, export_id, operator=operator, suffix=suffix):
            break  # Redis is away: the rest wait for the next sweep rather than for a timeout each
        count += 1
    return count


def _waiting(model, at: datetime):
    return (model.status == "queued") | ((model.status == "running") & (model.started_at < at - STALE))


async def _requeue(database, tenant_id: int, export_id: int, operator: bool, at: datetime) -> bool:
    """Queue a dead build again, or fail it after RETRY_FOR; False when it is not to be enqueued."""
    model = OperatorExport if operator else DataExport
    owner = OperatorExport.subject_tenant_id if operator else DataExport.tenant_id
    mine = [model.id == export_id, owner == tenant_id]
    async with database.transaction(tenant_id=tenant_id) as db:
        gave_up = (await db.execute(update(model).where(
            *mine, _waiting(model, at), model.started_at.is_not(None), model.created_at < at - RETRY_FOR,
        ).values(status="failed", error="failed", data=None, finished_at=at))).rowcount
        if gave_up:
            log.warning("export %s/%s failed: its builds kept dying", tenant_id, export_id)
            return False
        await db.execute(update(model).where(*mine, _waiting(model, at), model.status == "running")
                         .values(status="queued"))
    return True


def zip_name(tenant_name: str, finished_at: datetime | None, tz) -> str:
    day = (finished_at or clock_now()).astimezone(tz).strftime("%Y%m%d")
    return f"{tenant_name}-全部数据-{day}.zip"
