"""The compliance board as pages show it: which level (county, township, station, a deputy's own),
the rows at that level, the deputies' list, and the export's rows — all from one evaluation
(`engine.evaluate`), so every figure on a page comes from the same bounded set of queries.

County level: per rule, how many subjects met it / are at risk / missed / under way, and one row per
township with the same counts. Township level (any node below the county): one row per station,
one verdict cell per rule. Station level: the station's rules and its deputies' rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.compliance import engine, snapshots
from app.compliance.mailbox_flags import MailboxFlags, mailbox_flags
from app.compliance.models import VERDICT_NAMES, VERDICTS
from app.core.periods import Period, local_today, parse_key, period_of, zone
from app.core.db import MAX_ID
from app.core.errors import NotFound
from app.core.i18n import gettext, lazy
from app.deputies.access import access_deputy
from app.stations.access import get_station
from app.tenancy.config import get_config
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

PER_PAGE = 30
NOT_STATIONED = lazy("Deputies not stationed anywhere")


@dataclass
class Query:
    """The board's filters, as read from the address (anything malformed is ignored)."""
    rule_id: int | None = None
    key: str | None = None  # a period key: 2026-03, 2026-Q1, 2026-H1, 2026
    day: date | None = None  # or a date: each rule's period containing it
    node_id: int | None = None
    station_id: int | None = None
    verdict: str | None = None
    page: int = 1
    deputy_id: int | None = None  # one deputy's rules (a deputy member always sees only their own)

    @classmethod
    def read(cls, rule: str = "", period: str = "", on: str = "", node: str = "", station: str = "",
             verdict: str = "", page: int = 1, deputy: str = "") -> "Query":
        day = None
        try:
            day = date.fromisoformat(on.strip()) if on.strip() else None
        except ValueError:
            day = None
        return cls(rule_id=_id(rule), key=period.strip() if parse_key(period) else None, day=day,
                   node_id=_id(node), station_id=_id(station), verdict=verdict if verdict in VERDICTS else None,
                   page=max(1, min(page or 1, 100_000)), deputy_id=_id(deputy))

    def params(self, **change) -> str:
        """The query string of these filters (some changed, e.g. page=2 or node=5), for links."""
        values = {"rule": self.rule_id, "period": self.key, "on": self.day.isoformat() if self.day else None,
                  "node": self.node_id, "station": self.station_id, "verdict": self.verdict,
                  "deputy": self.deputy_id, **change}
        return "&".join(f"{k}={v}" for k, v in values.items() if v not in (None, ""))


def _id(value: str) -> int | None:
    value = (value or "").strip()
    if value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


@dataclass
class Row:
    """A line of the board: a township (counts), a station or a deputy (cells per rule)."""
    name: str
    counts: Counter = field(default_factory=Counter)
    cells: list = field(default_factory=list)  # one per rule of the row's kind (None: not applicable)
    node_id: int | None = None
    station_id: int | None = None
    deputy_id: int | None = None


@dataclass
class View:
    level: str  # county | township | station | deputy
    board: engine.Board
    query: Query
    today: date
    node: AdminNode | None = None
    township: AdminNode | None = None  # a station's township (station level)
    station_name: str = ""
    deputy_name: str = ""  # staff looking at one deputy
    summaries: list = field(default_factory=list)  # [(rule, period, Counter)]
    townships: list[Row] = field(default_factory=list)
    stations: list[Row] = field(default_factory=list)
    groups: list[Row] = field(default_factory=list)
    deputies: list[Row] = field(default_factory=list)
    deputies_total: int = 0
    pages: int = 1
    mailbox: MailboxFlags = field(default_factory=MailboxFlags)  # stations that missed a mailbox week
    stamp: snapshots.Stamp | None = None  # figures from the worker's snapshot: when computed (None: live)


async def _node(db: AsyncSession, scope: Scope, node_id: int) -> AdminNode:
    node = await db.scalar(select(AdminNode).where(AdminNode.id == node_id))
    if node is None or not scope.covers_path(node.path):
        raise NotFound()
    return node


async def _where(db: AsyncSession, scope: Scope, q: Query, view_args: dict) -> engine.Where:
    """Settle the level from the role and the filters; 404 for a node or station out of scope."""
    where = engine.Where(rule_id=q.rule_id, key=q.key, day=q.day)
    station_id = scope.station_id if scope.role == "station_staff" else q.station_id
    if scope.role == "deputy":
        view_args["level"] = "deputy"
    elif q.deputy_id is not None:  # staff looking at one deputy in their scope (else the same 404)
        deputy = await access_deputy(db, scope, q.deputy_id)
        where.deputy_id, view_args["level"], view_args["deputy_name"] = deputy.id, "deputy", deputy.name
    elif station_id is not None:
        ref = await get_station(db, scope, station_id)
        where.station_id, view_args["level"] = ref.station.id, "station"
        view_args["station_name"], view_args["node"] = ref.station.name, ref.node
        township = _township(ref.node.path)
        if township is not None and scope.role != "station_staff":
            view_args["township"] = ref.node if township == ref.node.id else \
                await db.scalar(select(AdminNode).where(AdminNode.id == township))
    else:
        node = await _node(db, scope, q.node_id) if q.node_id else None
        if node is None and scope.role == "township_staff" and scope.node_path:
            node = await db.scalar(select(AdminNode).where(AdminNode.path == scope.node_path))
        if node is None and scope.role not in ("county_admin", "viewer"):
            raise NotFound()
        if node is not None and node.parent_id is not None:
            where.node_path, view_args["level"], view_args["node"] = node.path, "township", node
        else:
            view_args["level"] = "county"
    return where


async def build_view(db: AsyncSession, scope: Scope, tenant, q: Query, today: date | None = None,
                     live: bool = False) -> View:
    """The board; the county level of a whole-tenant member from the worker's snapshot when one holds
    (app.compliance.snapshots), unless ``live`` (the export: every cell of the board)."""
    engine.require_view(scope)
    config = await get_config(db, tenant.id)
    today = today or local_today(zone(tenant.timezone))
    if not live and snapshots.answers(scope, q, today):
        view = await _from_snapshot(db, scope, tenant, q, today, config.at_risk_days)
        if view is not None:
            return view
    args: dict = {}
    where = await _where(db, scope, q, args)
    board = await engine.evaluate(db, scope, tz=zone(tenant.timezone), today=today,
                                  at_risk_days=config.at_risk_days, where=where)
    view = View(board=board, query=q, today=today, **args)
    view.mailbox = await mailbox_flags(db, scope, where, board, today, zone(tenant.timezone))
    per_rule = {r.id: Counter() for r in board.rules}
    for (rid, _), c in board.cells.items():
        per_rule[rid][c.verdict] += 1
    view.summaries = [(r, board.periods[r.id], per_rule[r.id]) for r in board.rules]
    if view.level == "county":
        await _county_rows(db, view)
    if view.level in ("township", "station"):
        view.stations = _subject_rows(view, board.stations.values(), "station")
    if view.level != "deputy" or board.deputies:
        _deputy_rows(view)
    return view


async def _from_snapshot(db: AsyncSession, scope: Scope, tenant, q: Query, today: date, at_risk_days: int) -> View | None:
    """The county level from stored counts: the same figures and rows as the live board (the board's
    cells only for the rows shown: its groups and one page of deputies)."""
    snap = await snapshots.read(db, scope, tenant.id, q.rule_id, today, at_risk_days)
    if snap is None:
        return None
    board = engine.Board(rules=snap.rules, periods=snap.periods, stations={}, deputies={}, groups={}, today=today)
    local = snap.stamp.computed_at.astimezone(zone(tenant.timezone))
    snap.stamp.label = local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")
    view = View(level="county", board=board, query=q, today=today, stamp=snap.stamp)
    view.mailbox = snapshots.mailbox(snap, today) or await mailbox_flags(
        db, scope, engine.Where(), engine.Board([], {}, {}, {}, {}), today, zone(tenant.timezone))
    per_rule = snapshots.rule_counts(snap)
    view.summaries = [(r, snap.periods[r.id], per_rule[r.id]) for r in snap.rules]
    await _township_rows(db, view, snapshots.township_counts(snap))
    view.groups = [Row(name=s.name, cells=cells) for s, cells in
                   await snapshots.group_rows(db, snap, tenant.id, q.verdict)]
    total, view.pages, page = await snapshots.deputy_page(db, snap, tenant.id, q.verdict, q.page, PER_PAGE)
    view.deputies_total = total
    view.deputies = [Row(name=s.name, cells=cells, deputy_id=s.id) for s, cells in page]
    return view


def _subject_rows(view: View, subjects, kind: str) -> list[Row]:
    rules = view.board.rules_for(kind)
    cells_of, wanted = view.board.cells, view.query.verdict
    rows = []
    for s in subjects:
        cells = [cells_of.get((r.id, s.key)) for r in rules]
        if wanted and not any(c is not None and c.verdict == wanted for c in cells):
            continue
        rows.append(Row(name=s.name, cells=cells, station_id=s.id if kind == "station" else None,
                        deputy_id=s.id if kind == "deputy" else None))
    return rows


def _tally(board: engine.Board, groups_of) -> dict:
    """Verdict counts per group, in one pass over the cells (``groups_of(cell)``: the cell's groups)."""
    out: dict = {}
    for c in board.cells.values():
        for g in groups_of(c):
            if g not in out:
                out[g] = Counter()
            out[g][c.verdict] += 1
    return out


def _townships_of(subject: engine.Subject) -> set:
    """A station's township; a deputy's, through their stations (-1: not stationed anywhere)."""
    if subject.kind == "station":
        return {_township(subject.path)}
    if subject.kind == "deputy":
        return {_township(p) for p in subject.paths if p} or {-1}
    return set()


async def _county_rows(db: AsyncSession, view: View) -> None:
    """One row per township (the county's children) with the verdict counts of its stations and of
    the deputies stationed there; groups get their own rows."""
    board = view.board
    memo: dict[str, set] = {}
    counts = _tally(board, lambda c: memo.get(c.subject.key) or memo.setdefault(c.subject.key,
                                                                                _townships_of(c.subject)))
    await _township_rows(db, view, counts)
    view.groups = _subject_rows(view, board.groups.values(), "group")


async def _township_rows(db: AsyncSession, view: View, counts: dict) -> None:
    """One row per township with counts, in the tree's order; the county's own stations first; the
    deputies stationed nowhere last."""
    nodes = (await db.execute(
        select(AdminNode.id, AdminNode.name, AdminNode.parent_id)
        .where(AdminNode.parent_id.is_(None) | AdminNode.id.in_([k for k in counts if k and k > 0]))
        .order_by(AdminNode.path)
    )).all()
    for node_id, name, parent in nodes:
        if parent is None:
            if None in counts:  # stations at the county itself (the county's home)
                view.townships.append(Row(name=name, counts=counts[None]))
            continue
        view.townships.append(Row(name=name, node_id=node_id, counts=counts[node_id]))
    if -1 in counts:
        view.townships.append(Row(name=gettext(NOT_STATIONED), counts=counts[-1]))


def _township(path: str) -> int | None:
    parts = [p for p in path.split("/") if p]
    return int(parts[1]) if len(parts) > 1 else None


def _deputy_rows(view: View) -> None:
    rows = _subject_rows(view, view.board.deputies.values(), "deputy")
    rows = [r for r in rows if any(c is not None for c in r.cells)]
    view.deputies_total = len(rows)
    view.pages = max(1, -(-len(rows) // PER_PAGE))
    page = min(view.query.page, view.pages)
    view.deputies = rows[(page - 1) * PER_PAGE: page * PER_PAGE]


def period_choices(today: date) -> list[Period]:
    """The picker: this year's and last year's months, quarters, halves and years (newest first)."""
    out = []
    for year in (today.year, today.year - 1):
        for kind, step in (("year", 12), ("half", 6), ("quarter", 3), ("month", 1)):
            out += [period_of(kind, date(year, m, 1)) for m in range(1, 13, step)]
    return out


def verdict_label(v: str) -> str:
    return gettext(VERDICT_NAMES[v])
