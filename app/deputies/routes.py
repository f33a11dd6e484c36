"""Deputies' pages under /t/{tenant_slug}/deputies: the list, a deputy's page and its forms
(profile, mobile reveal, status, photo, linked account, mandates, stationing), the groups and the
应进必进 checks. Thin: access → service → render; every refusal is a 400 page and writes nothing.
"""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import PermissionDeniedException

from litestar.params import Parameter

from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.images import MAX_UPLOAD_BYTES, get_image
from app.core.kept_pages import kept_page
from app.core.security import mask_mobile
from app.core.web import client_addr, page, safe_next, see_other
from app.deputies import access, exports, imports, services
from app.deputies import checks as deputy_checks
from app.deputies import groups as deputy_groups
from app.deputies.models import DEPUTY_STATUS_NAMES, DEPUTY_STATUSES, LEVEL_NAMES, LEVELS
from app.deputies.listing import PER_PAGE, Filters, list_deputies
from app.deputies.services import Actor
from app.tenancy.access import TenantContext

DONE_MESSAGES = {
    "created": lazy("The deputy has been added."),
    "profile": lazy("The deputy's details have been saved."),
    "unchanged": lazy("Nothing was changed."),
    "status": lazy("The deputy's status has been changed."),
    "photo": lazy("The photo has been saved."),
    "account": lazy("The linked account has been saved."),
    "mandate": lazy("The mandate has been added."),
    "mandate_removed": lazy("The mandate has been removed."),
    "assigned": lazy("The deputy has been stationed."),
    "assigned_more": lazy("The deputy has been stationed. Note: the deputy is now at more than one station."),
    "ended": lazy("The assignment has ended; it stays in the history."),
    "group": lazy("The group has been saved."),
}
FORM_KEYS = ("name", "mobile", "occupation", "work_unit", "public_contact", "group_id", "level", "term", "direct",
             "constituency", "constituency_node_id", "station_id", "status", "note", "user_id", "deputy_id",
             "remove_mobile", "next")


async def _actor(request: Request, ctx: TenantContext) -> Actor:
    return Actor(tenant_id=ctx.tenant.id, user_id=ctx.user.id, scope=await ctx.scope(),
                 client_addr=client_addr(request))


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(form.get(k) or "")[:2000] for k in FORM_KEYS if isinstance(form.get(k, ""), str)}


def _common(ctx: TenantContext) -> dict:
    return dict(base=ctx.base, LEVELS=LEVELS, LEVEL_NAMES=LEVEL_NAMES, DEPUTY_STATUSES=DEPUTY_STATUSES,
                DEPUTY_STATUS_NAMES=DEPUTY_STATUS_NAMES, mask_mobile=mask_mobile)


# --- the list ---------------------------------------------------------------------------------

@get("/deputies")
async def deputy_list(
    request: Request, ctx: TenantContext, q: str = "", level: str = "", status: str = "", group: str = "",
    unassigned: str = "", page_no: int = Parameter(query="page", default=1),
) -> Response:
    scope = await ctx.scope()
    access.require_view(scope.role)
    filters = Filters(q=q.strip()[:40], level=level if level in LEVELS else "",
                      status=status if status in DEPUTY_STATUSES else "", group_id=as_id(group),
                      unassigned=unassigned == "1", page=max(1, min(page_no, 100_000)))

    async def reads() -> dict:  # kept until the county's data changes (app.core.read_cache)
        rows, total = await list_deputies(ctx.db, scope, filters)
        return dict(rows=rows, total=total, pages=max(1, -(-total // PER_PAGE)),
                    groups=await services.group_choices(ctx.db) if scope.role != "deputy" else [])

    return await kept_page(
        request, "deputies/list.html", tenant_id=ctx.tenant.id,
        name=f"deputies:{ctx.membership.id}:{scope.role}:{filters!r}", reads=reads, filters=filters, can_edit=scope.can_edit, staff=scope.role in access.STAFF_ROLES,
        can_export=scope.role in exports.EXPORT_ROLES, can_import=scope.role in imports.IMPORT_ROLES, **_common(ctx),
    )


@get("/deputies/new")
async def deputy_new(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    access.require_view(scope.role)
    if not scope.can_edit:
        raise PermissionDeniedException()
    return await _new_page(request, ctx, {"direct": "1", "status": "active"})


async def _new_page(request: Request, ctx: TenantContext, form: dict, error: str | None = None,
                    status_code: int = 200) -> Response:
    scope = await ctx.scope()
    return page(
        request, "deputies/new.html", status_code=status_code, form=form, error=error,
        nodes=await services.node_choices(ctx.db, scope), stations=await services.station_choices(ctx.db, scope),
        groups=await services.group_choices(ctx.db), whole_tenant=scope.whole_tenant, **_common(ctx),
    )


@post("/deputies")
async def deputy_create(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    access.require_view(scope.role)
    if not scope.can_edit:
        raise PermissionDeniedException()
    form = await _form(request)
    try:
        deputy = await ctx.attempt(services.create_deputy(ctx.db, await _actor(request, ctx), form))
    except Refusal as refusal:
        return await _new_page(request, ctx, form, refusal.text(), 400)
    return see_other(f"{ctx.base}/deputies/{deputy.id}?done=created")


# --- one deputy -------------------------------------------------------------------------------

async def _detail_page(
    request: Request, ctx: TenantContext, deputy_id: int, *, status_code: int = 200, error: str | None = None,
    error_for: str | None = None, form: dict | None = None, done: str | None = None,
    revealed: str | None = None,
) -> Response:
    scope = await ctx.scope()
    deputy = await access.access_deputy(ctx.db, scope, deputy_id)
    detail = await services.deputy_detail(ctx.db, scope, deputy)
    admin = scope.role == "county_admin"
    return page(
        request, "deputies/detail.html", status_code=status_code, d=detail, deputy=deputy, error=error,
        error_for=error_for, form=form or {}, done=DONE_MESSAGES.get(done or ""), revealed=revealed,
        can_edit=scope.can_edit, can_link=admin,
        stations=await services.station_choices(ctx.db, scope) if scope.can_edit else [],
        groups=await services.group_choices(ctx.db) if scope.can_edit else [],
        members=await services.member_choices(ctx.db, ctx.tenant.id) if admin else [],
        staff=scope.role in access.STAFF_ROLES, **_common(ctx),
    )


@get("/deputies/{deputy_id:int}")
async def deputy_page(request: Request, ctx: TenantContext, deputy_id: int, done: str | None = None) -> Response:
    return await _detail_page(request, ctx, deputy_id, done=done)


async def _change(request: Request, ctx: TenantContext, deputy_id: int, part: str, action, done: str) -> Response:
    """Fetch the deputy (404 out of scope), refuse roles that may not edit (403), run the service;
    a refusal re-renders the page with status 400 and nothing written."""
    scope = await ctx.scope()
    deputy = await access.access_deputy(ctx.db, scope, deputy_id)
    form = await _form(request)
    try:
        result = await ctx.attempt(action(await _actor(request, ctx), deputy, form))
    except Refusal as refusal:
        return await _detail_page(request, ctx, deputy_id, status_code=400, error=refusal.text(), error_for=part,
                                  form=form)
    if isinstance(result, str):
        done = result
    target = f"{ctx.base}/deputies/{deputy_id}?done={done}"
    if form.get("next"):
        target = safe_next(form["next"], target)
    return see_other(target)


def _editor(ctx: TenantContext, scope_role_ok: bool) -> None:
    if not scope_role_ok:
        raise PermissionDeniedException()


@post("/deputies/{deputy_id:int}/profile")
async def deputy_update(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    async def act(actor, deputy, form):
        _editor(ctx, actor.scope.can_edit)
        return "profile" if await services.update_profile(ctx.db, actor, deputy, form) else "unchanged"
    return await _change(request, ctx, deputy_id, "profile", act, "profile")


@post("/deputies/{deputy_id:int}/mobile")
async def deputy_reveal_mobile(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    """Shows the full number in place (never in a URL), after writing the audit entry."""
    scope = await ctx.scope()
    deputy = await access.access_deputy(ctx.db, scope, deputy_id)
    number = await services.reveal_mobile(ctx.db, await _actor(request, ctx), deputy)
    return await _detail_page(request, ctx, deputy_id, revealed=number or "")


@post("/deputies/{deputy_id:int}/status")
async def deputy_status(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    async def act(actor, deputy, form):
        _editor(ctx, actor.scope.can_edit)
        await services.set_status(ctx.db, actor, deputy, form.get("status"), form.get("note"))
    return await _change(request, ctx, deputy_id, "status", act, "status")


@post("/deputies/{deputy_id:int}/photo", opt={"uploads": True}, request_max_body_size=MAX_UPLOAD_BYTES + 65_536)
async def deputy_photo_upload(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    scope = await ctx.scope()
    deputy = await access.access_deputy(ctx.db, scope, deputy_id)
    if not scope.can_edit:
        raise PermissionDeniedException()
    upload = (await request.form()).get("photo")
    raw = await upload.read() if isinstance(upload, UploadFile) else None
    try:
        await ctx.attempt(services.set_photo(ctx.db, await _actor(request, ctx), deputy, raw))
    except Refusal as refusal:
        return await _detail_page(request, ctx, deputy_id, status_code=400, error=refusal.text(), error_for="photo")
    return see_other(f"{ctx.base}/deputies/{deputy_id}?done=photo")


@get("/deputies/{deputy_id:int}/photo")
async def deputy_photo(ctx: TenantContext, deputy_id: int) -> Response:
    scope = await ctx.scope()
    deputy = await access.access_deputy(ctx.db, scope, deputy_id)
    image = await get_image(ctx.db, deputy.photo_id) if deputy.photo_id else None
    if image is None:
        raise NotFound()
    return Response(image.data, media_type=image.media_type,
                    headers={"Cache-Control": "private, max-age=3600"})


@post("/deputies/{deputy_id:int}/account")
async def deputy_account(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    async def act(actor, deputy, form):
        _editor(ctx, actor.scope.role == "county_admin")
        await services.link_user(ctx.db, actor, deputy, form.get("user_id"))
    return await _change(request, ctx, deputy_id, "account", act, "account")


@get("/deputies/{deputy_id:int}/mandates/new")
async def mandate_new(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    scope = await ctx.scope()
    deputy = await access.access_deputy(ctx.db, scope, deputy_id)
    if not scope.can_edit:
        raise PermissionDeniedException()
    return await _mandate_page(request, ctx, deputy, {"direct": "1"})


async def _mandate_page(request, ctx, deputy, form, error=None, status_code=200) -> Response:
    scope = await ctx.scope()
    return page(request, "deputies/mandate_new.html", status_code=status_code, deputy=deputy, form=form,
                error=error, nodes=await services.node_choices(ctx.db, scope), **_common(ctx))


@post("/deputies/{deputy_id:int}/mandates")
async def mandate_add(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    scope = await ctx.scope()
    deputy = await access.access_deputy(ctx.db, scope, deputy_id)
    if not scope.can_edit:
        raise PermissionDeniedException()
    form = await _form(request)
    try:
        await ctx.attempt(services.add_mandate(ctx.db, await _actor(request, ctx), deputy, form))
    except Refusal as refusal:
        deputy = await access.access_deputy(ctx.db, scope, deputy_id)
        return await _mandate_page(request, ctx, deputy, form, refusal.text(), 400)
    return see_other(f"{ctx.base}/deputies/{deputy_id}?done=mandate")


@post("/deputies/{deputy_id:int}/mandates/{mandate_id:int}/remove")
async def mandate_remove(request: Request, ctx: TenantContext, deputy_id: int, mandate_id: int) -> Response:
    async def act(actor, deputy, form):
        mandate = await access.access_mandate(ctx.db, deputy, mandate_id)
        _editor(ctx, actor.scope.can_edit)
        await services.remove_mandate(ctx.db, actor, deputy, mandate)
    return await _change(request, ctx, deputy_id, "mandates", act, "mandate_removed")


@post("/deputies/{deputy_id:int}/assign")
async def deputy_assign(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    """Station the deputy at station_id (from the deputy's page, or from a station's page with
    ``next`` to go back to)."""
    async def act(actor, deputy, form):
        _editor(ctx, actor.scope.can_edit)
        _, others = await services.assign(ctx.db, actor, deputy, form.get("station_id"))
        return "assigned_more" if others else "assigned"
    return await _change(request, ctx, deputy_id, "assign", act, "assigned")


@post("/deputies/{deputy_id:int}/assignments/{assignment_id:int}/end")
async def assignment_end(request: Request, ctx: TenantContext, deputy_id: int, assignment_id: int) -> Response:
    async def act(actor, deputy, form):
        assignment = await access.access_assignment(ctx.db, deputy, assignment_id)
        _editor(ctx, actor.scope.can_edit)
        await services.end_assignment(ctx.db, actor, deputy, assignment)
    return await _change(request, ctx, deputy_id, "assignments", act, "ended")


# --- groups -----------------------------------------------------------------------------------

async def _groups_page(request, ctx, *, error=None, form=None, status_code=200, done=None) -> Response:
    scope = await ctx.scope()
    access.require_staff(scope.role)
    return page(request, "deputies/groups.html", status_code=status_code,
                groups=await deputy_groups.list_groups(ctx.db, scope), error=error, form=form or {},
                done=DONE_MESSAGES.get(done or ""), can_manage=scope.role == "county_admin", **_common(ctx))


@get("/deputies/groups")
async def groups(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    return await _groups_page(request, ctx, done=done)


@post("/deputies/groups")
async def group_create(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    access.require_staff(scope.role)
    if scope.role != "county_admin":
        raise PermissionDeniedException()
    form = await _form(request)
    try:
        group = await ctx.attempt(deputy_groups.create_group(ctx.db, await _actor(request, ctx), form.get("name")))
    except Refusal as refusal:
        return await _groups_page(request, ctx, error=refusal.text(), form=form, status_code=400)
    return see_other(f"{ctx.base}/deputies/groups/{group.id}?done=group")


async def _group_page(request, ctx, group_id, *, error=None, error_for=None, form=None, status_code=200,
                      done=None) -> Response:
    scope = await ctx.scope()
    group = await access.access_group(ctx.db, scope, group_id)
    members = await deputy_groups.group_members(ctx.db, scope, group)
    leader = next((m.deputy for m in members if m.deputy.id == group.leader_deputy_id), None)
    leader_name = leader.name if leader else None
    if group.leader_deputy_id and leader is None:  # a leader outside the member's scope: name only
        leader_name = next((g.leader_name for g in await deputy_groups.list_groups(ctx.db, scope)
                            if g.group.id == group.id), None)
    return page(request, "deputies/group.html", status_code=status_code, group=group, members=members,
                leader_name=leader_name, error=error, error_for=error_for, form=form or {},
                done=DONE_MESSAGES.get(done or ""), can_manage=scope.role == "county_admin", **_common(ctx))


@get("/deputies/groups/{group_id:int}")
async def group_page(request: Request, ctx: TenantContext, group_id: int, done: str | None = None) -> Response:
    return await _group_page(request, ctx, group_id, done=done)


async def _group_change(request, ctx, group_id, part, action) -> Response:
    scope = await ctx.scope()
    group = await access.access_group(ctx.db, scope, group_id)
    if scope.role != "county_admin":
        raise PermissionDeniedException()
    form = await _form(request)
    try:
        await ctx.attempt(action(await _actor(request, ctx), group, form))
    except Refusal as refusal:
        return await _group_page(request, ctx, group_id, error=refusal.text(), error_for=part, form=form,
                                 status_code=400)
    return see_other(f"{ctx.base}/deputies/groups/{group_id}?done=group")


@post("/deputies/groups/{group_id:int}/rename")
async def group_rename(request: Request, ctx: TenantContext, group_id: int) -> Response:
    async def act(actor, group, form):
        await deputy_groups.rename_group(ctx.db, actor, group, form.get("name"))
    return await _group_change(request, ctx, group_id, "rename", act)


@post("/deputies/groups/{group_id:int}/leader")
async def group_leader(request: Request, ctx: TenantContext, group_id: int) -> Response:
    async def act(actor, group, form):
        await deputy_groups.set_leader(ctx.db, actor, group, form.get("deputy_id"))
    return await _group_change(request, ctx, group_id, "leader", act)


# --- 应进必进 checks -----------------------------------------------------------------------------

@get("/deputies/checks")
async def checks(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    access.require_staff(scope.role)
    missing, missing_total = await deputy_checks.unassigned(ctx.db, scope, limit=200)
    guidance, gaps = await deputy_checks.seat_gaps(ctx.db, scope)
    return page(
        request, "deputies/checks.html", unassigned=missing, unassigned_total=missing_total,
        outside=await deputy_checks.outside_constituency(ctx.db, scope), guidance=guidance, gaps=gaps,
        can_edit=scope.can_edit, **_common(ctx),
    )


route_handlers = [
    deputy_list, deputy_new, deputy_create, deputy_page, deputy_update, deputy_reveal_mobile, deputy_status,
    deputy_photo_upload, deputy_photo, deputy_account, mandate_new, mandate_add, mandate_remove, deputy_assign,
    assignment_end, groups, group_create, group_page, group_rename, group_leader, checks,
]
