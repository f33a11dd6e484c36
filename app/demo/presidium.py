"""Demo township presidiums (乡镇人大主席团) of the demo counties' townships with stations, and the
deputies their members contact (issue 19: 人大主席团花名册, 人大代表主席团成员联系人大代表花名册): in 三台县
潼川镇 (北坝村's township: its chair contacts 北坝村's deputies) and 芦溪镇, in 榆次区 庄子乡. Some members
are deputies, some are not; and the presidiums and the county congress receiving deputies (人大接待代表登记簿),
dated back from today, most with their reply. Written through the product's services with the county admin as the actor
(so every row is checked and audited as a person's would be). Idempotent per county: a county holding
any presidium member is left alone."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.binder import presidium, receptions
from app.binder.models import PresidiumMember
from app.core.db import Database
from app.core.errors import NotFound, Refusal
from app.demo.people import COUNTIES, _scope, _user_ids
from app.deputies.models import Deputy
from app.deputies.services import Actor
from app.tenancy.config import TOWNSHIP_KINDS
from app.tenancy.models import AdminNode, Tenant

# slug -> township -> [(name, post, mobile or "", deputy's name or "", [deputies contacted])]
PRESIDIUMS = {
    "santai": {
        "潼川镇": [
            ("何志军", "主席", "13900001201", "", ["王秀兰", "杨桂芳", "刘志强"]),
            ("王秀兰", "副主席", "", "王秀兰", ["李建国"]),
            ("罗建华", "专职副主席", "13900001202", "", ["张德明", "李建国"]),
            ("杨桂芳", "成员", "", "杨桂芳", []),
        ],
        "芦溪镇": [
            ("蒋德富", "主席", "13900001203", "", ["陈晓燕", "赵文华", "黄明辉"]),
            ("黄明辉", "副主席", "", "黄明辉", ["陈晓燕"]),
            ("周丽娟", "成员", "", "周丽娟", []),
        ],
    },
    "yuci": {
        "庄子乡": [
            ("贾玉林", "主席", "13900002201", "", ["郭建平", "任淑珍", "武志刚", "段丽萍"]),
            ("郭建平", "副主席", "", "郭建平", ["贾海军", "郝秀英"]),
            ("郝秀英", "成员", "", "郝秀英", ["段丽萍"]),
        ],
    },
}

# slug -> [(days before today, township or None for the county congress, who received, deputies, matter, reply)]
RECEPTIONS = {
    "santai": [
        (150, "潼川镇", "潼川镇人大主席团主席何志军", ["王秀兰", "杨桂芳"],
         "北坝村至镇上的通村公路雨季塌方，群众出行难，代表建议列入今年养护计划。",
         "已与镇交通办对接，列入下半年养护计划，10月底前完成修复。"),
        (75, None, "县人大常委会副主任", ["王秀兰", "张德明", "李建国"],
         "代表反映农村饮水安全工程部分管网老化，夏季供水不稳定。",
         "已转县水利局办理，正在制定管网改造方案。"),
        (12, "潼川镇", "潼川镇人大主席团专职副主席罗建华", ["李建国"],
         "代表反映村级养老服务站缺少护理人员。", ""),
    ],
    "yuci": [
        (60, "庄子乡", "庄子乡人大主席团主席贾玉林", ["郭建平", "任淑珍"],
         "代表反映设施农业大棚用电价格偏高，建议争取农业用电政策。",
         "已向区供电公司了解政策，符合条件的大棚按农业生产用电计价。"),
    ],
}


async def load_county(database: Database, tenant_id: int, slug: str) -> bool:
    """One county's presidiums in one transaction; False when it holds one already (or a row is
    refused in a county changed by hand, which is said on stderr)."""
    try:
        async with database.transaction(tenant_id=tenant_id) as db:
            if await db.scalar(select(PresidiumMember.id).limit(1)) is not None:
                return False
            admin = (await _user_ids(db, {COUNTIES[slug].admin}))[COUNTIES[slug].admin]
            actor = Actor(tenant_id=tenant_id, user_id=admin, scope=await _scope(db, tenant_id, admin))
            for township, members in PRESIDIUMS[slug].items():
                await _township(db, actor, township, members)
            await _receptions(db, actor, RECEPTIONS.get(slug, []))
    except (Refusal, NotFound, KeyError) as exc:
        print(f"demo presidium of {slug} not loaded: {exc!r}", file=sys.stderr)
        return False
    return True


async def _township(db: AsyncSession, actor: Actor, township: str, members: list) -> None:
    node_id = await db.scalar(select(AdminNode.id).where(AdminNode.name == township,
                                                         AdminNode.kind.in_(TOWNSHIP_KINDS)))
    names = {n for m in members for n in (m[3], *m[4]) if n}
    deputies = dict((await db.execute(select(Deputy.name, Deputy.id).where(Deputy.name.in_(names)))).all())
    for n, (name, post, mobile, deputy, contacts) in enumerate(members, start=1):
        member = await presidium.add_member(db, actor, str(node_id), {
            "name": name, "post": post, "mobile": mobile, "sort": str(n),
            "deputy_id": str(deputies[deputy]) if deputy else ""})
        ref = await presidium.member_in_reach(db, actor.scope, member.id)
        await presidium.set_contacts(db, actor, ref, [str(deputies[d]) for d in contacts])


async def _receptions(db: AsyncSession, actor: Actor, rows: list) -> None:
    """The receptions of deputies, through the form's own service (today in the county's zone)."""
    zone = ZoneInfo(await db.scalar(select(Tenant.timezone).where(Tenant.id == actor.tenant_id)))
    today: date = datetime.now(zone).date()
    nodes = dict((await db.execute(select(AdminNode.name, AdminNode.id)
                                   .where(AdminNode.kind.in_(TOWNSHIP_KINDS)))).all())
    names = {n for row in rows for n in row[3]}
    deputies = dict((await db.execute(select(Deputy.name, Deputy.id).where(Deputy.name.in_(names)))).all())
    for days, township, who, received, matter, reply in rows:
        await receptions.record_reception(
            db, actor, node_id=str(nodes[township]) if township else "county",
            received_on=(today - timedelta(days=days)).isoformat(), received_by=who, matter=matter, reply=reply,
            deputy_ids=[str(deputies[d]) for d in received], today=today, now=datetime.now(timezone.utc))


async def load_presidiums(database: Database, tenant_ids: dict[str, int]) -> None:
    for slug in PRESIDIUMS:
        if slug in tenant_ids:
            await load_county(database, tenant_ids[slug], slug)
