"""Absence reasons (请假) on the activity's page, /t/{tenant_slug}/activities/{id}/leave…: the invited
deputy asks for leave or withdraws it (their own invitation; anyone else 404), staff who run the
activity record or clear a deputy's reason. A refusal shows the activity's page again in place
(status 400, nothing written); done, back to its "invitations" card."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from litestar import Request, Response, post

from app.activities import absences, access
from app.activities.routes import detail_page
from app.core.errors import Refusal
from app.core.web import bounded, client_addr, see_other
from app.tenancy.access import TenantContext

SECTION = "leave"  # the part of the activity's page the form and its messages are in


async def _act(request: Request, ctx: TenantContext, activity_id: int, done: str, action) -> Response:
    """Load the activity (404 unless visible), run ``action(scope, ref, form)``, redirect; a Refusal
    shows the page again with the message and what was typed."""
    scope = await ctx.scope()
    ref = await access.get_activity(ctx.db, scope, activity_id, for_update=True)
    form = bounded(await request.form(), ("reason", "deputy_id"), 400)
    try:
        await ctx.attempt(action(scope, ref, form))
    except Refusal as refusal:
        return await detail_page(request, ctx, activity_id, status_code=refusal.status, error=refusal.text(),
                             error_at=SECTION, form=form)
    return see_other(f"{ctx.base}/activities/{activity_id}?done={done}#{SECTION}")


@post("/activities/{activity_id:int}/leave")
async def ask_leave(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        await absences.ask_leave(ctx.db, scope, ref, reason=form["reason"], tz=ZoneInfo(ctx.tenant.timezone),
                                 client_addr=client_addr(request))

    return await _act(request, ctx, activity_id, "leave_asked", act)


@post("/activities/{activity_id:int}/leave/withdraw")
async def withdraw_leave(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        await absences.withdraw_leave(ctx.db, scope, ref, client_addr=client_addr(request))

    return await _act(request, ctx, activity_id, "leave_withdrawn", act)


@post("/activities/{activity_id:int}/absences")
async def record_absence(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        await absences.record_absence(ctx.db, scope, ref, form["deputy_id"], reason=form["reason"],
                                      actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _act(request, ctx, activity_id, "absence_recorded", act)


@post("/activities/{activity_id:int}/absences/{deputy_id:int}/clear")
async def clear_absence(request: Request, ctx: TenantContext, activity_id: int, deputy_id: int) -> Response:
    async def act(scope, ref, form):
        await absences.clear_absence(ctx.db, scope, ref, deputy_id, actor_id=ctx.user.id,
                                     client_addr=client_addr(request))

    return await _act(request, ctx, activity_id, "absence_cleared", act)


route_handlers = [ask_leave, withdraw_leave, record_absence, clear_absence]
