"""The runtime role cannot run its own code as the owner through a SECURITY DEFINER function: the
functions pin search_path = pg_catalog, public, pg_temp and are not executable by PUBLIC, and the
runtime role may not create temporary objects (a temporary view named like a table the function
reads was the way in: pg_temp is searched first unless it is listed last)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.isolation.catalog import definer_functions, definer_problems
from tests.isolation.test_catalog import owner_connection
from tests.isolation.world import build_world

# Every cross-tenant function the app and the worker call, with arguments.
CALLS = {
    "platform_tenant_usage": "platform_tenant_usage()",
    "platform_sms_since": "platform_sms_since(now() - interval '30 days')",
    "platform_sms_health": "platform_sms_health(now() - interval '30 days', now() - interval '1 hour', "
                           "now() - interval '1 day', now(), now(), now() - interval '7 days', 3)",
    "platform_joint_agreements": "platform_joint_agreements()",
    "outbox_due_tenants": "outbox_due_tenants(now(), interval '5 minutes')",
    "import_jobs_waiting": "import_jobs_waiting(interval '5 minutes')",
    "joint_syncing_counties": "joint_syncing_counties()",
    "signin_codes_expired_tenants": "signin_codes_expired_tenants(now())",
    "compliance_due_tenants": "compliance_due_tenants(now())",
    # bound inline (world tenant A is id 1): it refuses any tenant but the bound one
    "case_search": "case_search(set_config('app.tenant_id', '1', true)::bigint, '路灯', 100)",
    "scheduled_due_tenants": "scheduled_due_tenants(now())",
    "data_exports_expired_tenants": "data_exports_expired_tenants(now())",
    "binder_builds_purge_tenants": "binder_builds_purge_tenants(now(), now() - interval '30 days')",
}
# The tables those functions read, each shadowed by a temporary view that calls the probe.
SHADOWS = {
    "tenants": "pg_temp.probe()::bigint AS id, 'active'::text AS status, 'county'::text AS kind",
    "memberships": "pg_temp.probe()::bigint AS tenant_id, NULL::timestamptz AS revoked_at",
    "case_search": "pg_temp.probe()::bigint AS tenant_id, 0::bigint AS case_id, '路灯'::text AS body",
}
PROBE = (
    "CREATE FUNCTION pg_temp.probe() RETURNS text LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'probe ran as %', current_user; END $$"
)


@pytest.fixture
async def owner_conn(settings):
    conn = await owner_connection(settings)
    yield conn
    await conn.close()


async def test_every_security_definer_function_is_pinned_and_private(owner_conn):
    assert set(CALLS) <= set(await definer_functions(owner_conn))
    problems = await definer_problems(owner_conn)
    assert problems == {}, "SECURITY DEFINER functions a caller could subvert:\n" + "\n".join(
        f"  {f}: {', '.join(p)}" for f, p in sorted(problems.items())
    )


async def test_the_definer_checker_reports_unsafe_functions(owner_conn):
    """Not vacuous: unsafe functions made in a transaction are reported, and gone after rollback."""
    tx = owner_conn.transaction()
    await tx.start()
    try:
        body = "RETURNS bigint LANGUAGE sql SECURITY DEFINER"
        await owner_conn.execute(f"CREATE FUNCTION scratch_bare() {body} AS 'SELECT 1::bigint'")
        await owner_conn.execute(
            f"CREATE FUNCTION scratch_public() {body} SET search_path = public AS 'SELECT 1::bigint'"
        )
        await owner_conn.execute(
            f"CREATE FUNCTION scratch_temp_first() {body} SET search_path = pg_temp, pg_catalog, public "
            "AS 'SELECT 1::bigint'"
        )
        await owner_conn.execute(
            f"CREATE FUNCTION scratch_user() {body} SET search_path = pg_catalog, \"$user\", public, pg_temp "
            "AS 'SELECT 1::bigint'"
        )
        await owner_conn.execute(
            f"CREATE FUNCTION scratch_open() {body} SET search_path = pg_catalog, public, pg_temp AS 'SELECT 1::bigint'"
        )
        problems = await definer_problems(owner_conn)
    finally:
        await tx.rollback()
    assert "no search_path of its own" in problems["scratch_bare()"]
    assert any("not pinned" in p for p in problems["scratch_public()"])
    assert any("not pinned" in p for p in problems["scratch_temp_first()"])
    assert any("not pinned" in p for p in problems["scratch_user()"])  # a schema named like the caller
    # created functions are executable by PUBLIC unless revoked
    assert problems["scratch_open()"] == ["PUBLIC may execute it"]
    assert all(not name.startswith("scratch_") for name in await definer_problems(owner_conn))


async def test_the_runtime_role_cannot_create_temporary_objects(database):
    """The attack as the runtime role: its first step, a temporary function, is refused, and so is
    a temporary view named like a table."""
    async with database.engine.connect() as conn:
        assert not (await conn.execute(text(
            "SELECT has_database_privilege(current_database(), 'TEMPORARY')"
        ))).scalar()
    for sql in (PROBE, "CREATE TEMP VIEW tenants AS SELECT 1::bigint AS id",
                "CREATE TEMP TABLE tenants (id bigint)"):
        async with database.engine.connect() as conn:
            with pytest.raises(DBAPIError, match="permission denied to create temporary tables"):
                await conn.execute(text(sql))


async def test_a_temporary_view_does_not_reach_a_definer_function(database, owner_sql, settings):
    """Even a runtime role given TEMPORARY (for the length of a rolled-back transaction) cannot
    shadow the tables the functions read: they see public's, and the probe never runs as the owner."""
    await build_world(database, owner_sql)
    conn: asyncpg.Connection = await owner_connection(settings)
    tx = conn.transaction()
    await tx.start()
    try:
        if settings.db_citus:  # creating the probe after the functions' multi-shard reads, in one transaction
            await conn.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
        await conn.execute(
            f"DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO {settings.app_role}', "
            "current_database()); END $$"
        )
        await conn.execute(f"SET LOCAL ROLE {settings.app_role}")
        honest = {name: await conn.fetch(f"SELECT * FROM {call}") for name, call in CALLS.items()}
        assert len(honest["platform_tenant_usage"]) == 2  # both tenants of the world
        await conn.execute(PROBE)
        for table, columns in SHADOWS.items():
            await conn.execute(f"CREATE TEMP VIEW {table} AS SELECT {columns}")
        for name, call in CALLS.items():
            assert await conn.fetch(f"SELECT * FROM {call}") == honest[name], name
    finally:
        await tx.rollback()
        await conn.close()
