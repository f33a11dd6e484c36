"""Who sees and changes which home or station.

Seeing: county admins and viewers the whole tenant, township staff their subtree, station staff their
own station, a deputy the stations they are stationed at; handling units see none of these pages.
Changing: county admins anywhere, township staff within their subtree (``can_edit_station``); the
staff of a station may also edit its profile, goals and commitments (``can_edit_profile``), never its
lifecycle. Anything not visible — missing, another tenant's, out of scope — is the same 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import MAX_ID
from app.core.errors import NotFound
from app.core.images import StoredImage
from app.deputies.models import Deputy, Mandate, StationDeputy
from app.stations.models import Station, StationKind
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope


# Handling units do not see places and people at all (the menu reads this too: app/home/sections.py).
VIEW_ROLES = ("county_admin", "viewer", "township_staff", "station_staff", "deputy")


def require_places(scope: Scope) -> None:
    if scope.role not in VIEW_ROLES:
        raise NotFound()


def station_filter(scope: Scope) -> ColumnElement[bool]:
    """A filter on Station joined with its AdminNode."""
    if scope.role == "handling_unit":
        return false()
    if scope.whole_tenant:
        return true()
    if scope.role == "township_staff":
        return scope.nodes(AdminNode.path)
    if scope.role == "station_staff":
        return Station.id == scope.station_id if scope.station_id is not None else false()
    if scope.role == "deputy":
        mine = (
            select(StationDeputy.station_id)
            .join(Deputy, and_(Deputy.tenant_id == StationDeputy.tenant_id, Deputy.id == StationDeputy.deputy_id))
            .where(Deputy.user_id == scope.user_id, StationDeputy.ended_at.is_(None))
        )
        return Station.id.in_(mine)
    return false()


def node_join():
    return and_(AdminNode.tenant_id == Station.tenant_id, AdminNode.id == Station.node_id)


def kind_join():
    return and_(StationKind.tenant_id == Station.tenant_id, StationKind.id == Station.kind_id)


@dataclass
class StationRef:
    station: Station
    node: AdminNode
    kind: StationKind


async def get_station(db: AsyncSession, scope: Scope, station_id: int, *, for_update: bool = False) -> StationRef:
    """The station with its node and kind, or 404 (missing, other tenant, out of scope alike)."""
    require_places(scope)
    if not 0 < station_id <= MAX_ID:
        raise NotFound()
    query = (
        select(Station, AdminNode, StationKind)
        .join(AdminNode, node_join())
        .join(StationKind, kind_join())
        .where(Station.id == station_id, station_filter(scope))
    )
    if for_update:
        query = query.with_for_update(of=Station)
    row = (await db.execute(query)).first()
    if row is None:
        raise NotFound()
    return StationRef(*row)


def can_edit_station(scope: Scope, node_path: str) -> bool:
    """County admins anywhere; township staff within their subtree."""
    if scope.role == "county_admin":
        return True
    return scope.role == "township_staff" and bool(scope.node_path) and node_path.startswith(scope.node_path)


def can_edit_profile(scope: Scope, ref: StationRef) -> bool:
    if can_edit_station(scope, ref.node.path):
        return True
    return scope.role == "station_staff" and scope.station_id == ref.station.id


def require_edit(scope: Scope, ref: StationRef) -> None:
    if not can_edit_station(scope, ref.node.path):
        raise NotFound()


def require_profile_edit(scope: Scope, ref: StationRef) -> None:
    if not can_edit_profile(scope, ref):
        raise NotFound()


async def get_image(db: AsyncSession, scope: Scope, image_id: int) -> StoredImage:
    """An image, if it is the photo of a station or a deputy the member may see; else 404."""
    require_places(scope)
    if not 0 < image_id <= MAX_ID:
        raise NotFound()
    image = await db.scalar(select(StoredImage).where(StoredImage.id == image_id))
    if image is None:
        raise NotFound()
    station_owner = await db.scalar(
        select(Station.id).join(AdminNode, node_join()).where(Station.photo_id == image_id, station_filter(scope))
        .limit(1)
    )
    if station_owner is not None:
        return image
    deputy_id = await db.scalar(select(Deputy.id).where(Deputy.photo_id == image_id).limit(1))
    if deputy_id is not None and await deputy_visible(db, scope, deputy_id):
        return image
    raise NotFound()


async def deputy_visible(db: AsyncSession, scope: Scope, deputy_id: int) -> bool:
    """Whether a deputy (here: their photo) is within the member's scope: the whole tenant; township
    staff a deputy stationed in, or elected from, their subtree; station staff a deputy of their
    station; a deputy themself."""
    if scope.role == "handling_unit":
        return False
    if scope.whole_tenant:
        return True
    if scope.role == "deputy":
        return await db.scalar(select(Deputy.id).where(Deputy.id == deputy_id, Deputy.user_id == scope.user_id)) \
            is not None
    stationed = (
        select(StationDeputy.id)
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .join(AdminNode, node_join())
        .where(StationDeputy.deputy_id == deputy_id, StationDeputy.ended_at.is_(None), station_filter(scope))
    )
    if await db.scalar(stationed.limit(1)) is not None:
        return True
    if scope.role == "township_staff" and scope.node_path:
        elected = (
            select(Mandate.id)
            .join(AdminNode, and_(AdminNode.tenant_id == Mandate.tenant_id, AdminNode.id == Mandate.constituency_node_id))
            .where(Mandate.deputy_id == deputy_id, scope.nodes(AdminNode.path))
        )
        return await db.scalar(elected.limit(1)) is not None
    return False
