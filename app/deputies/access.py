"""Which deputies a member may see, and fetch-with-authorisation for deputies and their records.

County administrators and viewers see every deputy of the tenant; township staff the deputies
stationed at a station in their subtree or elected in a constituency node of it; station staff the
deputies stationed at their station; a deputy only themself (linked by ``deputies.user_id``).
A record that is missing, of another tenant or out of scope is the same NotFound.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.db import MAX_ID
from app.core.errors import NotFound
from app.deputies.models import Deputy, DeputyGroup, Mandate, StationDeputy
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

# Roles that see the deputies pages at all (handling units and anyone else: not found).
VIEW_ROLES = ("county_admin", "viewer", "township_staff", "station_staff", "deputy")
# Roles that see the 应进必进 checks and the groups.
STAFF_ROLES = ("county_admin", "viewer", "township_staff", "station_staff")


def require_view(role: str) -> None:
    if role not in VIEW_ROLES:
        raise NotFound()


def require_staff(role: str) -> None:
    if role not in STAFF_ROLES:
        raise NotFound()


def deputies_in_scope(scope: Scope) -> ColumnElement[bool]:
    """A WHERE clause on Deputy for the member's reach (used in every list, count and fetch)."""
    if scope.role == "deputy":
        return Deputy.user_id == scope.user_id
    if scope.whole_tenant:
        return true()
    if scope.role == "station_staff":
        if scope.station_id is None:
            return false()
        # Correlated to Deputy only: a query that joins station_deputies itself (the checks) must not
        # fold this subquery's own station_deputies into its join (auto-correlation would leave it
        # without a FROM, or ask about the joined row instead of any assignment).
        return exists(
            select(1).select_from(StationDeputy).where(
                StationDeputy.tenant_id == Deputy.tenant_id, StationDeputy.deputy_id == Deputy.id,
                StationDeputy.station_id == scope.station_id, StationDeputy.ended_at.is_(None),
            ).correlate(Deputy)
        )
    if scope.role == "township_staff" and scope.node_path:
        station_node = aliased(AdminNode)
        constituency_node = aliased(AdminNode)
        stationed = exists(
            select(1).select_from(StationDeputy)
            .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
            .join(station_node, and_(station_node.tenant_id == Station.tenant_id, station_node.id == Station.node_id))
            .where(StationDeputy.tenant_id == Deputy.tenant_id, StationDeputy.deputy_id == Deputy.id,
                   StationDeputy.ended_at.is_(None), scope.nodes(station_node.path))
            .correlate(Deputy)
        )
        elected = exists(
            select(1).select_from(Mandate)
            .join(constituency_node, and_(constituency_node.tenant_id == Mandate.tenant_id,
                                          constituency_node.id == Mandate.constituency_node_id))
            .where(Mandate.tenant_id == Deputy.tenant_id, Mandate.deputy_id == Deputy.id,
                   scope.nodes(constituency_node.path))
            .correlate(Deputy)
        )
        return or_(stationed, elected)
    return false()


def stations_in_scope(scope: Scope, node_path_column) -> ColumnElement[bool]:
    """A WHERE clause on Station (joined with its node) for the member's reach."""
    if scope.whole_tenant:
        return true()
    if scope.role == "station_staff":
        return Station.id == scope.station_id if scope.station_id is not None else false()
    if scope.role == "township_staff":
        return scope.nodes(node_path_column)
    return false()


async def access_deputy(db: AsyncSession, scope: Scope, deputy_id: int) -> Deputy:
    require_view(scope.role)
    deputy = None
    if 0 < deputy_id <= MAX_ID:
        deputy = await db.scalar(select(Deputy).where(Deputy.id == deputy_id, deputies_in_scope(scope)))
    if deputy is None:
        raise NotFound()
    return deputy


async def access_assignment(db: AsyncSession, deputy: Deputy, assignment_id: int) -> StationDeputy:
    """One of this deputy's assignments (whose station the caller checks against their scope)."""
    row = None
    if 0 < assignment_id <= MAX_ID:
        row = await db.scalar(select(StationDeputy).where(
            StationDeputy.id == assignment_id, StationDeputy.deputy_id == deputy.id,
        ))
    if row is None:
        raise NotFound()
    return row


async def access_mandate(db: AsyncSession, deputy: Deputy, mandate_id: int) -> Mandate:
    row = None
    if 0 < mandate_id <= MAX_ID:
        row = await db.scalar(select(Mandate).where(Mandate.id == mandate_id, Mandate.deputy_id == deputy.id))
    if row is None:
        raise NotFound()
    return row


async def access_group(db: AsyncSession, scope: Scope, group_id: int) -> DeputyGroup:
    require_staff(scope.role)
    group = None
    if 0 < group_id <= MAX_ID:
        group = await db.scalar(select(DeputyGroup).where(DeputyGroup.id == group_id))
    if group is None:
        raise NotFound()
    return group
