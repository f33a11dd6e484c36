"""deploy/README.md's "add a worker and rebalance" on the local cluster (issue 21): a third worker node
joins a database's cluster, its shards are spread over the three, and the counties' rows, sign-in and
pages are as before — on a database of this test's own, which it leaves with three workers."""

from __future__ import annotations

import asyncio
import os
import subprocess

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from app.core.db import Database
from app.core.settings import load_settings
from tests.citus.cluster import CITUS_SH, NODES, app_url, distributed_database
from tests.factories import PASSWORD, add_member, login, make_tenant, make_user

pytestmark = pytest.mark.citus

DB = "lianluo_citus_grow" + (f"_{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else "")


async def _per_node(sql: str) -> list:
    conn = await asyncpg.connect(host="127.0.0.1", port=NODES[0], user="postgres", database=DB)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def placement() -> dict[int, int]:
    """{worker port: distributed shards there}"""
    return dict(await _per_node("SELECT nodeport, count(*) FROM citus_shards "
                                "WHERE citus_table_type = 'distributed' GROUP BY 1"))


async def test_a_worker_added_takes_shards_and_every_county_works_as_before(servers, tmp_path):
    from app.main import create_app

    owner_url, _ = await asyncio.to_thread(distributed_database, DB)  # it runs its own event loop
    settings = load_settings(database_url=owner_url, app_database_url=app_url(owner_url), redis_url=servers[1],
                             data_dir=tmp_path, secure_cookies=False, db_citus=True,
                             allowed_hosts=["testserver.local"])
    database = Database(settings)
    counties = {}
    try:
        for slug in ("grow-a", "grow-b", "grow-c"):
            tenant = await make_tenant(database, slug, nodes=[(f"{slug}镇", "township")])
            user = await make_user(database, f"{slug}-admin")
            await add_member(database, tenant, user, "county_admin")
            counties[slug] = tenant
    finally:
        await database.dispose()
    before = await _per_node("SELECT tenant_id, count(*) FROM admin_nodes GROUP BY 1 ORDER BY 1")
    assert set(await placement()) == set(NODES[1:])

    grown = subprocess.run([str(CITUS_SH), "add-worker", DB], capture_output=True, text=True, timeout=600)
    assert grown.returncode == 0, grown.stderr
    placed = await placement()
    assert set(placed) == {*NODES[1:], NODES[2] + 1} and min(placed.values()) > 0, placed
    assert await _per_node("SELECT tenant_id, count(*) FROM admin_nodes GROUP BY 1 ORDER BY 1") == before

    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as client:
        for slug in counties:
            client.cookies.clear()
            assert (await login(client, f"{slug}-admin", PASSWORD)).status_code == 303
            home = await client.get(f"/t/{slug}/")
            assert home.status_code == 200 and f"{slug}县人大常委会" in home.text
            places = await client.get(f"/t/{slug}/places")
            assert places.status_code == 200 and f"{slug}镇" in places.text
