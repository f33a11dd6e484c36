"""Statistics of activities for a year (活动统计): activities held by kind and month, per station the
activities held, the people received (``activities.people_received``, written with the record),
the deputies present and the opinions registered at them; planned and cancelled ones counted beside.

Everything goes through ``access.activity_filter``, so a township sees its subtree and a station its
own activities; deputies (who see only their invitations) and handling units have no statistics.
Months and the year are those of the tenant's time zone. A fixed number of GROUP BY queries,
whatever the number of activities or stations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Integer, and_, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.access import activities_query, activity_filter
from app.activities.models import Activity, ActivityKind, Attendance, Opinion
from app.core.db import as_id
from app.core.errors import NotFound
from app.core.periods import period_of, zone
from app.stations.models import Station
from app.tenancy.scope import Scope

STATS_ROLES = ("county_admin", "viewer", "township_staff", "station_staff")
MONTHS = list(range(1, 13))


def require_stats(scope: Scope) -> None:
    if scope.role not in STATS_ROLES:
        raise NotFound()


@dataclass
class Filters:
    year: int
    station: int | None = None
    kind: int | None = None

    @classmethod
    def read(cls, params, this_year: int) -> "Filters":
        year = as_id(params.get("year"))
        return cls(year=year if year and 2000 <= year <= 2100 else this_year, station=as_id(params.get("station")),
                   kind=as_id(params.get("kind")))


@dataclass
class Line:
    """One station (None: activities of deputy groups) or one kind of activity."""
    key: int | None
    name: str
    held: int = 0
    people: int = 0
    present: int = 0
    opinions: int = 0


@dataclass
class ActivityStats:
    year: int
    kinds: list[tuple[int, str]] = field(default_factory=list)  # kinds with activities held, most first
    matrix: dict = field(default_factory=dict)  # {kind id: {month: held}}
    people_by_month: dict = field(default_factory=dict)  # {month: people received}
    held: int = 0
    planned: int = 0
    cancelled: int = 0
    people: int = 0
    present: int = 0
    opinions: int = 0
    by_station: list[Line] = field(default_factory=list)
    by_kind: list[Line] = field(default_factory=list)
    months: list[int] = field(default_factory=lambda: list(MONTHS))


def _where(scope: Scope, f: Filters, tz_name: str) -> list:
    start, end = period_of("year", date(f.year, 1, 1)).bounds(zone(tz_name))
    where = [activity_filter(scope), Activity.starts_at >= start, Activity.starts_at < end]
    if f.station:
        where.append(Activity.station_id == f.station)
    if f.kind:
        where.append(Activity.kind_id == f.kind)
    return where


async def build_stats(db: AsyncSession, scope: Scope, f: Filters, tz_name: str) -> ActivityStats:
    require_stats(scope)
    where = _where(scope, f, tz_name)
    stats = ActivityStats(year=f.year)
    await _by_kind_and_month(db, stats, where, tz_name)
    await _by_station(db, stats, where)
    return stats


async def _by_kind_and_month(db: AsyncSession, stats: ActivityStats, where: list, tz_name: str) -> None:
    month = cast(extract("month", func.timezone(tz_name, Activity.starts_at)), Integer)
    rows = (await db.execute(
        activities_query(Activity.kind_id, month, Activity.status, func.count(),
                         func.coalesce(func.sum(Activity.people_received), 0))
        .where(*where).group_by(Activity.kind_id, month, Activity.status))).all()
    names = dict((await db.execute(select(ActivityKind.id, ActivityKind.name))).all()) if rows else {}
    kinds: dict[int, Line] = {}
    for kind_id, m, status, n, people in rows:
        if status == "planned":
            stats.planned += n
        elif status == "cancelled":
            stats.cancelled += n
        elif status == "held":
            stats.held += n
            stats.people += people
            stats.matrix.setdefault(kind_id, {})[m] = n
            stats.people_by_month[m] = stats.people_by_month.get(m, 0) + people
            line = kinds.setdefault(kind_id, Line(kind_id, names.get(kind_id, "")))
            line.held += n
            line.people += people
    stats.by_kind = sorted(kinds.values(), key=lambda line: (-line.held, line.name))
    stats.kinds = [(line.key, line.name) for line in stats.by_kind]


async def _by_station(db: AsyncSession, stats: ActivityStats, where: list) -> None:
    held = [*where, Activity.status == "held"]
    lines: dict[int | None, Line] = {}
    for station_id, n, people in await db.execute(
            activities_query(Activity.station_id, func.count(), func.coalesce(func.sum(Activity.people_received), 0))
            .where(*held).group_by(Activity.station_id)):
        lines[station_id] = Line(station_id, "", held=n, people=people)
    if not lines:
        return
    present = (activities_query(Activity.station_id, func.count())
               .join(Attendance, and_(Attendance.tenant_id == Activity.tenant_id, Attendance.activity_id == Activity.id))
               .where(*held).group_by(Activity.station_id))
    for station_id, n in await db.execute(present):
        lines[station_id].present = n
        stats.present += n
    opinions = (activities_query(Activity.station_id, func.count())
                .join(Opinion, and_(Opinion.tenant_id == Activity.tenant_id, Opinion.activity_id == Activity.id))
                .where(*held).group_by(Activity.station_id))
    for station_id, n in await db.execute(opinions):
        lines[station_id].opinions = n
        stats.opinions += n
    ids = [k for k in lines if k is not None]
    names = dict((await db.execute(select(Station.id, Station.name).where(Station.id.in_(ids))))
                 .all()) if ids else {}
    for key, line in lines.items():
        line.name = names.get(key, "") if key is not None else ""
    # the stations by activities held; deputy groups' activities (no station) last
    stats.by_station = sorted(lines.values(), key=lambda line: (line.key is None, -line.held, line.name))
