"""The 应进必进 checks: serving deputies not stationed, stationed outside their constituency, seat gaps."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, and_, exists, func, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.deputies.access import deputies_in_scope, stations_in_scope
from app.deputies.listing import DeputyRow, fill_levels_and_stations, has_active_assignment
from app.deputies.models import LEVELS, Deputy, Mandate, StationDeputy
from app.stations.models import Station
from app.tenancy.models import AdminNode, TenantConfig
from app.tenancy.scope import Scope

SEAT_STATUSES = ("active", "filed")


# --- 应进必进 checks -----------------------------------------------------------------------------

async def unassigned(db: AsyncSession, scope: Scope, limit: int | None = None) -> tuple[list[DeputyRow], int]:
    """Serving deputies in scope with no active assignment (the list, and how many in all)."""
    where = [deputies_in_scope(scope), Deputy.status == "active", not_(has_active_assignment())]
    total = await db.scalar(select(func.count()).select_from(Deputy).where(*where)) or 0
    query = select(Deputy).where(*where).order_by(Deputy.name, Deputy.id)
    if limit is not None:
        query = query.limit(limit)
    out = [DeputyRow(deputy=d, group_name=None) for d in (await db.scalars(query)).all()]
    await fill_levels_and_stations(db, out)
    return out, total


async def unassigned_count(db: AsyncSession, scope: Scope) -> int | None:
    """For the tenant home page: serving deputies in scope not stationed anywhere; None when there is
    no serving deputy in scope at all (a new county: "every deputy is stationed" would say nothing
    true). 0 for roles that do not see the checks."""
    if scope.role not in ("county_admin", "viewer", "township_staff", "station_staff"):
        return 0
    if scope.whole_tenant:  # every home of a county admin or viewer: built once (issue 20)
        statement = _whole_tenant_unassigned()
    else:
        statement = _unassigned(deputies_in_scope(scope))
    serving, unassigned = (await db.execute(statement)).one()
    return unassigned if serving else None


def _unassigned(in_scope) -> Select:
    return (select(func.count(), func.count().filter(not_(has_active_assignment()))).select_from(Deputy)
            .where(in_scope, Deputy.status == "active"))


@cache
def _whole_tenant_unassigned() -> Select:
    return _unassigned(true())


@dataclass
class OutsideRow:
    deputy: Deputy
    station: Station
    station_node: str
    constituencies: list[str]


async def outside_constituency(db: AsyncSession, scope: Scope) -> list[OutsideRow]:
    """Directly elected serving deputies stationed at a station that lies in none of their direct
    constituencies' subtrees (nor contains one: a township home serves its villages)."""
    station_node = aliased(AdminNode)
    constituency_node = aliased(AdminNode)
    direct_with_node = exists().where(Mandate.tenant_id == Deputy.tenant_id, Mandate.deputy_id == Deputy.id,
                                      Mandate.direct.is_(True), Mandate.constituency_node_id.is_not(None))
    matches = exists(
        select(1).select_from(Mandate)
        .join(constituency_node, and_(constituency_node.tenant_id == Mandate.tenant_id,
                                      constituency_node.id == Mandate.constituency_node_id))
        .where(Mandate.tenant_id == Deputy.tenant_id, Mandate.deputy_id == Deputy.id, Mandate.direct.is_(True),
               or_(station_node.path.startswith(constituency_node.path),
                   constituency_node.path.startswith(station_node.path)))
    )
    rows = (await db.execute(
        select(Deputy, Station, station_node.name)
        .join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id, StationDeputy.deputy_id == Deputy.id))
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .join(station_node, and_(station_node.tenant_id == Station.tenant_id, station_node.id == Station.node_id))
        .where(StationDeputy.ended_at.is_(None), Deputy.status == "active", deputies_in_scope(scope),
               direct_with_node, not_(matches))
        .order_by(Deputy.name, Deputy.id, Station.name)
    )).all()
    out = [OutsideRow(d, s, n, []) for d, s, n in rows]
    ids = {r.deputy.id for r in out}
    if ids:
        names: dict[int, list[str]] = {}
        for deputy_id, name in (await db.execute(
            select(Mandate.deputy_id, AdminNode.name).join(AdminNode, and_(
                AdminNode.tenant_id == Mandate.tenant_id, AdminNode.id == Mandate.constituency_node_id))
            .where(Mandate.deputy_id.in_(ids), Mandate.direct.is_(True)).order_by(AdminNode.path)
        )).all():
            names.setdefault(deputy_id, []).append(name)
        for r in out:
            r.constituencies = names.get(r.deputy.id, [])
    return out


@dataclass
class SeatGap:
    station: Station
    level: str
    count: int
    min: int | None
    max: int | None

    @property
    def below(self) -> bool:
        return self.min is not None and self.count < self.min


def seats_guidance(raw: object) -> dict[str, tuple[int | None, int | None]]:
    """tenant_config.seats ({"city": {"min": 2, "max": 3}, "county": {"min": 5}}) as level -> (min, max);
    anything malformed is left out rather than guessed."""
    out = {}
    if not isinstance(raw, dict):
        return out
    for level in LEVELS:
        spec = raw.get(level)
        if not isinstance(spec, dict):
            continue
        bounds = []
        for key in ("min", "max"):
            value = spec.get(key)
            bounds.append(value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None)
        if bounds != [None, None]:
            out[level] = (bounds[0], bounds[1])
    return out


async def seat_gaps(db: AsyncSession, scope: Scope) -> tuple[dict, list[SeatGap]]:
    """Stations (active or filed, in scope) whose serving deputies per level fall below the
    guidance's min or above its max. Returns the guidance and the gaps."""
    guidance = seats_guidance(await db.scalar(select(TenantConfig.seats)))
    if not guidance:
        return guidance, []
    stations = (await db.scalars(
        select(Station).join(AdminNode, and_(AdminNode.tenant_id == Station.tenant_id, AdminNode.id == Station.node_id))
        .where(Station.status.in_(SEAT_STATUSES), stations_in_scope(scope, AdminNode.path))
        .order_by(AdminNode.path, Station.name)
    )).all()
    if not stations:
        return guidance, []
    counts: dict[tuple[int, str], int] = {}
    for station_id, level, n in (await db.execute(
        select(StationDeputy.station_id, Mandate.level, func.count(func.distinct(Deputy.id)))
        .join(Deputy, and_(Deputy.tenant_id == StationDeputy.tenant_id, Deputy.id == StationDeputy.deputy_id))
        .join(Mandate, and_(Mandate.tenant_id == Deputy.tenant_id, Mandate.deputy_id == Deputy.id))
        .where(StationDeputy.ended_at.is_(None), Deputy.status == "active",
               StationDeputy.station_id.in_([s.id for s in stations]))
        .group_by(StationDeputy.station_id, Mandate.level)
    )).all():
        counts[(station_id, level)] = n
    gaps = []
    for station in stations:
        for level, (lo, hi) in guidance.items():
            n = counts.get((station.id, level), 0)
            if (lo is not None and n < lo) or (hi is not None and n > hi):
                gaps.append(SeatGap(station, level, n, lo, hi))
    return guidance, gaps
