"""Helpers every migration uses to keep DESIGN.md's invariants: forced RLS and explicit grants."""

import os

from alembic import op

from app.core.settings import app_role_name, sweep_role_name

TENANT_EXPR = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint"


def app_role() -> str:
    return app_role_name()


def backup_role() -> str:
    """The read-only role pg_dump connects as (deploy/README.md, "Backups")."""
    return os.environ.get("DATABASE_BACKUP_ROLE", "lianluo_backup")


def sweep_role() -> str:
    return sweep_role_name()


def ensure_app_role() -> None:
    """Create the runtime role, or check the one a DBA created beforehand. The attributes are given at
    creation, which a CREATEROLE owner may do; `ALTER ROLE … NOSUPERUSER` needs a superuser even when it
    changes nothing, so an existing role is only altered when it is wrong, and when the owner may not,
    the migration stops and says what a superuser must run (RLS would not hold for such a role)."""
    role = app_role()
    op.execute(
        f"""
        DO $$
        DECLARE
          existing record;
        BEGIN
          SELECT rolsuper, rolbypassrls INTO existing FROM pg_roles WHERE rolname = '{role}';
          IF NOT FOUND THEN
            CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          ELSIF existing.rolsuper OR existing.rolbypassrls THEN
            BEGIN
              ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS;
            EXCEPTION WHEN insufficient_privilege THEN
              RAISE EXCEPTION 'the runtime role {role} is SUPERUSER or BYPASSRLS, so row-level security would not apply to it'
                USING HINT = 'a PostgreSQL superuser must run: ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS; then migrate again';
            END;
          END IF;
        END $$;
        """
    )
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


def grant_backup_role() -> None:
    """Read access for the backup role, if the DBA created it (BYPASSRLS, which pg_dump needs past the
    forced policies, only a superuser can give): SELECT on every table and sequence, now and on those
    later migrations create. A role made after this ran gets the same from deploy/README.md's SQL."""
    role = backup_role()
    op.execute(
        f"""
        DO $$ BEGIN
          IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database());
            GRANT USAGE ON SCHEMA public TO {role};
            GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};
            GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO {role};
          END IF;
        END $$;
        """
    )


def revoke_backup_role() -> None:
    role = backup_role()
    op.execute(
        f"""
        DO $$ BEGIN
          IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM {role};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON SEQUENCES FROM {role};
            REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM {role};
            REVOKE SELECT ON ALL SEQUENCES IN SCHEMA public FROM {role};
            REVOKE USAGE ON SCHEMA public FROM {role};
          END IF;
        END $$;
        """
    )


def ensure_sweep_role() -> None:
    """The sweep role: NOLOGIN (on Citus `distribute` lets it log in, as the coordinator connects to
    the workers as a function's owner), no other attribute. It reads every county's rows of a few
    columns of a few tables (`sweep_reads`), only through the functions it owns, which return ids
    and counts."""
    role = sweep_role()
    op.execute(f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
          END IF;
        END $$;
    """)


def sweep_reads(table: str, columns: str, *, tenant: bool = True) -> None:
    """Let the sweep role read `columns` of `table` in every county: a SELECT-only policy for that
    role alone (policies for a role apply to it and to roles holding its privileges: nobody holds
    them, tests/isolation/test_catalog.py checks), beside the tenant policy every other role meets."""
    role = sweep_role()
    op.execute(f"GRANT SELECT ({columns}) ON {table} TO {role}")
    if tenant:
        op.execute(f"CREATE POLICY sweep_reads ON {table} FOR SELECT TO {role} USING (true)")


# Marks the functions the sweep role owns: a restore with `pg_restore --no-owner` leaves them to the
# restoring owner, and `after-restore` gives the ones carrying this comment back (app.cli).
SWEEP_MARK = "lianluo: owned by the sweep role (migration 0044)"


def sweep_owner_script(statements: list[str]) -> list[str]:
    """`statements` (which create, replace, alter or drop a function the sweep role owns) wrapped so
    that the running role may: only a member of the owning role may, and a member holding its
    privileges would also meet its policies — so it is a member for these statements only, and the
    sweep role may create in the schema only while it takes over a function (ALTER … OWNER asks)."""
    role = sweep_role()
    return [f"GRANT {role} TO CURRENT_USER", f"GRANT CREATE ON SCHEMA public TO {role}", *statements,
            f"REVOKE CREATE ON SCHEMA public FROM {role}", f"REVOKE {role} FROM CURRENT_USER"]


def as_sweep_owner(*statements: str) -> None:
    for statement in sweep_owner_script(list(statements)):
        script(statement)


def sweep_function(signature: str, returns: str, body: str, *, options: str = "") -> None:
    """A SECURITY DEFINER function owned by the sweep role (created, or replaced in place), with the
    pinned search_path, executable by the runtime role alone. `options`: more SET clauses."""
    definition = (f"CREATE OR REPLACE FUNCTION {signature} RETURNS {returns} LANGUAGE plpgsql SECURITY DEFINER "
                  f"SET search_path = {DEFINER_SEARCH_PATH} {options} AS $fn${body}$fn$")
    as_sweep_owner(definition, f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC",
                   f"GRANT EXECUTE ON FUNCTION {signature} TO {app_role()}",
                   f"COMMENT ON FUNCTION {signature} IS '{SWEEP_MARK}'",
                   f"ALTER FUNCTION {signature} OWNER TO {sweep_role()}")
