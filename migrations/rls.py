"""Helpers every migration uses to keep DESIGN.md's invariants: forced RLS and explicit grants."""

from alembic import op

from app.core.settings import app_role_name

TENANT_EXPR = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint"


def app_role() -> str:
    return app_role_name()


def ensure_app_role() -> None:
    role = app_role()
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          END IF;
        END $$;
        """
    )
    op.execute(f"ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS")
    op.execute(f"DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database()); END $$;")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")


def grant(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {app_role()}")


def tenant_table(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    """Enable and force RLS with the fail-closed tenant policy, and grant the runtime role."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({TENANT_EXPR}) WITH CHECK ({TENANT_EXPR})")
    grant(table, privileges)


def script(sql: str) -> None:
    """Run several statements at once (asyncpg's simple-query path; prepared statements take one)."""
    from sqlalchemy.util import await_only

    raw = op.get_bind().connection.driver_connection
    await_only(raw.execute(sql))


# A SECURITY DEFINER function runs as the owner. pg_catalog first: built-ins cannot be shadowed;
# pg_temp last: a caller's temporary view or function never stands in for one of ours (left out, it
# is searched first). tests/isolation/catalog.py:definer_problems holds every such function to this.
DEFINER_SEARCH_PATH = "pg_catalog, public, pg_temp"


def definer_function(signature: str, returns: str, body: str) -> None:
    """Create a SECURITY DEFINER plpgsql function with the pinned search_path that only the runtime
    role may execute. `signature` is `name(arg type, ...)`, `body` the text between $$ and $$."""
    script(
        f"CREATE FUNCTION {signature} RETURNS {returns} LANGUAGE plpgsql SECURITY DEFINER "
        f"SET search_path = {DEFINER_SEARCH_PATH} AS $fn${body}$fn$"
    )
    definer_grants(signature)


def definer_grants(signature: str) -> None:
    """Functions are executable by PUBLIC when created: the runtime role alone may call ours."""
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {app_role()}")


def pin_definer(signature: str) -> None:
    """Give an existing SECURITY DEFINER function the pinned search_path and the runtime-role-only grant."""
    op.execute(f"ALTER FUNCTION {signature} SET search_path = {DEFINER_SEARCH_PATH}")
    definer_grants(signature)


def revoke_temporary() -> None:
    """PUBLIC (so the runtime role) may create temporary objects in a new database. Nothing of ours
    needs them, and they are how a caller shadows a table a SECURITY DEFINER function reads. Only
    the database's owner can revoke it: otherwise fail here rather than leave it in place."""
    role = app_role()
    op.execute(
        f"""
        DO $$ BEGIN
          EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC, %I', current_database(), '{role}');
          IF has_database_privilege('{role}', current_database(), 'TEMPORARY') THEN
            RAISE EXCEPTION 'role {role} may still create temporary objects in database %', current_database()
              USING HINT = 'run the migrations as the database owner, or revoke TEMPORARY from whatever grants it';
          END IF;
        END $$;
        """
    )


def grant_temporary() -> None:
    """Undo revoke_temporary(): PostgreSQL's default, TEMPORARY for PUBLIC."""
    op.execute("DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()); END $$;")
