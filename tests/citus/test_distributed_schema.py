"""The schema on a real Citus cluster (issue 21): distributed as an operator would (`distribute` after
`migrate`), every tenant table by tenant_id in one co-location group and every platform table a
reference table; row-level security holds on the worker nodes for the runtime role with the tenant
bound by SET LOCAL (propagated to the workers); a query naming its tenant runs on one shard; the
triggers run on the worker that holds the county's rows."""

from __future__ import annotations

import re

import asyncpg
import pytest

from tests.citus.conftest import DB, NODES, coordinator

pytestmark = pytest.mark.citus


async def _bind(conn: asyncpg.Connection, tenant_id: int) -> None:
    await conn.execute(f"SET LOCAL app.tenant_id = '{int(tenant_id)}'")
    await conn.execute("SET LOCAL app.user_id = ''")


async def _two_counties(owner: asyncpg.Connection, prefix: str) -> tuple[int, int]:
    rows = await owner.fetch(
        "INSERT INTO tenants (slug, name, kind, division_code) VALUES ($1, '一县', 'county', '510722'), "
        "($2, '二县', 'county', '510723') RETURNING id", f"{prefix}-1", f"{prefix}-2")
    return rows[0]["id"], rows[1]["id"]


async def _add_root(app: asyncpg.Connection, tenant_id: int, name: str) -> None:
    async with app.transaction():
        await _bind(app, tenant_id)
        await app.execute("INSERT INTO admin_nodes (tenant_id, name, kind, path) VALUES ($1, $2, 'county', '/')",
                          tenant_id, name)


async def test_tenant_tables_are_distributed_together_and_platform_tables_are_reference_tables(citus_settings):
    owner = await coordinator("postgres")
    try:
        tables = {r["relname"]: r["per_tenant"] for r in await owner.fetch(
            "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
            "AND a.attname = 'tenant_id') AS per_tenant FROM pg_class c "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'")}
        placed = {r["name"]: r for r in await owner.fetch(
            "SELECT logicalrelid::regclass::text AS name, partmethod::text, colocationid, "
            "column_to_column_name(logicalrelid, partkey) AS column FROM pg_dist_partition")}
    finally:
        await owner.close()
    tenant = {name for name, per_tenant in tables.items() if per_tenant}
    platform = {name for name, per_tenant in tables.items() if not per_tenant} - {"alembic_version"}
    assert len(tenant) > 70 and {"cases", "deputies", "invitations", "outbox"} <= tenant
    assert {name for name, r in placed.items() if r["partmethod"] == "h"} == tenant
    assert {placed[name]["column"] for name in tenant} == {"tenant_id"}
    assert len({placed[name]["colocationid"] for name in tenant}) == 1  # one shard group per county
    assert {name for name, r in placed.items() if r["partmethod"] == "n"} == platform
    assert "alembic_version" not in placed  # stays on the coordinator


async def test_the_shards_keep_forced_row_level_security_and_their_triggers(citus_settings):
    """distribute lifts FORCE and the triggers while Citus copies a table's rows (app.core.distribute):
    on every worker, every shard of a tenant table is back to forced (case_search is not forced by
    design: tests/isolation/catalog.py UNFORCED) with its triggers enabled."""
    for port in NODES[1:]:
        conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database=DB,
                                     server_settings={"citus.show_shards_for_app_name_prefixes": "*"})
        try:
            shards = await conn.fetchval("SELECT count(*) FROM pg_class WHERE relrowsecurity AND relkind = 'r'")
            unforced = await conn.fetch("SELECT relname FROM pg_class WHERE relrowsecurity AND relkind = 'r' "
                                        "AND NOT relforcerowsecurity AND relname !~ '^case_search(_[0-9]+)?$'")
            disabled = await conn.fetch("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D'")
        finally:
            await conn.close()
        assert shards > 100 and unforced == [] and disabled == [], (port, shards, unforced, disabled)


async def test_the_runtime_role_sees_its_county_only_on_the_workers_and_one_county_is_one_shard(citus_settings):
    owner, app = await coordinator("postgres"), await coordinator("lianluo_app")
    try:
        one, two = await _two_counties(owner, "rls")
        await _add_root(app, one, "一县")
        await _add_root(app, two, "二县")
        async with app.transaction():
            await _bind(app, two)
            assert await app.fetchval("SELECT count(*) FROM admin_nodes WHERE tenant_id = $1", one) == 0
            assert [r["name"] for r in await app.fetch("SELECT name FROM admin_nodes WHERE tenant_id = $1", two)] \
                == ["二县"]
            with pytest.raises(asyncpg.PostgresError, match="row-level security"):
                await app.execute("INSERT INTO admin_nodes (tenant_id, name, kind, path) "
                                  "VALUES ($1, '越界', 'county', '/')", one)
        async with app.transaction():  # nothing bound: the policies match no row on any shard
            await app.execute("SET LOCAL citus.multi_task_query_log_level = 'off'")  # a count over all of them
            assert await app.fetchval("SELECT count(*) FROM admin_nodes") == 0
        async with app.transaction():  # the suite refuses a statement that does not name its tenant
            await _bind(app, two)
            with pytest.raises(asyncpg.PostgresError, match="multi-task query"):
                await app.fetch("SELECT name FROM admin_nodes")
        plan = "\n".join(r[0] for r in await owner.fetch(
            f"EXPLAIN (COSTS OFF) SELECT name FROM admin_nodes WHERE tenant_id = {one}"))
        assert re.search(r"Task Count: 1\b", plan), plan
        assert re.search(rf"port=({NODES[1]}|{NODES[2]})", plan), plan  # on a worker, not the coordinator
    finally:
        await owner.close()
        await app.close()


async def test_a_change_marks_the_county_stale_on_the_worker_that_holds_it(citus_settings):
    owner, app = await coordinator("postgres"), await coordinator("lianluo_app")
    try:
        one, two = await _two_counties(owner, "stale")
        await _add_root(app, one, "一县")  # compliance_mark_stale runs on the shard's node
        assert await owner.fetchval("SELECT count(*) FROM compliance_stale WHERE tenant_id = $1", one) == 1
        assert await owner.fetchval("SELECT count(*) FROM compliance_stale WHERE tenant_id = $1", two) == 0
        node = await owner.fetchval(
            "SELECT nodeport FROM citus_shards WHERE shardid = get_shard_id_for_distribution_column("
            "'compliance_stale', $1::bigint)", one)
        assert node in NODES[1:]
    finally:
        await owner.close()
        await app.close()


async def test_distributing_again_changes_nothing(citus_settings):
    from app.cli import distribute_schema

    placement = "SELECT logicalrelid::text, partmethod, colocationid FROM pg_dist_partition ORDER BY 1"
    owner = await coordinator("postgres")
    try:
        before = await owner.fetch(placement)
        await distribute_schema(citus_settings.database_url)
        after = await owner.fetch(placement)
        keys = await owner.fetchval("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")
    finally:
        await owner.close()
    assert after == before and keys > 200
