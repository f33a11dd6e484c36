"""deploy/README.md's restore on Citus (issue 21): a pg_dump of the coordinator, as the backup role (BYPASSRLS,
made on every node before migrate, which grants it SELECT), holds every county's rows
(Citus reads the shards for its COPY) and the extension, not the distribution. Restored into a fresh
cluster database — the extension and nodes made by the superuser, the dump without its `EXTENSION
citus` entry, then `distribute`, `after-restore` and `migrate` as the owner — the counties' rows are
all there again, on the shards, and the product works on them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from app.core.db import Database, every_county
from tests.citus.cluster import BACKUP, NODES, OWNER, SHARDS, app_url
from tests.citus.cluster import fresh_database
from tests.citus.conftest import DB
from tests.factories import login

pytestmark = pytest.mark.citus

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")  # the cluster's own PostgreSQL (scripts/citus.sh)
RESTORED = DB.replace("lianluo_citus", "lianluo_citus_restored")
COUNTED = ("admin_nodes", "deputies", "activities", "activity_invitations", "outbox", "memberships")


def _count(table: str, tenant_id: int) -> str:
    return f"SELECT count(*) FROM {table} WHERE tenant_id = {int(tenant_id)}"


def _cli(*args: str, env: dict) -> None:
    done = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"


async def test_a_dump_of_the_coordinator_restores_into_a_fresh_cluster_and_works(on_citus, citus_database,
                                                                                   coordinator_sql, tmp_path):
    from app.main import create_app
    from tests.activities.world import build_activity_county
    from tests.notify.test_activity_reminders import schedule

    county = await build_activity_county(citus_database, "cz-dumped")
    await schedule(citus_database, county, start=datetime.now(timezone.utc) + timedelta(days=6),
                   now=datetime.now(timezone.utc))
    before = {t: (await coordinator_sql(_count(t, county.tenant.id)))[0][0] for t in COUNTED}
    assert all(before.values()), before

    dump, toc = tmp_path / "lianluo.dump", tmp_path / "restore.list"
    dumped = subprocess.run([str(PG_BIN / "pg_dump"), "-Fc", "-h", "127.0.0.1", "-p", str(NODES[0]), "-U", BACKUP,
                             "-f", str(dump), DB], capture_output=True, text=True)  # the backup role, as deploy says
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    entries = subprocess.run([str(PG_BIN / "pg_restore"), "-l", str(dump)], check=True, capture_output=True,
                             text=True).stdout.splitlines()
    toc.write_text("\n".join(e for e in entries if "EXTENSION - citus" not in e
                             and "COMMENT - EXTENSION citus" not in e) + "\n")
    await fresh_database(RESTORED, SHARDS)
    owner = f"postgresql://{OWNER}@127.0.0.1:{NODES[0]}/{RESTORED}"
    restored = subprocess.run([str(PG_BIN / "pg_restore"), "--no-owner", "--exit-on-error", "-L", str(toc),
                               "-d", owner, str(dump)], capture_output=True, text=True)
    assert restored.returncode == 0, restored.stderr[-3000:]
    env = {**os.environ, "DATABASE_URL": owner, "REDIS_URL": on_citus.redis_url, "LIANLUO_DB_CITUS": "1"}
    for step in ("distribute", "after-restore", "migrate"):
        await asyncio.to_thread(_cli, step, env=env)

    async def restored_sql(sql: str):
        import asyncpg

        conn = await asyncpg.connect(host="127.0.0.1", port=NODES[0], user="postgres", database=RESTORED)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    after = {t: await restored_sql(_count(t, county.tenant.id)) for t in COUNTED}
    assert after == before
    assert await restored_sql("SELECT count(*) FROM citus_tables WHERE citus_table_type = 'distributed'") > 40
    on_restored = replace(on_citus, database_url=f"postgresql+asyncpg://{OWNER}@127.0.0.1:{NODES[0]}/{RESTORED}",
                          app_database_url=app_url(f"postgresql+asyncpg://{OWNER}@127.0.0.1:{NODES[0]}/{RESTORED}"))
    database = Database(on_restored)
    try:
        async with database.transaction() as db:  # the worker finds the county's reminders (sweep role again)
            due = (await every_county(db, "SELECT tenant_id FROM outbox_due_tenants(now() + interval '10 days', "
                                          "interval '5 minutes')")).scalars().all()
        assert county.tenant.id in due
    finally:
        await database.dispose()
    async with AsyncTestClient(app=create_app(on_restored), base_url="http://testserver.local") as client:
        assert (await login(client, county.users["admin"].username)).status_code == 303
        home = await client.get(f"/t/{county.slug}/activities")
        assert home.status_code == 200 and "接待选民" in home.text
