"""The whole binder of many stations, built by the worker: a county's roll-up reads hundreds of
stations' registers, too long for a request.

A member asks (``request_build``, audited): the build is queued for them, of one station or every
station in their reach, for a year; asking again while the same build waits or runs finds it (one
unique index, no race). The worker's ``run_build`` claims it once and reads the binder part by part
(``book.PARTS``), saving the progress after each part in a short transaction of its own, as the member
who asked: their membership and scope are read again, so a member removed, or whose role changed,
gets a failed build with the reason, never a binder of what they may no longer see. The workbook's
bytes are kept for KEPT (``download``: audited as ``binder_exported``, as the immediate workbook is);
the rows go after FORGOTTEN. Only the member who asked sees a build: anyone else gets the 404.
Redis only carries the work: the worker's ``sweep`` enqueues again what PostgreSQL holds queued and
builds whose worker died, as the county's data exports do. No web imports here.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import every_county
from app.accounts.models import Membership
from app.audit.services import record
from app.binder import access, book, parts
from app.binder.build_models import BinderBuild
from app.core.clock import now as clock_now
from app.core.errors import NotFound, Refusal
from app.core.i18n import current_locale, lazy
from app.core.redis import enqueue_job
from app.stations.models import Station
from app.tenancy.models import Tenant
from app.tenancy.scope import Scope, scope_of

log = logging.getLogger("lianluo.binder")

JOB = "run_binder_build"
WAITING = ("queued", "running")
KEPT = timedelta(days=7)  # a finished workbook's bytes are dropped after this
FORGOTTEN = timedelta(days=30)  # and the build itself after this (the audit log keeps who asked)
STALE = timedelta(minutes=30)  # running longer than this: its worker died (arq stops a job after 5 minutes)
RETRY_FOR = timedelta(hours=3)  # built again by the sweep until then, then failed
SWEEP_WINDOW = 600  # seconds: the sweep's job ids change this often, so arq never dedupes against an old job
ERROR_TEXTS = {
    "removed": lazy("You are no longer a member of this county: the binder was not prepared."),
    "role_changed": lazy("Your role changed after you asked for this binder: it was not prepared. Please ask again."),
    "out_of_reach": lazy("The station is no longer in your reach: the binder was not prepared."),
    "failed": lazy("The binder could not be prepared. Please try again later."),
}
NOT_READY = lazy("This binder is not ready to download.")


async def _drop_expired(db: AsyncSession, at: datetime) -> None:
    await db.execute(update(BinderBuild).where(BinderBuild.data.is_not(None), BinderBuild.expires_at <= at)
                     .values(data=None))


async def request_build(db: AsyncSession, scope: Scope, *, tenant_id: int, station: str | None,
                        year: str | None, today: date, client_addr: str | None = None,
                        now: datetime | None = None) -> tuple[BinderBuild, bool]:
    """Queue the member's binder of ``station`` (empty: every station in reach) and ``year``, or find
    the same one waiting or running. (the build, whether it is new: the caller enqueues the job after
    commit). NotFound for a station out of reach, Refusal for a bad year."""
    reach = await access.reach(db, scope, station)
    y = access.read_year(year, today)
    at = now or clock_now()
    await _drop_expired(db, at)
    station_id = reach.chosen[0] if reach.chosen else None
    new_id = await db.scalar(
        insert(BinderBuild).values(tenant_id=tenant_id, requested_by=scope.user_id, role=scope.role,
                                   locale=current_locale.get(), station_id=station_id, year=y, status="queued")
        .on_conflict_do_nothing(
            # binder_builds_one_waiting, spelled as its definition (PostgreSQL infers the index from it)
            index_elements=[BinderBuild.tenant_id, BinderBuild.requested_by, text("coalesce(station_id, 0)"),
                            BinderBuild.year],
            index_where=text("status IN ('queued', 'running')"))
        .returning(BinderBuild.id))
    if new_id is None:  # the same binder is waiting or being built for this member
        build = await db.scalar(select(BinderBuild).where(
            BinderBuild.requested_by == scope.user_id, BinderBuild.year == y, BinderBuild.status.in_(WAITING),
            func.coalesce(BinderBuild.station_id, 0) == (station_id or 0)))
        return build, False
    await record(db, tenant_id=tenant_id, actor_user_id=scope.user_id, action="binder_build_requested",
                 target=f"binder_build:{new_id}", client_addr=client_addr,
                 details={"station_id": station_id, "year": y})
    return await db.get(BinderBuild, (tenant_id, new_id)), True


async def get_build(db: AsyncSession, scope: Scope, build_id: int | None) -> BinderBuild:
    """The member's own build: anyone else's, another tenant's or a missing one is NotFound."""
    access.require_binder(scope)
    build = await db.scalar(select(BinderBuild).where(
        BinderBuild.id == build_id, BinderBuild.requested_by == scope.user_id)) if build_id else None
    if build is None:
        raise NotFound()
    return build


async def place(db: AsyncSession, build: BinderBuild, tenant_name: str) -> str:
    """What the binder is of: the station's name, or the county's for a roll-up."""
    if build.station_id is None:
        return tenant_name
    return await db.scalar(select(Station.name).where(Station.id == build.station_id)) or tenant_name


async def download(db: AsyncSession, build: BinderBuild, *, client_addr: str | None = None,
                   now: datetime | None = None) -> bytes:
    """The workbook's bytes, audited as the immediate workbook is (the binder carries deputies' names
    and the public's matters: who took a copy is logged)."""
    at = now or clock_now()
    data = await db.scalar(select(BinderBuild.data).where(BinderBuild.id == build.id))
    if build.shown_status(at) != "done" or data is None:
        raise Refusal(NOT_READY, status=409)
    await record(db, tenant_id=build.tenant_id, actor_user_id=build.requested_by, action="binder_exported",
                 target="binder:book", client_addr=client_addr,
                 details={"station_id": build.station_id, "year": build.year, "format": "xlsx", "build": build.id})
    return data


# --- the worker's job -----------------------------------------------------------------------------

class _Failed(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


async def run_build(database, tenant_id: int, build_id: int, *, now: datetime | None = None) -> str:
    """Build a queued binder: claimed once, read in one snapshot bound to the tenant as its member,
    the progress saved after each part. Returns the final status, or 'skipped'."""
    async with database.transaction(tenant_id=tenant_id) as db:
        claimed = (await db.execute(
            update(BinderBuild).where(BinderBuild.id == build_id, BinderBuild.status == "queued")
            .values(status="running", started_at=clock_now(), parts_done=0, parts_total=len(book.PARTS))
            .returning(BinderBuild))).scalar_one_or_none()
    if claimed is None:
        return "skipped"
    token = current_locale.set(claimed.locale)
    try:
        body = await _workbook(database, claimed)
    except _Failed as failed:
        return await _fail(database, tenant_id, build_id, failed.code)
    except Exception:
        log.exception("binder build %s/%s failed", tenant_id, build_id)
        return await _fail(database, tenant_id, build_id, "failed")
    finally:
        current_locale.reset(token)
    at = now or clock_now()
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(update(BinderBuild).where(BinderBuild.id == build_id).values(
            status="done", data=body, size=len(body), parts_done=BinderBuild.parts_total, finished_at=at,
            expires_at=at + KEPT))
    return "done"


async def _member_scope(db: AsyncSession, build: BinderBuild) -> Scope:
    """The scope of the member who asked, read now: gone or changed since, the build fails."""
    membership = await db.scalar(select(Membership).where(
        Membership.tenant_id == build.tenant_id, Membership.user_id == build.requested_by,
        Membership.revoked_at.is_(None)))
    if membership is None:
        raise _Failed("removed")
    if membership.role != build.role:
        raise _Failed("role_changed")
    return await scope_of(db, membership)


async def _workbook(database, build: BinderBuild) -> bytes:
    tenant_id, total = build.tenant_id, build.parts_total
    async with database.session(tenant_id=tenant_id, user_id=build.requested_by) as db:
        await db.connection(execution_options={"isolation_level": "REPEATABLE READ"})  # one snapshot
        scope = await _member_scope(db, build)
        try:
            reach = await access.reach(db, scope, str(build.station_id) if build.station_id else None)
        except NotFound:
            raise _Failed("out_of_reach") from None
        tenant = await db.get(Tenant, tenant_id)
        binding = parts.Binding(db, scope, reach.station_ids, build.year, tenant.timezone)
        sections = []
        # PARTS is the binder's order; its length was fixed at the claim (parts_total)
        for done, part in enumerate(book.PARTS[:total], start=1):
            sections.extend(await part(binding))
            async with database.transaction(tenant_id=tenant_id) as progress:
                await progress.execute(update(BinderBuild).where(BinderBuild.id == build.id)
                                       .values(parts_done=done))
        heading = book.title(reach.chosen[1] if reach.chosen else tenant.name, build.year)
        return book.xlsx(sections, heading, ZoneInfo(tenant.timezone))


async def _fail(database, tenant_id: int, build_id: int, code: str) -> str:
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(update(BinderBuild).where(BinderBuild.id == build_id).values(
            status="failed", error=code, data=None, finished_at=clock_now()))
    return "failed"


async def enqueue(redis_url: str, tenant_id: int, build_id: int, *, suffix: str = "") -> bool:
    """Hand the job to arq; False when Redis is away (the build stays queued for the sweep)."""
    return await enqueue_job(redis_url, JOB, tenant_id, build_id, job_id=f"{JOB}:{tenant_id}:{build_id}{suffix}")


# --- the worker's housekeeping: Postgres is the truth, Redis only carries work --------------------

async def sweep(database, redis_url: str, *, now: datetime | None = None) -> int:
    """Builds queued in PostgreSQL but not in Redis, and builds whose worker died, enqueued again
    (every county's, through ``binder_builds_waiting``); a build that kept dying for RETRY_FOR fails.
    Returns how many were enqueued."""
    at = now or clock_now()
    async with database.transaction() as db:
        waiting = (await every_county(db, "SELECT tenant_id, build_id FROM binder_builds_waiting(:before)",
                                      {"before": at - STALE})).all()
    suffix, count = f":sweep{int(at.timestamp() // SWEEP_WINDOW)}", 0
    for tenant_id, build_id in waiting:
        if not await _requeue(database, tenant_id, build_id, at):
            continue
        if not await enqueue(redis_url, tenant_id, build_id, suffix=suffix):
            break  # Redis is away: the rest wait for the next sweep rather than for a timeout each
        count += 1
    return count


async def _requeue(database, tenant_id: int, build_id: int, at: datetime) -> bool:
    mine = BinderBuild.id == build_id
    dead = (BinderBuild.status == "queued") | (
        (BinderBuild.status == "running") & (BinderBuild.started_at < at - STALE))
    async with database.transaction(tenant_id=tenant_id) as db:
        gave_up = (await db.execute(update(BinderBuild).where(
            mine, dead, BinderBuild.started_at.is_not(None), BinderBuild.created_at < at - RETRY_FOR,
        ).values(status="failed", error="failed", data=None, finished_at=at))).rowcount
        if gave_up:
            log.warning("binder build %s/%s failed: its builds kept dying", tenant_id, build_id)
            return False
        requeued = (await db.execute(update(BinderBuild).where(mine, dead).values(status="queued"))).rowcount
    return bool(requeued)


async def purge_expired(database, *, now: datetime | None = None) -> int:
    """The worker's hourly pass over the counties with anything to purge (`binder_builds_purge_tenants`,
    migration 0042: one call, ids only; each in a short transaction bound to it): expired workbooks
    lose their bytes, and builds older than FORGOTTEN go. Returns how many were touched."""
    at = now or clock_now()
    async with database.transaction() as db:
        tenant_ids = list((await every_county(db, "SELECT tenant_id FROM binder_builds_purge_tenants(:at, :forgotten)",
                                              {"at": at, "forgotten": at - FORGOTTEN})).scalars())
    touched = 0
    for tenant_id in tenant_ids:
        async with database.transaction(tenant_id=tenant_id) as db:
            touched += (await db.execute(update(BinderBuild).where(
                BinderBuild.data.is_not(None), BinderBuild.expires_at <= at).values(data=None))).rowcount or 0
            touched += (await db.execute(delete(BinderBuild).where(
                BinderBuild.created_at < at - FORGOTTEN, BinderBuild.status.not_in(WAITING)))).rowcount or 0
    return touched
