"""Demo places and people of the two demo counties: homes and stations taken through their lifecycle,
deputies with mandates, groups, photos and assignments, staff, goals, checklist scores, commitments and
two contact rosters. Everything goes through the product's own services with the county's admin (or,
for a township approval, the township's staff) as the actor, so history and audit read as real.

Idempotent per county: when any of its demo stations (by canonical name) or deputies exists, the county
is left alone.
Each county is loaded in one transaction, so a failure leaves nothing half-made. Photos are drawn with
Pillow here (no binary files in the repository) and stored through ``store_image``.
"""

from __future__ import annotations

import colorsys
import io
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.audit.services import record
from app.core.db import Database
from app.core.errors import Refusal
from app.deputies import groups as deputy_groups
from app.deputies import roster
from app.deputies import services as deputies
from app.deputies.models import Deputy, DeputyGroup
from app.stations import checklist as station_checklist
from app.stations import lifecycle as station_lifecycle
from app.stations import profile as station_profile
from app.stations import services as stations
from app.stations.access import StationRef
from app.stations.models import ChecklistItem, Station, StationKind
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope, scope_of

YEAR = 2026


# --- what the demo holds ----------------------------------------------------------------------------

@dataclass
class StationDemo:
    key: str
    kind: str  # station kind code
    node: str  # node path below the county, e.g. "潼川镇/北坝村"
    active: bool
    address: str
    contact_name: str
    contact_phone: str
    opening_hours: str
    reception: str  # as staff type it
    intro: str
    colour: float  # hue of the photo
    staff: list[tuple[str, str]] = field(default_factory=list)  # (role, "user:<username>" | "deputy:<name>")
    goals: list[tuple[str, str, bool]] = field(default_factory=list)  # (goal, progress, done)
    met: int = 0  # checklist items met (the first n of the tenant's list)
    commitments: list[tuple[str, str]] = field(default_factory=list)  # (deputy name, commitment)


@dataclass
class DeputyDemo:
    name: str
    female: bool
    occupation: str
    work_unit: str
    mobile: str
    # (level, term, direct, constituency node path or "", constituency / electoral unit as written)
    mandates: list[tuple[str, int, bool, str, str]]
    stations: list[str] = field(default_factory=list)  # StationDemo keys
    group: str = ""
    public_contact: str = ""


@dataclass
class RosterDemo:
    name: str
    age: int
    education: str
    address: str
    work_unit: str
    mobile: str
    note: str
    contacts: list[tuple[int, str]] = field(default_factory=list)  # (days ago, what it was about)


@dataclass
class CountyDemo:
    slug: str
    admin: str  # username of the county admin (the actor)
    township_staff: dict[str, str]  # township name -> username of its staff (approves there)
    liaison_station: str  # StationDemo key where `liaison-both` is the liaison officer
    stations: list[StationDemo]
    groups: dict[str, str]  # group name -> leader's name
    deputies: list[DeputyDemo]
    rosters: dict[str, list[RosterDemo]]  # deputy name -> constituents


LIAISON_USER = "liaison-both"

SANTAI = CountyDemo(
    slug="santai",
    admin="santai-admin",
    township_staff={"潼川镇": "santai-tongchuan"},
    liaison_station="beiba",
    stations=[
        StationDemo(
            key="home", kind="home", node="潼川镇", active=True,
            address="三台县潼川镇北街88号（镇人大主席团办公室旁）", contact_name="何晓梅", contact_phone="0816-5200101",
            opening_hours="工作日 9:00–12:00、14:30–17:30", reception="每月15日",
            intro="潼川镇人大代表之家是全镇各级人大代表学习培训、联系群众、开展活动的主阵地，"
                  "实行“1+N”模式，统筹北坝村、东街社区等村（社区）联络站的工作。",
            colour=0.02,
            staff=[("head", "user:santai-tongchuan"), ("deputy_head", "deputy:李建国"), ("liaison", "deputy:张德明")],
            goals=[("全年组织代表集中接待选民不少于12次", "已组织4次，接待群众63人次", False),
                   ("围绕老旧小区改造开展专题调研1次", "调研报告已提交镇人大主席团", True),
                   ("完成“八有”标准化提升", "已完成", True)],
            met=8,
            commitments=[("李建国", "每季度到代表之家接待选民不少于1次，年内提出建议2件以上。"),
                         ("张德明", "联系东街社区选民30户，年内走访全覆盖。")],
        ),
        StationDemo(
            key="beiba", kind="station", node="潼川镇/北坝村", active=True,
            address="三台县潼川镇北坝村村委会二楼", contact_name="周联络员", contact_phone="0816-5200102",
            opening_hours="周一至周五 9:00–17:00", reception="每月第一个星期五",
            intro="北坝村人大代表联络站设在村委会二楼，进站代表定期接待村民，收集灌溉、道路、养老等方面的意见建议。",
            colour=0.33,
            staff=[("head", "deputy:王秀兰"), ("liaison", f"user:{LIAISON_USER}")],
            goals=[("每月第一个星期五开展代表接待活动", "1–4月已按时开展", False),
                   ("推动北坝村机耕道硬化建议落实", "已列入镇年度项目计划", False)],
            met=6,
            commitments=[("王秀兰", "每月参加联络站接待日活动，及时反馈群众意见办理情况。"),
                         ("杨桂芳", "联系北坝村三组、四组群众，年内走访不少于40户。")],
        ),
        StationDemo(
            key="baihe", kind="station", node="芦溪镇/白鹤村", active=True,
            address="三台县芦溪镇白鹤村便民服务中心", contact_name="罗春林", contact_phone="0816-5200103",
            opening_hours="周二、周四 9:00–16:00", reception="每周二",
            intro="白鹤村人大代表联络站依托村便民服务中心设立，重点听取种养殖产业发展方面的意见。",
            colour=0.58,
            staff=[("head", "deputy:黄明辉"), ("deputy_head", "deputy:陈晓燕")],
            goals=[("组织进站代表开展柑橘产业调研", "", False),
                   ("完善联络站活动台账", "已建立接待登记簿", False)],
            met=4,
            commitments=[("陈晓燕", "围绕白鹤村柑橘销售问题年内提出建议1件。")],
        ),
        StationDemo(  # left proposed: 潼川镇's staff (santai-tongchuan) approves it in the demo
            key="dongjie", kind="station", node="潼川镇/东街社区", active=False,
            address="三台县潼川镇东街社区党群服务中心一楼", contact_name="郑玉华", contact_phone="0816-5200104",
            opening_hours="工作日 9:00–17:00", reception="每月最后一个星期三",
            intro="东街社区拟设人大代表联络站，服务社区居民约4800人，待镇人大主席团批准。",
            colour=0.12,
        ),
    ],
    groups={"潼川镇代表小组": "王秀兰", "芦溪镇代表小组": "黄明辉"},
    deputies=[
        DeputyDemo("王秀兰", True, "村党支部书记", "三台县潼川镇北坝村村民委员会", "13900001001",
                   [("county", 18, True, "潼川镇/北坝村", "潼川镇第3选区"),
                    ("township", 19, True, "潼川镇/北坝村", "潼川镇北坝村选区")],
                   ["beiba"], "潼川镇代表小组", "每月第一个星期五在北坝村联络站接待"),
        DeputyDemo("李建国", False, "企业负责人", "四川三台建工集团有限公司", "13900001002",
                   [("city", 8, False, "", "三台县人民代表大会")], ["home"], "潼川镇代表小组",
                   "联系电话：0816-5200101（代表之家转）"),
        DeputyDemo("张德明", False, "社区居委会主任", "三台县潼川镇东街社区居民委员会", "13900001003",
                   [("county", 18, True, "潼川镇/东街社区", "潼川镇第7选区")], ["home"], "潼川镇代表小组"),
        DeputyDemo("杨桂芳", True, "乡村医生", "三台县潼川镇北坝村卫生室", "13900001004",
                   [("township", 19, True, "潼川镇/北坝村", "潼川镇北坝村选区")], ["beiba"], "潼川镇代表小组"),
        DeputyDemo("刘志强", False, "种植大户", "三台县北坝镇新德村志强家庭农场", "13900001005",
                   # stationed at 北坝村 (潼川镇), far from his constituency 新德村 (北坝镇): 应进必进 shows it
                   [("county", 18, True, "北坝镇/新德村", "北坝镇第2选区")], ["beiba"]),
        DeputyDemo("陈晓燕", True, "小学教师", "三台县芦溪镇中心小学", "13900001006",
                   [("county", 18, True, "芦溪镇/白鹤村", "芦溪镇第4选区")], ["baihe"], "芦溪镇代表小组",
                   "每周二在白鹤村联络站接待"),
        DeputyDemo("赵文华", False, "医院院长", "三台县人民医院", "13900001007",
                   [("city", 8, False, "", "三台县人民代表大会")], ["baihe"]),
        DeputyDemo("黄明辉", False, "农民专业合作社理事长", "三台县芦溪镇白鹤柑橘专业合作社", "13900001008",
                   [("county", 18, True, "芦溪镇", "芦溪镇第1选区")], ["baihe"], "芦溪镇代表小组"),
        DeputyDemo("周丽娟", True, "个体工商户", "三台县芦溪镇丽娟农资店", "13900001009",  # not stationed
                   [("township", 19, True, "芦溪镇/白鹤村", "芦溪镇白鹤村选区")], [], "芦溪镇代表小组"),
        DeputyDemo("吴永康", False, "镇农业服务中心主任", "三台县北坝镇农业综合服务中心", "13900001010",  # not stationed
                   [("county", 18, True, "北坝镇", "北坝镇第1选区")]),
    ],
    rosters={
        "王秀兰": [
            RosterDemo("孙大勇", 58, "初中", "三台县潼川镇北坝村3组12号", "务农", "13900001101",
                       "关心机耕道硬化", [(40, "走访了解机耕道破损情况，已向镇里反映。"),
                                          (9, "告知机耕道硬化已列入今年计划。")]),
            RosterDemo("马春兰", 66, "小学", "三台县潼川镇北坝村4组5号", "退休", "13900001102",
                       "独居老人，关注养老服务", [(21, "电话问候，反映希望村里开设老年食堂。")]),
            RosterDemo("钱志华", 34, "大专", "三台县潼川镇北坝村1组20号", "返乡创业（电商）", "13900001103",
                       "", [(3, "在接待日上交流农产品网店物流问题。")]),
        ],
    },
)

YUCI = CountyDemo(
    slug="yuci",
    admin="yuci-admin",
    township_staff={},
    liaison_station="zhuangzi",
    stations=[
        StationDemo(
            key="home", kind="home", node="庄子乡", active=True,
            address="晋中市榆次区庄子乡人民政府院内东侧", contact_name="冯建英", contact_phone="0354-3100201",
            opening_hours="工作日 8:30–12:00、14:30–18:00", reception="每月5日、20日",
            intro="庄子乡人大代表之家是全乡代表履职的综合平台，代表小组在此集中学习、议事，"
                  "统筹庄子村、北合流村联络站开展接待活动。",
            colour=0.07,
            staff=[("head", "deputy:贾海军"), ("convener", "deputy:郭建平"), ("liaison", "deputy:郝秀英")],
            goals=[("代表小组每季度集中活动1次", "已开展1次", False),
                   ("全年收集群众意见建议不少于50条", "已收集18条", False),
                   ("建立代表履职档案", "已建立", True)],
            met=5,
            commitments=[("贾海军", "年内围绕乡村道路养护提出建议1件，参加代表之家活动不少于4次。"),
                         ("郝秀英", "每月到代表之家值班接待1次。")],
        ),
        StationDemo(
            key="zhuangzi", kind="station", node="庄子乡/庄子村", active=True,
            address="晋中市榆次区庄子乡庄子村村委会一楼", contact_name="周联络员", contact_phone="0354-3100202",
            opening_hours="周一至周五 9:00–17:00", reception="每周三",
            intro="庄子村人大代表联络站每周三固定接待村民，重点关注饮水安全和村容村貌整治。",
            colour=0.45,
            staff=[("head", "deputy:郭建平"), ("liaison", f"user:{LIAISON_USER}")],
            goals=[("每周三固定接待日全年不间断", "已接待村民35人次", False),
                   ("推动村内饮水管网改造", "已完成", True)],
            met=4,
            commitments=[("郭建平", "联系庄子村选民20户，每季度走访一遍。"),
                         ("任淑珍", "收集妇女儿童方面意见建议，年内不少于10条。")],
        ),
        StationDemo(
            key="beiheliu", kind="station", node="庄子乡/北合流村", active=True,
            address="晋中市榆次区庄子乡北合流村文化活动室", contact_name="秦永红", contact_phone="0354-3100203",
            opening_hours="周二、周五 9:00–16:00", reception="每月第二个星期二",
            intro="北合流村人大代表联络站设在村文化活动室，代表定期与村民议事。",
            colour=0.75,
            staff=[("head", "deputy:武志刚")],
            goals=[("组织代表开展蔬菜大棚产业调研", "", False)],
            met=3,
            commitments=[("武志刚", "推动北合流村蔬菜大棚水电配套，年内提出建议1件。")],
        ),
        StationDemo(
            key="qiaodong", kind="station", node="新华街道/桥东社区", active=True,
            address="晋中市榆次区新华街道桥东社区服务中心二楼", contact_name="白雪梅", contact_phone="0354-3100204",
            opening_hours="工作日 9:00–17:30", reception="每月最后一个星期四",
            intro="桥东社区人大代表联络站服务辖区居民，重点听取老旧小区加装电梯、停车等意见。",
            colour=0.9,
            staff=[("head", "deputy:乔玉梅")],
            goals=[("围绕老旧小区加装电梯开展专题接待", "已开展2次", False)],
            met=2,
            commitments=[("乔玉梅", "每月最后一个星期四到联络站接待居民。")],
        ),
    ],
    groups={"庄子乡代表小组": "郭建平", "新华街道代表小组": "乔玉梅"},
    deputies=[
        DeputyDemo("郭建平", False, "村党支部书记", "晋中市榆次区庄子乡庄子村村民委员会", "13900002001",
                   [("county", 17, True, "庄子乡/庄子村", "庄子乡第1选区"),
                    ("township", 17, True, "庄子乡/庄子村", "庄子乡庄子村选区")],
                   ["zhuangzi", "home"], "庄子乡代表小组", "每周三在庄子村联络站接待"),
        DeputyDemo("任淑珍", True, "妇联主席", "晋中市榆次区庄子乡庄子村妇女联合会", "13900002002",
                   [("township", 17, True, "庄子乡/庄子村", "庄子乡庄子村选区")], ["zhuangzi"], "庄子乡代表小组"),
        DeputyDemo("武志刚", False, "蔬菜种植户", "晋中市榆次区庄子乡北合流村", "13900002003",
                   [("county", 17, True, "庄子乡/北合流村", "庄子乡第2选区")], ["beiheliu"], "庄子乡代表小组"),
        DeputyDemo("段丽萍", True, "村委会委员", "晋中市榆次区庄子乡北合流村村民委员会", "13900002004",
                   [("township", 17, True, "庄子乡/北合流村", "庄子乡北合流村选区")], ["beiheliu"],
                   "庄子乡代表小组"),
        DeputyDemo("贾海军", False, "企业负责人", "山西晋中榆次农机制造有限公司", "13900002005",
                   [("city", 5, False, "", "榆次区人民代表大会")], ["home"], "",
                   "联系电话：0354-3100201（代表之家转）"),
        DeputyDemo("乔玉梅", True, "社区党委书记", "晋中市榆次区新华街道桥东社区", "13900002006",
                   [("county", 17, True, "新华街道/桥东社区", "新华街道第3选区")], ["qiaodong"], "新华街道代表小组",
                   "每月最后一个星期四在桥东社区联络站接待"),
        DeputyDemo("温向东", False, "中学教师", "晋中市榆次区修文镇中学", "13900002007",
                   # stationed at 桥东社区, outside his constituency 修文村: 应进必进 shows it
                   [("county", 17, True, "修文镇/修文村", "修文镇第2选区")], ["qiaodong"], "新华街道代表小组"),
        DeputyDemo("郝秀英", True, "卫生院护士长", "晋中市榆次区庄子乡卫生院", "13900002008",
                   [("township", 17, True, "庄子乡", "庄子乡第3选区")], ["home"], "庄子乡代表小组"),
        DeputyDemo("田晓红", True, "个体工商户", "晋中市榆次区庄子乡晓红超市", "13900002009",  # not stationed
                   [("township", 17, True, "庄子乡/北合流村", "庄子乡北合流村选区")], [], "庄子乡代表小组"),
        DeputyDemo("阎志远", False, "镇农技站站长", "晋中市榆次区修文镇农业技术推广站", "13900002010",  # not stationed
                   [("county", 17, True, "修文镇", "修文镇第1选区")]),
    ],
    rosters={
        "郭建平": [
            RosterDemo("韩二虎", 61, "初中", "晋中市榆次区庄子乡庄子村东街9号", "务农", "13900002101",
                       "关注饮水管网改造", [(30, "入户走访，反映自来水水压不足。"),
                                            (6, "回访：管网改造已完成，水压正常。")]),
            RosterDemo("曹彩霞", 45, "高中", "晋中市榆次区庄子乡庄子村西街21号", "村幼儿园", "13900002102",
                       "", [(12, "接待日反映幼儿园门前道路积水问题。")]),
        ],
    },
)

COUNTIES = {"santai": SANTAI, "yuci": YUCI}


def liaison_place(slug: str) -> str | None:
    """Where `liaison-both` is the liaison officer in a demo county (for the printed logins)."""
    demo = COUNTIES.get(slug)
    if demo is None:
        return None
    return next(s.node.split("/")[-1] for s in demo.stations if s.key == demo.liaison_station)


# --- photos -----------------------------------------------------------------------------------------

def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def deputy_photo(index: int, female: bool) -> bytes:
    """A head-and-shoulders silhouette on a soft coloured background (portrait, 3:4)."""
    w, h = 240, 320
    hue = (index * 0.137 + 0.55) % 1.0
    img = Image.new("RGB", (w, h), _rgb(hue, 0.22, 0.96))
    d = ImageDraw.Draw(img)
    d.ellipse((20, 30, 220, 230), fill=_rgb(hue, 0.14, 0.99))  # a light halo behind the head
    body = _rgb(hue + 0.5, 0.35, 0.42)
    skin = (236, 204, 178)
    hair = (52, 40, 36) if index % 3 else (74, 60, 52)
    if female:
        d.rounded_rectangle((68, 66, 172, 236), radius=46, fill=hair)  # hair falling to the shoulders
    d.ellipse((30, 215, 210, 420), fill=body)  # shoulders
    d.polygon([(105, 215), (135, 215), (120, 250)], fill=(250, 250, 250))  # collar
    d.rectangle((108, 190, 132, 222), fill=skin)  # neck
    d.ellipse((78, 78, 162, 184), fill=skin)  # face
    if female:
        d.chord((72, 68, 168, 150), 180, 360, fill=hair)
        d.pieslice((72, 68, 132, 140), 180, 270, fill=hair)
    else:
        d.chord((76, 70, 164, 136), 180, 360, fill=hair)
    d.ellipse((150, 262, 164, 276), fill=(200, 30, 40))  # the deputy's badge
    return _png(img)


def station_photo(hue: float) -> bytes:
    """A simple building under a sky: roof, windows, a door, a red plaque and a flag (4:3)."""
    w, h = 480, 360
    img = Image.new("RGB", (w, h), _rgb(0.57, 0.25, 0.98))
    d = ImageDraw.Draw(img)
    for y in range(0, 280, 4):  # a sky that gets lighter towards the horizon
        d.rectangle((0, y, w, y + 4), fill=_rgb(0.57, 0.4 - y / 1000, 0.88 + y / 2800))
    d.rectangle((0, 280, w, h), fill=_rgb(0.3, 0.45, 0.72))  # grass
    d.rectangle((0, 296, w, 312), fill=(205, 200, 190))  # path
    wall = _rgb(hue, 0.12, 0.97)
    roof = _rgb(hue, 0.55, 0.7)
    d.rectangle((90, 140, 390, 290), fill=wall, outline=_rgb(hue, 0.3, 0.6), width=2)
    d.polygon([(70, 145), (240, 70), (410, 145)], fill=roof)
    for x in (115, 175, 265, 325):
        for y in (176, 232):
            d.rectangle((x, y, x + 40, y + 32), fill=_rgb(0.57, 0.3, 0.85), outline=(255, 255, 255), width=3)
    d.rectangle((215, 220, 265, 290), fill=_rgb(hue, 0.5, 0.45))  # door
    d.rectangle((190, 148, 290, 166), fill=(196, 30, 36))  # plaque
    d.line((240, 70, 240, 28), fill=(90, 90, 90), width=3)  # flagpole
    d.polygon([(241, 28), (275, 36), (241, 46)], fill=(222, 41, 16))
    d.ellipse((380, 30, 430, 80), fill=(255, 236, 150))  # sun
    return _png(img)


# --- loading ----------------------------------------------------------------------------------------

def _sub_path(node: AdminNode, by_id: dict[int, AdminNode]) -> str:
    """'潼川镇/北坝村' for a node (the county root left out)."""
    ids = [int(p) for p in node.path.strip("/").split("/") if p][1:]
    return "/".join(by_id[i].name for i in ids if i in by_id)


async def _user_ids(db: AsyncSession, usernames: set[str]) -> dict[str, int]:
    rows = await db.execute(select(User.username, User.id).where(User.username.in_(usernames)))
    return {u: i for u, i in rows.all()}


async def _scope(db: AsyncSession, tenant_id: int, user_id: int) -> Scope:
    membership = await db.scalar(select(Membership).where(
        Membership.tenant_id == tenant_id, Membership.user_id == user_id, Membership.revoked_at.is_(None)))
    return await scope_of(db, membership)


async def _ref(db: AsyncSession, station: Station) -> StationRef:
    node = await db.scalar(select(AdminNode).where(AdminNode.id == station.node_id))
    kind = await db.scalar(select(StationKind).where(StationKind.id == station.kind_id))
    return StationRef(station, node, kind)


async def already_loaded(db: AsyncSession, demo: CountyDemo) -> bool:
    """Whether the county holds any of the demo's stations (by canonical name) or deputies: then
    it is left alone, even after people renamed or changed things in it."""
    nodes = (await db.scalars(select(AdminNode))).all()
    by_id = {n.id: n for n in nodes}
    node_by_path = {_sub_path(n, by_id): n for n in nodes}
    kinds = {k.code: k for k in (await db.scalars(select(StationKind))).all()}
    names = [await stations.canonical_for(db, kinds[s.kind], node_by_path[s.node]) for s in demo.stations
             if s.kind in kinds and s.node in node_by_path]
    found = await db.scalar(select(Station.id).where(Station.name.in_(names)).limit(1)) if names else None
    if found is None:
        found = await db.scalar(select(Deputy.id).where(Deputy.name.in_([d.name for d in demo.deputies])).limit(1))
    return found is not None


async def load_county(database: Database, tenant_id: int, demo: CountyDemo, today: date | None = None) -> bool:
    """Load one county's places and people; False when they are there already (or could not be
    loaded: a county changed by hand so that a demo record is refused, which is said on stderr)."""
    today = today or date.today()
    try:
        async with database.transaction(tenant_id=tenant_id) as db:
            if await already_loaded(db, demo):
                return False
            await _load(db, tenant_id, demo, today)
    except (Refusal, KeyError) as exc:
        print(f"demo places and people of {demo.slug} not loaded: {exc}", file=sys.stderr)
        return False
    return True


async def _load(db: AsyncSession, tenant_id: int, demo: CountyDemo, today: date) -> None:
    users = await _user_ids(db, {demo.admin, LIAISON_USER, *demo.township_staff.values()})
    admin_id = users[demo.admin]
    admin_scope = await _scope(db, tenant_id, admin_id)
    actor = deputies.Actor(tenant_id=tenant_id, user_id=admin_id, scope=admin_scope)
    nodes = (await db.scalars(select(AdminNode))).all()
    by_id = {n.id: n for n in nodes}
    node_ids = {_sub_path(n, by_id): n.id for n in nodes}
    kinds = {k.code: k for k in (await db.scalars(select(StationKind))).all()}
    items = list((await db.scalars(
        select(ChecklistItem).where(ChecklistItem.retired_at.is_(None)).order_by(ChecklistItem.sort, ChecklistItem.id)
    )).all())

    # Homes and stations, proposed under their canonical names, then taken to operation.
    refs: dict[str, StationRef] = {}
    for spec in demo.stations:
        node = by_id[node_ids[spec.node]]
        name = await stations.canonical_for(db, kinds[spec.kind], node)
        station = await stations.create_station(db, admin_scope, tenant_id=tenant_id, actor_id=admin_id,
                                                kind_id=kinds[spec.kind].id, node_id=node.id, name=name)
        ref = await _ref(db, station)
        refs[spec.key] = ref
        await station_profile.update_profile(db, ref, {
            "address": spec.address, "contact_name": spec.contact_name, "contact_phone": spec.contact_phone,
            "opening_hours": spec.opening_hours, "reception_rule": spec.reception, "intro": spec.intro,
        }, actor_id=admin_id)
        await station_profile.set_photo(db, ref, station_photo(spec.colour), actor_id=admin_id)
        if not spec.active:
            continue
        township = spec.node.split("/")[0]
        while station.status != "active":
            step = station_lifecycle.available_steps((await stations.tenant_config(db, tenant_id)).lifecycle,
                                                     station.status)[0]
            scope, actor_id = admin_scope, admin_id
            if step == "approve" and township in demo.township_staff:
                actor_id = users[demo.township_staff[township]]
                scope = await _scope(db, tenant_id, actor_id)
            await station_lifecycle.take_step(db, scope, ref, step=step, note=_STEP_NOTES.get(step, ""),
                                              actor_id=actor_id)

    # Deputy groups, deputies (first mandate and station with the record), further mandates and stations.
    groups: dict[str, DeputyGroup] = {}
    for name in demo.groups:
        groups[name] = await deputy_groups.create_group(db, actor, name)
    people: dict[str, Deputy] = {}
    for index, spec in enumerate(demo.deputies):
        level, term, direct, node_path, constituency = spec.mandates[0]
        first_station = refs[spec.stations[0]].station.id if spec.stations else ""
        deputy = await deputies.create_deputy(db, actor, {
            "name": spec.name, "mobile": spec.mobile, "occupation": spec.occupation, "work_unit": spec.work_unit,
            "public_contact": spec.public_contact, "group_id": groups[spec.group].id if spec.group else "",
            "level": level, "term": str(term), "direct": "直接" if direct else "间接", "constituency": constituency,
            "constituency_node_id": node_ids[node_path] if node_path else "", "station_id": first_station,
        })
        people[spec.name] = deputy
        for level, term, direct, node_path, constituency in spec.mandates[1:]:
            await deputies.add_mandate(db, actor, deputy, {
                "level": level, "term": str(term), "direct": "直接" if direct else "间接",
                "constituency": constituency, "constituency_node_id": node_ids[node_path] if node_path else "",
            })
        for key in spec.stations[1:]:
            await deputies.assign(db, actor, deputy, refs[key].station.id)
        await deputies.set_photo(db, actor, deputy, deputy_photo(index + (0 if demo.slug == "santai" else 20),
                                                                 spec.female))
    for name, leader in demo.groups.items():
        await deputy_groups.set_leader(db, actor, groups[name], people[leader].id)

    # Staff, the year's goals, checklist scores and commitments of every station.
    for spec in demo.stations:
        ref = refs[spec.key]
        for role, person in spec.staff:
            kind, _, who = person.partition(":")
            pid = f"u:{users[who]}" if kind == "user" else f"d:{people[who].id}"
            await station_profile.add_staff(db, ref, role=role, person=pid, actor_id=admin_id)
        for goal, progress, done in spec.goals:
            row = await station_profile.add_goal(db, ref, year=YEAR, goal=goal, actor_id=admin_id)
            if progress or done:
                await station_profile.update_goal(db, ref, row, progress=progress, done=done, actor_id=admin_id)
        if spec.active and items:
            values = {}
            for n, item in enumerate(items):
                values[f"met_{item.id}"] = "1" if n < spec.met else "0"
                values[f"evidence_{item.id}"] = "现场查看" if n < spec.met else ""
            await station_checklist.score_checklist(db, ref, values, actor_id=admin_id)
        for name, text in spec.commitments:
            await station_profile.add_commitment(db, ref, deputy_id=people[name].id, year=YEAR, commitment=text,
                                                 actor_id=admin_id)

    # The liaison officer's membership is scoped to their station.
    liaison_station = refs[demo.liaison_station].station
    membership = await db.scalar(select(Membership).where(
        Membership.tenant_id == tenant_id, Membership.user_id == users[LIAISON_USER],
        Membership.revoked_at.is_(None)))
    if membership is not None and membership.station_id != liaison_station.id:
        old_station = membership.station_id
        await db.execute(update(Membership).where(Membership.tenant_id == tenant_id, Membership.id == membership.id)
                         .values(station_id=liaison_station.id))
        await record(db, tenant_id=tenant_id, actor_user_id=admin_id, action="membership_role_changed",
                     target=f"membership:{membership.id}",
                     details={"member": "周联络员", "old_role": membership.role, "new_role": membership.role,
                              "old_station_id": old_station, "new_station_id": liaison_station.id})

    # Contact rosters, with notes of the contacts so far.
    for name, entries in demo.rosters.items():
        deputy = people[name]
        for spec in entries:
            entry = await roster.add_entry(db, tenant_id=tenant_id, deputy=deputy, actor_id=admin_id, values={
                "name": spec.name, "age": str(spec.age), "education": spec.education, "address": spec.address,
                "work_unit": spec.work_unit, "mobile": spec.mobile, "note": spec.note,
            })
            for days_ago, note in spec.contacts:
                await roster.add_contact(db, tenant_id=tenant_id, deputy=deputy, entry=entry, actor_id=admin_id,
                                         contacted_on=(today - timedelta(days=days_ago)).isoformat(), note=note,
                                         today=today)


_STEP_NOTES = {
    "approve": "经镇人大主席团会议研究，同意设立。",
    "file": "已报县人大常委会备案。",
    "activate": "场所、标识、制度已到位，正式运行。",
}


async def load_places_and_people(database: Database, tenant_ids: dict[str, int]) -> None:
    for slug, demo in COUNTIES.items():
        if slug in tenant_ids:
            await load_county(database, tenant_ids[slug], demo)
