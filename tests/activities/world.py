"""A county for the activities and compliance tests, on top of the deputies tests' county
(tests/deputies/deputy_world.py: two townships, four stations, members of every role): the standard
activity kinds, deputies stationed at 东街社区 (one of them is the member "rep"), and a fast way to
put activities with attendance straight into the database (for building a year of history)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.activities.models import STANDARD_KINDS, Activity, ActivityKind, Attendance, Invitation
from app.activities.services import new_token
from tests.deputies.deputy_world import County, add_deputy, build

TZ = ZoneInfo("Asia/Shanghai")
EAST = "东街社区人大代表联络站"
HOME = "城关镇人大代表之家"


@dataclass
class ActivityCounty:
    county: County
    kinds: dict = field(default_factory=dict)  # code -> id
    deputies: dict = field(default_factory=dict)  # name -> id

    @property
    def tenant(self):
        return self.county.tenant

    @property
    def slug(self) -> str:
        return self.county.slug

    @property
    def stations(self) -> dict:
        return self.county.stations

    @property
    def users(self) -> dict:
        return self.county.users


async def build_activity_county(database, slug: str = "alpha") -> ActivityCounty:
    county = await build(database, slug)
    ac = ActivityCounty(county=county)
    async with database.transaction(tenant_id=county.tenant.id) as db:
        for n, (code, name) in enumerate(STANDARD_KINDS):
            db.add(ActivityKind(tenant_id=county.tenant.id, code=code, name=name, sort=n * 10))
        await db.flush()
        ac.kinds = {k.code: k.id for k in await db.scalars(select(ActivityKind))}
    # 张伟 is the member "rep" (role deputy); all four serve at 东街社区, 赵敏 also at the township home
    ac.deputies["张伟"] = await add_deputy(database, county, "张伟", station=EAST, user="rep", mobile="13800000001")
    ac.deputies["李娜"] = await add_deputy(database, county, "李娜", station=EAST, mobile="13800000002")
    ac.deputies["王强"] = await add_deputy(database, county, "王强", station=EAST, level="city")
    ac.deputies["赵敏"] = await add_deputy(database, county, "赵敏", station=EAST, level="township")
    return ac


def local(y: int, m: int, d: int, hour: int = 9, minute: int = 0) -> datetime:
    """A time in the county's zone (Asia/Shanghai)."""
    return datetime(y, m, d, hour, minute, tzinfo=TZ)


async def put_activity(database, ac: ActivityCounty, *, kind: str, starts_at: datetime, station: str | None = EAST,
                       group_id: int | None = None, hours: int = 2, status: str = "held",
                       invited: tuple[str, ...] = (), present: tuple[str, ...] = (), topic: str = "") -> int:
    """An activity written directly (no checks): for histories in the past. ``present`` deputies
    signed in by link; they are invited too."""
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        activity = Activity(tenant_id=t, kind_id=ac.kinds[kind], station_id=ac.stations[station] if station else None,
                            group_id=group_id, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours),
                            status=status, topic=topic or kind, place="联络站")
        db.add(activity)
        await db.flush()
        for name in dict.fromkeys((*invited, *present)):
            db.add(Invitation(tenant_id=t, activity_id=activity.id, deputy_id=ac.deputies[name], token=new_token()))
        await db.flush()
        for name in present:
            db.add(Attendance(tenant_id=t, activity_id=activity.id, deputy_id=ac.deputies[name], method="link",
                              signed_at=starts_at))
        await db.flush()
        return activity.id
