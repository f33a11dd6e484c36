"""Public pages of duty reports (app-level, no sign-in, no CSRF token):

- ``/p/{slug}/report/{token}``: the ballot a voter's phone opens from the meeting's QR code (GET:
  nothing written, no cookie; ``no-store``, since voting opens and closes). The POST takes the ballot
  and, only when it was recorded, sets the phone's signed ballot cookie, scoped to this path: the one
  cookie of a public page, and what keeps a phone to one ballot (app.duties.meeting_ballots).
- ``/p/{slug}/stations/{station_id}/reports``: a station's closed report meetings of the year with
  their results, where the county has chosen to show them (else the ordinary 404).
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie

from app.cases.public import client_hash
from app.core.errors import NotFound, Refusal
from app.core.web import client_addr, page
from app.duties import meeting_ballots as ballots
from app.duties import meetings
from app.duties.settings import duty_settings
from app.duties.meeting_models import COMMENT_MAX, RATING_NAMES, RATINGS
from app.public import access
from app.tenancy.models import Tenant

OPT = {"public": True, "exclude_from_csrf": True}
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
COOKIE = "lianluo_ballot"
COOKIE_DAYS = 30
BALLOT_PATH = "/p/{tenant_slug:str}/report/{token:str}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _ballot_page(request: Request, tenant: Tenant, view: ballots.BallotView, *, form: dict | None = None,
                 error: str | None = None, done: bool = False, status_code: int = 200) -> Response:
    tz = ZoneInfo(tenant.timezone)
    refusal = None if done else ballots.window_refusal(view.meeting, _now(), tz)
    response = page(request, "duties/meeting_ballot.html", status_code=status_code, tenant=tenant, user=None,
                    membership=None, base=f"/p/{tenant.slug}", view=view, form=form or {}, done=done,
                    message=error or (refusal and refusal.text()), can_vote=not done and refusal is None,
                    RATINGS=RATINGS, RATING_NAMES=RATING_NAMES, comment_max=COMMENT_MAX, action=request.url.path)
    response.headers.update(PRIVATE)
    return response


@get(BALLOT_PATH, opt=OPT)
async def ballot_page(request: Request, tenant_slug: str, token: str) -> Response:
    async with access.public_tenant(request, tenant_slug) as (tenant, db):
        view = await ballots.by_token(db, token)
        if view is None:
            raise NotFound()
    return _ballot_page(request, tenant, view)


@post(BALLOT_PATH, opt=OPT)
async def cast_ballot(request: Request, tenant_slug: str, token: str) -> Response:
    secret = request.app.state.settings.secret_key
    raw = await request.form()
    form = {"rating": str(raw.get("rating", ""))[:20], "comment": str(raw.get("comment", ""))[:COMMENT_MAX * 2]}
    async with access.public_tenant(request, tenant_slug, writes=True) as (tenant, db):
        view = await ballots.by_token(db, token)
        if view is None:
            raise NotFound()
        meeting_id = view.meeting.id
        phone_id = ballots.phone_id_of(secret, meeting_id, request.cookies.get(COOKIE))
        cookie_value = None
        if phone_id is None:
            cookie_value, phone_id = ballots.new_phone_cookie(secret, meeting_id)
        try:
            await ballots.cast(db, view, rating=form["rating"], comment=form["comment"],
                               phone=ballots.phone_hash(secret, tenant.id, meeting_id, phone_id),
                               client=client_hash(secret, tenant.id, client_addr(request)), now=_now(),
                               tz=ZoneInfo(tenant.timezone))
        except Refusal as refusal:  # refused before any write: the loaded meeting stays readable
            return _ballot_page(request, tenant, view, form=form, error=refusal.text(), status_code=refusal.status)
    response = _ballot_page(request, tenant, view, done=True)
    if cookie_value is not None:
        settings = request.app.state.settings
        response.cookies.append(Cookie(
            key=COOKIE, value=cookie_value, path=f"/p/{tenant.slug}/report/{view.meeting.ballot_token}",
            max_age=COOKIE_DAYS * 86400, httponly=True, secure=settings.secure_cookies, samesite="lax"))
    return response


@get("/p/{tenant_slug:str}/stations/{station_id:int}/reports", opt=OPT)
async def station_reports(request: Request, tenant_slug: str, station_id: int) -> Response:
    async with access.public_tenant(request, tenant_slug) as (tenant, db):
        station = await access.public_station(db, station_id)
        if not (await duty_settings(db, tenant.id)).public_duty_reports:
            raise NotFound()
        year = _now().astimezone(ZoneInfo(tenant.timezone)).year
        refs = await meetings.station_results(db, station.id, year)
    response = page(request, "duties/meeting_public.html", tenant=tenant, user=None, membership=None,
                    base=f"/p/{tenant.slug}", station=station, refs=refs, year=year,
                    RATINGS=RATINGS, RATING_NAMES=RATING_NAMES)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


public_route_handlers = [ballot_page, cast_ballot, station_reports]
