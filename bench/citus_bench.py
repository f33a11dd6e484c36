"""A county's pages among 1 and among N counties, on one PostgreSQL and on the Citus cluster (issue 21).

    .venv/bin/python bench/citus_bench.py [--tenants 1000] [--requests 60] [--only single|citus]

For each backend: a fresh database with the demo (santai, yuci and their joint station), the latency
of santai's main pages as its county admin (in-process, sequential: median and p95 of `--requests`
each), then `--tenants` - 1 more counties — each a copy of every santai row of every tenant table
(its places, stations, deputies, activities, cases...; not its members), so every shard holds
counties as big as santai — statistics gathered, and the same pages again. One line per page and
count; the last column is the ratio among N to among 1 (1.0 = flat).

Backends: "single" is DATABASE_URL's server (default: this machine's PostgreSQL, as the postgres
superuser) with LIANLUO_DB_CITUS off; "citus" is scripts/citus.sh's cluster (started if it is not
running; Citus's default 32 shards a table over its two workers) with LIANLUO_DB_CITUS on, the
schema distributed by `lianluo distribute` as deploy/README.md says. REDIS_URL (default db 13 on
this machine's Redis). Each bench database is dropped and made again on every run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import copy_santai  # noqa: E402 (bench/)
os.environ.setdefault("LIANLUO_SECRET_KEY", "citus-bench-secret-key")

SINGLE_DB = "lianluo_bench_counties"
CITUS_DB = "lianluo_bench_citus"
PAGES = [("county home", "/t/santai/"), ("deputies", "/t/santai/deputies"), ("cases", "/t/santai/cases"),
         ("a case", None), ("compliance", "/t/santai/compliance"), ("activities", "/t/santai/activities")]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000, help="counties in the second measurement (default 1000)")
    parser.add_argument("--requests", type=int, default=60, help="requests of each page per measurement (default 60)")
    parser.add_argument("--only", choices=("single", "citus"), help="one backend only")
    return parser.parse_args(argv)


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def single_database() -> tuple[str, str]:
    """(owner URL, superuser URL) of a fresh migrated database on DATABASE_URL's server."""
    from sqlalchemy.engine import make_url

    from app.cli import migrate
    from app.core.settings import to_async_url

    server = make_url(to_async_url(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")))
    plain = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    await _admin(plain, f"DROP DATABASE IF EXISTS {SINGLE_DB} WITH (FORCE)", f"CREATE DATABASE {SINGLE_DB}")
    url = server.set(database=SINGLE_DB).render_as_string(hide_password=False)
    await asyncio.to_thread(migrate, url)
    return url, url


def citus_database() -> tuple[str, str]:
    from tests.citus.cluster import distributed_database

    return distributed_database(CITUS_DB, shards=32)


def bench_settings(owner_url: str, citus: bool):
    from app.core.settings import derive_app_url, load_settings

    return load_settings(database_url=owner_url, app_database_url=derive_app_url(owner_url, "lianluo_app", None),
                         redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"), secure_cookies=False,
                         allowed_hosts=["bench.local"], db_citus=citus)


async def measure(settings, requests: int) -> dict[str, tuple[float, float]]:
    """{page: (median ms, p95 ms)} of `requests` sequential requests of each page by santai's admin."""
    import re

    from litestar.testing import AsyncTestClient

    from app.demo import DEMO_PASSWORD
    from app.main import create_app

    logging.disable(logging.INFO)
    figures = {}
    async with AsyncTestClient(app=create_app(settings), base_url="http://bench.local") as client:
        page = await client.get("/login")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
        signed = await client.post("/login", data={"login": "santai-admin", "password": DEMO_PASSWORD,
                                                  "_csrf_token": token}, follow_redirects=False)
        assert signed.status_code == 303, signed.status_code
        cases = await client.get("/t/santai/cases")
        a_case = re.search(r'href="(/t/santai/cases/\d+)"', cases.text).group(1)
        for label, path in PAGES:
            path = path or a_case
            times = []
            for _ in range(requests + 3):  # three first ones warm the caches and are not counted
                started = time.perf_counter()
                answer = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
            times = sorted(times[3:])
            figures[label] = (statistics.median(times), times[int(len(times) * 0.95) - 1])
    return figures


async def bench(name: str, owner_url: str, superuser_url: str, args) -> None:
    from app.core.db import Database
    from app.demo import load_demo

    settings = bench_settings(owner_url, citus=name == "citus")
    started = time.perf_counter()
    database = Database(settings)
    await load_demo(database)
    await database.dispose()
    print(f"[{name}] demo loaded in {time.perf_counter() - started:.0f} s", flush=True)
    await _admin(superuser_url.replace("+asyncpg", ""), "ANALYZE")
    among_one = await measure(settings, args.requests)
    seconds = await copy_santai(superuser_url, args.tenants - 1)
    print(f"[{name}] {args.tenants - 1} copies of santai made in {seconds:.0f} s", flush=True)
    from app.public.invalidation import forget_everything_kept

    forget_everything_kept(settings)  # what the caches kept was read before the copies
    among_n = await measure(settings, args.requests)
    print(f"{'backend':<8}{'page':<14}{'median ms (1)':>14}{'p95 (1)':>9}{f'median ({args.tenants})':>16}"
          f"{f'p95 ({args.tenants})':>11}{'ratio':>7}")
    for label, _ in PAGES:
        (m1, p1), (mn, pn) = among_one[label], among_n[label]
        print(f"{name:<8}{label:<14}{m1:>14.1f}{p1:>9.1f}{mn:>16.1f}{pn:>11.1f}{mn / m1:>7.2f}", flush=True)


def main(argv=None) -> None:
    from app.wiring import plug_in

    plug_in()  # as every entry point does
    args = parse_args(argv)
    if args.only != "citus":
        owner, superuser = asyncio.run(single_database())
        asyncio.run(bench("single", owner, superuser, args))
    if args.only != "single":
        owner, superuser = citus_database()
        asyncio.run(bench("citus", owner, superuser, args))


if __name__ == "__main__":
    main()
