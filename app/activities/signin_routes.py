"""Sign-in (签到) pages.

App-level (``public_route_handlers``): the personal link ``/signin/{slug}/{token}`` — no account, the
token in the URL is the credential, so no CSRF token and no cookie; it writes through a session bound
to the link's (active) tenant. Tenant routes (``route_handlers``, under /t/{slug}): the station's
screen with the rotating QR code, the page a scanned code opens, staff signing a deputy in on their
behalf, marks and removal, the staff sign-in page, and the list of personal links.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import AsyncIterator
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import absences, signin
from app.activities.access import can_run, get_activity, require_run
from app.core.db import bind
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.qr import qr_svg
from app.core.security import mask_mobile
from app.core.web import absolute_url, bounded, client_addr, page, see_other
from app.tenancy.access import TenantContext
from app.tenancy.config import get_config
from app.tenancy.models import Tenant

OPT = {"public": True, "exclude_from_csrf": True}
LINK_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
DONE_MESSAGES = {
    "on_behalf": lazy("The deputy has been signed in on their behalf."),
    "marks": lazy("The attendance marks have been saved."),
    "removed": lazy("The sign-in has been removed."),
}
LEAVE_DONE = {"leave_asked": absences.ASKED_DONE, "leave_withdrawn": absences.WITHDRAWN_DONE}


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- the personal link (no account) --------------------------------------------------------------

@asynccontextmanager
async def link_tenant(request: Request, slug: str, *, writes: bool = False
                      ) -> AsyncIterator[tuple[Tenant, AsyncSession]]:
    """The active tenant by slug and a session bound to it (else the ordinary 404). A form that
    ``writes`` commits when the block ends without an exception; otherwise leaving the block closes the
    session and rolls back (the loaded rows stay readable)."""
    async with request.app.state.db.session() as db:
        tenant = await db.scalar(select(Tenant).where(Tenant.slug == slug[:40], Tenant.status == "active"))
        if tenant is not None:
            db.expunge(tenant)
        await db.rollback()
        if tenant is None:
            raise NotFound()
        bind(db, tenant.id)
        yield tenant, db
        if writes:
            await db.commit()


def _link_page(request: Request, tenant: Tenant, view: signin.LinkView, config, *, done: str | None = None,
               error: str | None = None, status_code: int = 200, reason: str = "") -> Response:
    """The link's page; ``done``: "1" signed in, or a LEAVE_DONE key; ``reason``: the leave form's text
    shown back after a refusal."""
    tz = ZoneInfo(tenant.timezone)
    now = _now()
    refusal = None if view.attendance else signin.window_refusal(view.activity, config, tz, now)
    response = page(
        request, "activities/signin_link.html", status_code=status_code, tenant=tenant, user=None, membership=None,
        base=f"/p/{tenant.slug}", view=view, tz=tz, done=done == "1", message=error or (refusal and refusal.text()),
        can_sign=view.attendance is None and refusal is None, action=f"/signin/{tenant.slug}/{view.invitation.token}",
        leave=absences.offer((view.deputy, view.invitation, view.attendance), view.activity, now),
        leave_done=LEAVE_DONE.get(done or ""), reason=reason,
    )
    response.headers.update(LINK_HEADERS)
    return response


@get("/signin/{tenant_slug:str}/{token:str}", opt=OPT)
async def link_page(request: Request, tenant_slug: str, token: str, done: str | None = None) -> Response:
    async with link_tenant(request, tenant_slug) as (tenant, db):
        view = await signin.link_view(db, token)
        if view is None:
            raise NotFound()
        config = await get_config(db, tenant.id)
    return _link_page(request, tenant, view, config, done=done)


@post("/signin/{tenant_slug:str}/{token:str}", opt=OPT)
async def link_sign_in(request: Request, tenant_slug: str, token: str) -> Response:
    async with link_tenant(request, tenant_slug, writes=True) as (tenant, db):
        view = await signin.link_view(db, token)
        if view is None:
            raise NotFound()
        config = await get_config(db, tenant.id)
        try:
            signed = await signin.sign_in_by_link(db, view, config, ZoneInfo(tenant.timezone),
                                                  client_addr=client_addr(request))
        except Refusal as refusal:  # refused before any write: the loaded view stays readable
            return _link_page(request, tenant, view, config, error=refusal.text(), status_code=refusal.status)
    response = see_other(f"/signin/{tenant.slug}/{token}" + ("?done=1" if signed else ""))
    response.headers.update(LINK_HEADERS)
    return response


async def _link_leave(request: Request, tenant_slug: str, token: str, *, withdrawing: bool) -> Response:
    """Leave (请假) from the personal link: the deputies without an account ask for it here."""
    form = bounded(await request.form(), ("reason",), 400)
    async with link_tenant(request, tenant_slug, writes=True) as (tenant, db):
        view = await signin.link_view(db, token)
        if view is None:
            raise NotFound()
        mine = (view.deputy, view.invitation, view.attendance)
        try:
            if withdrawing:
                await absences.withdraw(db, view.activity, mine, actor_id=None, client_addr=client_addr(request))
            else:
                await absences.ask(db, view.activity, mine, reason=form["reason"], tz=ZoneInfo(tenant.timezone),
                                   actor_id=None, client_addr=client_addr(request))
        except Refusal as refusal:  # refused before any write
            config = await get_config(db, tenant.id)
            return _link_page(request, tenant, view, config, error=refusal.text(), status_code=refusal.status,
                              reason=form["reason"])
    response = see_other(f"/signin/{tenant.slug}/{token}?done=" + ("leave_withdrawn" if withdrawing else "leave_asked"))
    response.headers.update(LINK_HEADERS)
    return response


@post("/signin/{tenant_slug:str}/{token:str}/leave", opt=OPT)
async def link_leave(request: Request, tenant_slug: str, token: str) -> Response:
    return await _link_leave(request, tenant_slug, token, withdrawing=False)


@post("/signin/{tenant_slug:str}/{token:str}/leave/withdraw", opt=OPT)
async def link_leave_withdraw(request: Request, tenant_slug: str, token: str) -> Response:
    return await _link_leave(request, tenant_slug, token, withdrawing=True)


# --- the station's screen ------------------------------------------------------------------------

async def _run_ref(ctx: TenantContext, activity_id: int):
    scope = await ctx.scope()
    ref = await get_activity(ctx.db, scope, activity_id)
    require_run(scope, ref)
    return scope, ref


async def _screen_state(request: Request, ctx: TenantContext, ref) -> dict:
    """The code on screen (issued when needed), its QR and the live count; or why there is none."""
    config = await get_config(ctx.db, ctx.tenant.id)
    refusal = signin.window_refusal(ref.activity, config, ctx.tz, _now())
    code = url = None
    if refusal is None:
        code = (await signin.screen_code(ctx.db, ref.activity)).code
        url = absolute_url(request, f"/t/{ctx.tenant.slug}/signin/{code}")
    present, expected = await signin.presence_counts(ctx.db, ref.activity.id)
    return {"code": code, "url": url, "qr": qr_svg(url) if url else "", "present": present, "expected": expected,
            "message": refusal.text() if refusal else "", "base": f"/t/{ctx.tenant.slug}"}


@get("/activities/{activity_id:int}/screen", opt={"own_header_count": True})  # full screen: no header to count for
async def screen(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    _, ref = await _run_ref(ctx, activity_id)
    state = await _screen_state(request, ctx, ref)
    return page(request, "activities/screen.html", ref=ref, tz=ctx.tz, **state)


@get("/activities/{activity_id:int}/screen/code")
async def screen_code(request: Request, ctx: TenantContext, activity_id: int,
                      current: str = Parameter(query="current", default="", max_length=40),
                      shown: int = Parameter(query="n", default=-1)) -> Response:
    """The htmx poll: 204 (htmx keeps what is shown) while the code and the count are unchanged."""
    _, ref = await _run_ref(ctx, activity_id)
    state = await _screen_state(request, ctx, ref)
    if (state["code"] or "") == current and state["present"] == shown:
        return Response(content=b"", status_code=204)
    return page(request, "activities/_screen_code.html", ref=ref, **state)


# --- a scanned code ------------------------------------------------------------------------------

async def _scan(ctx: TenantContext, code: str) -> signin.ScanView:
    view = await signin.scan_view(ctx.db, code, ctx.user.id)
    if view is None:
        raise NotFound()
    return view


def _scan_page(request: Request, ctx: TenantContext, view: signin.ScanView, *, message: str | None,
               status_code: int, done: bool = False) -> Response:
    return page(request, "activities/signin_scan.html", status_code=status_code, view=view, message=message,
                done=done, tz=ctx.tz, action=f"/t/{ctx.tenant.slug}/signin/{view.code.code}")


@get("/signin/{code:str}")
async def scan_page(request: Request, ctx: TenantContext, code: str, done: str | None = None) -> Response:
    view = await _scan(ctx, code)
    config = await get_config(ctx.db, ctx.tenant.id)
    refusal = signin.scan_refusal(view, config, ctx.tz, _now())
    return _scan_page(request, ctx, view, message=refusal.text() if refusal else None,
                      status_code=refusal.status if refusal else 200, done=bool(done))


@post("/signin/{code:str}")
async def scan_sign_in(request: Request, ctx: TenantContext, code: str) -> Response:
    view = await _scan(ctx, code)
    config = await get_config(ctx.db, ctx.tenant.id)
    try:
        signed = await ctx.attempt(signin.sign_in_by_code(
            ctx.db, view, config, ctx.tz, user_id=ctx.user.id,
            client_addr=client_addr(request)))
    except Refusal as refusal:
        return _scan_page(request, ctx, await _scan(ctx, code), message=refusal.text(),
                          status_code=refusal.status)
    return see_other(f"/t/{ctx.tenant.slug}/signin/{code}" + ("?done=1" if signed else ""))


# --- staff: the sign-in page, on behalf, marks, removal, links -----------------------------------

async def _staff_page(request: Request, ctx: TenantContext, activity_id: int, *, status_code: int = 200,
                      error: str | None = None, error_at: str = "", form: dict | None = None,
                      done: str | None = None) -> Response:
    scope = await ctx.scope()
    ref = await get_activity(ctx.db, scope, activity_id)
    config = await get_config(ctx.db, ctx.tenant.id)
    opens, closes = signin.signin_window(ref.activity, config)
    return page(
        request, "activities/signin_staff.html", status_code=status_code, ref=ref,
        invitations=await signin.invitation_rows(ctx.db, ref.activity.id), can_run=can_run(scope, ref),
        signin_is_open=signin.signin_open(ref.activity, config, _now()), signin_opens=opens, signin_closes=closes,
        tz=ctx.tz, base=f"/t/{ctx.tenant.slug}", signin_error=error,
        signin_error_at=error_at, signin_form=form or {}, done=DONE_MESSAGES.get(done or ""),
    )


@get("/activities/{activity_id:int}/signin")
async def staff_page(request: Request, ctx: TenantContext, activity_id: int, done: str | None = None) -> Response:
    return await _staff_page(request, ctx, activity_id, done=done)


async def _staff_action(request: Request, ctx: TenantContext, activity_id: int, error_at: str, done: str,
                        action) -> Response:
    """Run a staff verb (``action(scope, ref, form)``): commit and go back to the sign-in page, or show
    the page again with the refusal (status 400, nothing written)."""
    form = {k: str(v)[:400] for k, v in (await request.form()).items() if k != "_csrf_token"}
    scope = await ctx.scope()
    ref = await get_activity(ctx.db, scope, activity_id)
    require_run(scope, ref)
    try:
        await ctx.attempt(action(scope, ref, form))
    except Refusal as refusal:
        return await _staff_page(request, ctx, activity_id, status_code=refusal.status, error=refusal.text(),
                                 error_at=error_at, form=form)
    return see_other(f"/t/{ctx.tenant.slug}/activities/{activity_id}/signin?done={done}")


@post("/activities/{activity_id:int}/attendance")
async def on_behalf(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        config = await get_config(ctx.db, ctx.tenant.id)
        await signin.sign_in_on_behalf(ctx.db, scope, ref, deputy_id=form.get("deputy_id"), reason=form.get("reason"),
                                       actor_id=ctx.user.id, config=config, tz=ctx.tz,
                                       client_addr=client_addr(request))

    return await _staff_action(request, ctx, activity_id, "on_behalf", "on_behalf", act)


@post("/activities/{activity_id:int}/attendance/{deputy_id:int}/marks")
async def marks(request: Request, ctx: TenantContext, activity_id: int, deputy_id: int) -> Response:
    async def act(scope, ref, form):
        await signin.set_marks(ctx.db, scope, ref, deputy_id, late=bool(form.get("late")),
                               left_early=bool(form.get("left_early")), note=form.get("note", ""),
                               actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _staff_action(request, ctx, activity_id, f"marks-{deputy_id}", "marks", act)


@post("/activities/{activity_id:int}/attendance/{deputy_id:int}/remove")
async def remove(request: Request, ctx: TenantContext, activity_id: int, deputy_id: int) -> Response:
    async def act(scope, ref, form):
        await signin.remove_attendance(ctx.db, scope, ref, deputy_id, reason=form.get("reason", ""),
                                       actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _staff_action(request, ctx, activity_id, f"remove-{deputy_id}", "removed", act)


@get("/activities/{activity_id:int}/links")
async def links(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    """Each invited deputy's personal link, to send by SMS or WeChat (mobile numbers masked)."""
    _, ref = await _run_ref(ctx, activity_id)
    rows = [
        (deputy, mask_mobile(deputy.mobile), absolute_url(request, f"/signin/{ctx.tenant.slug}/{inv.token}"),
         attendance)
        for deputy, inv, attendance in await signin.invitation_rows(ctx.db, ref.activity.id)
    ]
    await signin.links_viewed(ctx.db, ref, actor_id=ctx.user.id, client_addr=client_addr(request))
    return page(request, "activities/signin_links.html", ref=ref, rows=rows, base=f"/t/{ctx.tenant.slug}",
                tz=ctx.tz)


route_handlers = [screen, screen_code, scan_page, scan_sign_in, staff_page, on_behalf, marks, remove, links]
public_route_handlers = [link_page, link_sign_in, link_leave, link_leave_withdraw]
