"""A tenant admin's pages about people: members, roles, invitations (under /t/{tenant_slug}/).

Only county administrators see them; anyone else gets the ordinary not-found page.
"""

from __future__ import annotations


from litestar import Request, Response, get, post

from app.accounts import invitations, services
from app.accounts.models import ROLES
from app.core.db import MAX_ID
from app.core.errors import NotFound, Refusal
from app.core.i18n import gettext, lazy
from app.core.security import mask_mobile
from app.core.web import absolute_url, client_addr, page, see_other
from app.tenancy.access import TenantContext

JOINT_INVITES = lazy("In a joint station each member county gives its own people roles, from the Joint stations "
                     "page of that county.")
JOINT_NOT_YOURS = lazy("Another member county gave this person their role in the joint station: only that county's "
                       "admin changes or removes it.")
REMOVE_UNCONFIRMED = lazy("Tick the box to confirm that this person is removed from this unit.")
DONE_MESSAGES = {
    "role": lazy("The role has been changed."),
    "removed": lazy("The member has been removed and signed out of this unit."),
    "revoked": lazy("The invitation has been withdrawn; its link no longer works."),
    "unlocked": lazy("The member's sign-in has been unlocked: they can sign in again."),
}


def _scope_id(value: object) -> int | None:
    """The scope <select>'s value: empty for none, else a node id (anything else: not from the list)."""
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise Refusal(services.CHOOSE_FROM_LIST)
    return int(text)


def _other_countys(ctx: TenantContext, row: services.MemberRow) -> bool:
    """In a joint station, a member county's admin changes only the people their own county gave roles."""
    return ctx.tenant.kind == "joint" and row.membership.home_tenant_id != ctx.membership.home_tenant_id


async def _members_page(
    request: Request, ctx: TenantContext, *, status_code: int = 200, form: dict | None = None,
    error: str | None = None, done: str | None = None,
) -> Response:
    return page(
        request, "accounts/members.html", status_code=status_code,
        members=await services.list_members(ctx.db, ctx.tenant.id),
        pending=await invitations.pending_invitations(ctx.db, ctx.tenant.id),
        scopes=await services.scope_choices(ctx.db, ctx.tenant.id),
        form=form or {}, error=error, done=DONE_MESSAGES.get(done or ""), roles=ROLES,
        tz=ctx.tz, mask_mobile=mask_mobile, base=ctx.base,
    )


async def _member(ctx: TenantContext, membership_id: int) -> services.MemberRow:
    row = await services.get_member(ctx.db, ctx.tenant.id, membership_id) if membership_id <= MAX_ID else None
    if row is None:
        raise NotFound()
    return row


async def _member_page(
    request: Request, ctx: TenantContext, row: services.MemberRow, *, status_code: int = 200,
    error: str | None = None, form: dict | None = None,
) -> Response:
    m = row.membership
    return page(
        request, "accounts/member.html", status_code=status_code, row=row, error=error,
        form=form or {"role": m.role, "scope": str(m.scope_node_id or "")},
        scopes=await services.scope_choices(ctx.db, ctx.tenant.id), roles=ROLES,
        tz=ctx.tz, mask_mobile=mask_mobile, base=ctx.base,
        is_self=row.user.id == ctx.user.id,
        locked=await services.sign_in_locked(ctx.db, request.app.state.settings, row.user.id),
    )


@get("/members")
async def members(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _members_page(request, ctx, done=done)


@post("/invitations")
async def create_invitation(request: Request, ctx: TenantContext) -> Response:
    """Answered with the link itself (200, no-store), not a redirect: the token is shown once and
    must not travel through a URL or the session."""
    ctx.require_role("county_admin")
    form = await request.form()
    values = {key: str(form.get(key, ""))[:100] for key in ("name", "mobile", "role", "scope")}
    if ctx.tenant.kind == "joint":
        return await _members_page(request, ctx, status_code=400, form=values, error=gettext(JOINT_INVITES))
    try:
        issued = await ctx.attempt(invitations.invite(
            ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, display_name=values["name"],
            role=values["role"], mobile=values["mobile"], scope_node_id=_scope_id(values["scope"]),
            client_addr=client_addr(request),
        ))
    except Refusal as refusal:
        return await _members_page(request, ctx, status_code=400, form=values, error=refusal.text())
    path = issued.path(ctx.tenant.slug)
    return page(
        request, "accounts/invited.html", invitation=issued.invitation, link=absolute_url(request, path),
        tz=ctx.tz, base=ctx.base, days=invitations.INVITATION_DAYS,
    )


@post("/invitations/{invitation_id:int}/revoke")
async def revoke_invitation(request: Request, ctx: TenantContext, invitation_id: int) -> Response:
    ctx.require_role("county_admin")
    invitation = await invitations.get_pending(ctx.db, ctx.tenant.id, invitation_id) if invitation_id <= MAX_ID else None
    if invitation is None:
        raise NotFound()
    await invitations.revoke(ctx.db, invitation, actor_id=ctx.user.id, client_addr=client_addr(request))
    return see_other(f"{ctx.base}/members?done=revoked")


@get("/members/{membership_id:int}")
async def member(request: Request, ctx: TenantContext, membership_id: int) -> Response:
    ctx.require_role("county_admin")
    return await _member_page(request, ctx, await _member(ctx, membership_id))


@post("/members/{membership_id:int}/role")
async def change_role(request: Request, ctx: TenantContext, membership_id: int) -> Response:
    ctx.require_role("county_admin")
    row = await _member(ctx, membership_id)
    form = await request.form()
    values = {key: str(form.get(key, ""))[:100] for key in ("role", "scope")}
    if _other_countys(ctx, row):
        return await _member_page(request, ctx, row, status_code=400, error=gettext(JOINT_NOT_YOURS), form=values)
    try:
        await ctx.attempt(services.change_role(
            ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, row=row, role=values["role"],
            scope_node_id=_scope_id(values["scope"]), client_addr=client_addr(request),
        ))
    except Refusal as refusal:
        return await _member_page(
            request, ctx, await _member(ctx, membership_id), status_code=400, error=refusal.text(), form=values
        )
    return see_other(f"{ctx.base}/members?done=role")


@post("/members/{membership_id:int}/remove")
async def remove_member(request: Request, ctx: TenantContext, membership_id: int) -> Response:
    ctx.require_role("county_admin")
    row = await _member(ctx, membership_id)
    if _other_countys(ctx, row):
        return await _member_page(request, ctx, row, status_code=400, error=gettext(JOINT_NOT_YOURS))
    if str((await request.form()).get("confirm", "")) != "1":  # removal signs the person out at once
        return await _member_page(request, ctx, row, status_code=400, error=gettext(REMOVE_UNCONFIRMED))
    try:
        await ctx.attempt(services.remove_member(
            ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, row=row, client_addr=client_addr(request)
        ))
    except Refusal as refusal:
        return await _member_page(request, ctx, await _member(ctx, membership_id), status_code=400,
                                  error=refusal.text())
    if row.user.id == ctx.user.id:  # removed themself: this session has just ended
        return see_other("/")
    return see_other(f"{ctx.base}/members?done=removed")


@post("/members/{membership_id:int}/unlock")
async def unlock_member(request: Request, ctx: TenantContext, membership_id: int) -> Response:
    """A member locked out by failed sign-ins (someone guessing, from many addresses) asks their
    county admin, who knows them, to let them in again."""
    ctx.require_role("county_admin")
    row = await _member(ctx, membership_id)
    if _other_countys(ctx, row):
        return await _member_page(request, ctx, row, status_code=400, error=gettext(JOINT_NOT_YOURS))
    await services.unlock_sign_in(
        ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, row=row, client_addr=client_addr(request)
    )
    return see_other(f"{ctx.base}/members?done=unlocked")


route_handlers = [members, create_invitation, revoke_invitation, member, change_role, remove_member, unlock_member]
