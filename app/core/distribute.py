"""Distribute the schema on a Citus coordinator (issue 21; deploy/README.md "From one PostgreSQL to
Citus"): every platform table (no ``tenant_id``) becomes a reference table, copied to every node;
every tenant table a distributed table by ``tenant_id``, all in one co-location group, so that a
county's rows of every table live in the same shard group and a query naming its tenant runs on one
node. Alembic's own table stays on the coordinator. Run as the owner, after ``migrate``; a table
already distributed is left as it is, so running it again does nothing.

The same migrations still build a plain PostgreSQL: distributing is a step of its own, on a database
where the citus extension is installed (``CREATE EXTENSION citus`` by a superuser)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.settings import sweep_role_name

LOCAL_TABLES = ("alembic_version",)

_TABLES = text("""
    SELECT c.relname,
           EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS per_tenant
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
     ORDER BY c.relname
""")
# (table, table it references, constraint, its definition) for foreign keys inside the public schema
_REFERENCES = text("""
    SELECT con.conrelid::regclass::text, con.confrelid::regclass::text, con.conname, pg_get_constraintdef(con.oid)
      FROM pg_constraint con
     WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace
     ORDER BY 1, 3
""")
_FORCED = text("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
               "AND relname = ANY(:tables) AND relforcerowsecurity")
_DISTRIBUTED = text("SELECT logicalrelid::regclass::text FROM pg_dist_partition")


@dataclass
class ForeignKey:
    table: str
    references: str
    name: str
    definition: str


@dataclass
class Plan:
    reference: list[str] = field(default_factory=list)  # platform tables, each after those it references
    distributed: list[str] = field(default_factory=list)  # tenant tables
    of_tenant_tables: list[ForeignKey] = field(default_factory=list)
    done: set[str] = field(default_factory=set)  # already reference or distributed


def _in_dependency_order(tables: list[str], references: list[tuple[str, str]]) -> list[str]:
    """Tables ordered so that each comes after the tables it references (Citus makes a table a
    reference table only after those its foreign keys point at). Ties in name order: a stable order."""
    wanted = set(tables)
    needs = {t: {ref for src, ref in references if src == t and ref in wanted and ref != t} for t in tables}
    ordered: list[str] = []
    while needs:
        ready = sorted(t for t, refs in needs.items() if not refs - set(ordered))
        if not ready:
            raise RuntimeError(f"foreign keys in a cycle among: {', '.join(sorted(needs))}")
        ordered += ready
        for t in ready:
            del needs[t]
    return ordered


async def plan(conn: AsyncConnection) -> Plan:
    tables = (await conn.execute(_TABLES)).all()
    keys = [ForeignKey(*row) for row in (await conn.execute(_REFERENCES)).all()]
    done = set((await conn.scalars(_DISTRIBUTED)).all())
    platform = [name for name, per_tenant in tables if not per_tenant and name not in LOCAL_TABLES]
    tenant = [name for name, per_tenant in tables if per_tenant]
    return Plan(reference=_in_dependency_order(platform, [(k.table, k.references) for k in keys]),
                distributed=tenant, done=done,
                of_tenant_tables=[k for k in keys if k.table in tenant])


async def distribute(conn: AsyncConnection, *, say=print) -> Plan:
    """Make the platform tables reference tables and the tenant tables distributed, co-located. The
    tenant tables' foreign keys are dropped first and added back as they were once every tenant table
    is distributed: among themselves they run in cycles (a case and its activity, a deputy and their
    station...), which Citus cannot distribute one table at a time, and a table with an identity column
    and a foreign key to a reference table fails to distribute ("cannot complete operation on a table
    with identity column": Citus would first make it a local table of its metadata). Composite, with
    tenant_id, each key stays inside a shard group. One transaction: a failure changes nothing."""
    if not await conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'citus'")):
        raise SystemExit("this database has no citus extension: distribute runs on a Citus coordinator "
                         "(a superuser runs CREATE EXTENSION citus first; deploy/README.md)")
    todo = await plan(conn)
    pending = [name for name in todo.distributed if name not in todo.done]
    # Citus refuses to distribute a table with triggers unless told they are safe: ours are. Each
    # touches only its own row's tenant — a search row of the same case (case_search_sync), the
    # county's stale marker after reading its tenants row (compliance_mark_stale), the row itself
    # (deputies_left_at) — so on a worker it reaches the co-located shard and the local copy of the
    # reference table, never another node (tests/citus checks the marker is written there).
    await conn.execute(text("SET LOCAL citus.enable_unsafe_triggers = on"))
    # before any reference table exists: a local table with a key to one would become Citus's
    keys = [k for k in todo.of_tenant_tables if k.table in pending]
    for key in keys:
        await conn.execute(text(f'ALTER TABLE "{key.table}" DROP CONSTRAINT "{key.name}"'))
    for name in todo.reference:
        if name not in todo.done:
            await conn.execute(text("SELECT create_reference_table(:t)"), {"t": name})
            say(f"reference table: {name}")
    first = next(iter(sorted(todo.done & set(todo.distributed))), None)
    # Citus moves a table's rows (a restored or existing database's) to its shards with COPY, which
    # PostgreSQL refuses under row-level security, and the owner is under it (FORCE); the foreign keys
    # put back check those rows as the owner too. So FORCE is lifted for the step and put back last,
    # on the shards too, before the transaction ends.
    forced = (await conn.scalars(_FORCED, {"tables": pending})).all()
    for name in forced:
        await conn.execute(text(f'ALTER TABLE "{name}" NO FORCE ROW LEVEL SECURITY'))
    for name in pending:
        await _distribute_table(conn, name, colocate_with=first or "none")
        first = first or name
        say(f"distributed by tenant_id: {name}")
    for key in keys:
        await conn.execute(text(f'ALTER TABLE "{key.table}" ADD CONSTRAINT "{key.name}" {key.definition}'))
    if keys:
        say(f"foreign keys of tenant tables put back: {len(keys)}")
    for name in forced:
        await conn.execute(text(f'ALTER TABLE "{name}" FORCE ROW LEVEL SECURITY'))
    # The coordinator runs a function's statements on the workers over connections of the function's
    # owner: the sweep role (migration 0044) must log in there. It has no password: deploy/README.md
    # says how the nodes authenticate it.
    await conn.execute(text(f"ALTER ROLE {sweep_role_name()} LOGIN"))
    return todo


async def _distribute_table(conn: AsyncConnection, name: str, *, colocate_with: str) -> None:
    """The rows Citus moves to the shards are not changes (our triggers would mark the county's verdicts
    stale in a table not yet on the workers): triggers off for the step, back on after, on the shards
    too."""
    await conn.execute(text(f'ALTER TABLE "{name}" DISABLE TRIGGER USER'))
    await conn.execute(text("SELECT create_distributed_table(:t, 'tenant_id', colocate_with => :with)"),
                       {"t": name, "with": colocate_with})
    await conn.execute(text(f'ALTER TABLE "{name}" ENABLE TRIGGER USER'))
