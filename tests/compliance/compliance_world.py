"""The rules of the source documents (defined once for every compliance test) and helpers to put
them, opinions and suggestions into the activities tests' county (tests/activities/world.py), and
to compute the board as one member would."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.accounts.models import Membership
from app.activities.models import STANDARD_KINDS, Opinion, Rule, Suggestion
from app.compliance.engine import Board, Where, evaluate
from app.core.periods import zone
from app.compliance.rules import check_rule
from app.stations.models import Station, StationKind
from app.presets.services import PresetError, load_preset
from app.tenancy.scope import Scope, scope_of
from tests.activities.world import ActivityCounty

ALL_KINDS = [code for code, _ in STANDARD_KINDS]


def _rule(code, name, subject, kinds, period, minimum, counts="activities", **more) -> dict:
    return dict(code=code, name=name, subject=subject, counts=counts, kind_codes=kinds, period=period,
                minimum=minimum, **more)


# Jinzhong's 十个一: as shipped in app/presets/files/jinzhong-yuci.toml (this list is what the file must hold)
JINZHONG_EXPECTED = [
    _rule("jz-reception", "每月一次接待选民", "station", ["reception"], "month", 1),
    _rule("jz-visit", "每月一次走访选区", "station", ["visit"], "month", 1),
    _rule("jz-opinion", "每位代表每月反映一条社情民意", "deputy", [], "month", 1, counts="opinions"),
    _rule("jz-survey", "每季度一次调研视察", "station", ["survey"], "quarter", 1),
    _rule("jz-training", "每季度一次学习培训", "station", ["training"], "quarter", 1),
    _rule("jz-suggestion", "每位代表每年提出一件建议", "deputy", [], "year", 1, counts="suggestions"),
    _rule("jz-briefing", "每位代表每年一次政情通报", "deputy", ["briefing"], "year", 1),
    _rule("jz-meeting", "每季度一次代表会议", "station", ["meeting"], "quarter", 1),
    _rule("jz-exchange", "每年一次履职交流", "station", ["exchange"], "year", 1),
    _rule("jz-duty-report", "每年一次述职评议", "station", ["duty_report"], "year", 1),
]
JINZHONG_CODES = [r["code"] for r in JINZHONG_EXPECTED]


def _preset_rules(name: str, expected: list[dict]) -> list[dict]:
    """The preset's rules when it has them (the same ten codes, kinds, periods and minimums)."""
    try:
        rules = [dict(r) for r in load_preset(name).rules]
    except PresetError:
        rules = []
    return rules or expected


JINZHONG = _preset_rules("jinzhong-yuci", JINZHONG_EXPECTED)
RULE_NAMES = {r["code"]: r["name"] for r in JINZHONG}
BEIJING = [
    _rule("bj-every-quarter", "每季度至少一次活动", "station", ALL_KINDS, "quarter", 1, min_deputies=2),
    _rule("bj-four-a-year", "每年至少四次活动", "station", ALL_KINDS, "year", 4, min_deputies=2),
]
YIXING = [
    _rule("yx-monthly", "每月接待或走访", "station", ["reception", "visit"], "month", 1),
    _rule("yx-study", "每年两次学习", "station", ["training"], "year", 2),
    _rule("yx-group", "代表小组每年四次活动", "group", ALL_KINDS, "year", 4),
]
DISTRICT = [_rule("deputy-constituency", "每年两次进选区", "deputy", ["visit"], "year", 2)]


async def put_rules(database, ac: ActivityCounty, rules: list[dict], station_kinds=frozenset({"station"})) -> dict:
    """The rules, checked as the settings form checks them; {code: id}."""
    t = ac.tenant.id
    out = {}
    async with database.transaction(tenant_id=t) as db:
        for n, values in enumerate(rules):
            clean = check_rule(values, kind_codes=set(ac.kinds), station_kind_codes=set(station_kinds))
            rule = Rule(tenant_id=t, sort=n * 10, **clean)
            db.add(rule)
            await db.flush()
            out[rule.code] = rule.id
    return out


async def put_opinion(database, ac: ActivityCounty, deputy: str, on: date) -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        db.add(Opinion(tenant_id=ac.tenant.id, deputy_id=ac.deputies[deputy], received_on=on, content="路灯坏了"))


async def put_suggestion(database, ac: ActivityCounty, deputy: str, on: date) -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        db.add(Suggestion(tenant_id=ac.tenant.id, deputy_id=ac.deputies[deputy], title="关于修路的建议", filed_on=on))


async def member_scope(database, ac: ActivityCounty, username: str) -> Scope:
    user = ac.users[username]
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        membership = await db.scalar(select(Membership).where(Membership.tenant_id == ac.tenant.id,
                                                               Membership.user_id == user.id))
        return await scope_of(db, membership)


async def board_as(database, ac: ActivityCounty, username: str, today: date, at_risk_days: int = 10,
                   **where) -> Board:
    scope = await member_scope(database, ac, username)
    async with database.transaction(tenant_id=ac.tenant.id, user_id=ac.users[username].id) as db:
        return await evaluate(db, scope, tz=zone("Asia/Shanghai"), today=today, at_risk_days=at_risk_days,
                              where=Where(**where))


def verdicts(board: Board, subject_key: str) -> dict[str, tuple[str, int]]:
    """{rule code: (verdict, count)} of one subject (e.g. "station:3")."""
    return {c.rule.code: (c.verdict, c.count) for (rid, key), c in board.cells.items() if key == subject_key}


async def put_station(database, ac: ActivityCounty, name: str, node: str, status: str = "active") -> int:
    """One more station (of the county's one kind) at a node."""
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        kind_id = await db.scalar(select(StationKind.id).where(StationKind.code == "station"))
        station = Station(tenant_id=ac.tenant.id, kind_id=kind_id, node_id=ac.county.nodes[node], name=name,
                          status=status)
        db.add(station)
        await db.flush()
        ac.stations[name] = station.id
        return station.id
