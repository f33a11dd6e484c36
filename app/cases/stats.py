"""Statistics of cases per county, township (``node``) or station, for a year or a quarter: cases by
category and month, hot and difficult issues (热点难点), share resolved, average days to reply and to
feed back, satisfaction rate. Every figure comes from GROUP BY queries over ``access.case_filter``
(a fixed number of queries whatever the number of cases). Merged cases (duplicates) are left out
everywhere; a case counts in the period it was registered in (its cohort), so the averages are those
of the period's cases that got that far.

Share resolved: closed (answered on the spot included) / all. Days to reply: assigned_at →
replied_at; days to feed back: replied_at → fed_back_at (calendar days, one decimal). Satisfaction:
(satisfied + basically satisfied) / rated. Hot issues: the categories and places (townships at county
level, stations at township level) whose counts rose most against the previous period of the same
length (previous quarter, previous year).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Integer, and_, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.access import case_filter, cases_query, require_view
from app.cases.models import Case, CaseCategory
from app.core.periods import Period, parse_key, period_of, zone
from app.core.errors import NotFound
from app.stations.access import get_station
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

HOT_LIMIT = 5
SATISFIED = ("satisfied", "basically")


def read_period(key: str | None, today: date) -> Period:
    """A year or a quarter key (2026, 2026-Q3); anything else: the current year."""
    period = parse_key(key or "")
    if period is None or period.kind not in ("year", "quarter"):
        return period_of("year", today)
    return period


@dataclass
class Level:
    kind: str  # county | township | station
    node: AdminNode | None = None  # township level: the node; station level: the station's township
    station: Station | None = None

    def condition(self):
        if self.kind == "station":
            return Case.station_id == self.station.id
        if self.kind == "township":
            return AdminNode.path.startswith(self.node.path, autoescape=True)
        return None


def township_id(path: str) -> int | None:
    parts = [p for p in path.split("/") if p]
    return int(parts[1]) if len(parts) > 1 else None


async def resolve_level(db: AsyncSession, scope: Scope, node_id: int | None, station_id: int | None) -> Level:
    """County, a node (township) or a station, as the member may see it (404 outside their scope)."""
    require_view(scope)
    if scope.role == "station_staff":
        station_id = scope.station_id
    if station_id is not None:
        ref = await get_station(db, scope, station_id)
        township = township_id(ref.node.path)
        node = ref.node if township in (None, ref.node.id) else \
            await db.scalar(select(AdminNode).where(AdminNode.id == township))
        return Level("station", node=node if node is not None and scope.covers_path(node.path) else None,
                     station=ref.station)
    node = None
    if node_id is not None:
        node = await db.scalar(select(AdminNode).where(AdminNode.id == node_id))
        if node is None or not scope.covers_path(node.path):
            raise NotFound()
    elif scope.role == "township_staff" and scope.node_path:
        node = await db.scalar(select(AdminNode).where(AdminNode.path == scope.node_path))
    if node is not None and node.parent_id is not None:
        return Level("township", node=node)
    if scope.role == "township_staff":
        raise NotFound()
    return Level("county")


@dataclass
class Change:
    key: int
    name: str
    current: int
    previous: int

    @property
    def change(self) -> int:
        return self.current - self.previous

    @property
    def percent(self) -> int | None:
        return round(self.change * 100 / self.previous) if self.previous else None


@dataclass
class Stats:
    level: Level
    period: Period
    previous: Period
    months: list[int]
    categories: list[tuple[int | None, str]]  # (id, name) with cases in the period
    matrix: dict = field(default_factory=dict)  # {category id: {month: n}}
    total: int = 0
    resolved: int = 0
    reply_days: float | None = None
    feedback_days: float | None = None
    satisfied: int = 0
    rated: int = 0
    hot_categories: list[Change] = field(default_factory=list)
    hot_places: list[Change] = field(default_factory=list)

    @property
    def resolved_rate(self) -> int | None:
        return round(self.resolved * 100 / self.total) if self.total else None

    @property
    def satisfaction_rate(self) -> int | None:
        return round(self.satisfied * 100 / self.rated) if self.rated else None


def _base_where(scope: Scope, level: Level) -> list:
    where = [case_filter(scope), Case.state != "merged"]
    if level.condition() is not None:
        where.append(level.condition())
    return where


async def build_stats(db: AsyncSession, scope: Scope, level: Level, period: Period, tz_name: str) -> Stats:
    tz = zone(tz_name)
    start, end = period.bounds(tz)
    previous = period.previous()
    in_period = [*_base_where(scope, level), Case.created_at >= start, Case.created_at < end]
    months = list(range(period.first.month, period.last.month + 1))
    stats = Stats(level=level, period=period, previous=previous, months=months, categories=[])
    await _by_month(db, stats, in_period, tz_name)
    await _summary(db, stats, in_period)
    await _hot(db, scope, stats, level, previous.bounds(tz)[0], start, end)
    return stats


async def _by_month(db: AsyncSession, stats: Stats, where: list, tz_name: str) -> None:
    month = cast(extract("month", func.timezone(tz_name, Case.created_at)), Integer)
    rows = await db.execute(
        cases_query(Case.category_id, CaseCategory.name, month, func.count())
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
        .where(*where).group_by(Case.category_id, CaseCategory.name, month)
    )
    names: dict = {}
    for category_id, name, m, n in rows:
        names[category_id] = name
        stats.matrix.setdefault(category_id, {})[m] = n
    totals = {c: sum(v.values()) for c, v in stats.matrix.items()}
    stats.categories = sorted(names.items(), key=lambda item: (-totals[item[0]], item[1] or ""))


async def _summary(db: AsyncSession, stats: Stats, where: list) -> None:
    replied = and_(Case.replied_at.is_not(None), Case.assigned_at.is_not(None))
    fed = and_(Case.fed_back_at.is_not(None), Case.replied_at.is_not(None))
    row = (await db.execute(cases_query(
        func.count(), func.count().filter(Case.state == "closed"),
        func.avg(extract("epoch", Case.replied_at - Case.assigned_at)).filter(replied),
        func.avg(extract("epoch", Case.fed_back_at - Case.replied_at)).filter(fed),
        func.count().filter(Case.satisfaction.in_(SATISFIED)), func.count(Case.satisfaction),
    ).where(*where))).one()
    stats.total, stats.resolved, reply, feedback, stats.satisfied, stats.rated = row
    stats.reply_days = round(float(reply) / 86400, 1) if reply is not None else None
    stats.feedback_days = round(float(feedback) / 86400, 1) if feedback is not None else None


def _rising(rows, names: dict) -> list[Change]:
    changes = [Change(key, names.get(key) or "", cur, prev) for key, cur, prev in rows if key is not None]
    changes = [c for c in changes if c.change > 0]
    changes.sort(key=lambda c: (-c.change, -c.current, c.name))
    return changes[:HOT_LIMIT]


async def _hot(db: AsyncSession, scope: Scope, stats: Stats, level: Level, prev_start, start, end) -> None:
    where = [*_base_where(scope, level), Case.created_at >= prev_start, Case.created_at < end]
    current = func.count().filter(Case.created_at >= start)
    before = func.count().filter(Case.created_at < start)
    rows = (await db.execute(cases_query(Case.category_id, current, before).where(*where)
                             .group_by(Case.category_id))).all()
    names = dict((await db.execute(select(CaseCategory.id, CaseCategory.name))).all()) if rows else {}
    stats.hot_categories = _rising(rows, names)
    if level.kind == "station":
        return
    if level.kind == "county":
        place = cast(func.nullif(func.split_part(AdminNode.path, "/", 3), ""), Integer)
        names_of = select(AdminNode.id, AdminNode.name)
        table_id = AdminNode.id
    else:
        place, names_of, table_id = Case.station_id, select(Station.id, Station.name), Station.id
    rows = (await db.execute(cases_query(place, current, before).where(*where).group_by(place))).all()
    rising_ids = [key for key, cur, prev in rows if key is not None and cur > prev]
    names = {}
    if rising_ids:
        # the names of the few rising places only (at most the county's townships or a township's stations)
        names = dict((await db.execute(names_of.where(table_id.in_(rising_ids)))).all())
    stats.hot_places = _rising(rows, names)
