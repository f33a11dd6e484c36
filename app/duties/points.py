"""A county's points scheme (履职积分) and each deputy's points in a period.

The scheme is a coded list (app.tenancy.coded_lists): each item counts one source — approved duty
entries of a kind (app.duties.kinds) or the deputy's attendance at held activities of a kind (a
joint station's too, matched by the kind's code as the compliance rules match it) — at so many
points each (negative allowed: −1 for half a day's leave), capped per month, quarter or year when
the county says so, for the deputy levels it names (none: every level).

``compute`` reads every serving deputy of the tenant in a fixed number of queries (items, deputies,
their levels and stations, one aggregate per source grouped by deputy, kind and month) and applies the
caps in Python (``points_of``: the same figures for a few deputies whose levels the caller has read,
the aggregates limited to them, at most three queries). A cap bounds an item's total within its own
period, of either sign; for a period that starts inside a cap period (the fourth quarter under a
yearly cap) the points are what the cap still allowed: capped(year to the period's end) − capped(year
before it). Ranks are within the deputy's group, else their (first) station, else the county; ties
share a rank (1, 2, 2, 4). Services do not commit.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, String, and_, any_, extract, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityKind, Attendance, JointAttendance
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.periods import Period, period_of
from app.deputies.access import deputies_in_scope
from app.deputies.models import LEVELS, Deputy, DeputyGroup, Mandate, StationDeputy
from app.duties import kinds as duty_kinds
from app.duties.models import DutyEntry
from app.duties.point_models import CAP_PERIODS, PointsItem
from app.stations.models import Station
from app.tenancy import coded_lists
from app.tenancy.coded_lists import Audit, CodedList, Messages
from app.tenancy.scope import Scope

COUNTS_BAD = lazy("Please choose from the list what the item counts.")
POINTS_BAD = lazy("The points per item are a number from -999.9 to 999.9, not 0, with at most one decimal.")
CAP_BAD = lazy("A cap needs both its period and its most points (a number above 0 with at most one decimal); "
               "leave both empty for no cap.")
LEVELS_BAD = lazy("Please choose the deputy levels from the list.")
NUMBER_RE = re.compile(r"^-?\d{1,3}(\.\d)?$")


# --- the scheme ------------------------------------------------------------------------------------


def _number(text: object) -> Decimal | None:
    value = str(text or "").strip().replace("−", "-").replace("－", "-").replace("．", ".")
    return Decimal(value) if NUMBER_RE.match(value) else None


async def counted_sources(db: AsyncSession) -> list[tuple[str, str]]:
    """What an item may count, as the form offers it: ("entry:<kind>" | "activity:<code>", name)."""
    out = [(f"entry:{code}", str(name)) for code, name in duty_kinds.KINDS.items()]
    kinds = await db.execute(select(ActivityKind.code, ActivityKind.name).where(ActivityKind.retired_at.is_(None))
                             .order_by(ActivityKind.sort, ActivityKind.id))
    return out + [(f"activity:{code}", name) for code, name in kinds.all()]


def check_item(values: dict, activity_codes: set[str] | None) -> dict:
    """An item's own fields from the form (or a preset's table), or Refusal. ``activity_codes``: the
    kinds of activity that exist (None: not checked here; presets check them when applied)."""
    counts = str(values.get("counts") or "")
    source, _, code = counts.partition(":")
    if not ((source == "entry" and code in duty_kinds.CODES)
            or (source == "activity" and code and (activity_codes is None or code in activity_codes))):
        raise Refusal(COUNTS_BAD)
    points = _number(values.get("points"))
    if points is None or points == 0:
        raise Refusal(POINTS_BAD)
    cap_period = str(values.get("cap_period") or "").strip()
    cap_text = str(values.get("cap_points") or "").strip()
    cap_points = _number(cap_text) if cap_text else None
    if bool(cap_period) != bool(cap_text) or (cap_period and (cap_period not in CAP_PERIODS or cap_points is None
                                                               or cap_points <= 0)):
        raise Refusal(CAP_BAD)
    levels = [str(v) for v in values.get("levels") or []]
    if any(level not in LEVELS for level in levels):
        raise Refusal(LEVELS_BAD)
    return {"source": source, "source_code": code, "points": points, "cap_period": cap_period or None,
            "cap_points": cap_points, "deputy_levels": [lv for lv in LEVELS if lv in levels]}


async def _item_fields(db: AsyncSession, values: dict) -> dict:
    source, _, code = str(values.get("counts") or "").partition(":")
    known = set()
    if source == "activity" and code and await db.scalar(select(ActivityKind.id).where(ActivityKind.code == code)):
        known = {code}
    return check_item(values, known)


POINTS_ITEMS = CodedList(
    model=PointsItem,
    code_prefix="item",
    messages=Messages(
        name_required=lazy("The name of the points item is required (at most 40 characters)."),
        name_taken=lazy("Another points item is already called “%(name)s”."),
        code_taken=lazy("Another points item already has the code “%(code)s”."),
        already_retired=lazy("This points item is already retired."),
    ),
    audit=Audit(target="points_item", added="points_item_saved", changed="points_item_saved",
                retired="points_item_retired",
                saved_details=("code", "name", "source", "source_code", "points_text", "cap_period", "cap_text",
                               "deputy_levels", "sort", "added"),
                retired_details=("code", "name")),
    check=_item_fields,
)


def item_form(item: PointsItem) -> dict:
    """An item's own fields as its form shows them."""
    return {"counts": f"{item.source}:{item.source_code}", "points": str(item.points),
            "cap_period": item.cap_period or "", "cap_points": str(item.cap_points or ""),
            "levels": list(item.deputy_levels or [])}


async def save_item(db: AsyncSession, *, tenant_id: int, actor_id: int, item: PointsItem | None, values: dict,
                    client_addr: str | None = None) -> PointsItem:
    return await coded_lists.save(db, POINTS_ITEMS, tenant_id=tenant_id, actor_id=actor_id, item=item,
                                  values=values, client_addr=client_addr)


# --- computation -----------------------------------------------------------------------------------


@dataclass
class DeputyPoints:
    deputy_id: int
    name: str
    levels: tuple[str, ...] = ()
    group_id: int | None = None
    station_id: int | None = None
    ranked_in: str = ""  # the group's or station's name; "" for the whole county
    by_item: dict[int, Decimal] = field(default_factory=dict)
    points: Decimal = Decimal("0.0")
    rank: int = 0
    peers: int = 0


def capped(total: Decimal, cap: Decimal | None) -> Decimal:
    if cap is None:
        return total
    return min(total, cap) if total >= 0 else max(total, -cap)


def cap_windows(item: PointsItem, period: Period) -> list[tuple[int, int, int]]:
    """The months the item adds up for ``period``: per cap period it touches (first month, last month
    counted, last month before the period starts); without a cap one window, the period itself."""
    first, last = period.first.month, period.last.month
    if item.cap_period is None:
        return [(first, last, first - 1)]
    out = []
    cap_first = period_of(item.cap_period, period.first).first.month
    while cap_first <= last:
        cap_last = period_of(item.cap_period, date(period.first.year, cap_first, 1)).last.month
        out.append((cap_first, min(cap_last, last), min(cap_last, first - 1)))
        cap_first = cap_last + 1
    return out


def item_points(points: Decimal, cap: Decimal | None, windows: list[tuple[int, int, int]],
                months: dict[int, int]) -> Decimal:
    """An item's points from a deputy's counts per month of the period's year (``cap_windows``)."""
    out = Decimal("0.0")
    for start, upto, before in windows:  # a deputy has a count in a few months only: walk those
        counted = sum(n for m, n in months.items() if start <= m <= upto)
        earlier = sum(n for m, n in months.items() if start <= m <= before) if before >= start else 0
        out += capped(counted * points, cap) - capped(earlier * points, cap)
    return out


async def active_items(db: AsyncSession, tenant_id: int) -> list[PointsItem]:
    return list((await db.scalars(select(PointsItem).where(PointsItem.tenant_id == tenant_id,
                                                           PointsItem.retired_at.is_(None))
                                  .order_by(PointsItem.sort, PointsItem.id))).all())


async def compute(db: AsyncSession, tenant_id: int, period: Period, tz: ZoneInfo) -> dict[int, DeputyPoints]:
    """Every serving deputy's points in ``period`` (within one year), ranked: six queries whatever the
    number of deputies, entries and activities."""
    items = await active_items(db, tenant_id)
    deputies = await _deputies(db, tenant_id)
    if not deputies:
        return {}
    counts = await _counts(db, tenant_id, items, period, tz)
    rules = _rules(items, period)
    for d in deputies.values():
        d.by_item = _by_item(rules, d.deputy_id, d.levels, counts)
        d.points = sum(d.by_item.values(), Decimal("0.0"))
    _rank(deputies.values())
    return deputies


async def points_of(db: AsyncSession, tenant_id: int, levels: dict[int, tuple[str, ...]], period: Period,
                    tz: ZoneInfo) -> dict[int, Decimal]:
    """The points in ``period`` of the deputies ``levels`` names (deputy id → their levels, which the
    caller has read), as ``compute`` gives them, without ranks: the scheme and one aggregate per source
    it uses, limited to these deputies (at most three queries; a station's public page)."""
    if not levels:
        return {}
    items = await active_items(db, tenant_id)
    counts = await _counts(db, tenant_id, items, period, tz, deputy_ids=list(levels)) if items else {}
    rules = _rules(items, period)
    return {did: sum(_by_item(rules, did, lv, counts).values(), Decimal("0.0")) for did, lv in levels.items()}


async def _counts(db: AsyncSession, tenant_id: int, items: list[PointsItem], period: Period, tz: ZoneInfo,
                  deputy_ids: list[int] | None = None) -> dict[tuple[int, str, str], dict[int, int]]:
    """(deputy, source, code) → {month: count}, from the aggregates."""
    counts: dict[tuple[int, str, str], dict[int, int]] = defaultdict(dict)
    for deputy_id, source, code, month, n in await _aggregates(db, tenant_id, items, period, tz, deputy_ids):
        counts[(deputy_id, source, code)][int(month)] = int(n)
    return counts


def _rules(items: list[PointsItem], period: Period) -> list[tuple]:
    """Each item's fields and windows read once, not once per deputy (ORM attributes are slow at 10,000)."""
    return [(item.id, item.source, item.source_code, frozenset(item.deputy_levels or ()), item.points,
             item.cap_points, cap_windows(item, period)) for item in items]


def _by_item(rules: list[tuple], deputy_id: int, deputy_levels, counts: dict) -> dict[int, Decimal]:
    """A deputy's points per item that applies to their levels and counted something."""
    out = {}
    for item_id, source, code, levels, per, cap, windows in rules:
        if levels and levels.isdisjoint(deputy_levels):
            continue
        months = counts.get((deputy_id, source, code))
        if months:
            out[item_id] = item_points(per, cap, windows, months)
    return out


async def _deputies(db: AsyncSession, tenant_id: int) -> dict[int, DeputyPoints]:
    """Serving deputies with their group, levels and first current station: two queries."""
    rows = await db.execute(
        select(Deputy.id, Deputy.name, Deputy.group_id, DeputyGroup.name)
        .outerjoin(DeputyGroup, and_(DeputyGroup.tenant_id == Deputy.tenant_id, DeputyGroup.id == Deputy.group_id))
        .where(Deputy.tenant_id == tenant_id, Deputy.status == "active").order_by(Deputy.name, Deputy.id))
    out = {did: DeputyPoints(did, name, group_id=gid, ranked_in=gname or "") for did, name, gid, gname in rows.all()}
    if not out:
        return out
    ids = literal(list(out), ARRAY(BigInteger))  # one array parameter, not thousands
    levels = select(Mandate.deputy_id, Mandate.level, literal(None, BigInteger).label("station_id"),
                    literal(None, String).label("station_name")) \
        .where(Mandate.tenant_id == tenant_id, Mandate.deputy_id == any_(ids))
    stations = select(StationDeputy.deputy_id, literal(None, String), StationDeputy.station_id, Station.name) \
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id)) \
        .where(StationDeputy.tenant_id == tenant_id, StationDeputy.deputy_id == any_(ids),
               StationDeputy.ended_at.is_(None))
    both = union_all(levels, stations).subquery()
    for did, level, station_id, station_name in await db.execute(select(both).order_by(*both.c)):
        d = out[did]
        if station_id is None:
            d.levels = (*d.levels, level) if level not in d.levels else d.levels
        elif d.station_id is None:
            d.station_id = station_id
            if d.group_id is None:
                d.ranked_in = station_name
    return out


async def _aggregates(db: AsyncSession, tenant_id: int, items: list[PointsItem], period: Period, tz: ZoneInfo,
                      deputy_ids: list[int] | None = None):
    """(deputy, source, code, month, count) from the first of the period's year to its end: one
    aggregate per source the scheme uses (of ``deputy_ids`` only, when given)."""
    year_start = date(period.first.year, 1, 1)
    entry_codes = sorted({i.source_code for i in items if i.source == "entry"})
    activity_codes = sorted({i.source_code for i in items if i.source == "activity"})
    ids = None if deputy_ids is None else literal(deputy_ids, ARRAY(BigInteger))

    def only(column) -> list:
        return [] if ids is None else [column == any_(ids)]

    rows: list = []
    if entry_codes:
        month = extract("month", DutyEntry.day)
        rows += [(d, "entry", k, m, n) for d, k, m, n in await db.execute(
            select(DutyEntry.deputy_id, DutyEntry.kind, month, func.count())
            .where(DutyEntry.tenant_id == tenant_id, DutyEntry.status == "approved",
                   DutyEntry.kind.in_(entry_codes), DutyEntry.day >= year_start, DutyEntry.day <= period.last,
                   *only(DutyEntry.deputy_id))
            .group_by(DutyEntry.deputy_id, DutyEntry.kind, month))]
    if activity_codes:
        lo = Period("year", year_start, period.last).bounds(tz)
        # The month in the county's zone is computed inside, so GROUP BY names a column, not the
        # expression with its zone parameter a second time.
        own = select(Attendance.deputy_id, ActivityKind.code.label("code"),
                     extract("month", func.timezone(str(tz), Activity.starts_at)).label("month")) \
            .join(Activity, and_(Activity.tenant_id == Attendance.tenant_id, Activity.id == Attendance.activity_id)) \
            .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id)) \
            .where(Attendance.tenant_id == tenant_id, Activity.tenant_id == tenant_id, Activity.status == "held",
                   ActivityKind.code.in_(activity_codes), Activity.starts_at >= lo[0], Activity.starts_at < lo[1],
                   *only(Attendance.deputy_id))
        # Attendance at a joint station's held activities (rolled up into the county by app.joint) counts
        # under the county's kind of the same code, as the compliance rules count it: same statement.
        joint = select(JointAttendance.deputy_id, JointAttendance.kind_code,
                       extract("month", func.timezone(str(tz), JointAttendance.starts_at))) \
            .where(JointAttendance.tenant_id == tenant_id, JointAttendance.status == "held",
                   JointAttendance.present.is_(True), JointAttendance.kind_code.in_(activity_codes),
                   JointAttendance.starts_at >= lo[0], JointAttendance.starts_at < lo[1],
                   *only(JointAttendance.deputy_id))
        attended = union_all(own, joint).subquery()
        rows += [(d, "activity", k, m, n) for d, k, m, n in await db.execute(
            select(attended.c.deputy_id, attended.c.code, attended.c.month, func.count())
            .group_by(attended.c.deputy_id, attended.c.code, attended.c.month))]
    return rows


def _rank(deputies) -> None:
    groups: dict[tuple, list[DeputyPoints]] = defaultdict(list)
    for d in deputies:
        key = ("group", d.group_id) if d.group_id else ("station", d.station_id) if d.station_id else ("county", 0)
        groups[key].append(d)
    for members in groups.values():
        members.sort(key=lambda d: -d.points)
        for n, d in enumerate(members):
            d.rank = n + 1 if n == 0 or members[n - 1].points != d.points else members[n - 1].rank
            d.peers = len(members)


VIEW_ROLES = ("county_admin", "viewer", "township_staff", "station_staff", "deputy")
RESOLVE_ROLES = ("county_admin",)  # who resolves deputies' correction requests


async def in_scope(db: AsyncSession, scope: Scope, tenant_id: int, period: Period, tz: ZoneInfo) -> list[DeputyPoints]:
    """The deputies the member may see (the deputies pages' filter), with points and rank: ranks are
    among all the group's or station's deputies, also those beyond the member's reach. Handling
    units: NotFound."""
    if scope.role not in VIEW_ROLES:
        raise NotFound()
    seen = set((await db.scalars(select(Deputy.id).where(Deputy.tenant_id == tenant_id, deputies_in_scope(scope),
                                                         Deputy.status == "active"))).all())
    if not seen:
        return []
    figures = await compute(db, tenant_id, period, tz)
    return sorted((d for d in figures.values() if d.deputy_id in seen),
                  key=lambda d: (d.ranked_in, d.rank, d.name, d.deputy_id))
