"""Staff pages of duty reports (述职评议) under /t/{slug}/duty-reports: the year's meetings, a new
meeting, a meeting's page (result, paper ballots, voters present, open and close phone voting) and the
full-screen QR code the voters scan."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, Response, get, post

from app.core.qr import qr_svg
from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.web import absolute_url, bounded, client_addr, page, see_other
from app.duties import meetings
from app.duties.settings import duty_settings
from app.duties.meeting_ballots import CLOSES_AFTER, OPENS_BEFORE
from app.duties.meeting_models import MEETING_STATUS_NAMES, RATING_NAMES, RATINGS
from app.tenancy.access import TenantContext

BASE = "/duty-reports"
NEW_KEYS = ("station_id", "deputy_id", "held_on", "start", "end", "place", "voters_present")
PAPER_KEYS = tuple(f"n_{r}" for r in RATINGS) + ("rating", "comment")
DONE = {
    "created": lazy("The report meeting has been created."),
    "paper": lazy("The paper ballots have been entered."),
    "voters": lazy("The number of voters present has been saved."),
    "opened": lazy("Phone voting is open: show the QR code to the voters."),
    "closed": lazy("The report meeting is closed."),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _year(value: str | None, ctx: TenantContext) -> int:
    year = as_id(value)
    return year if year is not None and 2000 <= year <= 2100 else ctx.today().year


def _common(ctx: TenantContext) -> dict:
    return dict(base=ctx.base, RATINGS=RATINGS, RATING_NAMES=RATING_NAMES, STATUS_NAMES=MEETING_STATUS_NAMES)


@get(BASE)
async def meeting_list(request: Request, ctx: TenantContext, year: str | None = None,
                       done: str | None = None) -> Response:
    scope = await ctx.scope()
    chosen = _year(year, ctx)
    refs = await meetings.list_meetings(ctx.db, scope, chosen)
    return page(request, "duties/meetings.html", refs=refs, year=chosen, can_manage=meetings.can_manage(scope),
                is_admin=scope.role == "county_admin", public=(await duty_settings(ctx.db, ctx.tenant.id)).public_duty_reports,
                done=DONE.get(done or ""), **_common(ctx))


async def _new_page(request: Request, ctx: TenantContext, *, form: dict | None = None, error: str | None = None,
                    status_code: int = 200) -> Response:
    scope = await ctx.scope()
    if not meetings.can_manage(scope):
        raise NotFound()
    return page(request, "duties/meeting_new.html", status_code=status_code, error=error,
                choices=await meetings.choices(ctx.db, scope),
                form=form or {"held_on": ctx.today().isoformat(), "start": "09:00", "end": "11:00"}, **_common(ctx))


@get(f"{BASE}/new")
async def new_meeting(request: Request, ctx: TenantContext) -> Response:
    return await _new_page(request, ctx)


@post(BASE)
async def create_meeting(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    form = bounded(await request.form(), NEW_KEYS, 400)
    try:
        meeting = await ctx.attempt(meetings.create_meeting(ctx.db, scope, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                                            tz_name=ctx.tenant.timezone, form=form))
    except Refusal as refusal:
        return await _new_page(request, ctx, form=form, error=refusal.text(), status_code=refusal.status)
    return see_other(f"{ctx.base}{BASE}/{meeting.id}?done=created")


async def _meeting_page(request: Request, ctx: TenantContext, meeting_id: int, *, error: str | None = None,
                        form: dict | None = None, status_code: int = 200, done: str | None = None) -> Response:
    scope = await ctx.scope()
    ref = await meetings.access_meeting(ctx.db, scope, meeting_id)
    return page(request, "duties/meeting.html", status_code=status_code, ref=ref, error=error, form=form or {},
                can_manage=meetings.can_manage(scope), done=DONE.get(done or ""), **_common(ctx))


@get(f"{BASE}/{{meeting_id:int}}")
async def meeting_page(request: Request, ctx: TenantContext, meeting_id: int, done: str | None = None) -> Response:
    return await _meeting_page(request, ctx, meeting_id, done=done)


async def _act(request: Request, ctx: TenantContext, meeting_id: int, done: str, action) -> Response:
    """Run a verb on a meeting the member may run: back to its page, or the page with the refusal."""
    scope = await ctx.scope()
    ref = await meetings.access_meeting(ctx.db, scope, meeting_id, manage=True)
    form = bounded(await request.form(), PAPER_KEYS + ("voters_present",), 400)
    try:
        await ctx.attempt(action(ref, form))
    except Refusal as refusal:
        return await _meeting_page(request, ctx, meeting_id, error=refusal.text(), form=form,
                                   status_code=refusal.status)
    await meetings.record_step(ctx.db, ref.meeting, actor_id=ctx.user.id, step=done, client_addr=client_addr(request))
    return see_other(f"{ctx.base}{BASE}/{meeting_id}?done={done}")


@post(f"{BASE}/{{meeting_id:int}}/paper")
async def paper(request: Request, ctx: TenantContext, meeting_id: int) -> Response:
    return await _act(request, ctx, meeting_id, "paper",
                      lambda ref, form: meetings.enter_paper(ctx.db, ref, actor_id=ctx.user.id, form=form))


@post(f"{BASE}/{{meeting_id:int}}/voters")
async def voters(request: Request, ctx: TenantContext, meeting_id: int) -> Response:
    return await _act(request, ctx, meeting_id, "voters",
                      lambda ref, form: meetings.set_voters_present(ctx.db, ref, form["voters_present"]))


@post(f"{BASE}/{{meeting_id:int}}/open")
async def open_voting(request: Request, ctx: TenantContext, meeting_id: int) -> Response:
    return await _act(request, ctx, meeting_id, "opened", lambda ref, form: meetings.open_voting(ctx.db, ref))


@post(f"{BASE}/{{meeting_id:int}}/close")
async def close(request: Request, ctx: TenantContext, meeting_id: int) -> Response:
    return await _act(request, ctx, meeting_id, "closed",
                      lambda ref, form: meetings.close_meeting(ctx.db, ref, _now()))


@get(f"{BASE}/{{meeting_id:int}}/screen", opt={"own_header_count": True})  # full screen: no header
async def screen(request: Request, ctx: TenantContext, meeting_id: int) -> Response:
    scope = await ctx.scope()
    ref = await meetings.access_meeting(ctx.db, scope, meeting_id, manage=True)
    url = absolute_url(request, f"/p/{ctx.tenant.slug}/report/{ref.meeting.ballot_token}")
    return page(request, "duties/meeting_screen.html", ref=ref, url=url, qr=qr_svg(url),
                opens=ref.meeting.starts_at - OPENS_BEFORE, closes=ref.meeting.ends_at + CLOSES_AFTER, **_common(ctx))


route_handlers = [meeting_list, new_meeting, create_meeting, meeting_page, paper, voters, open_voting, close, screen]
