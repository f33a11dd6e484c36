"""Two tenants, A ("alpha") and B ("beta"), each with people, places, memberships, invitations and
audit entries, built through the product's own services. The isolation tests attack one from the
other."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.accounts.invitations import invite
from tests.factories import add_member, make_tenant, make_user
from tests.isolation.catalog import tenant_tables

NODES = (("城关镇", "town"), ("城关镇/东街社区", "community"), ("河坝乡", "town"))


@dataclass
class Side:
    slug: str
    tenant: object
    users: dict = field(default_factory=dict)  # role -> User
    ids: dict = field(default_factory=dict)  # table -> [id, ...] (tenant tables with an id column)
    invitation_tokens: list = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.tenant.id

    def all_ids(self) -> set[int]:
        return {i for ids in self.ids.values() for i in ids}


@dataclass
class World:
    a: Side
    b: Side


async def _side(database, slug: str, prefix: str, mobile_base: int) -> Side:
    tenant = await make_tenant(database, slug, nodes=NODES)
    side = Side(slug=slug, tenant=tenant)
    for n, (role, scope) in enumerate(
        (("county_admin", None), ("township_staff", "城关镇"), ("viewer", None), ("station_staff", None))
    ):
        user = await make_user(database, f"{prefix}-{role.replace('_', '-')}", mobile=f"1{mobile_base + n}")
        await add_member(database, tenant, user, role, scope=scope)
        side.users[role] = user
    async with database.transaction(tenant_id=tenant.id) as db:
        for name, role in (("待邀请甲", "viewer"), ("待邀请乙", "station_staff")):
            issued = await invite(db, tenant_id=tenant.id, actor_id=side.users["county_admin"].id,
                                  display_name=name, role=role, mobile=None)
            side.invitation_tokens.append(issued.token)
    return side


async def build_world(database, owner_sql) -> World:
    a = await _side(database, "alpha", "alpha", 3800138000)
    b = await _side(database, "beta", "beta", 3900139000)
    tables = await tenant_tables_sql(owner_sql)
    for side in (a, b):
        for table in tables:
            has_id = await owner_sql(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = $1 AND column_name = 'id'", table,
            )
            if has_id:
                rows = await owner_sql(f"SELECT id FROM {table} WHERE tenant_id = $1 ORDER BY id", side.id)
                side.ids[table] = [r["id"] for r in rows]
    return World(a=a, b=b)


async def tenant_tables_sql(owner_sql) -> list[str]:
    class _Conn:  # tenant_tables() wants something with .fetch
        async def fetch(self, sql, *args):
            return await owner_sql(sql, *args)

    return await tenant_tables(_Conn())


async def snapshot(owner_sql, tenant_id: int, user_ids=()) -> dict[str, tuple[int, str]]:
    """(row count, digest of the rows) of every tenant table for one tenant, and of the given users'
    account and session rows: a change of any value shows."""
    out = {}
    for table in await tenant_tables_sql(owner_sql):
        row = (await owner_sql(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h "
            f"FROM {table} t WHERE tenant_id = $1", tenant_id,
        ))[0]
        out[table] = (row["n"], row["h"])
    for table, column in (("users", "id"), ("user_sessions", "user_id")):
        row = (await owner_sql(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h "
            f"FROM {table} t WHERE {column} = ANY($1::bigint[])", list(user_ids),
        ))[0]
        out[table] = (row["n"], row["h"])
    row = (await owner_sql("SELECT status, name FROM tenants WHERE id = $1", tenant_id))[0]
    out["tenants"] = (1, f"{row['status']}|{row['name']}")
    return out
