"""What part of a tenant a member may see: the whole county, a township's subtree, one station, or
(for a deputy) their own records. Every list and every fetch of places, stations, deputies and
rosters filters through this, so a scoped user never sees outside their scope — by page, list,
export or guessed id (the same 404 as a missing record)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.tenancy.models import AdminNode

WHOLE_TENANT_ROLES = ("county_admin", "viewer", "handling_unit")
# Roles that may change places, stations and deputies (within their scope).
EDITOR_ROLES = ("county_admin", "township_staff")


@dataclass(frozen=True)
class Scope:
    role: str
    node_path: str | None  # township staff: their subtree ('/1/5/'); None: no subtree limit
    station_id: int | None  # station staff: their station
    user_id: int
    handling_unit_id: int | None = None  # handling unit users: their unit

    @property
    def whole_tenant(self) -> bool:
        return self.role in WHOLE_TENANT_ROLES

    @property
    def can_edit(self) -> bool:
        return self.role in EDITOR_ROLES

    def nodes(self, path_column) -> ColumnElement[bool]:
        """A filter on a node path column (AdminNode.path, or a joined node's path)."""
        if self.whole_tenant:
            return true()
        if self.node_path:
            return path_column.startswith(self.node_path, autoescape=True)
        return false()

    def covers_path(self, path: str) -> bool:
        if self.whole_tenant:
            return True
        return bool(self.node_path) and path.startswith(self.node_path)


# Built once: township staff's pages read it on every request.
_NODE_PATH = select(AdminNode.path).where(AdminNode.tenant_id == bindparam("tenant_id"),
                                          AdminNode.id == bindparam("node_id"))


async def scope_of(db: AsyncSession, membership: Membership) -> Scope:
    node_path = None
    if membership.role == "township_staff" and membership.scope_node_id is not None:
        node_path = await db.scalar(_NODE_PATH, {"tenant_id": membership.tenant_id,
                                                 "node_id": membership.scope_node_id})
    return Scope(role=membership.role, node_path=node_path, station_id=membership.station_id,
                 user_id=membership.user_id, handling_unit_id=membership.handling_unit_id)
