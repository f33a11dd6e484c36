"""Set-up shared by the tests of members, invitations, joining and the tenant audit log."""

from __future__ import annotations

from tests.factories import add_member, csrf_from, login, make_tenant, make_user

NODES = [("城关镇", "township"), ("东城街道", "street"), ("城关镇/新村", "village")]


async def county(database, slug: str = "alpha", nodes=NODES):
    return await make_tenant(database, slug, nodes=nodes)


async def admin_of(client, database, tenant, username: str = "admin", mobile: str | None = None):
    """A county admin of ``tenant``, signed in on ``client``."""
    user = await make_user(database, username, mobile=mobile)
    membership = await add_member(database, tenant, user, "county_admin")
    r = await login(client, username)
    assert r.status_code == 303
    return user, membership


async def csrf(client, path: str = "/tenants") -> str:
    return csrf_from((await client.get(path)).text)


async def node_id(owner_sql, tenant, name: str) -> int:
    return (await owner_sql("SELECT id FROM admin_nodes WHERE tenant_id = $1 AND name = $2", tenant.id, name))[0]["id"]


async def count(owner_sql, sql: str, *args) -> int:
    return (await owner_sql(sql, *args))[0][0]


def session_of(client) -> str:
    """The session cookie now in the client (one person's browser)."""
    return client.cookies.get("lianluo_session")


def use_session(client, cookie: str | None) -> None:
    """Switch the client to another person's browser: several people share one test client (a
    second AsyncTestClient of the same app would run on another event loop than the pool)."""
    client.cookies.delete("lianluo_session")
    if cookie:
        client.cookies.set("lianluo_session", cookie)
