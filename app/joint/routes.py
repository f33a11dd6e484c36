"""The county's pages about joint stations across a border (under /t/{tenant_slug}/joint): the
agreements (its own copies), proposing one, answering, withdrawing, and giving its own people roles
in a joint station. County admins act, the county's viewers read; anyone else gets the not-found page.
The work is done by app.joint.agreements; a refusal re-renders the page with 400 and nothing written."""

from __future__ import annotations

import re

from litestar import Request, Response, get, post

from app.core.db import MAX_ID
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.web import bounded, client_addr, page, see_other
from app.joint import agreements, deputies, ledgers, queries
from app.joint.agreements import JOINT_ROLES, Side
from app.joint.models import EVENT_NAMES, PARTY_STATUS_NAMES, SHARE_NAMES, SHARES, STATUS_NAMES, JointAgreement
from app.tenancy.access import TenantContext

MAX_DEPUTIES = 500
WITHDRAW_UNCONFIRMED = lazy("Tick the box to confirm that your county leaves the joint station.")
DONE = {
    "proposed": lazy("The joint station has been proposed; the other counties' admins can now answer."),
    "accepted": lazy("Your county has accepted the agreement."),
    "declined": lazy("Your county has declined the agreement."),
    "withdrawn": lazy("Your county has left the joint station; its own data is untouched."),
    "granted": lazy("The role in the joint station has been given."),
    "revoked": lazy("The role in the joint station has been taken back."),
    "joined": lazy("The deputies have joined the joint station."),
    "left": lazy("The deputy has been taken out of the joint station."),
}
FIELDS = ("name", "slug", "partners", "co_heads", "deputy_heads", "staff")


def _county(ctx: TenantContext, *roles: str) -> None:
    """County tenants only; county admins (and, to read, viewers)."""
    if ctx.tenant.kind != "county":
        raise NotFound()
    ctx.require_role(*roles)


def _lines(value: object) -> list[str]:
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def _side(form) -> Side:
    return Side(towns=[str(t) for t in form.getall("towns", [])][:50], co_heads=_lines(form.get("co_heads")),
                deputy_heads=_lines(form.get("deputy_heads")), staff=_lines(form.get("staff")))


def _values(form) -> dict:
    values = bounded(form, FIELDS, 2000)
    values["towns"] = [str(t) for t in form.getall("towns", [])][:50]
    values["shares"] = [str(s) for s in form.getall("shares", [])][:10]
    return values


def _joint_base(ctx: TenantContext) -> str:
    return f"/t/{ctx.tenant.slug}/joint"


async def _list_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                     form: dict | None = None, done: str | None = None) -> Response:
    return page(request, "joint/list.html", status_code=status_code, error=error, done=DONE.get(done or ""),
                form=form or {"towns": [], "shares": list(SHARES)}, items=await agreements.list_for(ctx.db),
                towns=await queries.township_choices(ctx.db), shares=SHARES, share_names=SHARE_NAMES,
                status_names=STATUS_NAMES, party_status_names=PARTY_STATUS_NAMES, base=_joint_base(ctx),
                tz=ctx.tz, can_act=ctx.role == "county_admin")


@get("/joint")
async def joint_list(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    _county(ctx, "county_admin", "viewer")
    return await _list_page(request, ctx, done=done)


@post("/joint")
async def propose(request: Request, ctx: TenantContext) -> Response:
    _county(ctx, "county_admin")
    form = await request.form()
    values = _values(form)
    try:
        agreement = await ctx.attempt(agreements.propose(
            ctx.db, tenant=ctx.tenant, actor=ctx.user, name=values["name"], slug=values["slug"],
            partners=[p for p in re.split(r"[\s,，、;；]+", values["partners"]) if p], side=_side(form),
            shares=values["shares"], client_addr=client_addr(request)))
    except Refusal as refusal:
        return await _list_page(request, ctx, status_code=400, error=refusal.text(), form=values)
    return see_other(f"{_joint_base(ctx)}/{agreement.agreement_key}?done=proposed")


async def _agreement(ctx: TenantContext, key: str) -> JointAgreement:
    return await agreements.get(ctx.db, ctx.tenant.id, key)


async def _detail_page(request: Request, ctx: TenantContext, key: str, *, status_code: int = 200,
                       error: str | None = None, form: dict | None = None, done: str | None = None) -> Response:
    agreement = await _agreement(ctx, key)
    can = queries.allowed(agreement, ctx.tenant.id)
    is_admin = ctx.role == "county_admin"
    held = await agreements.grants(ctx.db, ctx.tenant, agreement) if can["grant"] else []
    members = await agreements.own_members(ctx.db, ctx.tenant) if can["grant"] and is_admin else []
    shares_deputies = can["grant"] and "deputies" in agreement.shares
    joined = await deputies.joined(ctx.db, ctx.tenant, agreement) if shares_deputies else []
    candidates = (await queries.deputy_candidates(ctx.db, [d.home_deputy_id for d in joined])
                  if shares_deputies and is_admin else [])
    figures = await ledgers.summary(ctx.db, ctx.tenant, agreement, actor_id=ctx.user.id,
                                    client_addr=client_addr(request))
    events = await agreements.events(ctx.db, agreement)
    towns = await queries.township_choices(ctx.db) if can["answer"] and is_admin else []
    return page(request, "joint/agreement.html", status_code=status_code, agreement=agreement, error=error,
                done=DONE.get(done or ""), form=form or {"towns": []}, can=can, is_admin=is_admin,
                own=agreement.party(ctx.tenant.id), events=events,
                grants=held, members=members, joint_roles=JOINT_ROLES, shares_deputies=shares_deputies,
                joined=joined, candidates=candidates, max_candidates=queries.MAX_CANDIDATES,
                towns=towns,
                share_names=SHARE_NAMES, status_names=STATUS_NAMES, party_status_names=PARTY_STATUS_NAMES,
                event_names=EVENT_NAMES, base=_joint_base(ctx), tz=ctx.tz, figures=figures)


@get("/joint/{key:str}")
async def agreement_page(request: Request, ctx: TenantContext, key: str, done: str | None = None) -> Response:
    _county(ctx, "county_admin", "viewer")
    return await _detail_page(request, ctx, key, done=done)


async def _act(request: Request, ctx: TenantContext, key: str, change, done: str, form: dict | None = None) -> Response:
    """Run one step of the agreement: commit and go back to its page, or roll back and show the refusal."""
    try:
        await ctx.attempt(change())
    except Refusal as refusal:
        return await _detail_page(request, ctx, key, status_code=400, error=refusal.text(), form=form)
    return see_other(f"{_joint_base(ctx)}/{key}?done={done}")


@post("/joint/{key:str}/answer")
async def answer(request: Request, ctx: TenantContext, key: str) -> Response:
    _county(ctx, "county_admin")
    await _agreement(ctx, key)  # 404 first: a malformed or another county's key
    form = await request.form()
    accept = str(form.get("answer", "")) == "accept"
    values = _values(form)
    return await _act(request, ctx, key, lambda: agreements.answer(
        ctx.db, tenant=ctx.tenant, actor=ctx.user, key=key, accept=accept, side=_side(form) if accept else None,
        client_addr=client_addr(request)), "accepted" if accept else "declined", values)


@post("/joint/{key:str}/withdraw")
async def withdraw(request: Request, ctx: TenantContext, key: str) -> Response:
    _county(ctx, "county_admin")
    await _agreement(ctx, key)
    form = await request.form()

    async def change() -> None:
        if str(form.get("confirm", "")) != "1":
            raise Refusal(WITHDRAW_UNCONFIRMED)
        await agreements.withdraw(ctx.db, tenant=ctx.tenant, actor=ctx.user, key=key, client_addr=client_addr(request))

    return await _act(request, ctx, key, change, "withdrawn")


def _user_id(value: object) -> int:
    text = str(value or "").strip()
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise Refusal(agreements.NOT_OWN_MEMBER)
    return int(text)


@post("/joint/{key:str}/grants")
async def grant(request: Request, ctx: TenantContext, key: str) -> Response:
    _county(ctx, "county_admin")
    await _agreement(ctx, key)
    form = await request.form()
    values = {"user_id": str(form.get("user_id", ""))[:20], "role": str(form.get("role", ""))[:20]}

    async def change() -> None:
        await agreements.grant(ctx.db, tenant=ctx.tenant, actor=ctx.user, key=key, user_id=_user_id(values["user_id"]),
                               role=values["role"], client_addr=client_addr(request))

    return await _act(request, ctx, key, change, "granted", {"towns": [], **values})


@post("/joint/{key:str}/grants/{user_id:int}/revoke")
async def revoke(request: Request, ctx: TenantContext, key: str, user_id: int) -> Response:
    _county(ctx, "county_admin")
    await _agreement(ctx, key)
    if not 0 < user_id <= MAX_ID:
        raise NotFound()
    return await _act(request, ctx, key, lambda: agreements.revoke(
        ctx.db, tenant=ctx.tenant, actor=ctx.user, key=key, user_id=user_id, client_addr=client_addr(request)),
        "revoked")


@post("/joint/{key:str}/deputies")
async def join_deputies(request: Request, ctx: TenantContext, key: str) -> Response:
    _county(ctx, "county_admin")
    await _agreement(ctx, key)
    form = await request.form()
    ids = [int(v) for v in (str(x) for x in form.getall("deputy_ids", [])[:MAX_DEPUTIES])
           if v.isdigit() and 0 < int(v) <= MAX_ID]
    return await _act(request, ctx, key, lambda: deputies.join(
        ctx.db, tenant=ctx.tenant, actor=ctx.user, key=key, deputy_ids=ids, client_addr=client_addr(request)),
        "joined")


@post("/joint/{key:str}/deputies/{deputy_id:int}/leave")
async def deputy_leaves(request: Request, ctx: TenantContext, key: str, deputy_id: int) -> Response:
    _county(ctx, "county_admin")
    await _agreement(ctx, key)
    if not 0 < deputy_id <= MAX_ID:
        raise NotFound()
    return await _act(request, ctx, key, lambda: deputies.leave(
        ctx.db, tenant=ctx.tenant, actor=ctx.user, key=key, deputy_id=deputy_id, client_addr=client_addr(request)),
        "left")


route_handlers = [joint_list, propose, agreement_page, answer, withdraw, grant, revoke, join_deputies, deputy_leaves]
