"""The administrative tree's pages, /t/{tenant_slug}/places: browse it one level at a time within the
member's scope; add, rename, move and retire places (the tree's verbs are app.tenancy.services; a
place is retired only once its stations are closed, which app.stations.places checks)."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.web import bounded, checked, client_addr, page, see_other
from app.stations.places import retire_place
from app.tenancy import services
from app.tenancy.access import TenantContext
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope
from app.tenancy.services import CHILD_KINDS, NODE_KIND_NAMES

DONE = {
    "added": lazy("The place has been added."),
    "renamed": lazy("The place has been renamed."),
    "moved": lazy("The place has been moved."),
    "retired": lazy("The place has been retired."),
}


# --- the administrative tree -------------------------------------------------------------------


async def _places_scope(ctx: TenantContext) -> Scope:
    ctx.require_role(*services.PLACES_ROLES)
    scope = await ctx.scope()
    if not scope.whole_tenant and not scope.node_path:
        raise NotFound()
    return scope


async def _places_page(request: Request, ctx: TenantContext, scope: Scope, node: AdminNode, *,
                       show_retired: bool, status_code: int = 200, error: str | None = None,
                       form: dict | None = None, done: str | None = None) -> Response:
    children, total = await services.children_of(ctx.db, node, show_retired=show_retired)
    return page(
        request, "tenancy/places.html", status_code=status_code, node=node, children=children, total=total,
        crumbs=await services.breadcrumb(ctx.db, scope, node), retired=show_retired, base=ctx.base,
        kind_names=NODE_KIND_NAMES, child_kinds=CHILD_KINDS.get(node.kind, ()),
        can_add=services.can_add_under(scope, node), can_edit=services.can_edit_node(scope, node),
        error=error, form=form or {}, done=DONE.get(done or ""),
    )


@get("/places")
async def places(request: Request, ctx: TenantContext, open: str | None = None, retired: str | None = None,
                 done: str | None = None) -> Response:
    """The tree, one level at a time: the open node (default: the member's scope root) and its children."""
    scope = await _places_scope(ctx)
    node_id = as_id(open)
    if open and node_id is None:
        raise NotFound()
    node = await services.visible_node(ctx.db, scope, node_id) if node_id else await services.scope_root(ctx.db, scope)
    return await _places_page(request, ctx, scope, node, show_retired=checked(retired), done=done)


@get("/places/{node_id:int}/children")
async def place_children(request: Request, ctx: TenantContext, node_id: int, retired: str | None = None) -> Response:
    """htmx partial: a node's children (at most PARTIAL_LIMIT; the full page lists them all)."""
    scope = await _places_scope(ctx)
    node = await services.visible_node(ctx.db, scope, node_id)
    show_retired = checked(retired)
    children, total = await services.children_of(ctx.db, node, show_retired=show_retired,
                                                 limit=services.PARTIAL_LIMIT)
    return page(request, "tenancy/_children.html", node=node, children=children, total=total, retired=show_retired,
                base=ctx.base, kind_names=NODE_KIND_NAMES)


@post("/places/{node_id:int}/children")
async def add_place(request: Request, ctx: TenantContext, node_id: int) -> Response:
    scope = await _places_scope(ctx)
    parent = await services.visible_node(ctx.db, scope, node_id)
    if not services.can_add_under(scope, parent):
        raise NotFound()
    form = await request.form()
    values = bounded(form, ("name", "kind", "division_code"))
    try:
        await ctx.attempt(services.add_child(
            ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, scope=scope, parent=parent, name=values["name"],
            kind=values["kind"], division_code=values["division_code"], client_addr=client_addr(request)))
    except Refusal as refusal:
        parent = await services.visible_node(ctx.db, scope, node_id)
        return await _places_page(request, ctx, scope, parent, show_retired=False, status_code=400,
                                  error=refusal.text(), form=values)
    return see_other(f"{ctx.base}/places?open={node_id}&done=added")


async def _place_page(request: Request, ctx: TenantContext, scope: Scope, node: AdminNode, *,
                      status_code: int = 200, error: str | None = None, form: dict | None = None) -> Response:
    return page(
        request, "tenancy/place.html", status_code=status_code, node=node, base=ctx.base,
        crumbs=await services.breadcrumb(ctx.db, scope, node), kind_names=NODE_KIND_NAMES,
        targets=await services.move_targets(ctx.db, scope, node) if node.retired_at is None else [],
        error=error, form=form or {"name": node.name, "division_code": node.division_code or ""},
    )


async def _editable(ctx: TenantContext, node_id: int) -> tuple[Scope, AdminNode]:
    scope = await _places_scope(ctx)
    node = await services.visible_node(ctx.db, scope, node_id)
    if not services.can_edit_node(scope, node):
        raise NotFound()
    return scope, node


@get("/places/{node_id:int}")
async def place(request: Request, ctx: TenantContext, node_id: int) -> Response:
    """Change one place: rename, move, retire (county admins; township staff below their own node)."""
    scope, node = await _editable(ctx, node_id)
    return await _place_page(request, ctx, scope, node)


async def _place_change(request: Request, ctx: TenantContext, node_id: int, action: str) -> Response:
    scope, node = await _editable(ctx, node_id)
    form = await request.form()
    values = bounded(form, ("name", "division_code", "parent"))
    common = dict(tenant_id=ctx.tenant.id, actor_id=ctx.user.id, scope=scope, node=node,
                  client_addr=client_addr(request))
    try:
        if action == "renamed":
            await ctx.attempt(services.rename(ctx.db, name=values["name"], division_code=values["division_code"],
                                              **common))
        elif action == "moved":
            target = as_id(values["parent"])
            if target is None:
                raise Refusal(lazy("Choose the new parent from the list."))
            await ctx.attempt(services.move(ctx.db, new_parent_id=target, **common))
        else:
            await ctx.attempt(retire_place(ctx.db, **common))
    except Refusal as refusal:
        node = await services.visible_node(ctx.db, scope, node_id)
        if action != "renamed":
            values.update(name=node.name, division_code=node.division_code or "")
        return await _place_page(request, ctx, scope, node, status_code=400, error=refusal.text(), form=values)
    where = node.parent_id if action == "retired" else node.id
    return see_other(f"{ctx.base}/places?open={where}&done={action}")


@post("/places/{node_id:int}/rename")
async def rename_place(request: Request, ctx: TenantContext, node_id: int) -> Response:
    return await _place_change(request, ctx, node_id, "renamed")


@post("/places/{node_id:int}/move")
async def move_place(request: Request, ctx: TenantContext, node_id: int) -> Response:
    return await _place_change(request, ctx, node_id, "moved")


@post("/places/{node_id:int}/retire")
async def retire(request: Request, ctx: TenantContext, node_id: int) -> Response:
    return await _place_change(request, ctx, node_id, "retired")


route_handlers = [places, place_children, add_place, place, rename_place, move_place, retire]
