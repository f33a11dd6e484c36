"""What the county-size benches share: their own database (embedded, or DATABASE_URL migrated), a
county with a tree of townships and communities and its admin, committed statistics, a signed-in
in-process client, and one printed line per request (status, X-Query-Count, brotli bytes, server ms).
Used by bench/compliance_bench.py and bench/cases_bench.py; ``copy_santai`` (a county among many) by
bench/citus_bench.py and bench/throughput.py."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "bench-password-1"


@asynccontextmanager
async def bench_database(name: str):
    """(settings, Database) on the embedded servers in a temporary folder, or on DATABASE_URL /
    REDIS_URL (migrated first); query counting on."""
    import app.main  # noqa: F401  (registers every model)
    from app.cli import migrate
    from app.core.db import Database
    from app.core.settings import load_settings

    embedded = None
    if not os.environ.get("DATABASE_URL"):
        from app.core.embedded import start_embedded

        tmp = Path(tempfile.mkdtemp(prefix=f"lianluo-{name}-bench-"))
        os.environ.setdefault("LIANLUO_DATA_DIR", str(tmp))
        print(f"embedded PostgreSQL in {tmp} ...", flush=True)
        embedded = start_embedded(tmp / "servers", temporary=True)
        os.environ["DATABASE_URL"] = embedded.database_url
        os.environ.setdefault("REDIS_URL", embedded.redis_url)
    os.environ.setdefault("LIANLUO_SECRET_KEY", f"{name}-bench-secret-key")
    settings = load_settings(count_queries=True, secure_cookies=False, allowed_hosts=["bench.local"])
    await asyncio.to_thread(migrate, settings.database_url)
    database = Database(settings)
    try:
        yield settings, database
    finally:
        await database.dispose()
        if embedded is not None:
            embedded.stop()


@dataclass
class BenchCounty:
    tenant: object
    slug: str
    user: object  # the county admin
    station_kind_id: int


async def bench_county(database, prefix: str, townships: int, communities: int) -> BenchCounty:
    """A county tenant with ``townships`` × ``communities`` places, its admin and a station kind."""
    from app.accounts.models import Membership
    from app.accounts.services import create_user
    from app.stations.models import StationKind
    from app.presets.services import Preset, apply_preset

    slug = f"{prefix}-{int(time.time())}"
    nodes = []
    for t in range(townships):
        nodes.append({"path": f"第{t + 1}镇", "kind": "township"})
        nodes += [{"path": f"第{t + 1}镇/第{c + 1}社区", "kind": "community"} for c in range(communities)]
    tenant = await apply_preset(database, Preset(name="bench", tenant={}, nodes=nodes), slug=slug,
                                name="基准测试县人大常委会", division_code="510722", county="基准县", status="active")
    async with database.transaction() as db:
        user = await create_user(db, username=f"{slug}-admin", display_name="Bench", password=PASSWORD,
                                 mobile=None, is_operator=False)
    async with database.transaction(tenant_id=tenant.id) as db:
        db.add(Membership(tenant_id=tenant.id, user_id=user.id, role="county_admin"))
        kind = StationKind(tenant_id=tenant.id, code="station", name="代表联络站", node_kinds=["community"])
        db.add(kind)
        await db.flush()
        kind_id = kind.id
    return BenchCounty(tenant=tenant, slug=slug, user=user, station_kind_id=kind_id)


async def analyze(owner_url: str) -> None:
    """Fresh statistics for the planner (as the owner: the runtime role owns no table). Without them
    PostgreSQL takes every tenant table for one row under row-level security."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(owner_url)
    async with engine.begin() as conn:  # ANALYZE's statistics are transactional: commit them
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


@asynccontextmanager
async def signed_in_client(settings, username: str):
    """The product in-process, a client signed in as ``username`` (the request log silenced: the bench
    prints one line per request itself)."""
    from litestar.testing import AsyncTestClient

    from app.main import create_app

    app = create_app(settings)
    logging.disable(logging.INFO)
    async with AsyncTestClient(app=app, base_url="http://bench.local") as client:
        page = await client.get("/login")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
        r = await client.post("/login", data={"login": username, "password": PASSWORD, "_csrf_token": token},
                              follow_redirects=False)
        assert r.status_code == 303, r.status_code
        yield client


async def fetch(client, path: str, **headers) -> tuple[int, str, int, float]:
    started = time.perf_counter()
    async with client.stream("GET", path, headers={"Accept-Encoding": "br", **headers}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    return r.status_code, r.headers.get("x-query-count", "?"), len(raw), (time.perf_counter() - started) * 1000


async def print_requests(client, pages: list[tuple[str, str, dict]]) -> None:
    print(f"{'request':<32}{'status':>7}{'queries':>9}{'br bytes':>10}{'ms':>9}")
    for label, path, headers in pages:
        status, queries, size, ms = await fetch(client, path, **headers)
        print(f"{label:<32}{status:>7}{queries:>9}{size:>10}{ms:>9.0f}", flush=True)


NOT_COPIED = {"memberships", "invitations", "audit_log"}  # the copies' people: none (santai's admin stays in one)


async def copy_santai(superuser_url: str, copies: int, first: int = 1) -> float:
    """`copies` counties more (slugs copy-<first>, copy-<first + 1>, ...), each with a copy of santai's rows of every
    tenant table but NOT_COPIED (ids kept: the keys start with tenant_id). As the superuser, triggers
    and foreign-key checks off (the copies are whole); on Citus the coordinator passes SET LOCAL on.
    Returns the seconds taken."""
    import asyncpg

    started = time.perf_counter()
    conn = await asyncpg.connect(superuser_url.replace("+asyncpg", ""),
                                 server_settings={"citus.propagate_set_commands": "local"})
    try:
        citus = await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'citus'")
        santai = await conn.fetchval("SELECT id FROM tenants WHERE slug = 'santai'")
        tables = [r["relname"] for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1")]
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            if citus:
                await conn.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
            new = [r["id"] for r in await conn.fetch(
                "INSERT INTO tenants (slug, name, kind, division_code, status, timezone, sms_quota) "
                "SELECT 'copy-' || g, '副本' || g || '县人大常委会', kind, division_code, status, timezone, sms_quota "
                "FROM tenants, generate_series($3::int, $3::int + $2 - 1) g WHERE id = $1 RETURNING id",
                santai, copies, first)]
            for table in tables:
                if table in NOT_COPIED:
                    continue
                columns = [r["attname"] for r in await conn.fetch(
                    "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
                    "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum", table)]
                rest = [f'"{c}"' for c in columns if c != "tenant_id"]
                await conn.execute(
                    f'INSERT INTO "{table}" (tenant_id, {", ".join(rest)}) OVERRIDING SYSTEM VALUE '
                    f'SELECT n.id, {", ".join(f"t.{c}" for c in rest)} FROM "{table}" t, '
                    f"unnest($2::bigint[]) AS n(id) WHERE t.tenant_id = $1", santai, new)
        await conn.execute("ANALYZE")  # this machine's PostgreSQL runs no autovacuum
    finally:
        await conn.close()
    return time.perf_counter() - started
