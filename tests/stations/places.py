"""Set-up for the station tests: a Mianyang-style county with two townships, its naming rule,
station kinds, a checklist and a deputy, and people in every role."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from sqlalchemy import select

from app.deputies.models import Deputy, StationDeputy
from app.stations.models import ChecklistItem, Station, StationEvent, StationKind
from app.tenancy.models import AdminNode, TenantConfig
from tests.factories import add_member, csrf_from, login, make_tenant, make_user

NODES = [
    ("潼川镇", "township"), ("潼川镇/北坝村", "village"), ("潼川镇/东街社区", "community"),
    ("河坝乡", "township"), ("河坝乡/新村", "village"),
]
STATION_PATTERN = "绵阳市{county}{township}{village}人大代表联络站"
HOME_PATTERN = "{county}{township}人大代表之家"
FORBIDDEN = ["人大代表工作室", "人大代表联络点", "人大代表活动中心"]
CHECKLIST = [("place", "有场所"), ("sign", "有标识"), ("equipment", "有设备"), ("rules", "有制度台账"),
             ("info", "有人大代表和联络员信息"), ("records", "有活动记录"), ("manager", "有专人管理"),
             ("organisation", "有组织体系")]


@dataclass
class County:
    tenant: object
    slug: str
    nodes: dict = field(default_factory=dict)  # name -> id
    kinds: dict = field(default_factory=dict)  # code -> id
    items: dict = field(default_factory=dict)  # code -> id
    deputies: dict = field(default_factory=dict)  # name -> id
    users: dict = field(default_factory=dict)  # username -> User

    @property
    def base(self) -> str:
        return f"/t/{self.slug}"

    def canonical(self, village: str, township: str = "潼川镇") -> str:
        return f"绵阳市{self.slug}县{township}{village}人大代表联络站"


async def county(database, slug: str = "alpha", *, lifecycle=None, checklist=CHECKLIST) -> County:
    tenant = await make_tenant(database, slug, nodes=NODES)
    c = County(tenant=tenant, slug=slug)
    async with database.transaction(tenant_id=tenant.id) as db:
        config = TenantConfig(tenant_id=tenant.id, forbidden_words=FORBIDDEN, checklist_name="八有")
        if lifecycle is not None:
            config.lifecycle = lifecycle
        db.add(config)
        db.add_all([
            StationKind(tenant_id=tenant.id, code="station", name="代表联络站", node_kinds=["village", "community"],
                        name_pattern=STATION_PATTERN, sort=2),
            StationKind(tenant_id=tenant.id, code="home", name="代表之家", node_kinds=["county", "township"],
                        name_pattern=HOME_PATTERN, sort=1),
            StationKind(tenant_id=tenant.id, code="studio", name="代表工作室", node_kinds=[], sort=3),
        ])
        for n, (code, label) in enumerate(checklist):
            db.add(ChecklistItem(tenant_id=tenant.id, code=code, label=label, sort=n))
        db.add(Deputy(tenant_id=tenant.id, name="张三"))
        await db.flush()
        c.nodes = {n.name: n.id for n in (await db.scalars(select(AdminNode))).all()}
        c.kinds = {k.code: k.id for k in (await db.scalars(select(StationKind))).all()}
        c.items = {i.code: i.id for i in (await db.scalars(select(ChecklistItem))).all()}
        c.deputies = {d.name: d.id for d in (await db.scalars(select(Deputy))).all()}
    return c


async def person(database, c: County, username: str, role: str = "county_admin", scope: str | None = None,
                 station_id: int | None = None):
    user = await make_user(database, username)
    membership = await add_member(database, c.tenant, user, role, scope=scope)
    if station_id is not None:
        from sqlalchemy import update

        from app.accounts.models import Membership

        async with database.transaction(tenant_id=c.tenant.id) as db:
            await db.execute(update(Membership).where(Membership.id == membership.id).values(station_id=station_id))
    c.users[username] = user
    return user


async def sign_in(client, username: str) -> None:
    client.cookies.clear()
    r = await login(client, username)
    assert r.status_code == 303, r.text


async def token(client, c: County) -> str:
    return csrf_from((await client.get(f"{c.base}/stations")).text)


async def post(client, c: County, path: str, data: dict | None = None, **kwargs):
    t = await token(client, c)
    return await client.post(f"{c.base}{path}", data={"_csrf_token": t, **(data or {})},
                             headers={"x-csrftoken": t}, follow_redirects=False, **kwargs)


async def add_station(database, c: County, name: str, node: str = "北坝村", kind: str = "station",
                      status: str = "proposed") -> int:
    """A station written directly (for list, scope and rating tests)."""
    async with database.transaction(tenant_id=c.tenant.id) as db:
        s = Station(tenant_id=c.tenant.id, kind_id=c.kinds[kind], node_id=c.nodes[node], name=name, status=status)
        db.add(s)
        await db.flush()
        db.add(StationEvent(tenant_id=c.tenant.id, station_id=s.id, action="created", to_status="proposed"))
        return s.id


async def station_deputy(database, c: County, station_id: int, name: str) -> int:
    async with database.transaction(tenant_id=c.tenant.id) as db:
        d = Deputy(tenant_id=c.tenant.id, name=name)
        db.add(d)
        await db.flush()
        db.add(StationDeputy(tenant_id=c.tenant.id, station_id=station_id, deputy_id=d.id))
        c.deputies[name] = d.id
        return d.id


async def rows(owner_sql, table: str, tenant) -> int:
    return (await owner_sql(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant.id))[0][0]


async def snapshot(owner_sql, tenant) -> dict:
    out = {}
    for table in ("stations", "station_events", "station_staff", "station_goals", "station_scores",
                  "deputy_commitments", "images", "audit_log"):
        out[table] = (await owner_sql(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h "
            f"FROM {table} t WHERE tenant_id = $1 AND NOT (t::text LIKE '%tenant_entered%')", tenant.id))[0]["h"]
    return out


def png(width: int = 800, height: int = 600) -> bytes:
    """A real PNG larger than a thumbnail, with coarse noise so that it does not compress to nothing."""
    import random

    from PIL import Image

    rnd = random.Random(7)
    small = Image.new("RGB", (width // 4, height // 4))
    small.putdata([(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
                   for _ in range((width // 4) * (height // 4))])
    img = small.resize((width, height), Image.NEAREST)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
