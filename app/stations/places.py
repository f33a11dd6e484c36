"""Retiring a place of the administrative tree: refused while it has live places below it, or while it
or a place below it has a home or station that is not closed (the tree's other verbs: app.tenancy.services)."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope
from app.tenancy.services import can_edit_node

async def retire_place(db: AsyncSession, *, tenant_id: int, actor_id: int, scope: Scope, node: AdminNode,
                 client_addr: str | None = None) -> None:
    """Retire a node: it stays in history, hidden from pickers and lists. Refused while it has live
    children, or while it or a place below it has a station that is not closed."""
    if not can_edit_node(scope, node):
        raise Refusal(lazy("You may not change this place."))
    if node.retired_at is not None:
        raise Refusal(lazy("This place is already retired."))
    live_children = await db.scalar(
        select(func.count()).select_from(AdminNode)
        .where(AdminNode.parent_id == node.id, AdminNode.retired_at.is_(None))
    )
    if live_children:
        raise Refusal(lazy("“%(name)s” still has %(n)s places below it: move or retire them first."),
                        name=node.name, n=live_children)
    open_stations = await db.scalar(
        select(func.count()).select_from(Station)
        .join(AdminNode, and_(AdminNode.tenant_id == Station.tenant_id, AdminNode.id == Station.node_id))
        .where(AdminNode.path.startswith(node.path, autoescape=True), Station.status != "closed")
    )
    if open_stations:
        raise Refusal(lazy("“%(name)s” has %(n)s homes or stations that are not closed: close them first."),
                        name=node.name, n=open_stations)
    node.retired_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="node_retired", target=f"node:{node.id}",
                 client_addr=client_addr, details={"name": node.name})
