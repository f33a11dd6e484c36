"""The "1+N" pattern: a home (代表之家) and the N stations under it.

A home stands at a place with places below it (a township home over its villages, a county home over
the townships); the stations under it are those set up in that subtree, not closed, that no nearer
open station stands over (a county home lists the township homes, not every village station). The
names are listed to whoever sees the home; a link only where the member may open that station.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.stations.access import StationRef, kind_join, node_join, station_filter
from app.stations.checklist import active_item_count, stars
from app.stations.models import Station, StationKind
from app.stations.services import _deputy_count, _met_count, names_for_paths, place_label
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

LIMIT = 200  # a township has a few dozen villages; a list beyond this says how many more


@dataclass
class UnderRow:
    station: Station
    kind_name: str
    place: str
    deputies: int
    stars: int
    visible: bool


@dataclass
class UnderHome:
    has_places_below: bool
    rows: list[UnderRow]
    total: int


def _nearer_station(home_node: AdminNode):
    """An open station standing strictly between the home's place and the listed station's place."""
    other, other_node = aliased(Station), aliased(AdminNode)
    return exists(
        select(other.id).join(other_node, and_(other_node.tenant_id == other.tenant_id, other_node.id == other.node_id))
        .where(other.status != "closed", other_node.id != home_node.id, other_node.id != AdminNode.id,
               other_node.path.startswith(home_node.path, autoescape=True),
               AdminNode.path.startswith(other_node.path))  # paths hold digits and slashes only
    ).correlate(Station, AdminNode)


async def stations_under(db: AsyncSession, scope: Scope, ref: StationRef) -> UnderHome:
    """The stations under the home ``ref`` (any station: one at a leaf place has none)."""
    home_node = ref.node
    below = await db.scalar(select(AdminNode.id).where(AdminNode.parent_id == home_node.id).limit(1))
    if below is None:
        return UnderHome(False, [], 0)
    where = [Station.status != "closed", AdminNode.id != home_node.id,
             AdminNode.path.startswith(home_node.path, autoescape=True), ~_nearer_station(home_node)]
    result = (await db.execute(
        select(Station, StationKind.name, AdminNode.path, _deputy_count(), _met_count(),
               station_filter(scope).label("visible"), func.count().over().label("total"))
        .join(AdminNode, node_join()).join(StationKind, kind_join())
        .where(*where).order_by(AdminNode.path, Station.name, Station.id).limit(LIMIT))).all()
    if not result:
        return UnderHome(True, [], 0)
    nodes = await names_for_paths(db, [r[2] for r in result])
    active = await active_item_count(db)
    rows = [UnderRow(s, k, place_label(p, nodes), d, stars(m, active), bool(v)) for s, k, p, d, m, v, _ in result]
    return UnderHome(True, rows, result[0][-1])
