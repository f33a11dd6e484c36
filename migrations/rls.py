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
