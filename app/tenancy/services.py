"""The administrative tree: browse within a member's scope, add, rename, move and retire nodes.

Presets (applying a county's file) live in app/presets/.
Services change the session and audit; they do not commit (the route does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.db import MAX_ID
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope


NODE_KIND_NAMES = {
    "county": lazy("County, city or district"),
    "township": lazy("Township or town"),
    "street": lazy("Street (subdistrict)"),
    "village": lazy("Village"),
    "community": lazy("Residential community"),
    "unit": lazy("Unit or organisation"),
    "area": lazy("Functional area"),
}
# Which kinds of node may sit directly under which.
CHILD_KINDS = {
    "county": ("township", "street", "unit", "area"),
    "township": ("village", "community", "unit"),
    "street": ("village", "community", "unit"),
}
CODE_RE = re.compile(r"^\d{1,12}$")
NAME_MAX = 80
PLACES_ROLES = ("county_admin", "viewer", "township_staff")
PARTIAL_LIMIT = 25  # children sent in one htmx partial; the full page lists them all


@dataclass
class Child:
    node: AdminNode
    children: int  # non-retired children (or all, when retired ones are shown)


def kind_name(kind: str) -> str:
    return NODE_KIND_NAMES.get(kind, kind)


def ancestor_ids(node: AdminNode) -> list[int]:
    return [int(part) for part in node.path.strip("/").split("/") if part]


async def scope_root(db: AsyncSession, scope: Scope) -> AdminNode:
    """The top of what the member sees: the county's root, or a township staff member's node."""
    if scope.whole_tenant:
        root = await db.scalar(select(AdminNode).where(AdminNode.parent_id.is_(None)).order_by(AdminNode.id).limit(1))
    elif scope.node_path:
        root = await db.scalar(select(AdminNode).where(AdminNode.path == scope.node_path))
    else:
        root = None
    if root is None:
        raise NotFound()
    return root


async def visible_node(db: AsyncSession, scope: Scope, node_id: int) -> AdminNode:
    """A node the member may see, or the same 404 for missing, other tenant's and out of scope."""
    if not 0 < node_id <= MAX_ID:
        raise NotFound()
    node = await db.scalar(select(AdminNode).where(AdminNode.id == node_id, scope.nodes(AdminNode.path)))
    if node is None:
        raise NotFound()
    return node


async def children_of(db: AsyncSession, node: AdminNode, *, show_retired: bool = False,
                      limit: int | None = None) -> tuple[list[Child], int]:
    """A node's children with their own child counts (one query), and how many there are in all."""
    grand = select(AdminNode.parent_id, func.count().label("n")).group_by(AdminNode.parent_id)
    if not show_retired:
        grand = grand.where(AdminNode.retired_at.is_(None))
    grand = grand.subquery()
    query = (
        select(AdminNode, func.coalesce(grand.c.n, 0), func.count().over())
        .outerjoin(grand, grand.c.parent_id == AdminNode.id)
        .where(AdminNode.parent_id == node.id)
        .order_by(AdminNode.retired_at.is_not(None), AdminNode.id)
    )
    if not show_retired:
        query = query.where(AdminNode.retired_at.is_(None))
    if limit is not None:
        query = query.limit(limit)
    rows = (await db.execute(query)).all()
    total = rows[0][2] if rows else 0
    return [Child(node=r[0], children=r[1]) for r in rows], total


async def breadcrumb(db: AsyncSession, scope: Scope, node: AdminNode) -> list[AdminNode]:
    """The node's ancestors (and itself) from the member's scope root down."""
    ids = ancestor_ids(node)
    nodes = {n.id: n for n in (await db.scalars(select(AdminNode).where(AdminNode.id.in_(ids)))).all()}
    chain = [nodes[i] for i in ids if i in nodes]
    return [n for n in chain if scope.covers_path(n.path)]


async def chain_of(db: AsyncSession, node: AdminNode) -> list[AdminNode]:
    """Root..node, whatever the member's scope (for canonical names)."""
    ids = ancestor_ids(node)
    nodes = {n.id: n for n in (await db.scalars(select(AdminNode).where(AdminNode.id.in_(ids)))).all()}
    return [nodes[i] for i in ids if i in nodes]


def can_edit_node(scope: Scope, node: AdminNode) -> bool:
    """Rename, move, retire: county admins anywhere but the root; township staff inside their subtree
    but not their own root node."""
    if not scope.can_edit or node.parent_id is None:
        return False
    if scope.whole_tenant:
        return True
    return bool(scope.node_path) and node.path.startswith(scope.node_path) and node.path != scope.node_path


def can_add_under(scope: Scope, node: AdminNode) -> bool:
    return (scope.can_edit and node.retired_at is None and node.kind in CHILD_KINDS
            and scope.covers_path(node.path))


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Refusal(lazy("Enter the name of the place."))
    if len(name) > NAME_MAX:
        raise Refusal(lazy("The name of a place has at most %(n)s characters."), n=NAME_MAX)
    return name


def _clean_code(code: str) -> str | None:
    code = (code or "").strip()
    if not code:
        return None
    if not CODE_RE.match(code):
        raise Refusal(lazy("The statistical division code has only digits, at most 12."))
    return code


async def _check_sibling_name(db: AsyncSession, parent_id: int, name: str, *, except_id: int | None = None) -> None:
    query = select(AdminNode).where(AdminNode.parent_id == parent_id, AdminNode.name == name)
    if except_id is not None:
        query = query.where(AdminNode.id != except_id)
    clash = await db.scalar(query)
    if clash is not None:
        if clash.retired_at is not None:
            raise Refusal(lazy("A retired place under the same parent is already called “%(name)s”: "
                                 "choose another name."), name=name)
        raise Refusal(lazy("There is already a place called “%(name)s” under the same parent."), name=name)


def _check_kind(parent: AdminNode, kind: str) -> None:
    allowed = CHILD_KINDS.get(parent.kind, ())
    if kind not in allowed:
        if not allowed:
            raise Refusal(lazy("Nothing can be added under a place of this kind."))
        raise Refusal(lazy("A place of kind “%(kind)s” cannot be placed under “%(parent)s”."),
                        kind=kind_name(kind), parent=parent.name)


async def add_child(db: AsyncSession, *, tenant_id: int, actor_id: int, scope: Scope, parent: AdminNode,
                    name: str, kind: str, division_code: str = "", client_addr: str | None = None) -> AdminNode:
    if not can_add_under(scope, parent):
        raise NotFound()
    name = _clean_name(name)
    if kind not in NODE_KIND_NAMES:
        raise Refusal(lazy("Choose the kind of place from the list."))
    _check_kind(parent, kind)
    code = _clean_code(division_code)
    await _check_sibling_name(db, parent.id, name)
    node = await add_node(db, tenant_id, parent.id, parent.path, name, kind, code)
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="node_added", target=f"node:{node.id}",
                 client_addr=client_addr, details={"name": name, "kind": kind, "parent": parent.name})
    return node


async def rename(db: AsyncSession, *, tenant_id: int, actor_id: int, scope: Scope, node: AdminNode, name: str,
                 division_code: str = "", client_addr: str | None = None) -> None:
    if not can_edit_node(scope, node):
        raise Refusal(lazy("You may not change this place."))
    name = _clean_name(name)
    code = _clean_code(division_code)
    if name == node.name and code == node.division_code:
        return
    await _check_sibling_name(db, node.parent_id, name, except_id=node.id)
    details = {"from": node.name, "to": name, "division_code": code}
    node.name, node.division_code = name, code
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="node_renamed", target=f"node:{node.id}",
                 client_addr=client_addr, details=details)


async def move_targets(db: AsyncSession, scope: Scope, node: AdminNode) -> list[AdminNode]:
    """Where the node may be moved: live nodes in scope whose kind may hold it, not itself, not its
    current parent, not one of its descendants."""
    holders = [k for k, kids in CHILD_KINDS.items() if node.kind in kids]
    query = (
        select(AdminNode)
        .where(AdminNode.retired_at.is_(None), AdminNode.kind.in_(holders), scope.nodes(AdminNode.path),
               AdminNode.id != node.parent_id, ~AdminNode.path.startswith(node.path, autoescape=True))
        .order_by(AdminNode.path)
    )
    return list((await db.scalars(query)).all())


async def move(db: AsyncSession, *, tenant_id: int, actor_id: int, scope: Scope, node: AdminNode,
               new_parent_id: int, client_addr: str | None = None) -> None:
    """Re-hang the node (and its subtree) under another parent: its parent and the path of the node
    and of every descendant change in one UPDATE."""
    if not can_edit_node(scope, node):
        raise Refusal(lazy("You may not change this place."))
    targets = {t.id: t for t in await move_targets(db, scope, node)}
    parent = targets.get(new_parent_id)
    if parent is None:
        if new_parent_id == node.parent_id:
            raise Refusal(lazy("The place is already there."))
        target = await db.scalar(select(AdminNode).where(AdminNode.id == new_parent_id, scope.nodes(AdminNode.path)))
        if target is not None and target.path.startswith(node.path):
            raise Refusal(lazy("A place cannot be moved under itself or one of the places below it."))
        if target is not None and target.retired_at is None:
            _check_kind(target, node.kind)
        raise Refusal(lazy("Choose the new parent from the list."))
    await _check_sibling_name(db, parent.id, node.name, except_id=node.id)
    old_path, new_path = node.path, f"{parent.path}{node.id}/"
    old_parent = node.parent_id
    await db.execute(
        update(AdminNode)
        .where(AdminNode.path.startswith(old_path, autoescape=True))
        .values(
            path=literal(new_path) + func.substr(AdminNode.path, len(old_path) + 1),
            parent_id=case((AdminNode.id == node.id, parent.id), else_=AdminNode.parent_id),
        )
        .execution_options(synchronize_session=False)
    )
    await db.refresh(node)
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="node_moved", target=f"node:{node.id}",
                 client_addr=client_addr, details={"name": node.name, "from_parent": old_parent, "to": parent.name})



async def add_node(db, tenant_id, parent_id, parent_path, name, kind, division_code=None) -> AdminNode:
    """Insert a node and give it its materialised path (which needs its id). Does not commit."""
    node = AdminNode(tenant_id=tenant_id, parent_id=parent_id, name=name, kind=kind,
                     division_code=str(division_code) if division_code else None, path="")
    db.add(node)
    await db.flush()
    node.path = f"{parent_path}{node.id}/"
    await db.flush()
    return node
