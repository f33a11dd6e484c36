"""The demo's joint station across the Guangxi–Guangdong border (app/presets/files/joint-hezhou-fengkai.toml):
the two counties' places and people (a home and a village station each, six deputies each, through
app/demo/people.py), the joint preset applied (app/joint/presets.py), and in the joint tenant, through
the product's services: a held 站长协商会 with its resolutions in the notes and the attendance of deputies
of both sides (signed in by link, and by 铺门镇's staff with a reason), a coming 边界纠纷调解, and a
villager's report of pollution on Fengkai's bank referred to 封开县 and assigned there to its
environment unit. Idempotent: each part is skipped when the joint tenant already has it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.core.db import Database
from app.demo.people import CountyDemo, DeputyDemo, StationDemo, _scope
from app.demo.people import load_county as load_people

JOINT_PRESET = "joint-hezhou-fengkai"
JOINT_SLUG = "pumen-fengkai"
# The two counties' presets (app/presets/files/<name>.toml), loaded by app/demo/__init__.py with the others.
JOINT_COUNTY_PRESETS = ("hezhou-babu", "zhaoqing-fengkai")

BABU = CountyDemo(
    slug="babu",
    admin="babu-admin",
    township_staff={"铺门镇": "pumen-staff"},
    liaison_station="hedong",
    stations=[
        StationDemo(
            key="home", kind="home", node="铺门镇", active=True,
            address="贺州市八步区铺门镇铺门街12号（镇人大主席团办公室）", contact_name="邓小燕", contact_phone="0774-5701234",
            opening_hours="工作日 8:30–12:00、14:30–17:30", reception="每月10日",
            intro="铺门镇人大代表之家是全镇各级人大代表学习、接待和议事的场所，与封开县南丰、金装、长安三镇共建省际人大代表联络站。",
            colour=0.08, staff=[("head", "user:pumen-staff"), ("deputy_head", "deputy:钟国平")], met=5,
        ),
        StationDemo(
            key="hedong", kind="station", node="铺门镇/河东村", active=True,
            address="贺州市八步区铺门镇河东村村委会一楼", contact_name="覃海燕", contact_phone="0774-5701288",
            opening_hours="周一至周五 9:00–17:00", reception="每月第一个星期一",
            intro="河东村紧邻贺江，与封开县南丰镇隔江相望。联络站收集村民对护河、灌溉和道路的意见。",
            colour=0.52, staff=[("head", "deputy:覃海燕")], met=4,
        ),
    ],
    groups={},
    deputies=[
        DeputyDemo("覃海燕", True, "村党支部书记", "八步区铺门镇河东村村民委员会", "13900003101",
                   [("county", 6, True, "铺门镇/河东村", "铺门镇第2选区")], ["hedong"], "",
                   "每月第一个星期一在河东村联络站接待"),
        DeputyDemo("钟国平", False, "企业负责人", "贺州市铺门农产品有限公司", "13900003102",
                   [("city", 6, False, "", "八步区人民代表大会")], ["home"]),
        DeputyDemo("李文辉", False, "种养大户", "八步区铺门镇扶隆村文辉家庭农场", "13900003103",
                   [("township", 19, True, "铺门镇/扶隆村", "铺门镇扶隆村选区")], ["home"]),
        DeputyDemo("黄秀梅", True, "乡村医生", "八步区铺门镇扶隆村卫生室", "13900003104",
                   [("county", 6, True, "铺门镇/扶隆村", "铺门镇第3选区")], ["hedong"]),
        DeputyDemo("莫晓玲", True, "社区居委会主任", "八步区铺门镇铺门社区居民委员会", "13900003105",
                   [("township", 19, True, "铺门镇/铺门社区", "铺门镇铺门社区选区")], ["home"]),
        DeputyDemo("韦建新", False, "小学教师", "八步区贺街镇中心小学", "13900003106",
                   [("county", 6, True, "贺街镇/河西村", "贺街镇第1选区")], []),
    ],
    rosters={},
)

FENGKAI = CountyDemo(
    slug="fengkai",
    admin="fengkai-admin",
    township_staff={},
    liaison_station="jinzhuang",
    stations=[
        StationDemo(
            key="home", kind="home", node="南丰镇", active=True,
            address="肇庆市封开县南丰镇人民路8号", contact_name="罗志勇", contact_phone="0758-6688001",
            opening_hours="工作日 8:30–12:00、14:30–17:30", reception="每月15日",
            intro="南丰镇人大代表之家，与八步区铺门镇共建省际人大代表联络站，两地代表联合巡河、联调边界纠纷。",
            colour=0.15, staff=[("head", "deputy:梁桂英")], met=5,
        ),
        StationDemo(
            key="jinzhuang", kind="station", node="金装镇/金装村", active=True,
            address="肇庆市封开县金装镇金装村村委会二楼", contact_name="黎伟强", contact_phone="0758-6688002",
            opening_hours="周一至周五 9:00–17:00", reception="每月第三个星期四",
            intro="金装村人大代表联络站，收集村民对山林、水利和交通的意见建议。",
            colour=0.4, staff=[("head", "deputy:黎伟强")], met=3,
        ),
    ],
    groups={},
    deputies=[
        DeputyDemo("梁桂英", True, "村党支部书记", "封开县南丰镇东方村村民委员会", "13900003201",
                   [("county", 17, True, "南丰镇/东方村", "南丰镇第1选区")], ["home"], "",
                   "每月15日在南丰镇人大代表之家接待"),
        DeputyDemo("陈志明", False, "企业负责人", "封开县南丰镇志明木业有限公司", "13900003202",
                   [("city", 14, False, "", "封开县人民代表大会")], ["home"]),
        DeputyDemo("黎伟强", False, "村委会主任", "封开县金装镇金装村村民委员会", "13900003203",
                   [("county", 17, True, "金装镇/金装村", "金装镇第2选区")], ["jinzhuang"]),
        DeputyDemo("苏小红", True, "个体工商户", "封开县长安镇长安村", "13900003204",
                   [("township", 18, True, "长安镇/长安村", "长安镇长安村选区")], ["home"]),
        DeputyDemo("罗美华", True, "乡村教师", "封开县南丰镇东方村小学", "13900003205",
                   [("township", 18, True, "南丰镇/东方村", "南丰镇东方村选区")], ["home"]),
        DeputyDemo("何锦荣", False, "社区工作者", "封开县江口街道封川社区居民委员会", "13900003206",
                   [("county", 17, True, "江口街道/封川社区", "江口街道第3选区")], []),
    ],
    rosters={},
)

JOINT_COUNTIES = {"babu": BABU, "fengkai": FENGKAI}

MEETING_TOPIC = "第三季度站长协商会：贺江联合巡河与边界纠纷联调"
MEETING_NOTES = """四镇联合站长、副站长和两地代表共12人参加。会议议定：
一、每月第二个星期三为联合接待日，两地代表轮流在联络站接待群众；
二、贺江（铺门—南丰段）每季度联合巡河一次，一方代表发现对方辖区排污、采砂等问题，由联络站转交对方人大督办；
三、铺门镇扶隆村与南丰镇交界的山林权属纠纷，下月由联络站组织两地代表联合调解；
四、两地各推荐一件跨界建议，年底前分别提交本级人大常委会。"""
MEDIATION_TOPIC = "铺门镇扶隆村与南丰镇东方村交界山林权属纠纷联合调解"
POLLUTION = "河对岸封开一侧有排污口，每天傍晚往贺江排黑水，河东村这一段河水发臭，请两地代表督促查处。"


def _at(day: date, hour: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, 0), tz).astimezone(timezone.utc)


async def load_joint_counties(database: Database, tenant_ids: dict[str, int]) -> None:
    """The two counties' places and people (a county holding any of them is left alone)."""
    for slug, demo in JOINT_COUNTIES.items():
        if slug in tenant_ids:
            await load_people(database, tenant_ids[slug], demo)


async def load_joint(database: Database, users: dict[str, int], now: datetime | None = None) -> int:
    """Apply the joint preset and fill the joint tenant (each part once). Returns the joint tenant's id."""
    from app.joint.presets import apply_joint_preset

    applied = await apply_joint_preset(database, JOINT_PRESET)
    joint_id = applied.joint_tenant_id
    now = now or datetime.now(timezone.utc)
    if applied.created:
        await _photo(database, joint_id, users["babu-admin"])
    await _activities(database, joint_id, users, now)
    await _case(database, joint_id, users)
    return joint_id


async def _photo(database: Database, joint_id: int, admin: int) -> None:
    """The joint station's photo, as the proposer's admin would upload it."""
    from app.demo.people import station_photo
    from app.joint.agreements import joint_station_id
    from app.stations import profile
    from app.stations.access import get_station

    async with database.transaction(tenant_id=joint_id, user_id=admin) as db:
        ref = await get_station(db, await _scope(db, joint_id, admin), await joint_station_id(db, joint_id),
                                for_update=True)
        await profile.set_photo(db, ref, station_photo(0.27), actor_id=admin)


async def _activities(database: Database, joint_id: int, users: dict[str, int], now: datetime) -> None:
    from app.activities import records, services, signin
    from app.activities.access import get_activity
    from app.activities.models import Activity, ActivityKind, Invitation
    from app.joint.agreements import joint_station_id
    from app.joint.models import JointDeputy
    from app.stations.access import get_station
    from app.tenancy.config import get_config
    from app.tenancy.models import Tenant

    admin, staff = users["babu-admin"], users["pumen-staff"]
    async with database.transaction(tenant_id=joint_id, user_id=admin) as db:
        if await db.scalar(select(Activity.id).limit(1)) is not None:
            return
        tz = ZoneInfo(await db.scalar(select(Tenant.timezone).where(Tenant.id == joint_id)) or "Asia/Shanghai")
        scope = await _scope(db, joint_id, admin)
        staff_scope = await _scope(db, joint_id, staff)
        config = await get_config(db, joint_id)
        station = await get_station(db, scope, await joint_station_id(db, joint_id))
        kinds = {c: i for c, i in (await db.execute(select(ActivityKind.code, ActivityKind.id))).all()}
        local = {n: (d, h) for n, d, h in (await db.execute(
            select(JointDeputy.name, JointDeputy.deputy_id, JointDeputy.home_tenant_id)
            .order_by(JointDeputy.id))).all()}
        everyone = tuple(d for d, _ in local.values())

        # The co-heads' coordination meeting, three weeks ago: everyone invited, most of them present.
        today = now.astimezone(tz).date()
        start = _at(today - timedelta(days=21), 9, tz)
        meeting = await services.create_activity(
            db, scope, tenant_id=joint_id, actor_id=admin, station=station, group=None, now=now,
            new=services.NewActivity(kind_id=kinds["coordination"], starts_at=start, ends_at=start + timedelta(hours=2),
                                     place="铺门镇省际边界联调中心会议室", topic=MEETING_TOPIC, held=True,
                                     deputy_ids=everyone))
        ref = await get_activity(db, scope, meeting.id, for_update=True)
        names = list(local)
        for name in names[:3] + names[4:6]:  # by their personal links, as they arrived
            token = await db.scalar(select(Invitation.token).where(Invitation.activity_id == meeting.id,
                                                                   Invitation.deputy_id == local[name][0]))
            view = await signin.link_view(db, token)
            await signin.sign_in_by_link(db, view, config, tz, now=start - timedelta(minutes=10))
        for name in (names[3], names[6]):  # by 铺门镇's staff at the station, with the reason (one stayed away)
            await signin.sign_in_on_behalf(db, staff_scope, ref, deputy_id=str(local[name][0]),
                                           reason="代表手机没电，联络员现场核实后代签", actor_id=staff, config=config,
                                           tz=tz, now=start + timedelta(minutes=5))
        ref = await get_activity(db, scope, meeting.id, for_update=True)
        await records.record_held(db, scope, ref, notes=MEETING_NOTES, people="", actor_id=admin, now=now)

        # The border dispute mediation agreed there, coming in nine days.
        day = today + timedelta(days=9)
        start = _at(day, 9, tz)
        await services.create_activity(
            db, scope, tenant_id=joint_id, actor_id=admin, station=station, group=None, now=now,
            new=services.NewActivity(kind_id=kinds["mediation"], starts_at=start, ends_at=start + timedelta(hours=3),
                                     place="铺门镇扶隆村村委会", topic=MEDIATION_TOPIC, responsible_user_id=staff,
                                     deputy_ids=everyone[:2] + everyone[4:6]))


async def _case(database: Database, joint_id: int, users: dict[str, int]) -> None:
    """A villager reports pollution on Fengkai's bank at the joint station; its staff refer it to 封开县,
    whose admin assigns it to the county's environment unit."""
    from app.cases import steps
    from app.cases.access import get_case
    from app.cases.models import Case
    from app.tenancy.models import HandlingUnit
    from app.cases.services import NewCase, register_case
    from app.joint import referrals
    from app.joint.agreements import joint_station_id
    from app.cases.models import JointReferral
    from app.tenancy.models import Tenant

    staff = users["pumen-staff"]
    async with database.transaction(tenant_id=joint_id, user_id=staff) as db:
        if await db.scalar(select(Case.id).limit(1)) is not None:
            return
        fengkai = await db.scalar(select(Tenant.id).where(Tenant.slug == "fengkai"))
        scope = await _scope(db, joint_id, staff)
        case = await register_case(db, scope, tenant_id=joint_id, actor_id=staff, new=NewCase(
            content=POLLUTION, source="reception", person_name="黄伯", person_mobile="13977001234",
            station_id=await joint_station_id(db, joint_id)))
        ref = await get_case(db, scope, case.id, for_update=True)
        await referrals.refer(db, scope, ref, county_tenant_ids=[fengkai], level="county",
                              note="排污口在封开一侧，请封开县核查处理。", actor_id=staff)
        county_case = await db.scalar(select(JointReferral.county_case_id).where(JointReferral.case_id == case.id))
    admin = users["fengkai-admin"]
    async with database.transaction(tenant_id=fengkai, user_id=admin) as db:
        scope = await _scope(db, fengkai, admin)
        unit = await db.scalar(select(HandlingUnit.id).where(HandlingUnit.code == "huanbao"))
        ref = await get_case(db, scope, county_case, for_update=True)
        await steps.assign(db, scope, ref, unit_id=unit, note="请派员到南丰镇沿江段核查排污口。", actor_id=admin)
