"""A county for the cases tests, on top of the activities tests' county (tests/activities/world.py:
two townships, four stations, members of every role, deputies at 东街社区): case categories, handling
units with a user each, and a fast way to put cases straight into the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select, update

from app.accounts.models import Membership
from app.cases.models import Case, CaseCategory, CaseEvent
from app.tenancy.models import HandlingUnit
from app.cases.services import new_receipt_code
from app.stations.models import Station
from tests.activities.world import EAST, HOME, ActivityCounty, build_activity_county
from tests.factories import add_member, make_user

CATEGORIES = (("roads", "道路交通"), ("water", "农田水利"), ("health", "医疗卫生"), ("environment", "生态环境"))
# code -> (name, kind, level, node name or None, member username)
UNITS = {
    "transport": ("县交通运输局", "county_department", "county", None, "transport"),
    "ecology": ("县生态环境局", "county_department", "county", None, "ecology"),
    "town-agri": ("城关镇农业综合服务中心", "township_office", "township", "城关镇", "townoffice"),
}


@dataclass
class CaseCounty:
    ac: ActivityCounty
    categories: dict = field(default_factory=dict)  # code -> id
    units: dict = field(default_factory=dict)  # code -> id

    @property
    def county(self):
        return self.ac.county

    @property
    def tenant(self):
        return self.ac.tenant

    @property
    def slug(self) -> str:
        return self.ac.slug

    @property
    def stations(self) -> dict:
        return self.ac.stations

    @property
    def users(self) -> dict:
        return self.ac.users

    @property
    def deputies(self) -> dict:
        return self.ac.deputies


async def build_case_county(database, slug: str = "alpha") -> CaseCounty:
    """Members (see tests/deputies/deputy_world.py) plus one user per handling unit: transport,
    ecology (county departments), townoffice (城关镇's office)."""
    ac = await build_activity_county(database, slug)
    cc = CaseCounty(ac=ac)
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        for n, (code, name) in enumerate(CATEGORIES):
            db.add(CaseCategory(tenant_id=t, code=code, name=name, sort=n))
        for code, (name, kind, level, node, _) in UNITS.items():
            db.add(HandlingUnit(tenant_id=t, code=code, name=name, kind=kind, level=level,
                                node_id=ac.county.nodes[node] if node else None))
        await db.flush()
        cc.categories = {c.code: c.id for c in await db.scalars(select(CaseCategory))}
        cc.units = {u.code: u.id for u in await db.scalars(select(HandlingUnit))}
    for code, (_, _, _, _, username) in UNITS.items():
        user = await make_user(database, f"{slug}-{username}")
        await add_member(database, ac.tenant, user, "handling_unit")
        ac.county.users[username] = user
        async with database.transaction(tenant_id=t) as db:
            await db.execute(update(Membership).where(Membership.tenant_id == t, Membership.user_id == user.id)
                             .values(handling_unit_id=cc.units[code]))
    return cc


async def put_case(database, cc: CaseCounty, *, content: str = "村道坑洼需要修补", station: str | None = EAST,
                   state: str = "registered", category: str | None = "roads", unit: str | None = None,
                   level: str = "township", created_at: datetime | None = None, **fields) -> Case:
    """A case written directly (no checks), with its "registered" step: for building histories."""
    t = cc.tenant.id
    async with database.transaction(tenant_id=t) as db:
        node_id = fields.pop("node_id", None)
        if station and node_id is None:
            node_id = await db.scalar(select(Station.node_id).where(Station.id == cc.stations[station]))
        case = Case(tenant_id=t, receipt_code=new_receipt_code(), source=fields.pop("source", "reception"),
                    content=content, category_id=cc.categories[category] if category else None, node_id=node_id,
                    station_id=cc.stations[station] if station else None, state=state, level=level,
                    handling_unit_id=cc.units[unit] if unit else None,
                    created_at=created_at or datetime.now(timezone.utc), **fields)
        db.add(case)
        await db.flush()
        db.add(CaseEvent(tenant_id=t, case_id=case.id, action="registered", to_state="registered", public=True,
                         at=case.created_at))
        await db.flush()
        return case


__all__ = ["EAST", "HOME", "CaseCounty", "build_case_county", "put_case"]
