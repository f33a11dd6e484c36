"""The worker's periodic jobs among idle counties: does a run cost more with 1,000 counties that have
nothing to do than with one? (issue 20)

    .venv/bin/python bench/worker_bench.py                     # embedded PostgreSQL in a temporary folder
    DATABASE_URL=postgresql://postgres@127.0.0.1/lianluo_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
      .venv/bin/python bench/worker_bench.py [--tenants 1000] [--runs 3]   # that database (migrated)

Makes one county from the standard preset (what a sign-up gets: its configuration and rules, no
stations, deputies or cases yet), then copies it into N idle counties with plain SQL (the tenants
row, tenant_config, activity kinds and rules: seconds for a thousand). For 1 county and again for
1 + N, each job the worker runs on a timer is called as the worker calls it, `--runs` times: the
median seconds and the queries of one run (`app.core.db.query_counter`). `produce_reminders`, the
purges of exports and binder workbooks are also run the way they ran before migration 0042 (a
transaction per active county, or per county), marked "(every tenant)", for comparison in the same
database. Nothing is asserted on time; tests/jobs/test_due_tenants.py asserts the query counts.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import analyze, bench_database  # noqa: E402 (bench/)

# Tables a sign-up fills for the county: copied row for row into every idle county.
COPIED = ("tenant_config", "activity_kinds", "activity_rules")


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


async def signed_up(database) -> int:
    from app.presets.services import apply_preset, load_preset

    tenant = await apply_preset(database, load_preset("standard"), slug=f"wb{int(time.time())}",
                                name="作业基准县人大常委会", division_code="510722", county="作业基准县", status="active")
    return tenant.id


async def copy_idle(owner_url: str, template: int, n: int) -> None:
    """n counties like `template`, by INSERT … SELECT as the owner (forced RLS: bound to each in turn
    would take minutes, so the copy sets the binding per tenant inside one DO block)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(owner_url)
    conn = await asyncpg.connect(user=url.username, password=url.password, host=url.query.get("host") or url.host,
                                 port=url.port, database=url.database)
    try:
        stamp = int(time.time())
        ids = [r["id"] for r in await conn.fetch(
            "INSERT INTO tenants (slug, name, division_code, kind, status, preset) "
            "SELECT 'idle' || $1::text || '-' || n, '空闲' || n || '县人大常委会', '510722', 'county', 'active', 'standard' "
            "FROM generate_series(1, $2::int) n RETURNING id", str(stamp), n)]
        for table in COPIED:
            columns = [r["column_name"] for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = 'public' "
                "AND column_name NOT IN ('tenant_id', 'id') AND is_generated = 'NEVER' ORDER BY ordinal_position", table)]
            cols = ", ".join(columns)
            async with conn.transaction():
                await conn.execute(f"SELECT set_config('app.tenant_id', '{template}', true)")
                rows = await conn.fetch(f"SELECT {cols} FROM {table} WHERE tenant_id = $1", template)
                for tid in ids:
                    await conn.execute(f"SELECT set_config('app.tenant_id', '{tid}', true)")
                    await conn.executemany(
                        f"INSERT INTO {table} (tenant_id, {cols}) VALUES ($1, {', '.join(f'${i + 2}' for i in range(len(columns)))})",
                        [(tid, *r.values()) for r in rows])
    finally:
        await conn.close()


# --- the jobs, as the worker calls them ----------------------------------------------------------

def jobs(settings, now: datetime):
    from app.activities.signin import purge_codes
    from app.binder import builds
    from app.data import exports
    from app.deputies import imports
    from app.jobs.scheduled import run_scheduled
    from app.joint.deputies import sync_all
    from app.notify.sweep import Channels, sweep
    from app.notify.sms import UnconfiguredSms

    channels = Channels(sms=UnconfiguredSms())
    redis = settings.redis_url
    return {
        "produce_reminders": lambda db: run_scheduled(db, now=now),
        "produce_reminders (every tenant)": lambda db: every_tenant_scheduled(db, now),
        "deliver_notifications (1 pass)": lambda db: sweep(db, now=now, channels=channels),
        "purge_data_exports": lambda db: exports.purge_expired(db, now=now),
        "purge_data_exports (every tenant)": lambda db: every_tenant_exports(db, now),
        "purge_binder_builds": lambda db: builds.purge_expired(db, now=now),
        "purge_binder_builds (every tenant)": lambda db: every_tenant_binders(db, now),
        "purge_signin_codes": lambda db: purge_codes(db, now=now),
        "sync_joint_deputies": lambda db: sync_all(db),
        "sweep_imports": lambda db: imports.sweep(db, redis),
        "sweep_data_exports": lambda db: exports.sweep(db, redis, now=now),
        "sweep_binder_builds": lambda db: builds.sweep(db, redis, now=now),
    }


async def every_tenant_scheduled(database, now: datetime) -> int:
    """`run_scheduled` before migration 0042: `produce` for every active county."""
    from sqlalchemy import select

    from app.jobs.scheduled import produce
    from app.tenancy.models import Tenant

    async with database.transaction() as db:
        tenants = (await db.execute(select(Tenant.id, Tenant.slug).where(Tenant.status == "active")
                                    .order_by(Tenant.id))).all()
    total = 0
    for tenant_id, slug in tenants:
        total += sum((await produce(database, tenant_id, slug, now)).values())
    return total


async def _every_tenant(database, statements) -> int:
    from sqlalchemy import select

    from app.tenancy.models import Tenant

    async with database.transaction() as db:
        ids = list(await db.scalars(select(Tenant.id).order_by(Tenant.id)))
    touched = 0
    for tenant_id in ids:
        async with database.transaction(tenant_id=tenant_id) as db:
            for statement in statements:
                touched += (await db.execute(statement)).rowcount or 0
    return touched


async def every_tenant_exports(database, now: datetime) -> int:
    from sqlalchemy import update

    from app.data.models import DataExport

    return await _every_tenant(database, [update(DataExport).where(DataExport.data.is_not(None),
                                                                   DataExport.expires_at <= now).values(data=None)])


async def every_tenant_binders(database, now: datetime) -> int:
    from sqlalchemy import delete, update

    from app.binder.build_models import BinderBuild
    from app.binder.builds import FORGOTTEN, WAITING

    return await _every_tenant(database, [
        update(BinderBuild).where(BinderBuild.data.is_not(None), BinderBuild.expires_at <= now).values(data=None),
        delete(BinderBuild).where(BinderBuild.created_at < now - FORGOTTEN, BinderBuild.status.not_in(WAITING))])


async def measure(database, job, runs: int) -> tuple[float, int]:
    from app.core.db import query_counter

    times, queries = [], 0
    for _ in range(runs):
        counter = [0]
        token = query_counter.set(counter)
        started = time.perf_counter()
        try:
            await job(database)
        finally:
            query_counter.reset(token)
        times.append(time.perf_counter() - started)
        queries = counter[0]
    return statistics.median(times), queries


async def main() -> int:
    n, runs = _arg("--tenants", 1000), _arg("--runs", 3)
    # 10:00 in Shanghai on a Wednesday: after the nudges' 09:00 and past the default mailbox weekday
    now = datetime.now(timezone.utc).replace(hour=2, minute=0, second=0, microsecond=0)
    now += timedelta(days=(2 - now.weekday()) % 7)
    async with bench_database("worker") as (settings, database):
        template = await signed_up(database)
        await analyze(settings.database_url)
        results: dict[str, list] = {}
        for label, extra in (("1 county", 0), (f"{1 + n} counties", n)):
            if extra:
                started = time.perf_counter()
                await copy_idle(settings.database_url, template, extra)
                await analyze(settings.database_url)
                print(f"copied {extra} idle counties in {time.perf_counter() - started:.1f} s", flush=True)
            for name, job in jobs(settings, now).items():
                results.setdefault(name, []).append(await measure(database, job, runs))
        print(f"{'job':<36}{'1 county':>12}{'queries':>9}{f'{1 + n} counties':>16}{'queries':>9}")
        for name, ((s1, q1), (sn, qn)) in results.items():
            print(f"{name:<36}{s1 * 1000:>10.1f}ms{q1:>9}{sn * 1000:>14.1f}ms{qn:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
