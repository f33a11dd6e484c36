"""Who sees and runs which activity.

Seeing: county admins and viewers every activity; township staff the activities of stations in their
subtree; station staff their station's; a deputy the activities they are invited to. Activities of a
deputy group (no station) are seen by the county roles and the invited deputies. Handling units see
none. Running an activity (creating, changing, recording, signing deputies in on their behalf):
county admins anywhere, township staff within their subtree, station staff at their own station;
group activities only county admins. Anything not visible is the same 404 as a missing record.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityKind, Invitation
from app.core.db import MAX_ID
from app.core.errors import NotFound
from app.deputies.models import Deputy, DeputyGroup
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

VIEW_ROLES = ("county_admin", "viewer", "township_staff", "station_staff", "deputy")
RUN_ROLES = ("county_admin", "township_staff", "station_staff")


def require_view(scope: Scope) -> None:
    if scope.role not in VIEW_ROLES:
        raise NotFound()


def station_join():
    return and_(Station.tenant_id == Activity.tenant_id, Station.id == Activity.station_id)


def node_join():
    return and_(AdminNode.tenant_id == Station.tenant_id, AdminNode.id == Station.node_id)


def invited_filter(scope: Scope) -> ColumnElement[bool]:
    """Activities the signed-in deputy is invited to (invitation not withdrawn)."""
    return exists(
        select(1).select_from(Invitation)
        .join(Deputy, and_(Deputy.tenant_id == Invitation.tenant_id, Deputy.id == Invitation.deputy_id))
        .where(Invitation.tenant_id == Activity.tenant_id, Invitation.activity_id == Activity.id,
               Invitation.withdrawn_at.is_(None), Deputy.user_id == scope.user_id)
    )


def activity_filter(scope: Scope) -> ColumnElement[bool]:
    """A WHERE clause on Activity, outer-joined with its Station and that station's AdminNode
    (``activities_query`` builds that join). The one filter for lists, counts, exports and fetches."""
    if scope.role not in VIEW_ROLES:
        return false()
    if scope.whole_tenant:
        return true()
    if scope.role == "deputy":
        return invited_filter(scope)
    if scope.role == "township_staff" and scope.node_path:
        return and_(Activity.station_id.is_not(None), scope.nodes(AdminNode.path))
    if scope.role == "station_staff" and scope.station_id is not None:
        return Activity.station_id == scope.station_id
    return false()


def activities_query(*columns):
    """select(Activity or columns) with the joins ``activity_filter`` needs."""
    query = select(*(columns or (Activity,)))
    return query.outerjoin(Station, station_join()).outerjoin(AdminNode, node_join())


@dataclass
class ActivityRef:
    activity: Activity
    kind: ActivityKind
    station: Station | None
    node: AdminNode | None
    group: DeputyGroup | None


async def get_activity(db: AsyncSession, scope: Scope, activity_id: int, *, for_update: bool = False) -> ActivityRef:
    """The activity with its kind, station, node and group, or 404 (missing, other tenant, out of scope)."""
    require_view(scope)
    if not 0 < activity_id <= MAX_ID:
        raise NotFound()
    query = (
        activities_query(Activity, ActivityKind, Station, AdminNode, DeputyGroup)
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .outerjoin(DeputyGroup, and_(DeputyGroup.tenant_id == Activity.tenant_id, DeputyGroup.id == Activity.group_id))
        .where(Activity.id == activity_id, activity_filter(scope))
    )
    if for_update:
        query = query.with_for_update(of=Activity)
    row = (await db.execute(query)).first()
    if row is None:
        raise NotFound()
    return ActivityRef(*row)


def can_run_at(scope: Scope, station: Station | None, node: AdminNode | None) -> bool:
    """Whether the member may create and run activities of this station (None: a group activity)."""
    if scope.role == "county_admin":
        return True
    if station is None or node is None:
        return False
    if scope.role == "township_staff":
        return bool(scope.node_path) and node.path.startswith(scope.node_path)
    return scope.role == "station_staff" and scope.station_id == station.id


def can_run(scope: Scope, ref: ActivityRef) -> bool:
    return can_run_at(scope, ref.station, ref.node)


def require_run(scope: Scope, ref: ActivityRef) -> None:
    """Viewers and deputies who may see an activity get the same 404 on its staff actions."""
    if not can_run(scope, ref):
        raise NotFound()


def runnable_stations(scope: Scope) -> ColumnElement[bool]:
    """A filter on Station (joined with its AdminNode): where the member may create activities."""
    if scope.role == "county_admin":
        return true()
    if scope.role == "township_staff" and scope.node_path:
        return scope.nodes(AdminNode.path)
    if scope.role == "station_staff" and scope.station_id is not None:
        return Station.id == scope.station_id
    return false()


