"""The schema keeps DESIGN.md's isolation invariant: every table with a tenant_id has forced
row-level security with a fail-closed tenant policy, a key that leads with tenant_id, and foreign
keys between tenant tables that include tenant_id."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.isolation.catalog import SWEEP_ROLE, catalog_problems, sweep_role_problems, tenant_tables


async def owner_connection(settings) -> asyncpg.Connection:
    url = make_url(settings.database_url)
    return await asyncpg.connect(
        user=url.username, password=url.password, host=url.query.get("host") or url.host,
        port=url.port, database=url.database,
    )


@pytest.fixture
async def owner_conn(settings):
    conn = await owner_connection(settings)
    yield conn
    await conn.close()


async def test_tenant_tables_are_found(owner_conn):
    tables = await tenant_tables(owner_conn)
    print("tenant tables:", tables)
    assert {"admin_nodes", "memberships", "invitations", "audit_log"} <= set(tables)
    assert "tenants" not in tables and "users" not in tables


async def test_every_tenant_table_is_isolated(owner_conn):
    problems = await catalog_problems(owner_conn)
    assert problems == {}, "tables breaking the isolation invariant:\n" + "\n".join(
        f"  {t}: {', '.join(p)}" for t, p in sorted(problems.items())
    )


async def test_the_checker_reports_a_broken_schema(owner_conn):
    """The checker is not vacuous: break the schema in a transaction, see it noticed, roll back."""
    tx = owner_conn.transaction()
    await tx.start()
    try:
        await owner_conn.execute("ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY")
        await owner_conn.execute("DROP POLICY tenant_isolation ON admin_nodes")
        await owner_conn.execute("ALTER TABLE invitations DISABLE ROW LEVEL SECURITY")
        await owner_conn.execute("CREATE POLICY leak ON audit_log FOR SELECT USING (true)")
        await owner_conn.execute("GRANT INSERT ON case_search TO PUBLIC")  # unforced: read-only for others
        await owner_conn.execute(
            "CREATE TABLE scratch_parent (tenant_id bigint NOT NULL, id bigint, PRIMARY KEY (tenant_id, id));"
        )
        await owner_conn.execute(
            "CREATE TABLE scratch_child (id bigint PRIMARY KEY, tenant_id bigint, parent_id bigint, "
            "UNIQUE (id, tenant_id))"
        )
        await owner_conn.execute("CREATE UNIQUE INDEX ON scratch_parent (id)")
        await owner_conn.execute(
            "ALTER TABLE scratch_child ADD FOREIGN KEY (parent_id) REFERENCES scratch_parent (id)"
        )
        problems = await catalog_problems(owner_conn)
    finally:
        await tx.rollback()
    assert "row level security not forced" in problems["memberships"]
    assert any("no policy" in p for p in problems["admin_nodes"])
    assert "row level security not enabled" in problems["invitations"]
    assert any("leak" in p for p in problems["audit_log"])
    assert any("INSERT" in p for p in problems["case_search"])
    child = problems["scratch_child"]
    assert "tenant_id is nullable" in child
    assert any("primary key" in p for p in child)
    assert any("foreign key" in p and "scratch_parent" in p for p in child)
    assert any("no policy" in p for p in problems["scratch_parent"])
    # and after the rollback everything is whole again
    assert await catalog_problems(owner_conn) == {}


async def test_the_sweep_role_reads_only_and_nobody_holds_its_privileges(owner_conn):
    """The cross-county functions' owner (migration 0044) reads every county through its own SELECT
    policies: the runtime role and the owner must not inherit it (they would meet those policies),
    and it writes and owns nothing else."""
    assert await sweep_role_problems(owner_conn) == []
    owned = {r["proname"] for r in await owner_conn.fetch(
        "SELECT proname FROM pg_proc WHERE proowner = $1::regrole", SWEEP_ROLE)}
    assert {"outbox_due_tenants", "scheduled_due_tenants", "platform_tenant_usage"} <= owned
    tx = owner_conn.transaction()
    await tx.start()
    try:
        await owner_conn.execute(f"GRANT {SWEEP_ROLE} TO lianluo_app")
        await owner_conn.execute(f"GRANT UPDATE ON outbox TO {SWEEP_ROLE}")
        await owner_conn.execute(f"ALTER ROLE {SWEEP_ROLE} CREATEDB")
        problems = await sweep_role_problems(owner_conn)
    finally:
        await tx.rollback()
    assert f"lianluo_app holds the privileges of {SWEEP_ROLE}" in problems
    assert f"{SWEEP_ROLE} may UPDATE outbox" in problems
    assert f"{SWEEP_ROLE} has rolcreatedb" in problems
