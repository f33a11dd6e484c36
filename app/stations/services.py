"""Homes and stations: listing in scope (with their star ratings), creating and renaming under the
naming rule, and the tenant's configuration and places they rest on. The lifecycle is in
``lifecycle``, the station page, profile, staff, goals and commitments in ``profile``, the standards
checklist in ``checklist``.

Services do not commit; every change writes an audit entry in the same transaction. A refused
change raises ``Refusal`` (``refusals``) before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.db import as_id
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.deputies.models import Deputy, StationDeputy
from app.notify import work
from app.stations import naming
from app.stations.access import StationRef, can_edit_station, kind_join, node_join, station_filter
from app.stations.checklist import active_item_count, stars
from app.stations.models import STATUSES, ChecklistItem, Station, StationEvent, StationKind, StationScore
from app.stations.refusals import CLOSED_STATION
from app.tenancy.config import Config, canonical_name, get_config
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

PER_PAGE = 30
MAX_NOTE = 500

CHOOSE_KIND = lazy("Please choose a kind of station from the list.")
CHOOSE_NODE = lazy("Please choose a place from the list.")
KIND_NOT_HERE = lazy("A %(kind)s cannot be set up at a %(node_kind)s; it may be set up at: %(allowed)s.")
NAME_TAKEN = lazy("Another open station is already called “%(name)s”.")


# --- configuration and places ---------------------------------------------------------------------

async def tenant_config(db: AsyncSession, tenant_id: int) -> Config:
    return await get_config(db, tenant_id)


def path_ids(path: str) -> list[int]:
    return [int(p) for p in path.strip("/").split("/") if p]


async def names_for_paths(db: AsyncSession, paths) -> dict[int, AdminNode]:
    """Every node named by the given paths (the nodes and their ancestors), in one query."""
    ids = {i for p in paths for i in path_ids(p)}
    if not ids:
        return {}
    nodes = (await db.scalars(select(AdminNode).where(AdminNode.id.in_(ids)))).all()
    return {n.id: n for n in nodes}


def place_label(path: str, nodes: dict[int, AdminNode], skip_root: bool = True) -> str:
    ids = path_ids(path)
    if skip_root and len(ids) > 1:
        ids = ids[1:]
    return " › ".join(nodes[i].name for i in ids if i in nodes)


async def node_chain(db: AsyncSession, node: AdminNode) -> list[AdminNode]:
    """The node's ancestry, root first."""
    nodes = await names_for_paths(db, [node.path])
    return [nodes[i] for i in path_ids(node.path) if i in nodes]


async def canonical_for(db: AsyncSession, kind: StationKind, node: AdminNode) -> str:
    if not kind.name_pattern:
        return ""
    return canonical_name(kind.name_pattern, await node_chain(db, node), kind.name)


async def active_kinds(db: AsyncSession) -> list[StationKind]:
    return list((await db.scalars(
        select(StationKind).where(StationKind.retired_at.is_(None)).order_by(StationKind.sort, StationKind.id)
    )).all())


async def all_kinds(db: AsyncSession) -> list[StationKind]:
    return list((await db.scalars(select(StationKind).order_by(StationKind.sort, StationKind.id))).all())


async def node_choices(db: AsyncSession, scope: Scope) -> list[tuple[int, str, str]]:
    """(id, place label, kind) of the open nodes a member may set a station up at."""
    nodes = (await db.scalars(select(AdminNode).where(AdminNode.retired_at.is_(None)).order_by(AdminNode.path))).all()
    by_id = {n.id: n for n in nodes}
    return [(n.id, place_label(n.path, by_id, skip_root=False), n.kind) for n in nodes
            if scope.covers_path(n.path) or scope.role == "county_admin"]


# --- lists ----------------------------------------------------------------------------------------

def _deputy_count():
    return (
        select(func.count()).select_from(StationDeputy)
        .where(StationDeputy.tenant_id == Station.tenant_id, StationDeputy.station_id == Station.id,
               StationDeputy.ended_at.is_(None))
        .correlate(Station).scalar_subquery()
    )


def _met_count():
    return (
        select(func.count()).select_from(StationScore)
        .join(ChecklistItem, and_(ChecklistItem.tenant_id == StationScore.tenant_id,
                                  ChecklistItem.id == StationScore.item_id))
        .where(StationScore.tenant_id == Station.tenant_id, StationScore.station_id == Station.id,
               StationScore.met.is_(True), ChecklistItem.retired_at.is_(None))
        .correlate(Station).scalar_subquery()
    )


@dataclass
class ListRow:
    station: Station
    kind_name: str
    place: str
    deputies: int
    stars: int


@dataclass
class StationList:
    rows: list[ListRow]
    total: int
    page: int
    pages: int


async def list_stations(db: AsyncSession, scope: Scope, *, status: str | None = None, kind_id: int | None = None,
                        page: int = 1) -> StationList:
    """Stations in scope, a page at a time, in a fixed number of queries."""
    conditions = [station_filter(scope)]
    if status in STATUSES:
        conditions.append(Station.status == status)
    if kind_id:
        conditions.append(Station.kind_id == kind_id)
    total = await db.scalar(
        select(func.count()).select_from(Station).join(AdminNode, node_join()).where(*conditions)
    ) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    result = await db.execute(
        select(Station, StationKind.name, AdminNode.path, _deputy_count(), _met_count())
        .join(AdminNode, node_join()).join(StationKind, kind_join())
        .where(*conditions)
        .order_by(AdminNode.path, Station.name, Station.id)
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    )
    rows = result.all()
    nodes = await names_for_paths(db, [r[2] for r in rows])
    active = await active_item_count(db) if rows else 0
    return StationList(
        rows=[ListRow(station=s, kind_name=k, place=place_label(p, nodes), deputies=d, stars=stars(m, active))
              for s, k, p, d, m in rows],
        total=total, page=page, pages=pages,
    )


async def ratings(db: AsyncSession, scope: Scope) -> tuple[dict[int, list[ListRow]], int]:
    """Open stations in scope grouped by stars (5 … 0), and the number of active checklist items."""
    result = await db.execute(
        select(Station, StationKind.name, AdminNode.path, _deputy_count(), _met_count())
        .join(AdminNode, node_join()).join(StationKind, kind_join())
        .where(station_filter(scope), Station.status != "closed")
        .order_by(AdminNode.path, Station.name)
    )
    rows = result.all()
    nodes = await names_for_paths(db, [r[2] for r in rows])
    active = await active_item_count(db)
    groups: dict[int, list[ListRow]] = {n: [] for n in range(5, -1, -1)}
    for s, k, p, d, m in rows:
        n = stars(m, active)
        groups[n].append(ListRow(station=s, kind_name=k, place=place_label(p, nodes), deputies=d, stars=n))
    return groups, active


# --- naming ---------------------------------------------------------------------------------------

async def check_station_name(db: AsyncSession, tenant_id: int, kind: StationKind, node: AdminNode, name: str,
                             exclude_station_id: int | None = None) -> str:
    """The normalised name, or Refusal saying exactly what is wrong (with the canonical name)."""
    name = naming.normalise(name)
    config = await tenant_config(db, tenant_id)
    canonical = await canonical_for(db, kind, node)
    deputy_names = (await db.scalars(select(Deputy.name).distinct())).all()
    problem = naming.check_name(name, forbidden_words=config.forbidden_words or [], deputy_names=deputy_names,
                                canonical=canonical)
    if problem:
        raise Refusal(problem.message, canonical=problem.canonical, **problem.variables)
    taken = select(Station.id).where(Station.name == name, Station.status != "closed")
    if exclude_station_id is not None:
        taken = taken.where(Station.id != exclude_station_id)
    if await db.scalar(taken.limit(1)) is not None:
        raise Refusal(NAME_TAKEN, canonical="" if canonical == name else canonical, name=name)
    return name


async def create_station(db: AsyncSession, scope: Scope, *, tenant_id: int, actor_id: int, kind_id, node_id,
                         name: str, client_addr: str | None = None) -> Station:
    kid, nid = as_id(kind_id), as_id(node_id)
    kind = await db.scalar(select(StationKind).where(StationKind.id == kid, StationKind.retired_at.is_(None))) \
        if kid else None
    if kind is None:
        raise Refusal(CHOOSE_KIND)
    node = await db.scalar(select(AdminNode).where(AdminNode.id == nid, AdminNode.retired_at.is_(None))) \
        if nid else None
    if node is None or not can_edit_station(scope, node.path):
        raise Refusal(CHOOSE_NODE)
    if kind.node_kinds and node.kind not in kind.node_kinds:
        allowed = "、".join(gettext(NODE_KIND_NAMES.get(k, k)) for k in kind.node_kinds)
        raise Refusal(KIND_NOT_HERE, kind=kind.name, node_kind=gettext(NODE_KIND_NAMES.get(node.kind, node.kind)),
                      allowed=allowed)
    name = await check_station_name(db, tenant_id, kind, node, name)
    station = Station(tenant_id=tenant_id, kind_id=kind.id, node_id=node.id, name=name, status="proposed")
    db.add(station)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:  # the same name taken a moment ago
        raise Refusal(NAME_TAKEN, name=name) from None
    db.add(StationEvent(tenant_id=tenant_id, station_id=station.id, action="created", to_status="proposed",
                        actor_user_id=actor_id))
    work.station_event(db, station, "created", actor_id)  # whoever takes the next step is told
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="station_created",
                 target=f"station:{station.id}", client_addr=client_addr,
                 details={"name": name, "kind": kind.code, "node_id": node.id})
    return station


NODE_KIND_NAMES = {
    "county": lazy("Place kind: county"),
    "township": lazy("Place kind: township"),
    "street": lazy("Place kind: street"),
    "village": lazy("Place kind: village"),
    "community": lazy("Place kind: community"),
    "unit": lazy("Place kind: unit"),
    "area": lazy("Place kind: functional area"),
}


async def rename_station(db: AsyncSession, ref: StationRef, *, actor_id: int, name: str,
                         client_addr: str | None = None) -> None:
    station = ref.station
    if station.status == "closed":
        raise Refusal(CLOSED_STATION)
    name = await check_station_name(db, station.tenant_id, ref.kind, ref.node, name, exclude_station_id=station.id)
    if name == station.name:
        return
    old = station.name
    station.name = name
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Refusal(NAME_TAKEN, name=name) from None
    db.add(StationEvent(tenant_id=station.tenant_id, station_id=station.id, action="renamed",
                        from_status=station.status, to_status=station.status, note=f"{old} → {name}"[:MAX_NOTE],
                        actor_user_id=actor_id))
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_renamed",
                 target=f"station:{station.id}", client_addr=client_addr, details={"from": old, "to": name})
