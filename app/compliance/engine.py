"""Who met which rule in which period: load rules, subjects and counts in a bounded number of
queries (independent of how many stations, deputies and activities there are), then decide each
verdict in Python.

Subjects, in the member's scope (the same filters as the stations and deputies pages):
- stations in operation (status "active"), of the rule's station kinds if it names any;
- serving deputies (status "active") with a mandate at one of the rule's levels if it names any;
- deputy groups: county admins and viewers only (groups belong to no township).
A deputy member sees only their own deputy rules; handling units see nothing (404).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, String, and_, any_, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import ActivityKind, Rule
from app.compliance import counts, risk
from app.core.periods import Period, parse_key, period_of
from app.core.errors import NotFound
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy, DeputyGroup, Mandate, StationDeputy
from app.stations.access import node_join, station_filter
from app.stations.models import Station, StationKind
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

VIEW_ROLES = ("county_admin", "viewer", "township_staff", "station_staff", "deputy")


def require_view(scope: Scope) -> None:
    if scope.role not in VIEW_ROLES:
        raise NotFound()


@dataclass
class Subject:
    kind: str  # station | deputy | group
    id: int
    name: str
    path: str = ""  # a station's node path
    kind_code: str = ""  # a station's kind
    levels: tuple[str, ...] = ()  # a deputy's mandate levels
    station_ids: tuple[int, ...] = ()  # a deputy's current stations
    paths: tuple[str, ...] = ()  # ... and their node paths

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass
class Cell:
    rule: Rule
    subject: Subject
    period: Period
    count: int
    excluded: int  # held activities of the kinds not counted: fewer deputies present than the rule asks
    verdict: str
    on_behalf: int = 0
    gauge: risk.Gauge | None = None  # what the rule asks by today: the verdict's yardstick

    @property
    def minimum(self) -> int:
        return self.rule.minimum

    @property
    def why(self) -> str:
        """Why the cell is at risk, in the user's language (empty when it is not)."""
        return risk.explain(self.gauge, self.count) if self.gauge is not None else ""

    @property
    def missing(self) -> int:
        return max(0, self.rule.minimum - self.count)


@dataclass
class Where:
    """What the board is narrowed to: one rule, a period key or a date, a node's subtree, a station."""
    rule_id: int | None = None
    key: str | None = None
    day: date | None = None
    node_path: str | None = None
    station_id: int | None = None
    deputy_id: int | None = None


@dataclass
class Board:
    rules: list[Rule]
    periods: dict[int, Period]
    stations: dict[int, Subject]
    deputies: dict[int, Subject]
    groups: dict[int, Subject]
    cells: dict[tuple[int, str], Cell] = field(default_factory=dict)
    today: date | None = None
    kind_names: dict[str, str] = field(default_factory=dict)  # activity kind code → name

    def cell(self, rule: Rule, subject: Subject) -> Cell | None:
        return self.cells.get((rule.id, subject.key))

    def rules_for(self, subject_kind: str) -> list[Rule]:
        return [r for r in self.rules if r.subject == subject_kind]

    def summary(self, rule: Rule | None = None, keys: set[str] | None = None) -> Counter:
        """Verdict counts over the cells of one rule (or all) and some subjects (or all)."""
        return Counter(c.verdict for (rid, key), c in self.cells.items()
                       if (rule is None or rid == rule.id) and (keys is None or key in keys))


def applies(rule: Rule, subject: Subject) -> bool:
    if subject.kind == "station":
        return not rule.station_kind_codes or subject.kind_code in rule.station_kind_codes
    if subject.kind == "deputy":
        return not rule.deputy_levels or any(level in rule.deputy_levels for level in subject.levels)
    return rule.subject == subject.kind


async def active_rules(db: AsyncSession, scope: Scope, where: Where) -> list[Rule]:
    query = select(Rule).where(Rule.retired_at.is_(None)).order_by(Rule.sort, Rule.id)
    if where.rule_id is not None:
        query = query.where(Rule.id == where.rule_id)
    rules = list((await db.scalars(query)).all())
    key_period = parse_key(where.key) if where.key else None
    if key_period is not None:
        rules = [r for r in rules if r.period == key_period.kind]
    if scope.role == "deputy" or where.deputy_id is not None:
        rules = [r for r in rules if r.subject == "deputy"]
    elif not scope.whole_tenant or where.node_path or where.station_id:
        rules = [r for r in rules if r.subject != "group"]
    return rules


def periods_of(rules: list[Rule], where: Where, today: date) -> dict[int, Period]:
    key_period = parse_key(where.key) if where.key else None
    if key_period is not None:
        return {r.id: key_period for r in rules}
    return {r.id: period_of(r.period, where.day or today) for r in rules}


async def load_stations(db: AsyncSession, scope: Scope, where: Where) -> dict[int, Subject]:
    if scope.role == "deputy":
        return {}
    query = (
        select(Station.id, Station.name, AdminNode.path, StationKind.code)
        .join(AdminNode, node_join())
        .join(StationKind, and_(StationKind.tenant_id == Station.tenant_id, StationKind.id == Station.kind_id))
        .where(station_filter(scope), Station.status == "active")
        .order_by(AdminNode.path, Station.name, Station.id)
    )
    if where.node_path:
        query = query.where(AdminNode.path.startswith(where.node_path, autoescape=True))
    if where.station_id is not None:
        query = query.where(Station.id == where.station_id)
    return {sid: Subject("station", sid, name, path=path, kind_code=code)
            for sid, name, path, code in await db.execute(query)}


async def load_deputies(db: AsyncSession, scope: Scope, where: Where) -> dict[int, Subject]:
    """Serving deputies in scope; their levels and current stations; those stations' places. Three
    plain queries: joins and correlated arrays over thousands of deputies plan badly under row-level
    security (the planner cannot estimate the tenant condition)."""
    query = select(Deputy.id, Deputy.name).where(deputies_in_scope(scope), Deputy.status == "active") \
        .order_by(Deputy.name, Deputy.id)
    if where.deputy_id is not None:
        query = query.where(Deputy.id == where.deputy_id)
    names = dict((await db.execute(query)).all())
    if not names:
        return {}
    ids = literal(list(names), ARRAY(BigInteger))  # one array parameter, not thousands
    levels = select(Mandate.deputy_id, Mandate.level, literal(None, BigInteger).label("station_id")) \
        .where(Mandate.deputy_id == any_(ids))
    assigned = select(StationDeputy.deputy_id, literal(None, String), StationDeputy.station_id) \
        .where(StationDeputy.deputy_id == any_(ids), StationDeputy.ended_at.is_(None))
    facts: dict[int, dict] = {d: {"levels": [], "stations": []} for d in names}
    for did, level, station_id in await db.execute(union_all(levels, assigned)):
        facts[did]["levels" if station_id is None else "stations"].append(level or station_id)
    station_ids = literal(sorted({s for f in facts.values() for s in f["stations"]}), ARRAY(BigInteger))
    path = select(AdminNode.path).where(node_join()).scalar_subquery()  # per row by primary key
    paths = dict((await db.execute(select(Station.id, path).where(Station.id == any_(station_ids)))).all())
    out = {}
    for did, name in names.items():
        f = facts[did]
        subject = Subject("deputy", did, name, levels=tuple(dict.fromkeys(f["levels"])),
                          station_ids=tuple(f["stations"]), paths=tuple(paths.get(s, "") for s in f["stations"]))
        if where.station_id is not None and where.station_id not in subject.station_ids:
            continue
        if where.node_path and not any(p.startswith(where.node_path) for p in subject.paths):
            continue
        out[did] = subject
    return out


async def load_groups(db: AsyncSession) -> dict[int, Subject]:
    rows = await db.execute(select(DeputyGroup.id, DeputyGroup.name).order_by(DeputyGroup.name, DeputyGroup.id))
    return {gid: Subject("group", gid, name) for gid, name in rows}


async def evaluate(db: AsyncSession, scope: Scope, *, tz: ZoneInfo, today: date, at_risk_days: int,
                   where: Where | None = None) -> Board:
    """The board: every applicable (rule, subject) cell with its count and verdict (app.compliance.risk
    judges it; ``at_risk_days`` is the county's, for rules without their own)."""
    require_view(scope)
    where = where or Where()
    rules = await active_rules(db, scope, where)
    periods = periods_of(rules, where, today)
    kinds_of = {r.subject for r in rules}
    stations = await load_stations(db, scope, where) if "station" in kinds_of else {}
    deputies = await load_deputies(db, scope, where) if "deputy" in kinds_of else {}
    groups = await load_groups(db) if "group" in kinds_of else {}
    board = Board(rules=rules, periods=periods, stations=stations, deputies=deputies, groups=groups, today=today)
    tallies = await _tallies(db, board, tz)
    subjects = {"station": stations, "deputy": deputies, "group": groups}
    empty = counts.Tally()
    for rule in rules:  # the rule's yardstick made once: thousands of subjects per rule
        rid, period = rule.id, periods[rule.id]
        gauge = risk.gauge(rule, period, today, at_risk_days)
        for subject in subjects[rule.subject].values():
            if not applies(rule, subject):
                continue
            t = tallies.get((rid, subject.id), empty)
            board.cells[(rid, subject.key)] = Cell(rule, subject, period, t.counted, t.total - t.counted,
                                                   gauge.verdict(t.counted), t.on_behalf, gauge)
    return board


async def activity_kinds(db: AsyncSession) -> dict[str, tuple[int, str]]:
    """code → (id, name) of every activity kind, retired ones included (their history still counts)."""
    return {code: (kid, name) for kid, code, name in
            await db.execute(select(ActivityKind.id, ActivityKind.code, ActivityKind.name))}


async def _tallies(db: AsyncSession, board: Board, tz: ZoneInfo) -> dict[tuple[int, int], counts.Tally]:
    """One query per source: activities of stations and groups, deputies' attendances, opinions and
    suggestions — only those a rule of the board needs."""
    activity_rules = [r for r in board.rules if r.counts == "activities"]
    kinds = await activity_kinds(db) if activity_rules else {}
    board.kind_names = {code: name for code, (_, name) in kinds.items()}
    place, attend = counts.Specs(), counts.Specs()
    for rule in activity_rules:
        found = [(kinds[c][0], c) for c in rule.kind_codes if c in kinds]
        (attend if rule.subject == "deputy" else place).add(rule, found, board.periods[rule.id], tz)
    out = await counts.place_tallies(db, place, list(board.stations), list(board.groups))
    out.update(await counts.attendance_tallies(db, attend, list(board.deputies)))
    records = [(r, board.periods[r.id]) for r in board.rules if r.counts != "activities"]
    out.update(await counts.record_tallies(db, records, list(board.deputies)))
    return out
