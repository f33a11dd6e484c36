"""The Citus part of the suite (issue 21, marked ``citus``): a coordinator and two worker nodes started
by scripts/citus.sh (Citus built from ../shared/citus/ once per machine), a database of this test
process's own on all three nodes with the extension and the workers registered, the schema built
with the same Alembic migrations as everywhere and then distributed with `distribute`
(app.core.distribute), as deploy/README.md tells an operator to."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace

import asyncpg
import pytest

from app.core.settings import load_settings
from tests.citus.cluster import NODES, app_url, distributed_database, on_node

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
DB = "lianluo_citus" + (f"_{WORKER}" if WORKER else "")


async def _refuse_fan_out() -> None:
    """Every statement of the runtime role must name its tenant (DESIGN.md): here a statement that
    Citus would send to more than one shard is an error, so a test that runs it fails and names it."""
    await on_node(NODES[0], DB,
                  f"ALTER ROLE lianluo_app IN DATABASE {DB} SET citus.multi_task_query_log_level = 'error'")


@pytest.fixture(autouse=True)
def clean_database():
    """Instead of the suite's table reset on the single server: each test here makes its own tenants."""


async def coordinator(role: str = "postgres") -> asyncpg.Connection:
    """A connection to this process's database on the coordinator. The coordinator passes a
    transaction's SET LOCAL on to the worker connections it uses only with this session setting
    (../shared/STACK-NOTES.md), as the app's connections set it too."""
    return await asyncpg.connect(host="127.0.0.1", port=NODES[0], user=role, database=DB,
                                 server_settings={"citus.propagate_set_commands": "local"})


@pytest.fixture
def coordinator_sql():
    """Rows of one statement as the superuser on the coordinator (reads every shard)."""
    async def fetch(sql: str, *args) -> list:
        conn = await coordinator()
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return fetch


@pytest.fixture(scope="session")
def citus_settings(servers, tmp_path_factory):
    owner_url, _superuser_url = distributed_database(DB)
    asyncio.run(_refuse_fan_out())
    return load_settings(
        database_url=owner_url,
        app_database_url=app_url(owner_url),
        redis_url=servers[1],  # the suite's (kept apart by the database name in the cache keys)
        data_dir=tmp_path_factory.mktemp("citus-data"),
        secure_cookies=False,
    )


@pytest.fixture(scope="session")
def on_citus(citus_settings):
    """The product's settings on the cluster: LIANLUO_DB_CITUS on."""
    return replace(citus_settings, db_citus=True, count_queries=True,
                   allowed_hosts=["testserver.local", "localhost", "127.0.0.1"])


@pytest.fixture
async def citus_database(on_citus):
    from app.core.db import Database

    database = Database(on_citus)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def citus_demo(on_citus):
    """The demo, loaded once into this process's cluster database through the product's services."""
    from app.core.db import Database
    from app.demo import load_demo

    database = Database(on_citus)
    try:
        await load_demo(database)
    finally:
        await database.dispose()
