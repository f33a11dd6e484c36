"""The tenant's own pages under /t/{tenant_slug}/: the administrative tree (/places) and the
county's configuration (/settings: naming rule, lifecycle, seats, station kinds, checklist)."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.web import bounded, client_addr, page, see_other
from app.stations.models import StationKind
from app.tenancy import config, services
from app.tenancy.access import TenantContext, settings_change
from app.tenancy.models import NODE_KINDS, AdminNode
from app.tenancy.scope import Scope
from app.tenancy.services import CHILD_KINDS, NODE_KIND_NAMES

DONE = {
    "added": lazy("The place has been added."),
    "renamed": lazy("The place has been renamed."),
    "moved": lazy("The place has been moved."),
    "retired": lazy("The place has been retired."),
    "saved": lazy("The settings have been saved."),
    "kind_added": lazy("The station kind has been added."),
    "kind_saved": lazy("The station kind has been saved."),
    "kind_retired": lazy("The station kind has been retired."),
    "item_added": lazy("The checklist item has been added."),
    "item_saved": lazy("The checklist item has been saved."),
    "item_retired": lazy("The checklist item has been retired."),
}


def _flag(value: object) -> bool:
    return str(value or "") in ("1", "on", "true")


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
    return await _places_page(request, ctx, scope, node, show_retired=_flag(retired), done=done)


@get("/places/{node_id:int}/children")
async def place_children(request: Request, ctx: TenantContext, node_id: int, retired: str | None = None) -> Response:
    """htmx partial: a node's children (at most PARTIAL_LIMIT; the full page lists them all)."""
    scope = await _places_scope(ctx)
    node = await services.visible_node(ctx.db, scope, node_id)
    show_retired = _flag(retired)
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
            await ctx.attempt(services.retire(ctx.db, **common))
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
async def retire_place(request: Request, ctx: TenantContext, node_id: int) -> Response:
    return await _place_change(request, ctx, node_id, "retired")


# --- settings (county admins only) -------------------------------------------------------------


async def _settings_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                         form: dict | None = None, done: str | None = None) -> Response:
    cfg = await config.get_config(ctx.db, ctx.tenant.id)
    if form is None:
        form = {"forbidden_words": "\n".join(cfg.forbidden_words), "approval": cfg.approval, "filing": cfg.filing,
                "checklist_name": cfg.checklist_name, **{k: str(getattr(cfg, k)) for k in config.ACTIVITY_SETTINGS}}
        for level in config.SEAT_FORM_LEVELS:
            for bound in ("min", "max"):
                value = (cfg.seats.get(level) or {}).get(bound)
                form[f"seats_{level}_{bound}"] = "" if value is None else str(value)
    return page(request, "tenancy/settings.html", status_code=status_code, cfg=cfg, form=form, error=error,
                done=DONE.get(done or ""), base=ctx.base, levels=config.SEAT_FORM_LEVELS,
                level_names=config.SEAT_LEVEL_NAMES)


@get("/settings")
async def settings_page(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _settings_page(request, ctx, done=done)


@post("/settings")
async def save_settings(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    form = await request.form()
    values = bounded(form, ("forbidden_words", "checklist_name"), 4000)
    values.update(approval=_flag(form.get("approval")), filing=_flag(form.get("filing")))
    for level in config.SEAT_FORM_LEVELS:
        for bound in ("min", "max"):
            values[f"seats_{level}_{bound}"] = str(form.get(f"seats_{level}_{bound}", ""))[:10]
    for key in config.ACTIVITY_SETTINGS:  # a field not sent keeps its value (None)
        values[key] = str(form.get(key))[:10] if key in form else None

    async def change() -> None:
        current = await config.get_config(ctx.db, ctx.tenant.id)
        await config.save_config(
            ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
            forbidden_words=config.parse_words(values["forbidden_words"]), approval=values["approval"],
            filing=values["filing"], seats=config.parse_seats(values), checklist_name=values["checklist_name"],
            activity=config.parse_activity_settings(values, current), client_addr=client_addr(request),
        )

    return await settings_change(
        ctx, change, lambda error: _settings_page(request, ctx, status_code=400, error=error, form=values),
        "/settings?done=saved",
    )


def _kind_form(form) -> dict:
    values = bounded(form, ("code", "name", "name_pattern", "sort"), 400)
    values["node_kinds"] = [str(v) for v in form.getall("node_kinds", [])][:len(NODE_KINDS) + 1] \
        if hasattr(form, "getall") else []
    return values


async def _example(ctx: TenantContext, pattern: str, node_kinds: list[str], name: str) -> str | None:
    if not pattern:
        return None
    chain = await config.example_node(ctx.db, node_kinds)
    return config.canonical_name(pattern, chain, name) if chain else None


async def _kinds_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                      form: dict | None = None, done: str | None = None) -> Response:
    return page(request, "tenancy/kinds.html", status_code=status_code, kinds=await config.list_kinds(ctx.db),
                form=form or {"node_kinds": [], "sort": "0"}, error=error, done=DONE.get(done or ""),
                base=ctx.base, node_kinds=NODE_KINDS, kind_names=NODE_KIND_NAMES)


@get("/settings/kinds")
async def kinds_page(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _kinds_page(request, ctx, done=done)


@post("/settings/kinds")
async def add_kind(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    values = _kind_form(await request.form())
    return await settings_change(
        ctx,
        lambda: config.save_kind(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, kind=None,
                                 client_addr=client_addr(request), **values),
        lambda error: _kinds_page(request, ctx, status_code=400, error=error, form=values),
        "/settings/kinds?done=kind_added",
    )


async def _kind_page(request: Request, ctx: TenantContext, kind: StationKind, *, status_code: int = 200,
                     error: str | None = None, form: dict | None = None, done: str | None = None) -> Response:
    form = form or {"code": kind.code, "name": kind.name, "node_kinds": list(kind.node_kinds),
                    "name_pattern": kind.name_pattern, "sort": str(kind.sort)}
    example = await _example(ctx, kind.name_pattern, list(kind.node_kinds), kind.name)
    return page(request, "tenancy/kind.html", status_code=status_code, kind=kind, form=form, error=error,
                done=DONE.get(done or ""), example=example, base=ctx.base, node_kinds=NODE_KINDS,
                kind_names=NODE_KIND_NAMES)


@get("/settings/kinds/{kind_id:int}")
async def kind_page(request: Request, ctx: TenantContext, kind_id: int, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _kind_page(request, ctx, await config.get_kind(ctx.db, kind_id), done=done)


@post("/settings/kinds/{kind_id:int}")
async def save_kind(request: Request, ctx: TenantContext, kind_id: int) -> Response:
    ctx.require_role("county_admin")
    kind = await config.get_kind(ctx.db, kind_id)
    values = _kind_form(await request.form())

    async def refused(error: str) -> Response:
        return await _kind_page(request, ctx, await config.get_kind(ctx.db, kind_id), status_code=400,
                                error=error, form=values)

    return await settings_change(
        ctx,
        lambda: config.save_kind(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, kind=kind,
                                 client_addr=client_addr(request), **values),
        refused, f"/settings/kinds/{kind_id}?done=kind_saved",
    )


@post("/settings/kinds/{kind_id:int}/retire")
async def retire_kind(request: Request, ctx: TenantContext, kind_id: int) -> Response:
    ctx.require_role("county_admin")
    kind = await config.get_kind(ctx.db, kind_id)

    async def refused(error: str) -> Response:
        return await _kind_page(request, ctx, await config.get_kind(ctx.db, kind_id), status_code=400, error=error)

    return await settings_change(
        ctx,
        lambda: config.retire_kind(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, kind=kind,
                                   client_addr=client_addr(request)),
        refused, "/settings/kinds?done=kind_retired",
    )


async def _checklist_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                          form: dict | None = None, done: str | None = None) -> Response:
    return page(request, "tenancy/checklist.html", status_code=status_code, items=await config.list_items(ctx.db),
                cfg=await config.get_config(ctx.db, ctx.tenant.id), form=form or {"sort": "0"}, error=error,
                done=DONE.get(done or ""), base=ctx.base)


@get("/settings/checklist")
async def checklist_page(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _checklist_page(request, ctx, done=done)


@post("/settings/checklist")
async def add_item(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    form = await request.form()
    values = bounded(form, ("code", "label", "sort"), 400)
    return await settings_change(
        ctx,
        lambda: config.save_item(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, item=None,
                                 client_addr=client_addr(request), **values),
        lambda error: _checklist_page(request, ctx, status_code=400, error=error, form=values),
        "/settings/checklist?done=item_added",
    )


async def _item_page(request: Request, ctx: TenantContext, item, *, status_code: int = 200,
                     error: str | None = None, form: dict | None = None) -> Response:
    return page(request, "tenancy/item.html", status_code=status_code, item=item, error=error, base=ctx.base,
                form=form or {"label": item.label, "sort": str(item.sort)})


@get("/settings/checklist/{item_id:int}")
async def item_page(request: Request, ctx: TenantContext, item_id: int) -> Response:
    ctx.require_role("county_admin")
    return await _item_page(request, ctx, await config.get_item(ctx.db, item_id))


@post("/settings/checklist/{item_id:int}")
async def save_item(request: Request, ctx: TenantContext, item_id: int) -> Response:
    ctx.require_role("county_admin")
    item = await config.get_item(ctx.db, item_id)
    form = await request.form()
    values = bounded(form, ("label", "sort"), 400)

    async def refused(error: str) -> Response:
        return await _item_page(request, ctx, await config.get_item(ctx.db, item_id), status_code=400,
                                error=error, form=values)

    return await settings_change(
        ctx,
        lambda: config.save_item(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, item=item,
                                 client_addr=client_addr(request), **values),
        refused, "/settings/checklist?done=item_saved",
    )


@post("/settings/checklist/{item_id:int}/retire")
async def retire_item(request: Request, ctx: TenantContext, item_id: int) -> Response:
    ctx.require_role("county_admin")
    item = await config.get_item(ctx.db, item_id)

    async def refused(error: str) -> Response:
        return await _item_page(request, ctx, await config.get_item(ctx.db, item_id), status_code=400, error=error)

    return await settings_change(
        ctx,
        lambda: config.retire_item(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, item=item,
                                   client_addr=client_addr(request)),
        refused, "/settings/checklist?done=item_retired",
    )


route_handlers = [
    places, place_children, add_place, place, rename_place, move_place, retire_place,
    settings_page, save_settings, kinds_page, add_kind, kind_page, save_kind, retire_kind,
    checklist_page, add_item, item_page, save_item, retire_item,
]
