"""The Citus part of the suite (issue 21, marked ``citus``): a coordinator and two worker nodes started
by scripts/citus.sh (Citus built from ../shared/citus/ once per machine), a database of this test
process's own on all three nodes with the extension and the workers registered, the schema built
with the same Alembic migrations as everywhere and then distributed with `distribute`
(app.core.distribute), as deploy/README.md tells an operator to."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncpg
import pytest

from app.core.settings import derive_app_url, load_settings
from tests.locks import taking_turns

CITUS_SH = Path(__file__).resolve().parents[2] / "scripts" / "citus.sh"
PORT = int(os.environ.get("LIANLUO_CITUS_PORT", "9700"))
NODES = (PORT, PORT + 1, PORT + 2)  # the coordinator, then the workers
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
DB = "lianluo_citus" + (f"_{WORKER}" if WORKER else "")


async def _on(port: int, database: str, *statements: str) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database=database)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _fresh_database() -> None:
    for port in NODES:
        await _on(port, "postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"CREATE DATABASE {DB}")
        await _on(port, DB, "CREATE EXTENSION citus")
    await _on(NODES[0], DB, f"SELECT citus_set_coordinator_host('127.0.0.1', {NODES[0]})",
              *(f"SELECT citus_add_node('127.0.0.1', {port})" for port in NODES[1:]))


async def _refuse_fan_out() -> None:
    """Every statement of the runtime role must name its tenant (DESIGN.md): here a statement that
    Citus would send to more than one shard is an error, so a test that runs it fails and names it."""
    await _on(NODES[0], DB, f"ALTER ROLE lianluo_app IN DATABASE {DB} SET citus.multi_task_query_log_level = 'error'")


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
    from app.cli import distribute_schema, migrate

    with taking_turns(f"citus:{PORT}"):  # starting the cluster, creating roles on it
        subprocess.run([str(CITUS_SH), "start"], check=True)
        asyncio.run(_fresh_database())
        owner_url = f"postgresql+asyncpg://postgres@127.0.0.1:{NODES[0]}/{DB}"
        migrate(owner_url)
    asyncio.run(distribute_schema(owner_url))
    asyncio.run(_refuse_fan_out())
    return load_settings(
        database_url=owner_url,
        app_database_url=derive_app_url(owner_url, "lianluo_app", None),
        redis_url=servers[1],  # the suite's (kept apart by the database name in the cache keys)
        data_dir=tmp_path_factory.mktemp("citus-data"),
        secure_cookies=False,
    )
