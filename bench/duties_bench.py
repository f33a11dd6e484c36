"""Points and the yearly appraisal at county size: 10,000 serving deputies with a year of records.

    .venv/bin/python bench/duties_bench.py                     # embedded PostgreSQL in a temporary folder
    DATABASE_URL=postgresql://postgres@127.0.0.1/lianluo_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
      .venv/bin/python bench/duties_bench.py [--explain]     # that database (migrated; a tenant is added)

Builds a county (50 townships × 20 communities, one active station each, ten deputies per station:
10,000; the deputies of half the townships in a 代表小组 per township, the rest ranked at their
station; county, township and city mandates, some holding two), 三台县's points scheme (the
[[points_items]] of app/presets/files/mianyang-santai.toml, caps included), and last year's records:
activities held at every station (receptions, visits, a 述职, surveys the scheme does not count) with
invitations and attendance, and about ten approved duty entries per deputy of mixed kinds besides some
waiting and some rejected. A few hundred deputies have an account (the inbox), every deputy a mobile
(SMS). ANALYZE is committed. Then, as the county admin, each step once: points.compute for a quarter and
for the year, the /points page and its export, publishing the quarter (with the outbox rows it writes),
starting the year's appraisal, adjusting a score, publishing the appraisal, the appraisal page and a
deputy's dossier. One line per step: queries, seconds, rows written, brotli bytes of a page. Nothing is
asserted on time; tests/duties/test_points_scale.py asserts the query counts stay flat.
``--explain`` also prints the plans of compute's aggregates.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import analyze, bench_county, bench_database, fetch, signed_in_client  # noqa: E402 (bench/)

TOWNSHIPS, COMMUNITIES, DEPUTIES_PER_STATION = 50, 20, 10
GROUPED_TOWNSHIPS = 25  # the first 25 townships' deputies form one 代表小组 each (ranked there)
ACCOUNTS = 300  # deputies with a login (their messages also go to the inbox)
TZ = ZoneInfo("Asia/Shanghai")
# activity kind → how many each station holds in the year (the scheme counts the first three)
YEARLY = {"reception": 12, "visit": 6, "duty_report": 1, "survey": 2}
# duty entry kind → (least, most) approved entries a deputy has in the year: ≈ 10 on average
ENTRIES = {"session": (1, 2), "leave": (0, 1), "speech": (1, 5), "motion": (0, 1), "inspection": (1, 4),
           "training": (1, 2), "other": (0, 1)}
TABLES = ("points_publications", "points_published", "outbox", "short_links", "audit_log", "appraisals",
          "appraisal_results")


async def build_county(database):
    """The county, stations, groups, deputies (levels, stations, mobiles, a few accounts), kinds, scheme."""
    from sqlalchemy import insert, select

    from app.accounts.models import Membership, User
    from app.activities.models import STANDARD_KINDS, ActivityKind
    from app.deputies.models import Deputy, DeputyGroup, Mandate, StationDeputy
    from app.presets.points import apply_items
    from app.presets.services import load_preset
    from app.stations.models import Station
    from app.tenancy.models import AdminNode

    county = await bench_county(database, "dbench", TOWNSHIPS, COMMUNITIES)
    t = county.tenant.id
    async with database.transaction() as db:
        password_hash = await db.scalar(select(User.password_hash).where(User.id == county.user.id))
        users = list(await db.scalars(insert(User).returning(User.id), [
            dict(username=f"{county.slug}-d{n}", display_name=f"代表{n:05d}", password_hash=password_hash)
            for n in range(ACCOUNTS)]))
    async with database.transaction(tenant_id=t) as db:
        db.add_all(ActivityKind(tenant_id=t, code=c, name=n, sort=i) for i, (c, n) in enumerate(STANDARD_KINDS))
        await apply_items(db, t, load_preset("mianyang-santai").points_items)
        kinds = {k.code: k.id for k in await db.scalars(select(ActivityKind))}
        communities = (await db.execute(select(AdminNode.id, AdminNode.name).where(AdminNode.kind == "community")
                                        .order_by(AdminNode.id))).all()
        stations = list(await db.scalars(insert(Station).returning(Station.id), [
            dict(tenant_id=t, kind_id=county.station_kind_id, node_id=nid, name=f"{name}人大代表联络站{nid}",
                 status="active") for nid, name in communities]))
        groups = list(await db.scalars(insert(DeputyGroup).returning(DeputyGroup.id), [
            dict(tenant_id=t, name=f"第{n + 1}镇代表小组") for n in range(GROUPED_TOWNSHIPS)]))
        per_township, total = COMMUNITIES * DEPUTIES_PER_STATION, len(stations) * DEPUTIES_PER_STATION
        accounts = dict(zip(range(0, total, total // ACCOUNTS), users))  # spread over the county
        deputies = list(await db.scalars(insert(Deputy).returning(Deputy.id), [
            dict(tenant_id=t, name=f"代表{n:05d}", status="active", mobile=f"139{n:08d}", user_id=accounts.get(n),
                 group_id=groups[n // per_township] if n // per_township < GROUPED_TOWNSHIPS else None)
            for n in range(total)]))
        db.add_all(Membership(tenant_id=t, user_id=u, role="deputy") for u in users)
        mandates = [dict(tenant_id=t, deputy_id=d, level=("county", "county", "township", "city")[i % 4], term=18,
                         direct=True) for i, d in enumerate(deputies)]
        mandates += [dict(tenant_id=t, deputy_id=d, level="township", term=18, direct=True)
                     for i, d in enumerate(deputies) if i % 7 == 0 and i % 4 != 2]  # a second seat
        await db.execute(insert(Mandate), mandates)
        await db.execute(insert(StationDeputy), [dict(tenant_id=t, station_id=stations[i // DEPUTIES_PER_STATION],
                                                      deputy_id=d) for i, d in enumerate(deputies)])
    return county, kinds, stations, deputies


async def build_year(database, tenant_id: int, year: int, kinds: dict, stations: list[int], deputies: list[int],
                     admin_id: int) -> tuple[int, int, int]:
    """The year's held activities with invitations and attendance, and the deputies' duty entries."""
    from sqlalchemy import insert

    from app.activities.models import Activity, Attendance, Invitation
    from app.activities.services import new_token
    from app.duties.models import DutyEntry

    rng = random.Random(18)
    start = date(year, 1, 1)
    acts, plans = [], []
    for si, station in enumerate(stations):
        team = deputies[si * DEPUTIES_PER_STATION:(si + 1) * DEPUTIES_PER_STATION]
        for code, n in YEARLY.items():
            for k in range(n):
                day = start + timedelta(days=int(k * 365 / n) + rng.randrange(0, 365 // n - 1))
                when = datetime(day.year, day.month, day.day, 9, tzinfo=TZ)
                acts.append(dict(tenant_id=tenant_id, kind_id=kinds[code], station_id=station, starts_at=when,
                                 ends_at=when + timedelta(hours=2), status="held", topic=code, place="联络站"))
                plans.append(rng.sample(team, rng.randint(1, 4)))
    entries = []
    for d in deputies:
        for kind, (least, most) in ENTRIES.items():
            for _ in range(rng.randint(least, most)):
                entries.append((d, kind, "approved"))
        entries += [(d, rng.choice(("speech", "inspection")), "filed") for _ in range(rng.randint(0, 2))]
        entries += [(d, "other", "rejected")] if rng.random() < 0.3 else []
    reviewed = datetime(year, 12, 31, tzinfo=TZ)
    async with database.transaction(tenant_id=tenant_id) as db:
        ids = list(await db.scalars(insert(Activity).returning(Activity.id), acts))
        pairs = [(a, d) for a, present in zip(ids, plans) for d in present]
        await db.execute(insert(Invitation), [dict(tenant_id=tenant_id, activity_id=a, deputy_id=d, token=new_token())
                                              for a, d in pairs])
        await db.execute(insert(Attendance), [dict(tenant_id=tenant_id, activity_id=a, deputy_id=d, method="link")
                                              for a, d in pairs])
        await db.execute(insert(DutyEntry), [
            dict(tenant_id=tenant_id, deputy_id=d, day=start + timedelta(days=rng.randrange(365)), kind=kind,
                 text=f"{kind}：履职记录", status=status, reject_reason="不属实" if status == "rejected" else "",
                 filed_by=admin_id, reviewed_by=None if status == "filed" else admin_id,
                 reviewed_at=None if status == "filed" else reviewed)
            for d, kind, status in entries])
    return len(ids), len(pairs), len(entries)


class Rows:
    """Counts of the tables a step writes, read as the owner (row-level security aside)."""

    def __init__(self, owner_url: str):
        from sqlalchemy.ext.asyncio import create_async_engine

        self.engine = create_async_engine(owner_url)

    async def counts(self, tenant_id: int) -> dict[str, int]:
        from sqlalchemy import text

        union = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t} WHERE tenant_id = :t" for t in TABLES)
        async with self.engine.connect() as conn:
            return dict((await conn.execute(text(union), {"t": tenant_id})).all())

    async def dispose(self) -> None:
        await self.engine.dispose()


def _line(label: str, queries, seconds: float, written: str = "", size: str = "", status: str = "") -> None:
    print(f"{label:<40}{status:>6}{queries:>9}{seconds:>9.2f}{size:>10}  {written}", flush=True)


async def step(database, rows: Rows, tenant_id: int, label: str, call, user_id: int | None = None):
    """Run ``call(db)`` in its own transaction with the queries counted; print one line."""
    from app.core.db import query_counter

    before = await rows.counts(tenant_id)
    counter, result, status = [0], None, "ok"
    token = query_counter.set(counter)
    started = time.perf_counter()
    try:
        async with database.transaction(tenant_id=tenant_id, user_id=user_id) as db:
            result = await call(db)
    except Exception as exc:  # noqa: BLE001 — a step that fails at this size is a finding: print it, go on
        status = "error"
        error = f"{type(exc).__name__}: {(str(getattr(exc, 'orig', None) or exc).splitlines() or [''])[0][:200]}"
    finally:
        query_counter.reset(token)
    seconds = time.perf_counter() - started
    after = await rows.counts(tenant_id)
    written = ", ".join(f"{t} {after[t] - before[t]}" for t in TABLES if after[t] != before[t])
    _line(label, counter[0], seconds, written if status == "ok" else error, status=status)
    return result


async def page(client, label: str, path: str) -> None:
    status, queries, size, ms = await fetch(client, path)
    _line(label, queries, ms / 1000, size=str(size), status=str(status))


async def explain(database, tenant_id: int, period, tz) -> None:
    """The plans of compute's aggregates (the statements it sends, with EXPLAIN ANALYZE)."""
    from sqlalchemy import event

    from app.duties import points

    statements = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "count(*)" in statement:
            statements.append((statement, parameters))

    event.listen(database.engine.sync_engine, "before_cursor_execute", keep)
    async with database.transaction(tenant_id=tenant_id) as db:
        await points.compute(db, tenant_id, period, tz)
    event.remove(database.engine.sync_engine, "before_cursor_execute", keep)
    async with database.transaction(tenant_id=tenant_id) as db:
        raw = (await (await db.connection()).get_raw_connection()).driver_connection
        for statement, parameters in statements:
            plan = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *parameters)
            print("\n".join(r[0] for r in plan), end="\n\n")


async def measure(settings, database, county, year: int, deputy_id: int, explain_plans: bool) -> None:
    from app.core.periods import parse_key

    rows = Rows(settings.database_url)
    print(f"{'step':<40}{'status':>6}{'queries':>9}{'seconds':>9}{'br bytes':>10}  rows written", flush=True)
    try:
        async with signed_in_client(settings, county.user.username) as client:
            await client.get(f"/t/{county.slug}/")  # the first entry into the tenant writes its own rows
            await measure_points(database, rows, client, county, parse_key(f"{year}-Q4"), parse_key(str(year)))
            await measure_appraisal(database, rows, client, county, year, deputy_id)
        if explain_plans:
            await explain(database, county.tenant.id, parse_key(str(year)), TZ)
    finally:
        await rows.dispose()


async def measure_points(database, rows: Rows, client, county, quarter, whole) -> None:
    """compute for the quarter and the year, the points page and export, publishing the quarter."""
    from app.duties import point_publishing, points

    t, base, now = county.tenant.id, f"/t/{county.slug}", datetime.now(timezone.utc)
    for label, period in ((f"points.compute {quarter.key}", quarter), (f"points.compute {whole.key}", whole),
                          (f"points.compute {quarter.key} (again)", quarter)):
        await step(database, rows, t, label, lambda db, p=period: points.compute(db, t, p, TZ))
    for period in (quarter, whole):
        await page(client, f"GET /points?period={period.key}", f"{base}/points?period={period.key}")
    await page(client, f"GET /points/export.xlsx ({quarter.key})", f"{base}/points/export.xlsx?period={quarter.key}")
    await step(database, rows, t, f"point_publishing.publish {quarter.key}", lambda db: point_publishing.publish(
        db, tenant_id=t, tenant_name=county.tenant.name, slug=county.slug, actor_id=county.user.id, key=quarter.key,
        tz=TZ, now=now), user_id=county.user.id)
    await page(client, f"GET /points?period={quarter.key} (published)", f"{base}/points?period={quarter.key}")


async def measure_appraisal(database, rows: Rows, client, county, year: int, deputy_id: int) -> None:
    """The year's draft, one adjusted score, the page, publishing, the page again, a dossier."""
    from app.deputies.services import Actor
    from app.duties import appraisal
    from app.tenancy.scope import Scope

    t, base, uid, now = county.tenant.id, f"/t/{county.slug}", county.user.id, datetime.now(timezone.utc)
    actor = Actor(tenant_id=t, user_id=uid, scope=Scope(role="county_admin", node_path=None, station_id=None,
                                                         user_id=uid))
    today = now.astimezone(TZ).date()
    draft = await step(database, rows, t, f"appraisal.create_draft {year}", lambda db: appraisal.create_draft(
        db, actor, year=str(year), excellent="90", pass_="80", report_due=(today + timedelta(days=30)).isoformat(),
        today=today, tz=TZ), user_id=uid)
    if draft is not None:
        await step(database, rows, t, "appraisal.adjust (one score)", lambda db: appraisal.adjust(
            db, actor, draft, deputy_id=deputy_id, score="88.5", reason="补记一次视察"), user_id=uid)
    await page(client, f"GET /appraisals/{year} (draft)", f"{base}/appraisals/{year}")
    await step(database, rows, t, "appraisal.publish", lambda db: _publish_appraisal(db, actor, year, county.slug, now),
               user_id=uid)
    await page(client, f"GET /appraisals/{year} (published)", f"{base}/appraisals/{year}")
    await page(client, f"GET /deputies/{{id}}/dossier?year={year}", f"{base}/deputies/{deputy_id}/dossier?year={year}")


async def _publish_appraisal(db, actor, year: int, slug: str, now: datetime):
    from app.duties import appraisal

    found = await appraisal.appraisal_for(db, actor.tenant_id, year, for_update=True)
    return await appraisal.publish(db, actor, found, slug=slug, now=now, tz=TZ)


async def main() -> int:
    explain_plans = "--explain" in sys.argv[1:]
    async with bench_database("duties") as (settings, database):
        started = time.perf_counter()
        county, kinds, stations, deputies = await build_county(database)
        year = datetime.now(TZ).year - 1  # a whole year whose quarters have all ended
        activities, attended, entries = await build_year(database, county.tenant.id, year, kinds, stations, deputies,
                                                         county.user.id)
        print(f"built {len(stations)} stations, {len(deputies)} deputies, {activities} activities, {attended} "
              f"attendances, {entries} duty entries in {time.perf_counter() - started:.1f} s", flush=True)
        await analyze(settings.database_url)
        await measure(settings, database, county, year, deputies[len(deputies) // 2], explain_plans)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
