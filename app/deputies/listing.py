"""The deputies list (/deputies) and the rows other pages show the same way (a group's members, the
home's unstationed deputies): a deputy with their levels, group and current stations.

The list page reads one page in ONE statement: the page's rows with the total as a window count,
their levels and stations as arrays computed for the page's rows only (an outer select over the
limited rows, so a county of 10,000 deputies costs the same as one of fifty)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.deputies.access import deputies_in_scope
from app.deputies.models import DEPUTY_STATUSES, LEVELS, Deputy, DeputyGroup, Mandate, StationDeputy
from app.stations.models import Station
from app.tenancy.scope import Scope

PER_PAGE = 50


@dataclass
class DeputyRow:
    deputy: Deputy  # on the list page: a plain row with the deputy's id, name, status and mobile
    group_name: str | None
    levels: list[str] = field(default_factory=list)
    stations: list[str] = field(default_factory=list)


@dataclass
class Filters:
    q: str = ""
    level: str = ""
    status: str = ""
    group_id: int | None = None
    unassigned: bool = False
    page: int = 1

    def where(self) -> list:
        clauses = []
        if self.q:
            clauses.append(Deputy.name.contains(self.q, autoescape=True))
        if self.level in LEVELS:
            clauses.append(exists().where(Mandate.tenant_id == Deputy.tenant_id, Mandate.deputy_id == Deputy.id,
                                          Mandate.level == self.level))
        if self.status in DEPUTY_STATUSES:
            clauses.append(Deputy.status == self.status)
        if self.group_id is not None:
            clauses.append(Deputy.group_id == self.group_id)
        if self.unassigned:
            clauses.append(not_(has_active_assignment()))
        return clauses


def has_active_assignment():
    return exists().where(StationDeputy.tenant_id == Deputy.tenant_id, StationDeputy.deputy_id == Deputy.id,
                          StationDeputy.ended_at.is_(None))


def _levels_of(page):
    return func.array(
        select(Mandate.level).where(Mandate.tenant_id == page.c.tenant_id, Mandate.deputy_id == page.c.id)
        .distinct().scalar_subquery())


def _stations_of(page):
    return func.array(
        select(Station.name).select_from(StationDeputy)
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .where(StationDeputy.tenant_id == page.c.tenant_id, StationDeputy.deputy_id == page.c.id,
               StationDeputy.ended_at.is_(None))
        .order_by(StationDeputy.assigned_at).scalar_subquery())


async def list_deputies(db: AsyncSession, scope: Scope, filters: Filters) -> tuple[list[DeputyRow], int]:
    """One page of the deputies in scope, with their levels, group and stations, and the total."""
    where = [deputies_in_scope(scope), *filters.where()]
    page = (
        select(Deputy.tenant_id, Deputy.id, Deputy.name, Deputy.status, Deputy.mobile,
               DeputyGroup.name.label("group_name"), func.count().over().label("total"))
        .outerjoin(DeputyGroup, and_(DeputyGroup.tenant_id == Deputy.tenant_id, DeputyGroup.id == Deputy.group_id))
        .where(*where).order_by(Deputy.name, Deputy.id)
        .limit(PER_PAGE).offset((max(filters.page, 1) - 1) * PER_PAGE)
    ).subquery()
    rows = (await db.execute(
        select(page, _levels_of(page).label("levels"), _stations_of(page).label("stations"))
        .order_by(page.c.name, page.c.id)
    )).all()
    if rows:
        total = rows[0].total
    else:  # past the last page (or none): the total still tells the pager where the pages end
        total = await db.scalar(select(func.count()).select_from(Deputy).where(*where)) or 0
    return [DeputyRow(deputy=r, group_name=r.group_name, levels=sorted(r.levels, key=LEVELS.index),
                      stations=list(r.stations)) for r in rows], total


async def fill_levels_and_stations(db: AsyncSession, rows: list[DeputyRow]) -> None:
    """The levels and current stations of ``rows``' deputies (ORM rows read by the caller)."""
    by_id = {r.deputy.id: r for r in rows}
    if not by_id:
        return
    levels = await db.execute(select(Mandate.deputy_id, Mandate.level).where(Mandate.deputy_id.in_(by_id))
                              .distinct())
    for deputy_id, level in levels.all():
        by_id[deputy_id].levels.append(level)
    for r in rows:
        r.levels.sort(key=LEVELS.index)
    stations = await db.execute(
        select(StationDeputy.deputy_id, Station.name)
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .where(StationDeputy.deputy_id.in_(by_id), StationDeputy.ended_at.is_(None))
        .order_by(StationDeputy.assigned_at)
    )
    for deputy_id, name in stations.all():
        by_id[deputy_id].stations.append(name)
