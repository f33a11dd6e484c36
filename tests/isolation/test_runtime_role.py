"""The role the app connects as cannot get round row-level security: it is not a superuser, has no
BYPASSRLS, owns nothing, and sees exactly the bound tenant's rows (none when nothing is bound)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.core.db import TenantBoundSession, engine_options
from tests.isolation.world import build_world, tenant_tables_sql


@pytest.fixture
async def world(database, owner_sql):
    return await build_world(database, owner_sql)


async def test_runtime_role_has_no_privileges_beyond_its_grants(database, settings):
    async with database.engine.connect() as conn:
        role = (await conn.execute(text(
            "SELECT current_user AS name, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb "
            "FROM pg_roles WHERE rolname = current_user"
        ))).one()
        assert role.name == settings.app_role
        assert not role.rolsuper and not role.rolbypassrls
        assert not role.rolcreaterole and not role.rolcreatedb
        owned = (await conn.execute(text(
            """
            SELECT 'relation ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND pg_has_role(current_user, c.relowner, 'MEMBER')
            UNION ALL
            SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND pg_has_role(current_user, p.proowner, 'MEMBER')
            UNION ALL
            SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = 'public' AND pg_has_role(current_user, t.typowner, 'MEMBER')
            UNION ALL
            SELECT 'schema public' FROM pg_namespace n
             WHERE n.nspname = 'public' AND pg_has_role(current_user, n.nspowner, 'MEMBER')
            """
        ))).scalars().all()
        # owning (or being a member of the owner of) anything would allow ALTER TABLE … NO FORCE
        assert owned == []
        can_create = (await conn.execute(text("SELECT has_schema_privilege('public', 'CREATE')"))).scalar()
        assert not can_create


async def test_nothing_bound_sees_nothing(world, database, owner_sql):
    tables = await tenant_tables_sql(owner_sql)
    for table in tables:
        total = (await owner_sql(f"SELECT count(*) AS n FROM {table}"))[0]["n"]
        assert total > 0, f"the test world should put rows into {table}"
    # through the app's own session (bound to '' at every begin) …
    async with database.session() as db:
        for table in tables:
            assert (await db.execute(text(f"SELECT count(*) FROM {table}"))).scalar() == 0, table
    # … and on a raw connection that never called set_config at all
    async with database.engine.connect() as conn:
        for table in tables:
            assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar() == 0, table


async def test_bound_tenant_sees_only_its_own_rows(world, database, owner_sql):
    tables = await tenant_tables_sql(owner_sql)
    for side in (world.a, world.b):
        async with database.session(tenant_id=side.id) as db:
            for table in tables:
                seen = (await db.execute(text(
                    f"SELECT count(*) FILTER (WHERE tenant_id = :t) AS mine, "
                    f"count(*) FILTER (WHERE tenant_id <> :t) AS others FROM {table}"
                ), {"t": side.id})).one()
                expected = (await owner_sql(f"SELECT count(*) AS n FROM {table} WHERE tenant_id = $1", side.id))[0]["n"]
                assert seen.others == 0, table
                assert seen.mine == expected > 0, table
            # asking for the other tenant by id does not help
            other = world.b if side is world.a else world.a
            assert (await db.execute(
                text("SELECT count(*) FROM memberships WHERE tenant_id = :t"), {"t": other.id}
            )).scalar() == 0


async def test_a_user_binding_reveals_only_that_users_memberships(world, database):
    """own_memberships: with only a user bound, a person sees their own memberships, nothing else."""
    user = world.b.users["viewer"]
    async with database.session(user_id=user.id) as db:
        rows = (await db.execute(text("SELECT tenant_id, user_id FROM memberships"))).all()
        assert rows == [(world.b.id, user.id)]
        for table in ("admin_nodes", "invitations", "audit_log"):
            assert (await db.execute(text(f"SELECT count(*) FROM {table}"))).scalar() == 0


async def test_writing_into_another_tenant_fails(world, database, owner_sql, settings):
    before = (await owner_sql("SELECT count(*) AS n FROM admin_nodes WHERE tenant_id = $1", world.b.id))[0]["n"]
    # Citus refuses to move a row to another tenant before the policy is asked: tenant_id places it
    moved_away = "modifying the partition value" if settings.db_citus else "row-level security"
    with pytest.raises(DBAPIError, match="row-level security"):
        async with database.transaction(tenant_id=world.a.id) as db:
            await db.execute(
                text("INSERT INTO admin_nodes (tenant_id, name, kind) VALUES (:t, '偷渡镇', 'town')"),
                {"t": world.b.id},
            )
    with pytest.raises(DBAPIError, match=moved_away):
        async with database.transaction(tenant_id=world.a.id) as db:
            await db.execute(text("UPDATE admin_nodes SET tenant_id = :t WHERE parent_id IS NOT NULL AND id = "
                                  "(SELECT max(id) FROM admin_nodes)"), {"t": world.b.id})
    with pytest.raises(DBAPIError, match="row-level security"):
        async with database.transaction(tenant_id=world.a.id) as db:
            await db.execute(
                text("INSERT INTO audit_log (tenant_id, action) VALUES (:t, 'forged')"), {"t": world.b.id}
            )
    # nothing bound: no insert into any tenant
    with pytest.raises(DBAPIError, match="row-level security"):
        async with database.transaction() as db:
            await db.execute(
                text("INSERT INTO admin_nodes (tenant_id, name, kind) VALUES (:t, '无主镇', 'town')"),
                {"t": world.b.id},
            )
    # updates and deletes aimed at B's rows while bound to A touch nothing
    async with database.transaction(tenant_id=world.a.id) as db:
        assert (await db.execute(text("UPDATE memberships SET role = 'viewer' WHERE tenant_id = :t"),
                                 {"t": world.b.id})).rowcount == 0
        assert (await db.execute(text("DELETE FROM invitations WHERE tenant_id = :t"),
                                 {"t": world.b.id})).rowcount == 0
    after = (await owner_sql("SELECT count(*) AS n FROM admin_nodes WHERE tenant_id = $1", world.b.id))[0]["n"]
    assert after == before
    rows = await owner_sql("SELECT count(*) AS n FROM memberships WHERE tenant_id = $1 AND role = 'viewer'", world.b.id)
    assert rows[0]["n"] == 1
    assert (await owner_sql("SELECT count(*) AS n FROM invitations WHERE tenant_id = $1", world.b.id))[0]["n"] == 2


async def test_binding_does_not_outlive_its_transaction(world, settings):
    """One pooled connection serves a transaction bound to A, then one with nothing bound: the
    second sees nothing (set_config(..., true) ends with the transaction)."""
    engine = create_async_engine(settings.app_database_url, pool_size=1, max_overflow=0, **engine_options(settings))
    sessions = async_sessionmaker(engine, expire_on_commit=False, sync_session_class=TenantBoundSession)
    try:
        async with sessions() as db:
            db.info.update(tenant_id=world.a.id, user_id=None, citus=settings.db_citus)
            pid_a = (await db.execute(text("SELECT pg_backend_pid()"))).scalar()
            assert (await db.execute(text("SELECT count(*) FROM memberships"))).scalar() == 5  # A's five members
            await db.commit()
        async with sessions() as db:  # a fresh session, nothing bound
            assert (await db.execute(text("SELECT pg_backend_pid()"))).scalar() == pid_a
            assert (await db.execute(text("SELECT count(*) FROM memberships"))).scalar() == 0
        async with engine.connect() as conn:  # no binding code at all on the same connection
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar() == pid_a
            assert (await conn.execute(text("SELECT current_setting('app.tenant_id', true)"))).scalar() in ("", None)
            assert (await conn.execute(text("SELECT count(*) FROM memberships"))).scalar() == 0
        # a binding ended by rollback is gone as well
        async with sessions() as db:
            db.info.update(tenant_id=world.b.id, user_id=None, citus=settings.db_citus)
            assert (await db.execute(text("SELECT count(*) FROM admin_nodes WHERE tenant_id = :t"),
                                     {"t": world.b.id})).scalar() == 4
            await db.rollback()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM admin_nodes"))).scalar() == 0
    finally:
        await engine.dispose()
