"""The public pages of cases (app-level, no sign-in, no CSRF token, no cookie):

- ``/p/{slug}/stations/{station_id}/opinion``: the opinion form (GET, cacheable: it carries no token
  and writes nothing) and its submission (POST). The receipt is the POST's own answer (200, no-store):
  the receipt code is never in a URL, so it ends in no log, history entry, Referer or shared cache.
- ``/p/{slug}/lookup``: the lookup form (GET) and the lookup by receipt code (POST: the code travels in
  the body); ``/p/{slug}/lookup/rate``: the person's rating of a fed-back answer, which needs the
  rating code only the person received (on the receipt, in the SMS with the answer) besides the
  receipt code, which staff know too.

Codes that match nothing count as misses of the client in PostgreSQL (``public.lookup_blocked``): the
lookup and the rating write them, and commit them with the page that refuses.

Tenant and station follow the public pages' rules (``app.public.access``): anything not public is
the ordinary 404.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases import notices, public, rating, steps
from app.cases.models import SATISFACTION_NAMES, SATISFACTIONS
from app.cases.codes import group_code, normalise_code
from app.cases.services import today_in
from app.core import i18n
from app.core.db import attempt
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.core.images import MAX_UPLOAD_BYTES
from app.core.web import client_addr, page
from app.public import access
from app.stations.models import Station
from app.stations.schedule import format_day
from app.tenancy.config import get_config
from app.tenancy.models import CASE_PERSON_MONTHS, TenantConfig
from app.tenancy.models import Tenant

OPT = {"public": True, "exclude_from_csrf": True}
FORM_CACHE = "public, max-age=300"  # the empty forms: nothing personal, no token
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
OPINION_PATH = "/p/{tenant_slug:str}/stations/{station_id:int}/opinion"
RATED = lazy("Thank you: your rating has been recorded.")
OUTCOMES = {
    "closed": RATED,
    "sent_back": lazy("Thank you. Your reason has been passed on: the handling unit handles your opinion again. "
                      "Look up this code to follow it; you can rate the new answer once it has been fed back to you."),
    "closed_at_limit": lazy("Your rating “Not satisfied” and your reason have been recorded. The county lets an answer "
                            "go back for re-handling at most %(n)s time(s) and this has been reached, so your opinion "
                            "is now closed as not satisfied."),
    "closed_unsatisfied": lazy("Your rating “Not satisfied” and your reason have been recorded, and your opinion is "
                               "closed as not satisfied."),
}
REASON_READ_MAX = 2000  # read at most this much of the reason (the service refuses past rating.REASON_MAX)


def _render(request: Request, template: str, tenant: Tenant, *, status_code: int = 200, cache: str | None = None,
            **context) -> Response:
    tz = ZoneInfo(tenant.timezone)
    locale = i18n.current_locale.get()
    response = page(request, template, status_code=status_code, tenant=tenant, user=None, membership=None,
                    base=f"/p/{tenant.slug}", day=lambda at: format_day(_local_day(at, tz), locale), **context)
    for name, value in ({"Cache-Control": cache} if cache else PRIVATE).items():
        response.headers[name] = value
    return response


def _local_day(at, tz):
    return at.astimezone(tz).date() if isinstance(at, datetime) else at


def _hash(request: Request, tenant: Tenant) -> str:
    return public.client_hash(request.app.state.settings.secret_key, tenant.id, client_addr(request))


# --- the opinion form -----------------------------------------------------------------------------

def _opinion_page(request: Request, tenant: Tenant, station: Station, person_months: int, *,
                  form: dict | None = None, error: str | None = None, status_code: int = 200,
                  elsewhere: list | None = None) -> Response:
    # person_months: the county's retention period (app.data.retention), named on the form's notice;
    # elsewhere: an archived joint station takes no opinions, these counties do (app.joint.archive).
    return _render(request, "cases/public_opinion.html", tenant, status_code=status_code,
                   cache=FORM_CACHE if request.method == "GET" else None, station=station, form=form or {},
                   person_months=person_months, elsewhere=elsewhere,
                   error=error, max_content=public.PUBLIC_CONTENT_MAX, honeypot=public.HONEYPOT)


async def _case_person_months(db, tenant_id: int) -> int:
    """The county's period for the public's name and mobile (its retention setting), for the notice."""
    config = await db.get(TenantConfig, tenant_id)
    return config.retain_case_person_months if config is not None else CASE_PERSON_MONTHS


@get(OPINION_PATH, opt=OPT)
async def opinion_form(request: Request, tenant_slug: str, station_id: int) -> Response:
    async with access.public_tenant(request, tenant_slug) as (tenant, db):
        station = await access.public_station(db, station_id)
        months = await _case_person_months(db, tenant.id)
        elsewhere = await public.where_to_go(db, tenant.id, tenant.kind)
    return _opinion_page(request, tenant, station, months, elsewhere=elsewhere)


async def _read_opinion(request: Request) -> public.PublicOpinion:
    form = await request.form()
    upload = form.get("photo")
    raw = await upload.read() if isinstance(upload, UploadFile) else b""
    return public.PublicOpinion(
        content=str(form.get("content", "")), person_name=str(form.get("person_name", ""))[:200],
        person_mobile=str(form.get("person_mobile", ""))[:40], honeypot=str(form.get(public.HONEYPOT, "")),
        photo=raw,
    )


@post(OPINION_PATH, opt={**OPT, "uploads": True}, request_max_body_size=MAX_UPLOAD_BYTES + 65_536)
async def submit_opinion(request: Request, tenant_slug: str, station_id: int) -> Response:
    async with access.public_tenant(request, tenant_slug, writes=True) as (tenant, db):
        station = await access.public_station(db, station_id)
        elsewhere = await public.where_to_go(db, tenant.id, tenant.kind)
        if elsewhere is not None:  # an archived joint station: refused before anything is read or written
            return _opinion_page(request, tenant, station, await _case_person_months(db, tenant.id),
                                 error=gettext(public.OPINIONS_CLOSED), status_code=403, elsewhere=elsewhere)
        opinion = await _read_opinion(request)
        db.expunge(station)  # readable by the page whatever happens to the transaction
        try:
            config = await get_config(db, tenant.id)
            case, rating_code = await attempt(db, public.submit_opinion(
                db, config, tenant_id=tenant.id, station=station, opinion=opinion, hashed=_hash(request, tenant)))
        except Refusal as refusal:
            # rolled back by `attempt` (the limits are counted with the new case written)
            typed = {"content": opinion.content, "person_name": opinion.person_name,
                     "person_mobile": opinion.person_mobile, "photo_dropped": bool(opinion.photo)}
            months = await _case_person_months(db, tenant.id)
            return _opinion_page(request, tenant, station, months, form=typed, error=refusal.text(),
                                 status_code=refusal.status)
        code, by_sms = case.receipt_code, await notices.receipt_by_sms(db, case)
    return _render(request, "cases/public_receipt.html", tenant, station=station, code=code, by_sms=by_sms,
                   grouped=group_code(code), rating_code=group_code(rating_code),
                   today=today_in(ZoneInfo(tenant.timezone)))


# --- the lookup -----------------------------------------------------------------------------------

def _lookup_page(request: Request, tenant: Tenant, *, code: str = "", error: str | None = None,
                 status_code: int = 200) -> Response:
    cache = FORM_CACHE if request.method == "GET" else None
    return _render(request, "cases/public_lookup.html", tenant, status_code=status_code, cache=cache,
                   code=code, error=error)


def _status_page(request: Request, tenant: Tenant, view: public.PublicView, *, message: str | None = None,
                 error: str | None = None, status_code: int = 200, rating_code: str = "", typed: dict | None = None
                 ) -> Response:
    # typed: what the refused rating form held (satisfaction, reason), shown again
    return _render(request, "cases/public_status.html", tenant, status_code=status_code, view=view,
                   code=view.case.receipt_code, grouped=group_code(view.case.receipt_code),
                   rating_code=rating_code, message=message, error=error, SATISFACTIONS=SATISFACTIONS,
                   SATISFACTION_NAMES=SATISFACTION_NAMES, typed=typed or {}, reason_max=rating.REASON_MAX)


async def _find(request: Request, tenant: Tenant, db: AsyncSession, typed: str) -> public.Lookup | Response:
    """The case of the typed code, or the one answer for every code that matches nothing (malformed or
    unknown alike); past the client's limit of misses, the same refusal whatever the code."""
    hashed = _hash(request, tenant)
    found = await public.look_up(db, normalise_code(typed), hashed)
    if found.blocked:
        return _lookup_page(request, tenant, code=typed, error=gettext(public.LOOKUP_LIMIT), status_code=429)
    if found.case is None:
        await public.record_miss(db, tenant.id, hashed)
        return _lookup_page(request, tenant, code=typed, error=gettext(public.CODE_NOT_FOUND), status_code=400)
    return found


@get("/p/{tenant_slug:str}/lookup", opt=OPT)
async def lookup_form(request: Request, tenant_slug: str) -> Response:
    async with access.public_tenant(request, tenant_slug) as (tenant, _):
        pass
    return _lookup_page(request, tenant)


@post("/p/{tenant_slug:str}/lookup", opt=OPT)
async def lookup(request: Request, tenant_slug: str) -> Response:
    async with access.public_tenant(request, tenant_slug, writes=True) as (tenant, db):  # writes: the misses
        typed = str((await request.form()).get("code", "")).strip()[:20]
        found = await _find(request, tenant, db, typed)
        if isinstance(found, Response):
            return found
        view = await public.public_view(db, found.case, found.names, tz=ZoneInfo(tenant.timezone))
    return _status_page(request, tenant, view)


@post("/p/{tenant_slug:str}/lookup/rate", opt=OPT)
async def rate(request: Request, tenant_slug: str) -> Response:
    async with access.public_tenant(request, tenant_slug, writes=True) as (tenant, db):
        form = await request.form()
        typed = str(form.get("code", "")).strip()[:20]
        rating_code = str(form.get("rating_code", "")).strip()[:20]
        found = await _find(request, tenant, db, typed)
        if isinstance(found, Response):
            return found
        case, tz = found.case, ZoneInfo(tenant.timezone)
        typed = {"satisfaction": str(form.get("satisfaction", ""))[:20],
                 "reason": str(form.get("reason", ""))[:REASON_READ_MAX]}
        try:
            await public.check_rating_code(db, case, rating_code, hashed=_hash(request, tenant))
            outcome = await steps.rate_by_public(db, case, typed["satisfaction"], reason=typed["reason"],
                                                 client_addr=None)
        except Refusal as refusal:
            # Nothing of the case was written (every check runs before the first change); a wrong
            # rating code's miss was, and is committed with this page.
            view = await public.public_view(db, case, found.names, tz=tz)
            return _status_page(request, tenant, view, error=refusal.text(), status_code=refusal.status,
                                rating_code=rating_code, typed=typed)
        view = await public.public_view(db, case, found.names, tz=tz)
    return _status_page(request, tenant, view, message=gettext(OUTCOMES[outcome], n=view.rehandle_limit))


public_route_handlers = [opinion_form, submit_opinion, lookup_form, lookup, rate]
