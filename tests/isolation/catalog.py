"""Catalog checks shared by the isolation tests: which tables are tenant tables, and what is wrong
with their row-level security, keys and foreign keys. Works on any asyncpg connection, so a test
can break the schema inside a transaction and watch the checker notice."""

from __future__ import annotations

from app.core.settings import sweep_role_name

TENANT_SETTING = "current_setting('app.tenant_id'"
USER_SETTING = "current_setting('app.user_id'"
# Tenant tables whose RLS is enabled but not forced, so that the owner (a SECURITY DEFINER function)
# reads them without the policy and an index on a non-leakproof operator can serve it. The runtime
# role is still held to the policy and may only read them (checked below).
SWEEP_ROLE = sweep_role_name()  # reads every county's rows of a few columns (migration 0044)
UNFORCED = {"case_search": "the case text search index (migration 0041, app.cases.queries.search_ids)"}


async def tenant_tables(conn) -> list[str]:
    """Every ordinary or partitioned table in schema public with a tenant_id column."""
    rows = await conn.fetch(
        """
        SELECT c.relname
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
         ORDER BY c.relname
        """
    )
    return [r["relname"] for r in rows]


async def catalog_problems(conn) -> dict[str, list[str]]:
    """{table: [problem, ...]} for every tenant table that breaks DESIGN.md's isolation rules."""
    tables = await tenant_tables(conn)
    problems: dict[str, list[str]] = {}

    def flag(table: str, text: str) -> None:
        problems.setdefault(table, []).append(text)

    info = await conn.fetch(
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, a.attnotnull, a.attnum
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
         WHERE n.nspname = 'public' AND c.relname = ANY($1::text[])
        """,
        tables,
    )
    for row in info:
        if not row["relrowsecurity"]:
            flag(row["relname"], "row level security not enabled")
        if not row["relforcerowsecurity"] and row["relname"] not in UNFORCED:
            flag(row["relname"], "row level security not forced")
        if not row["attnotnull"]:
            flag(row["relname"], "tenant_id is nullable")

    policies = await conn.fetch(
        """
        SELECT tablename, policyname, permissive, cmd, roles::text[] AS roles, qual, with_check
          FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY($1::text[])
        """,
        tables,
    )
    by_table: dict[str, list] = {}
    for p in policies:
        by_table.setdefault(p["tablename"], []).append(p)
    for table in tables:
        mine = by_table.get(table, [])
        full = [
            p for p in mine
            if p["permissive"] == "PERMISSIVE" and p["cmd"] == "ALL"
            and TENANT_SETTING in (p["qual"] or "") and "tenant_id" in (p["qual"] or "")
            and TENANT_SETTING in (p["with_check"] or "") and "tenant_id" in (p["with_check"] or "")
        ]
        if not full:
            flag(table, "no policy with USING and WITH CHECK on current_setting('app.tenant_id')")
        for p in mine:
            if p["permissive"] != "PERMISSIVE" or p in full:
                continue
            # Permissive policies are OR-ed: an extra one may only widen reads, and only by a
            # setting bound per transaction (own_memberships: a user's own rows), or for the sweep
            # role alone, which nobody else holds the privileges of (sweep_role_problems).
            qual = p["qual"] or ""
            if p["cmd"] != "SELECT":
                flag(table, f"extra permissive policy {p['policyname']} for {p['cmd']}")
            elif p["roles"] == [SWEEP_ROLE]:
                continue
            elif TENANT_SETTING not in qual and USER_SETTING not in qual:
                flag(table, f"extra SELECT policy {p['policyname']} not tied to a bound setting: {qual}")

    writable = await conn.fetch(
        """
        SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1::text[])
           AND a.grantee <> c.relowner AND a.privilege_type <> 'SELECT'
        """,
        [t for t in UNFORCED if t in tables],
    )
    for w in writable:
        flag(w["relname"], f"RLS not forced, yet a role other than the owner has {w['privilege_type']}")

    keys = await conn.fetch(
        """
        SELECT c.relname, k.conname, k.contype::text AS contype, k.conkey, k.confkey, f.relname AS target
          FROM pg_constraint k
          JOIN pg_class c ON c.oid = k.conrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_class f ON f.oid = k.confrelid
         WHERE n.nspname = 'public' AND k.contype IN ('p', 'f') AND c.relname = ANY($1::text[])
        """,
        tables,
    )
    attnum = {r["relname"]: r["attnum"] for r in info}
    has_pk = set()
    for k in keys:
        table = k["relname"]
        if k["contype"] == "p":
            has_pk.add(table)
            if k["conkey"][0] != attnum[table]:
                flag(table, f"primary key {k['conname']} does not start with tenant_id")
        elif k["target"] in attnum:  # a foreign key into another tenant table
            pairs = list(zip(k["conkey"], k["confkey"]))
            if (attnum[table], attnum[k["target"]]) not in pairs:
                flag(table, f"foreign key {k['conname']} to {k['target']} does not include tenant_id")
    for table in tables:
        if table not in has_pk:
            flag(table, "no primary key")
    return problems


async def sweep_role_problems(conn) -> list[str]:
    """The sweep role reads every county: it must write nothing, own nothing but SECURITY DEFINER
    functions, hold no attribute beyond LOGIN (Citus connects to the workers as a function's owner),
    and no other role may hold its privileges — a member that inherits them would meet its policies."""
    problems = []
    role = await conn.fetchrow("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
                               "WHERE rolname = $1", SWEEP_ROLE)
    if role is None:
        return [f"role {SWEEP_ROLE} missing"]
    problems += [f"{SWEEP_ROLE} has {k}" for k, v in role.items() if v]
    problems += [f"{r['rolname']} holds the privileges of {SWEEP_ROLE}" for r in await conn.fetch(
        "SELECT rolname FROM pg_roles WHERE rolname <> $1 AND pg_has_role(rolname, $1, 'USAGE') AND NOT rolsuper",
        SWEEP_ROLE)]
    problems += [f"{SWEEP_ROLE} may {r['privilege_type']} {r['relname']}" for r in await conn.fetch(
        "SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE a.grantee = $1::regrole AND a.privilege_type <> 'SELECT' "
        "UNION SELECT c.relname, a.privilege_type FROM pg_attribute c0 JOIN pg_class c ON c.oid = c0.attrelid, "
        "aclexplode(c0.attacl) a WHERE a.grantee = $1::regrole AND a.privilege_type <> 'SELECT'", SWEEP_ROLE)]
    problems += [f"{SWEEP_ROLE} owns {r['name']}" for r in await conn.fetch(
        "SELECT relname AS name FROM pg_class WHERE relowner = $1::regrole "
        "UNION ALL SELECT proname FROM pg_proc WHERE proowner = $1::regrole AND NOT prosecdef", SWEEP_ROLE)]
    return problems


# A SECURITY DEFINER function runs as its owner: names it reads must not resolve to objects a caller
# can create. pg_catalog first (built-ins cannot be shadowed), pg_temp last (a caller's temporary
# view or function never wins over public), nothing else the caller could own.
SAFE_DEFINER_PATH = ("pg_catalog", "public", "pg_temp")


def _search_path(proconfig: list[str] | None) -> list[str] | None:
    for setting in proconfig or ():
        name, _, value = setting.partition("=")
        if name == "search_path":
            return [part.strip().strip('"') for part in value.split(",")]
    return None


async def definer_problems(conn) -> dict[str, list[str]]:
    """{function(args): [problem, ...]} for every SECURITY DEFINER function in schema public whose
    search_path a caller could shadow, or that PUBLIC may execute."""
    rows = await conn.fetch(
        """
        SELECT p.oid::regprocedure::text AS name,
               p.proconfig,
               EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_execute
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.prosecdef
        """
    )
    problems: dict[str, list[str]] = {}
    for row in rows:
        path = _search_path(row["proconfig"])
        if path is None:
            problems.setdefault(row["name"], []).append("no search_path of its own")
        elif path[0] != "pg_catalog" or path[-1] != "pg_temp" or not set(path) <= set(SAFE_DEFINER_PATH):
            problems.setdefault(row["name"], []).append(f"search_path {', '.join(path)} is not pinned")
        if row["public_execute"]:
            problems.setdefault(row["name"], []).append("PUBLIC may execute it")
    return problems


async def definer_functions(conn) -> list[str]:
    rows = await conn.fetch(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.prosecdef ORDER BY 1"
    )
    return [r["proname"] for r in rows]
