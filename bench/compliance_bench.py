"""The compliance board at county size: 300 stations, 3,000 deputies, a year of activities.

    .venv/bin/python bench/compliance_bench.py                 # embedded PostgreSQL in a temporary folder
    DATABASE_URL=postgresql://postgres@127.0.0.1/lianluo_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
      .venv/bin/python bench/compliance_bench.py              # that database (migrated; a tenant is added)

Builds a county (15 townships × 20 communities, one active station each, ten deputies per station),
the standard activity kinds, Jinzhong's ten rules (十个一, from app/presets/files/jinzhong-yuci.toml), and the
twelve months up to today of activities with invitations and attendance, opinions and suggestions. Then runs the product in-process with query counting and requests, as the county admin,
the board at county level, at a township and at a station, the htmx partial, a verdict's detail and
the export. Prints per request: status, X-Query-Count, compressed (brotli) bytes and server time.
Nothing is asserted on time; the tests (tests/compliance) assert that the query count is constant.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import analyze, bench_county, bench_database, print_requests, signed_in_client  # noqa: E402 (bench/)

TOWNSHIPS, COMMUNITIES, DEPUTIES_PER_STATION = 15, 20, 10
TZ = ZoneInfo("Asia/Shanghai")
# kind → how many a station holds in a year (some months are skipped at random: verdicts vary)
YEARLY = {"reception": 12, "visit": 12, "survey": 4, "training": 4, "meeting": 4, "exchange": 1,
          "duty_report": 1, "briefing": 2}


def jinzhong_rules() -> list[dict]:
    """The ten rules of 十个一, as app/presets/files/jinzhong-yuci.toml ships them."""
    from app.presets.services import load_preset

    return [dict(r) for r in load_preset("jinzhong-yuci").rules]


async def build_county(database):
    """The county (bench/common.py), its stations, deputies, kinds and rules; returns (county, ids)."""
    from sqlalchemy import insert, select

    from app.activities.models import STANDARD_KINDS, ActivityKind
    from app.activities.models import Rule
    from app.compliance.rules import check_rule
    from app.deputies.models import Deputy, Mandate, StationDeputy
    from app.stations.models import Station
    from app.tenancy.models import AdminNode

    county = await bench_county(database, "cbench", TOWNSHIPS, COMMUNITIES)
    t = county.tenant.id
    async with database.transaction(tenant_id=t) as db:
        db.add_all(ActivityKind(tenant_id=t, code=c, name=n, sort=i) for i, (c, n) in enumerate(STANDARD_KINDS))
        await db.flush()
        kinds = {k.code: k.id for k in await db.scalars(select(ActivityKind))}
        for i, values in enumerate(jinzhong_rules()):
            db.add(Rule(tenant_id=t, sort=i, **check_rule(values, kind_codes=set(kinds), station_kind_codes={"station"})))
        communities = (await db.execute(select(AdminNode.id, AdminNode.name).where(AdminNode.kind == "community")
                                        .order_by(AdminNode.id))).all()
        stations = list(await db.scalars(insert(Station).returning(Station.id), [
            dict(tenant_id=t, kind_id=county.station_kind_id, node_id=nid, name=f"{name}人大代表联络站{nid}",
                 status="active") for nid, name in communities]))
        deputies = list(await db.scalars(insert(Deputy).returning(Deputy.id), [
            dict(tenant_id=t, name=f"代表{n:04d}", status="active")
            for n in range(len(stations) * DEPUTIES_PER_STATION)]))
        await db.execute(insert(Mandate), [dict(tenant_id=t, deputy_id=d, level=("county", "township", "city")[i % 3],
                                                term=18, direct=True) for i, d in enumerate(deputies)])
        await db.execute(insert(StationDeputy), [dict(tenant_id=t, station_id=stations[i // DEPUTIES_PER_STATION],
                                                      deputy_id=d) for i, d in enumerate(deputies)])
    return county, kinds, stations, deputies


async def build_year(database, tenant_id: int, kinds: dict, stations: list[int], deputies: list[int]) -> int:
    """Twelve months up to today: activities (held), invitations and attendance, opinions, suggestions."""
    from sqlalchemy import insert

    from app.activities.models import Activity, Attendance, Invitation, Opinion, Suggestion
    from app.activities.services import new_token

    rng = random.Random(4)
    today = datetime.now(TZ).date()
    start = today - timedelta(days=364)
    acts, plans = [], []
    for si, station in enumerate(stations):
        team = deputies[si * DEPUTIES_PER_STATION:(si + 1) * DEPUTIES_PER_STATION]
        for code, n in YEARLY.items():
            for k in range(n):
                if rng.random() < 0.15:
                    continue
                day = start + timedelta(days=int(k * 365 / n) + rng.randrange(0, max(1, 365 // n - 1)))
                if day > today:
                    continue
                when = datetime(day.year, day.month, day.day, 9, tzinfo=TZ)
                acts.append(dict(tenant_id=tenant_id, kind_id=kinds[code], station_id=station, starts_at=when,
                                 ends_at=when + timedelta(hours=2), status="held", topic=code, place="联络站"))
                plans.append(rng.sample(team, rng.randint(1, 4)))
    async with database.transaction(tenant_id=tenant_id) as db:
        ids = list(await db.scalars(insert(Activity).returning(Activity.id), acts))
        pairs = [(a, d) for a, present in zip(ids, plans) for d in present]
        await db.execute(insert(Invitation), [dict(tenant_id=tenant_id, activity_id=a, deputy_id=d, token=new_token())
                                              for a, d in pairs])
        await db.execute(insert(Attendance), [dict(tenant_id=tenant_id, activity_id=a, deputy_id=d,
                                                   method="staff" if (a + d) % 17 == 0 else "link",
                                                   on_behalf_reason="手机没电" if (a + d) % 17 == 0 else "")
                                              for a, d in pairs])
        await db.execute(insert(Opinion), [
            dict(tenant_id=tenant_id, deputy_id=d, received_on=start + timedelta(days=rng.randrange(365)),
                 content="群众反映的问题") for d in deputies for _ in range(rng.randint(4, 12))])
        await db.execute(insert(Suggestion), [
            dict(tenant_id=tenant_id, deputy_id=d, title="关于改善道路的建议", filed_on=start + timedelta(days=rng.randrange(365)))
            for d in deputies if rng.random() < 0.6])
    return len(ids)


async def measure(settings, county, township_id: int, station_id: int) -> None:
    import re

    async with signed_in_client(settings, county.user.username) as client:
        base = f"/t/{county.slug}"
        await client.get(f"{base}/")  # the first entry into the tenant writes its own rows
        detail = (await client.get(f"{base}/compliance?station={station_id}")).text
        cell = re.search(r'href="(/t/[^"]+/compliance/detail\?[^"]+)"', detail)
        partial = {"HX-Request": "true", "HX-Target": "board"}
        await print_requests(client, [
            ("board, county level", f"{base}/compliance", {}),
            ("board, county level (again)", f"{base}/compliance", {}),
            ("board, a township", f"{base}/compliance?node={township_id}", {}),
            ("board, a station", f"{base}/compliance?station={station_id}", {}),
            ("board, at risk only, page 2", f"{base}/compliance?verdict=at_risk&page=2", {}),
            ("htmx partial, a township", f"{base}/compliance?node={township_id}", partial),
            ("a verdict's detail", cell.group(1).replace("&amp;", "&") if cell else f"{base}/compliance/detail", {}),
            ("export CSV, whole county", f"{base}/compliance/export.csv", {}),
        ])


async def main() -> int:
    from sqlalchemy import select

    from app.tenancy.models import AdminNode

    async with bench_database("compliance") as (settings, database):
        started = time.perf_counter()
        county, kinds, stations, deputies = await build_county(database)
        n = await build_year(database, county.tenant.id, kinds, stations, deputies)
        print(f"built {len(stations)} stations, {len(deputies)} deputies, {n} activities "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        async with database.transaction(tenant_id=county.tenant.id) as db:
            township = await db.scalar(select(AdminNode.id).where(AdminNode.kind == "township").order_by(AdminNode.id))
        await analyze(settings.database_url)
        await measure(settings, county, township, stations[0])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
