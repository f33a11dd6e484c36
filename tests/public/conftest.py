"""A county with stations in every state, deputies with photos, goals and commitments, built with the
models directly (the public pages only read them)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select

from app.core.images import store_image
from app.deputies.models import Commitment, Deputy, Mandate, StationDeputy
from app.stations.models import Station, StationGoal, StationKind
from app.tenancy.models import AdminNode
from tests.factories import make_tenant

NODES = (("城关镇", "township"), ("城关镇/东街社区", "community"), ("河坝乡", "township"),
         ("河坝乡/石桥村", "village"))
PRIVATE_MOBILE = "13912345678"
THIS_YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year


def png(width: int = 60, height: int = 80, colour=(180, 40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


@dataclass
class County:
    slug: str
    tenant: object
    stations: dict = field(default_factory=dict)  # label -> Station
    deputies: dict = field(default_factory=dict)  # label -> Deputy
    images: dict = field(default_factory=dict)  # label -> image id


async def build_county(database, slug: str, *, extra_deputies: int = 0, suspended: bool = False) -> County:
    tenant = await make_tenant(database, slug, nodes=NODES, status="suspended" if suspended else "active")
    county = County(slug=slug, tenant=tenant)
    t = tenant.id
    async with database.transaction(tenant_id=t) as db:
        nodes = {n.name: n for n in (await db.scalars(select(AdminNode))).all()}
        kind = StationKind(tenant_id=t, code="station", name="代表联络站", node_kinds=["community", "village"])
        db.add(kind)
        await db.flush()
        for label in ("station_photo", "deputy_photo", "orphan", "proposed_photo", "retired_deputy_photo"):
            county.images[label] = (await store_image(db, t, png())).id
        specs = {
            "active": dict(node="东街社区", name=f"{slug}城关镇东街社区人大代表联络站", status="active",
                           photo_id=county.images["station_photo"], address="城关镇东街18号",
                           opening_hours="工作日 9:00–17:00", contact_name="李联络", contact_phone="0816-1234567",
                           reception_rule="day:15;nth:1:fri", intro="本站设在社区服务中心二楼。\n欢迎来访。"),
            "second": dict(node="石桥村", name=f"{slug}河坝乡石桥村人大代表联络站", status="active",
                           reception_rule="week:tue"),
            "proposed": dict(node="石桥村", name=f"{slug}石桥村拟建联络站", status="proposed",
                             photo_id=county.images["proposed_photo"], reception_rule="day:5"),
            "closed": dict(node="东街社区", name=f"{slug}东街旧联络站", status="closed"),
        }
        for label, spec in specs.items():
            node = nodes[spec.pop("node")]
            station = Station(tenant_id=t, kind_id=kind.id, node_id=node.id, **spec)
            db.add(station)
            await db.flush()
            county.stations[label] = station
        active = county.stations["active"]
        people = [
            ("zhang", "张代表", "city", "active", county.images["deputy_photo"], "电话 0816-7654321"),
            ("wang", "王代表", "county", "active", None, ""),
            ("resigned", "辞代表", "county", "resigned", county.images["retired_deputy_photo"], ""),
            ("left", "离代表", "county", "active", None, ""),
        ] + [(f"extra{i}", f"代表{i:02d}号", "township", "active", county.images["deputy_photo"],
              f"公开联系方式{i}") for i in range(extra_deputies)]
        for label, name, level, status, photo, contact in people:
            deputy = Deputy(tenant_id=t, name=name, mobile=PRIVATE_MOBILE, public_contact=contact, photo_id=photo,
                            status=status, work_unit="某单位")
            db.add(deputy)
            await db.flush()
            county.deputies[label] = deputy
            db.add(Mandate(tenant_id=t, deputy_id=deputy.id, level=level, term=18, direct=True))
            ended = datetime.now(timezone.utc) if label == "left" else None
            db.add(StationDeputy(tenant_id=t, station_id=active.id, deputy_id=deputy.id, ended_at=ended))
        # 张代表 also sits in the county congress: two levels
        db.add(Mandate(tenant_id=t, deputy_id=county.deputies["zhang"].id, level="county", term=18, direct=False))
        db.add_all([
            StationGoal(tenant_id=t, station_id=active.id, year=THIS_YEAR, goal="每月接待选民一次", done=True),
            StationGoal(tenant_id=t, station_id=active.id, year=THIS_YEAR, goal="办结群众意见二十件",
                        progress="已办结十二件"),
            StationGoal(tenant_id=t, station_id=active.id, year=THIS_YEAR - 1, goal="去年的目标"),
            Commitment(tenant_id=t, station_id=active.id, deputy_id=county.deputies["zhang"].id, year=THIS_YEAR,
                       commitment="每季度走访选区一次"),
            Commitment(tenant_id=t, station_id=active.id, deputy_id=county.deputies["resigned"].id,
                       year=THIS_YEAR, commitment="辞职代表的承诺"),
            Commitment(tenant_id=t, station_id=active.id, deputy_id=county.deputies["wang"].id,
                       year=THIS_YEAR - 1, commitment="去年的承诺"),
        ])
    return county


@pytest.fixture
async def alpha(database) -> County:
    return await build_county(database, "alpha")


@pytest.fixture
async def beta(database) -> County:
    return await build_county(database, "beta")
