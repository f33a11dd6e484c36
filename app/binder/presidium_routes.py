"""The township presidium's pages under /t/{tenant_slug}/binder/presidium: every township in reach with
its members and their contacts (add a member there), a member's page (change, or remove) and the
member's contacts (the deputies stationed in the township, by station). Thin: access → service →
render; a refusal shows the form again with its message and what was typed, status 400, nothing written."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.binder import presidium as svc
from app.binder.models import MAX_MEMBER_NAME, MAX_POST, MAX_SORT
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.security import mask_mobile
from app.core.web import bounded, client_addr, page, see_other
from app.deputies.services import Actor
from app.tenancy.access import TenantContext

HERE = "/binder/presidium"
FIELDS = ("name", "post", "deputy_id", "mobile", "sort", "remove_mobile")
DONE = {"added": lazy("The member has been added to the presidium."),
        "changed": lazy("The member's details have been saved."),
        "removed": lazy("The member has been removed from the presidium."),
        "contacts": lazy("The deputies the member contacts have been saved.")}


async def _actor(request: Request, ctx: TenantContext) -> Actor:
    actor = Actor(tenant_id=ctx.tenant.id, user_id=ctx.user.id, scope=await ctx.scope(),
                  client_addr=client_addr(request))
    svc.require_edit(actor.scope)
    return actor


def _limits() -> dict:
    return dict(MAX_MEMBER_NAME=MAX_MEMBER_NAME, MAX_POST=MAX_POST, MAX_SORT=MAX_SORT, POSTS=svc.POSTS)


async def _list_page(request: Request, ctx: TenantContext, done: str | None) -> Response:
    scope = await ctx.scope()
    return page(request, "binder/presidium.html", base=ctx.base, here=ctx.base + HERE,
                townships=await svc.overview(ctx.db, scope), can_edit=scope.role in svc.EDIT_ROLES,
                done=DONE.get(done or ""))


@get(HERE)
async def presidium_page(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    return await _list_page(request, ctx, done)


async def _member_page(request: Request, ctx: TenantContext, township: tuple, form: dict, *,
                       ref: svc.MemberRef | None = None, error: str | None = None,
                       status_code: int = 200) -> Response:
    """The form adding a member to ``township`` (id, name, path), or changing ``ref``."""
    mobile = ref.member.mobile if ref else None
    return page(request, "binder/presidium_member.html", status_code=status_code, base=ctx.base,
                here=ctx.base + HERE, township_id=township[0], township=township[1], ref=ref, form=form,
                error=error, masked=mask_mobile(mobile),
                deputies=await svc.deputy_choices(ctx.db, await ctx.scope(), township[2]), **_limits())


@get(f"{HERE}/new")
async def new_member_form(request: Request, ctx: TenantContext, township: str | None = None) -> Response:
    actor = await _actor(request, ctx)
    found = await svc.township_in_reach(ctx.db, actor.scope, township, asked=True)
    return await _member_page(request, ctx, found, {})


@post(f"{HERE}/new")
async def add_member(request: Request, ctx: TenantContext) -> Response:
    actor = await _actor(request, ctx)
    form = bounded(await request.form(), ("township", *FIELDS), 100)
    try:
        member = await ctx.attempt(svc.add_member(ctx.db, actor, form["township"], form))
    except Refusal as refusal:
        # a township out of reach is refused with the others' message; its form is not shown again
        found = await svc.township_in_reach(ctx.db, actor.scope, form["township"], asked=True)
        return await _member_page(request, ctx, found, form, error=refusal.text(), status_code=refusal.status)
    return see_other(f"{ctx.base}{HERE}?done=added#township-{member.node_id}")


@get(f"{HERE}/member")
async def member_form(request: Request, ctx: TenantContext, member: str | None = None) -> Response:
    actor = await _actor(request, ctx)
    ref = await svc.member_in_reach(ctx.db, actor.scope, member)
    m = ref.member
    form = {"name": m.name, "post": m.post, "deputy_id": str(m.deputy_id or ""), "sort": str(m.sort), "mobile": ""}
    return await _member_page(request, ctx, (m.node_id, ref.township, ref.path), form, ref=ref)


@post(f"{HERE}/member")
async def save_member(request: Request, ctx: TenantContext) -> Response:
    actor = await _actor(request, ctx)
    form = bounded(await request.form(), ("member", *FIELDS), 100)
    ref = await svc.member_in_reach(ctx.db, actor.scope, form["member"], for_update=True)
    try:
        await ctx.attempt(svc.update_member(ctx.db, actor, ref, form))
    except Refusal as refusal:
        # the refusal rolled the transaction back (and expired what it had read): read it again
        ref = await svc.member_in_reach(ctx.db, actor.scope, form["member"])
        return await _member_page(request, ctx, (ref.member.node_id, ref.township, ref.path), form, ref=ref,
                                  error=refusal.text(), status_code=refusal.status)
    return see_other(f"{ctx.base}{HERE}?done=changed#township-{ref.member.node_id}")


@post(f"{HERE}/remove")
async def remove_member(request: Request, ctx: TenantContext) -> Response:
    actor = await _actor(request, ctx)
    form = bounded(await request.form(), ("member",), 40)
    ref = await svc.member_in_reach(ctx.db, actor.scope, form["member"], for_update=True)
    node_id = ref.member.node_id
    await svc.remove_member(ctx.db, actor, ref)
    return see_other(f"{ctx.base}{HERE}?done=removed#township-{node_id}")


async def _contacts_page(request: Request, ctx: TenantContext, ref: svc.MemberRef, chosen: set[str], *,
                         error: str | None = None, status_code: int = 200) -> Response:
    return page(request, "binder/presidium_contacts.html", status_code=status_code, base=ctx.base,
                here=ctx.base + HERE, ref=ref, chosen=chosen, error=error,
                groups=await svc.contact_choices(ctx.db, await ctx.scope(), ref.path))


@get(f"{HERE}/contacts")
async def contacts_form(request: Request, ctx: TenantContext, member: str | None = None) -> Response:
    await _actor(request, ctx)
    ref = await svc.member_in_reach(ctx.db, await ctx.scope(), member)
    chosen = {str(d) for d in await svc.contacts_of(ctx.db, ref.member.id)}
    return await _contacts_page(request, ctx, ref, chosen)


@post(f"{HERE}/contacts")
async def save_contacts(request: Request, ctx: TenantContext) -> Response:
    actor = await _actor(request, ctx)
    raw = await request.form()
    member = bounded(raw, ("member",), 40)["member"]
    # one more than allowed is enough for the service to refuse too many
    chosen = [str(v)[:20] for v in raw.getall("deputy_id", [])][:svc.MAX_CONTACTS + 1]
    ref = await svc.member_in_reach(ctx.db, actor.scope, member, for_update=True)
    try:
        await ctx.attempt(svc.set_contacts(ctx.db, actor, ref, chosen))
    except Refusal as refusal:
        ref = await svc.member_in_reach(ctx.db, actor.scope, member)
        return await _contacts_page(request, ctx, ref, set(chosen), error=refusal.text(), status_code=refusal.status)
    return see_other(f"{ctx.base}{HERE}?done=contacts#township-{ref.member.node_id}")


route_handlers: list = [presidium_page, new_member_form, add_member, member_form, save_member, remove_member, contacts_form,
                        save_contacts]
