"""Demo cases of the two demo counties, after their presets' categories, handling units and due
rules: about forty opinions per county over the last months at the stations in operation, in every
state (registered, assigned, accepted, replied, fed back, closed with the person's satisfaction,
answered on the spot, one overdue and supervised, one forwarded to the city, one merged into another),
several from the online form, each with its history as the workflow (app/cases/steps.py) writes it;
and the weekly openings of each station's deputy mailbox over the last twelve weeks, one week missed.

Written in bulk (a few flushes per county, no per-row service call) so that `./run start` stays fast;
drawn from a random generator seeded per county. Idempotent per county: a county holding any case is
left alone (as app/demo/activities.py leaves a county holding activities).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.cases.models import Case, CaseCategory, CaseEvent, MailboxOpening
from app.tenancy.models import AdminNode, HandlingUnit, Tenant
from app.cases.services import add_days, due_rule, new_receipt_code
from app.core.calendar import WorkingCalendar, load_calendar
from app.core.db import Database
from app.deputies.models import StationDeputy
from app.stations.models import Station
from app.tenancy.config import get_config

# The unit each category goes to at county level (the others: the township's office).
COUNTY_UNITS = {"roads": "jiaotong", "water": "shuili", "environment": "huanbao", "health": "weijian",
                "education": "jiaoyu"}
# Per county: its demo unit's category comes up most (so the demo unit login has cases in every state),
# the township staff who assign township matters, the outside body of the forwarded case.
COUNTY_CASES = {
    "santai": {"focus": "roads", "staff": {"潼川镇": "santai-tongchuan"}, "unit_login": "santai-jiaotong",
               "outside": ("绵阳市交通运输局", "绵交函〔2026〕17号")},
    "yuci": {"focus": "environment", "staff": {"庄子乡": "yuci-zhuangzi"}, "unit_login": "yuci-huanbao",
             "outside": ("晋中市生态环境局", "市环转〔2026〕9号")},
}
ADMINS = {"santai": "santai-admin", "yuci": "yuci-admin"}
LIAISON = "liaison-both"
CATEGORY_CYCLE = ("focus", "village", "water", "focus", "health", "social", "education", "industry", "focus",
                  "governance")
# (state, how many, days ago the case came in: low, high)
PLAN = (("registered", 5, 0, 5), ("assigned", 4, 3, 8), ("accepted", 4, 6, 12), ("replied", 4, 14, 22),
        ("fed_back", 4, 18, 28), ("closed", 14, 30, 170), ("on_spot", 2, 10, 120), ("overdue", 1, 34, 34),
        ("forwarded", 1, 20, 40), ("merged", 1, 2, 4))
SOURCES = ("reception", "online", "visit", "mailbox", "phone", "online", "wechat", "reception", "online", "referral")
CONTENTS = {
    "roads": ("{place}通往镇上的村道坑洼积水，雨天学生上学很不方便，希望尽快修补。",
              "{place}路口没有减速带和警示标志，过往车辆车速快，存在安全隐患。",
              "{place}到县城的班车减少了，老人看病出行困难，建议恢复早班车。"),
    "water": ("{place}的灌溉渠年久失修，漏水严重，春灌用水紧张。", "{place}山坪塘淤积，蓄水能力下降，请帮助清淤。"),
    "environment": ("{place}附近养殖场气味大，污水直排沟渠，群众反映强烈。", "{place}河道有人倾倒建筑垃圾，影响行洪。",
                    "{place}周边小作坊夜间烧煤冒黑烟，希望加强监管。"),
    "health": ("{place}卫生室缺少常用药品，村医年纪大了，希望增加人手。", "{place}老人多，希望定期开展免费体检。"),
    "education": ("{place}小学校车线路调整后，部分学生要走很远的路。", "{place}幼儿园学位紧张，希望扩大招生。"),
    "social": ("{place}有困难老人的低保没有及时续办，希望帮助核实。", "{place}残疾人补贴发放时间不固定，请说明。"),
    "village": ("{place}路灯坏了好几盏，晚上出行不安全。", "{place}生活垃圾清运不及时，垃圾桶常常满溢。"),
    "industry": ("{place}种植的柑橘销路不畅，希望帮助对接销售渠道。", "{place}合作社想申请产业扶持资金，不知道怎么办。"),
    "governance": ("{place}村务公开栏很久没有更新，群众想了解集体收入使用情况。", "{place}邻里宅基地纠纷多年未解决。"),
    "other": ("{place}群众希望代表联络站周末也能开放。",),
}
REPLIES = ("已安排专人现场查看，列入本月维修计划，预计两周内完成。", "经核实情况属实，已责令整改并将持续跟踪。",
           "已协调相关部门和村委会，问题已于本周解决。", "已纳入年度项目计划，资金落实后即开工。")
PEOPLE = ("王大爷", "李阿姨", "张师傅", "刘女士", "陈先生", "杨大姐", "赵老师", "黄先生", "周女士", "吴大爷", "")
SATISFACTION = ("satisfied",) * 9 + ("basically",) * 4 + ("unsatisfied",)
CHANNELS = ("phone", "phone", "visit", "sms", "wechat")


@dataclass
class World:
    slug: str
    tenant_id: int
    tz: ZoneInfo
    now: datetime
    stations: list  # (Station, township name, place name, [deputy ids])
    categories: dict[str, int]
    units: dict[str, HandlingUnit]
    users: dict[str, int]
    liaison_stations: set[int]
    calendar: WorkingCalendar


async def load_cases(database: Database, tenant_ids: dict[str, int], now: datetime | None = None) -> None:
    for slug, spec in COUNTY_CASES.items():
        if slug in tenant_ids:
            async with database.transaction(tenant_id=tenant_ids[slug]) as db:
                if await db.scalar(select(Case.id).limit(1)) is None:
                    await load_county(db, tenant_ids[slug], slug, spec, now)


async def _world(db: AsyncSession, tenant_id: int, slug: str, spec: dict, now: datetime | None) -> World:
    tz = ZoneInfo(await db.scalar(select(Tenant.timezone).where(Tenant.id == tenant_id)) or "Asia/Shanghai")
    nodes = {n.id: n for n in (await db.scalars(select(AdminNode))).all()}
    stations = []
    for station in (await db.scalars(select(Station).where(Station.status == "active").order_by(Station.id))).all():
        chain = [nodes[int(i)] for i in nodes[station.node_id].path.strip("/").split("/")]
        township = chain[1].name if len(chain) > 1 else ""
        stations.append([station, township, chain[-1].name, []])
    for station_id, deputy_id in (await db.execute(select(StationDeputy.station_id, StationDeputy.deputy_id)
                                                   .where(StationDeputy.ended_at.is_(None)))).all():
        for row in stations:
            if row[0].id == station_id:
                row[3].append(deputy_id)
    names = {ADMINS[slug], LIAISON, spec["unit_login"], *spec["staff"].values()}
    users = dict((await db.execute(select(User.username, User.id).where(User.username.in_(names)))).all())
    liaison = set((await db.scalars(select(Membership.station_id).where(
        Membership.tenant_id == tenant_id, Membership.user_id == users.get(LIAISON, 0),
        Membership.revoked_at.is_(None)))).all())
    return World(slug, tenant_id, tz, now or datetime.now(timezone.utc), stations,
                 dict((await db.execute(select(CaseCategory.code, CaseCategory.id))).all()),
                 {u.code: u for u in (await db.scalars(select(HandlingUnit))).all()}, users, liaison,
                 await load_calendar(db))


def _unit_for(w: World, category: str, township: str) -> HandlingUnit | None:
    if category in COUNTY_UNITS and COUNTY_UNITS[category] in w.units:
        return w.units[COUNTY_UNITS[category]]
    return next((u for u in w.units.values() if u.kind == "township_office" and u.node_id is not None
                 and u.name.startswith(township)), None)


async def load_county(db: AsyncSession, tenant_id: int, slug: str, spec: dict, now: datetime | None = None) -> None:
    w = await _world(db, tenant_id, slug, spec, now)
    if not w.stations or not w.categories:
        return
    rng = random.Random(f"cases-{slug}-{w.now.astimezone(w.tz).date().isoformat()}")
    config = await get_config(db, tenant_id)
    n, made = 0, {}
    for state, how_many, low, high in PLAN:
        for _ in range(how_many):
            station, township, place, deputies = w.stations[n % len(w.stations)]
            code = CATEGORY_CYCLE[n % len(CATEGORY_CYCLE)]
            code = spec["focus"] if code == "focus" else code
            source = SOURCES[n % len(SOURCES)] if state != "on_spot" else "reception"
            came = _work_time(w, rng, rng.randint(low, high))
            case = Case(
                tenant_id=tenant_id, receipt_code=new_receipt_code(), source=source,
                person_name=PEOPLE[n % len(PEOPLE)] if source != "online" or n % 2 else "",
                person_mobile=f"13900009{n:03d}" if n % 3 else None,
                content=rng.choice(CONTENTS.get(code, CONTENTS["other"])).format(place=place),
                category_id=w.categories.get(code), node_id=station.node_id, station_id=station.id,
                deputy_id=rng.choice(deputies) if deputies and source in ("reception", "visit", "mailbox") else None,
                urgency="urgent" if n % 9 == 4 else "normal", state="registered", level="township",
                created_by=None if source == "online" else _staff(w, station.id),
                client_hash=f"demo-{n}" if source == "online" else None, created_at=came, updated_at=came)
            db.add(case)
            made.setdefault(state, []).append((case, code, township))
            n += 1
    await db.flush()
    events = []
    for state, cases in made.items():
        for case, code, township in cases:
            events += [_event(case, "registered", case.created_by, case.created_at, to_state="registered",
                              public=True, data={"source": case.source})]
            events += await _history(db, w, rng, config, spec, case, state, code, township, made)
    db.add_all(events)
    db.add_all(_openings(w, rng))
    await db.flush()


def _staff(w: World, station_id: int) -> int | None:
    """Who registers at a station: its liaison officer where the demo has one, else the county admin."""
    return w.users.get(LIAISON) if station_id in w.liaison_stations else w.users.get(ADMINS[w.slug])


def _work_time(w: World, rng: random.Random, days_ago: int) -> datetime:
    day = (w.now.astimezone(w.tz) - timedelta(days=days_ago)).date()
    moment = datetime.combine(day, time(rng.randint(8, 16), rng.choice((0, 15, 30, 45))), tzinfo=w.tz)
    return min(moment, w.now - timedelta(minutes=30))


def _event(case: Case, action: str, actor: int | None, at: datetime, *, from_state: str | None = None,
           to_state: str | None = None, note: str = "", data: dict | None = None, public: bool = False) -> CaseEvent:
    return CaseEvent(tenant_id=case.tenant_id, case_id=case.id, action=action, from_state=from_state,
                     to_state=to_state, note=note, data=data or {}, public=public, actor_user_id=actor, at=at)


async def _history(db, w: World, rng: random.Random, config, spec: dict, case: Case, state: str, code: str,
                   township: str, made: dict) -> list[CaseEvent]:
    """The steps from "registered" to ``state``, each at a later time, the case's fields set as the
    workflow sets them."""
    out, at = [], case.created_at
    admin = w.users.get(ADMINS[w.slug])
    clamp = w.now - timedelta(minutes=10)

    def step(action, to_state, actor, days, *, note="", data=None, public=True):
        nonlocal at
        at = min(at + timedelta(days=days, hours=rng.randint(1, 5)), clamp)
        out.append(_event(case, action, actor, at, from_state=case.state, to_state=to_state or case.state,
                          note=note, data=data, public=public))
        case.state, case.updated_at = to_state or case.state, at
        return at

    if state == "registered":
        return out
    if state == "on_spot":
        answer = "代表现场解答了相关政策，群众表示理解。"
        when = step("answer_on_spot", "closed", case.created_by, 0, note=answer)
        case.reply_text, case.replied_at, case.fed_back_at, case.feedback_channel = answer, when, when, "visit"
        case.closed_at = when
        return out
    if state == "forwarded":
        body, ref = spec["outside"]
        step("forward_outside", "forwarded", admin, 2, note="涉及市级事项，已转交。",
             data={"outside_body": body, "outside_ref": ref})
        case.outside_body, case.outside_ref, case.level = body, ref, "outside"
        return out
    if state == "merged":
        kept = made["assigned"][0][0]
        step("merge", "merged", _staff(w, case.station_id), 1, note="与已登记的问题相同，合并办理。", public=False,
             data={"into": kept.id})
        case.merged_into_id = kept.id
        out.append(_event(kept, "merged_here", _staff(w, case.station_id), at, data={"case_id": case.id}))
        return out
    unit = _unit_for(w, code, township)
    if unit is None:
        return out
    case.level = unit.level
    assigner = admin if unit.level == "county" else w.users.get(spec["staff"].get(township, ""), admin)
    unit_user = w.users.get(spec["unit_login"]) if unit.code == COUNTY_UNITS.get(spec["focus"]) else None
    reply_days, feedback_days, working = await due_rule(db, config, level=unit.level, category_id=case.category_id,
                                                        urgency=case.urgency)
    assigned = step("assign", "assigned", assigner, 1)
    case.handling_unit_id, case.assigned_at = unit.id, assigned
    case.reply_due = add_days(assigned.astimezone(w.tz).date(), reply_days, working, w.calendar)
    case.feedback_due = add_days(case.reply_due, feedback_days, working, w.calendar)
    out[-1].data = {"unit_id": unit.id, "unit": unit.name, "reply_due": case.reply_due.isoformat(),
                    "feedback_due": case.feedback_due.isoformat()}
    if state == "assigned":
        return out
    step("accept", "accepted", unit_user, rng.randint(0, 2))
    if state == "overdue":
        when = datetime.combine(case.reply_due + timedelta(days=3), time(10), tzinfo=w.tz)
        at = min(when, clamp) - timedelta(days=rng.randint(0, 1), hours=5)
        step("supervise", None, admin, 0, note="已超期，请承办单位本周内答复并说明原因。", public=False,
             data={"reply_due": case.reply_due.isoformat()})
        case.supervised_at = at
        return out
    if state == "accepted":
        return out
    result = rng.choice(REPLIES)
    case.reply_text, case.replied_at = result, step("reply", "replied", unit_user, rng.randint(3, 8), note=result)
    if state == "replied":
        return out
    channel = rng.choice(CHANNELS)
    case.feedback_channel = channel
    case.fed_back_at = step("feed_back", "fed_back", _staff(w, case.station_id), rng.randint(1, 3),
                            data={"channel": channel})
    if state == "fed_back":
        return out
    satisfaction = rng.choice(SATISFACTION)
    case.satisfaction = satisfaction
    case.rated_at = case.closed_at = step("rate", "closed", _staff(w, case.station_id), rng.randint(0, 2),
                                          data={"satisfaction": satisfaction})
    return out


def _openings(w: World, rng: random.Random) -> list[MailboxOpening]:
    """Each station's mailbox opened once a week over the last eleven finished weeks, one week missed
    (a different one per station), and this week's opening where it is already past."""
    today = w.now.astimezone(w.tz).date()
    monday = today - timedelta(days=today.weekday())
    out = []
    for n, (station, _, _, _) in enumerate(w.stations):
        missed = 2 + n % 8
        for weeks_back in range(0, 12):
            if weeks_back == missed:
                continue
            day = monday - timedelta(weeks=weeks_back) + timedelta(days=rng.choice((0, 2, 4)))
            moment = datetime.combine(day, time(9, rng.choice((0, 10, 30))), tzinfo=w.tz)
            if moment >= w.now:
                continue
            letters = rng.choice((0, 0, 1, 1, 2, 3))
            out.append(MailboxOpening(tenant_id=w.tenant_id, station_id=station.id, opened_at=moment,
                                      opened_by=w.users.get(LIAISON if station.id in w.liaison_stations
                                                            else ADMINS[w.slug]), letters=letters,
                                      note="信件已登记为意见" if letters else ""))
    return out


