"""A county for the deputies tests: two townships with stations, members of every role, and
helpers to add deputies and to act as one member (each on their own client)."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from app.accounts.models import Membership
from app.deputies.models import Deputy, DeputyGroup, Mandate, StationDeputy
from app.stations.models import Station, StationKind
from app.tenancy.models import AdminNode, TenantConfig
from tests.factories import add_member, csrf_from, login, make_tenant, make_user

NODES = [
    ("城关镇", "township"), ("城关镇/东街社区", "community"), ("城关镇/西村", "village"),
    ("河坝乡", "township"), ("河坝乡/河坝村", "village"),
]
# station name -> (node name, status)
STATIONS = {
    "城关镇人大代表之家": ("城关镇", "active"),
    "东街社区人大代表联络站": ("东街社区", "active"),
    "西村人大代表联络站": ("西村", "proposed"),
    "河坝村人大代表联络站": ("河坝村", "filed"),
}
ROLES = {  # username -> (role, scope node)
    "admin": ("county_admin", None), "town": ("township_staff", "城关镇"), "heba": ("township_staff", "河坝乡"),
    "viewer": ("viewer", None), "station": ("station_staff", None), "rep": ("deputy", None),
    "rep2": ("deputy", None), "handler": ("handling_unit", None),
}


@dataclass
class County:
    tenant: object
    nodes: dict = field(default_factory=dict)  # name -> id
    stations: dict = field(default_factory=dict)  # name -> id
    users: dict = field(default_factory=dict)  # username -> User

    @property
    def slug(self) -> str:
        return self.tenant.slug


async def build(database, slug: str = "alpha", seats: dict | None = None) -> County:
    tenant = await make_tenant(database, slug, nodes=NODES)
    county = County(tenant=tenant)
    async with database.transaction(tenant_id=tenant.id) as db:
        for node in (await db.scalars(select(AdminNode))).all():
            county.nodes[node.name] = node.id
        kind = StationKind(tenant_id=tenant.id, code="station", name="代表联络站",
                           node_kinds=["township", "community", "village"])
        db.add(kind)
        await db.flush()
        for name, (node, status) in STATIONS.items():
            station = Station(tenant_id=tenant.id, kind_id=kind.id, node_id=county.nodes[node], name=name,
                              status=status)
            db.add(station)
            await db.flush()
            county.stations[name] = station.id
        if seats is not None:
            config = await db.scalar(select(TenantConfig))
            if config is None:
                db.add(TenantConfig(tenant_id=tenant.id, seats=seats))
            else:
                config.seats = seats
    for n, (username, (role, scope)) in enumerate(ROLES.items()):
        user = await make_user(database, f"{slug}-{username}")
        await add_member(database, tenant, user, role, scope=scope)
        county.users[username] = user
    async with database.transaction(tenant_id=tenant.id) as db:
        await db.execute(update(Membership).where(Membership.user_id == county.users["station"].id)
                         .values(station_id=county.stations["东街社区人大代表联络站"]))
    return county


async def add_deputy(database, county: County, name: str, *, level: str = "county", term: int = 18,
                     direct: bool = True, node: str | None = None, station: str | None = None,
                     mobile: str | None = None, status: str = "active", group: int | None = None,
                     user: str | None = None, more_levels: tuple[str, ...] = ()) -> int:
    async with database.transaction(tenant_id=county.tenant.id) as db:
        deputy = Deputy(tenant_id=county.tenant.id, name=name, mobile=mobile, status=status, group_id=group,
                        user_id=county.users[user].id if user else None)
        db.add(deputy)
        await db.flush()
        for lv in (level, *more_levels):
            db.add(Mandate(tenant_id=county.tenant.id, deputy_id=deputy.id, level=lv, term=term, direct=direct,
                           constituency_node_id=county.nodes[node] if node else None))
        if station:
            db.add(StationDeputy(tenant_id=county.tenant.id, station_id=county.stations[station],
                                 deputy_id=deputy.id))
        await db.flush()
        return deputy.id


async def add_group(database, county: County, name: str) -> int:
    async with database.transaction(tenant_id=county.tenant.id) as db:
        group = DeputyGroup(tenant_id=county.tenant.id, name=name)
        db.add(group)
        await db.flush()
        return group.id


@asynccontextmanager
async def signed_in(app, county: County, username: str):
    """A client signed in as one of the county's members."""
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        client.cookies.set("lang", "en")  # the tests read the English messages
        r = await login(client, f"{county.slug}-{username}")
        assert r.status_code == 303
        client.base = f"/t/{county.slug}"
        yield client


async def post(client, path: str, data: dict | None = None, page: str | None = None, **kwargs):
    """POST a form from a page of ours (its CSRF token), without following the redirect."""
    html = (await client.get(page or "/account/password")).text
    return await client.post(path, data={"_csrf_token": csrf_from(html), **(data or {})},
                             follow_redirects=False, **kwargs)


async def count(owner_sql, table: str, where: str = "true", *args) -> int:
    return (await owner_sql(f"SELECT count(*) AS n FROM {table} WHERE {where}", *args))[0]["n"]


def text_of(html: str) -> str:
    """The page's visible text, roughly (tags dropped)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
