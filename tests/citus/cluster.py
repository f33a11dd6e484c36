"""The local Citus cluster for tests (issue 21): a coordinator and two worker nodes started by
scripts/citus.sh (Citus built from ../shared/citus/ once per machine), and a database on all three
nodes built as deploy/README.md's "Scale-out: Citus" says: a superuser makes the database (owned by
the non-superuser owner role), the extension and the nodes; the owner migrates with the same Alembic
migrations as everywhere, then distributes (app.core.distribute)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncpg

from app.core.settings import derive_app_url
from tests.locks import taking_turns

CITUS_SH = Path(__file__).resolve().parents[2] / "scripts" / "citus.sh"
PORT = int(os.environ.get("LIANLUO_CITUS_PORT", "9700"))
NODES = (PORT, PORT + 1, PORT + 2)  # the coordinator, then the workers
OWNER = "lianluo_owner"
BACKUP = "lianluo_backup"  # pg_dump's role (deploy/README.md, "Backups")
# 4 shards a table in the tests, not Citus's 32: the two workers still hold two each, and the tests'
# set-up (a few counties, a table reset per test) costs an eighth of the shard work
SHARDS = 4


async def on_node(port: int, database: str, *statements: str) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database=database)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def fresh_database(db: str, shards: int) -> None:
    for port in NODES:  # roles are the node's, not the database's (made outside a Citus database)
        for role, attributes in ((OWNER, "LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS"),
                                 (BACKUP, "LOGIN NOSUPERUSER BYPASSRLS")):  # the DBA's, as deploy/README.md
            await on_node(port, "postgres", f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                  CREATE ROLE {role} {attributes};
                END IF; END $$""")
        await on_node(port, "postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)",
                      f"CREATE DATABASE {db} OWNER {OWNER}")
        await on_node(port, db, "CREATE EXTENSION citus")
    await on_node(NODES[0], "postgres", f"ALTER DATABASE {db} SET citus.shard_count = {shards}")
    await on_node(NODES[0], db, f"SELECT citus_set_coordinator_host('127.0.0.1', {NODES[0]})",
                  *(f"SELECT citus_add_node('127.0.0.1', {port})" for port in NODES[1:]))
    # The runtime and sweep roles made by the superuser in the Citus database (deploy/README.md): made
    # by the owner's migration there, Citus passes the new role on to the workers along with an ALTER
    # ROLE of the owner itself, which only a superuser may run — on a fresh cluster the migration failed
    for role, attributes in (("lianluo_app", "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"),
                             ("lianluo_sweep", "NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT")):
        await on_node(NODES[0], db, f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
              CREATE ROLE {role} {attributes};
            END IF; END $$""")


def distributed_database(db: str, shards: int = SHARDS) -> tuple[str, str]:
    """A fresh, migrated and distributed database `db` on the cluster (started if it is not running),
    `shards` a table. Returns (the owner's URL, the superuser's URL) on the coordinator."""
    from app.cli import distribute_schema, migrate

    with taking_turns(f"citus:{PORT}"):  # starting the cluster, creating roles on it
        subprocess.run([str(CITUS_SH), "start"], check=True)
        asyncio.run(fresh_database(db, shards))
        owner_url = f"postgresql+asyncpg://{OWNER}@127.0.0.1:{NODES[0]}/{db}"
        migrate(owner_url)
    asyncio.run(distribute_schema(owner_url))
    return owner_url, f"postgresql+asyncpg://postgres@127.0.0.1:{NODES[0]}/{db}"


def app_url(owner_url: str) -> str:
    return derive_app_url(owner_url, "lianluo_app", None)
