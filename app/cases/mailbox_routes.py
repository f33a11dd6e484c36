"""A station's deputy mailbox (代表信箱): /stations/{station_id}/mailbox — the openings logged, a form
to log one, and the weekly check of the last twelve weeks."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, Response, get, post

from app.cases import mailbox
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.web import bounded, client_addr, page, see_other
from app.stations.access import get_station
from app.tenancy.access import TenantContext

DONE = {"opened": lazy("The opening of the mailbox has been logged.")}
WEEK_STATUS_NAMES = {"opened": lazy("Mailbox opened"), "missed": lazy("Mailbox not opened"),
                     "open": lazy("Not opened yet this week"), "before": lazy("Before the station opened")}


async def _mailbox_page(request: Request, ctx: TenantContext, station_id: int, *, status_code: int = 200,
                        error: str | None = None, form: dict | None = None, done: str | None = None) -> Response:
    scope = await ctx.scope()
    ref = await get_station(ctx.db, scope, station_id)
    tz = ctx.tz
    now = datetime.now(timezone.utc).astimezone(tz)
    weeks = await mailbox.weekly_check(ctx.db, ref.station.id, mailbox.WEEKS_SHOWN, now.date(), tz)
    return page(request, "cases/mailbox.html", status_code=status_code, ref=ref, base=ctx.base, tz=tz,
                openings=await mailbox.list_openings(ctx.db, ref.station.id), weeks=weeks,
                missed=sum(1 for w in weeks if w.status == "missed"), week_status_names=WEEK_STATUS_NAMES,
                counted=sum(1 for w in weeks if w.status in ("opened", "missed")),
                counted_from=min((w.monday for w in weeks if w.status != "before"), default=None)
                if any(w.status == "before" for w in weeks) else None,
                can_log=mailbox.can_log(scope, ref), error=error, done=DONE.get(done or ""),
                form=form or {"day": now.strftime("%Y-%m-%d"), "clock": now.strftime("%H:%M"), "letters": "0"})


@get("/stations/{station_id:int}/mailbox")
async def station_mailbox(request: Request, ctx: TenantContext, station_id: int, done: str | None = None) -> Response:
    return await _mailbox_page(request, ctx, station_id, done=done)


@post("/stations/{station_id:int}/mailbox")
async def log_mailbox_opening(request: Request, ctx: TenantContext, station_id: int) -> Response:
    scope = await ctx.scope()
    ref = await get_station(ctx.db, scope, station_id)
    if not mailbox.can_log(scope, ref):
        raise NotFound()
    form = await request.form()
    values = bounded(form, ("day", "clock", "letters", "note"), 600)
    try:
        await ctx.attempt(mailbox.log_opening(ctx.db, scope, ref, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                              tz=ctx.tz, client_addr=client_addr(request), **values))
    except Refusal as refusal:
        return await _mailbox_page(request, ctx, station_id, status_code=refusal.status, form=values,
                                   error=refusal.text())
    return see_other(f"{ctx.base}/stations/{station_id}/mailbox?done=opened")


route_handlers = [station_mailbox, log_mailbox_opening]
