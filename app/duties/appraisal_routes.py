"""The yearly appraisal's pages under /t/{tenant_slug}/appraisals: the years, one year's results (run,
adjust, publish; who has not handed in a report; the unsatisfactory needing a talk), and each deputy's
printable feedback notice where the deputy files their rectification report. Thin: access → service →
render; a refusal re-renders the page with status 400 and nothing written.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from litestar import Request, Response, get, post

from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.paging import slice_of
from app.core.web import bounded, client_addr, page, see_other
from app.deputies.access import access_deputy
from app.deputies.services import Actor
from app.duties import appraisal as svc
from app.duties.settings import duty_settings
from app.duties.appraisal_models import GRADE_NAMES, GRADES, MAX_AGREED, MAX_REASON, MAX_REPORT, STATUS_NAMES
from app.tenancy.access import TenantContext

PER_PAGE = 100  # results shown a page at a time (a name search finds one deputy); counts are of all

DONE = {
    "drafted": lazy("The draft appraisal has been computed from the points."),
    "adjusted": lazy("The score has been adjusted."),
    "published": lazy("The appraisal has been published and the notices sent."),
    "talk": lazy("The talk has been recorded."),
    "report": lazy("Your rectification report has been handed in."),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _actor(request: Request, ctx: TenantContext) -> Actor:
    return Actor(tenant_id=ctx.tenant.id, user_id=ctx.user.id, scope=await ctx.scope(),
                 client_addr=client_addr(request))


def _require_staff(actor: Actor) -> None:
    if actor.scope.role not in svc.STAFF_ROLES:
        raise NotFound()


def _common(ctx: TenantContext, actor: Actor) -> dict:
    return dict(base=ctx.base, GRADES=GRADES, GRADE_NAMES=GRADE_NAMES, STATUS_NAMES=STATUS_NAMES,
                can_run=actor.scope.role in svc.RUN_ROLES, can_talk=actor.scope.role in svc.TALK_ROLES)


# --- the years -----------------------------------------------------------------------------------

def _start_form(ctx: TenantContext, settings) -> dict:
    """The start form as the county's duty settings fill it: thresholds, the due day so many days on."""
    due = ctx.today() + timedelta(days=settings.report_days) if settings.rectification else None
    return {"excellent": str(settings.excellent), "pass": str(settings.pass_),
            "report_due": due.isoformat() if due else ""}


async def _list_page(request: Request, ctx: TenantContext, actor: Actor, *, form: dict | None = None,
                     error: str | None = None, status_code: int = 200) -> Response:
    found = await svc.appraisals(ctx.db, ctx.tenant.id)
    if actor.scope.role == "deputy":
        found = [a for a in found if a.status == "published"]
    settings = await duty_settings(ctx.db, ctx.tenant.id)
    return page(request, "duties/appraisal_list.html", status_code=status_code, appraisals=found, error=error,
                form=form or _start_form(ctx, settings), years=svc.years_offered(ctx.today()),
                asks_report=settings.rectification, own=actor.scope.role == "deputy", **_common(ctx, actor))


@get("/appraisals")
async def appraisal_list(request: Request, ctx: TenantContext) -> Response:
    actor = await _actor(request, ctx)
    if actor.scope.role not in (*svc.STAFF_ROLES, "deputy"):
        raise NotFound()
    return await _list_page(request, ctx, actor)


@post("/appraisals")
async def start_appraisal(request: Request, ctx: TenantContext) -> Response:
    actor = await _actor(request, ctx)
    _require_staff(actor)
    form = bounded(await request.form(), ("year", "excellent", "pass", "report_due"), 20)
    try:
        a = await ctx.attempt(svc.create_draft(ctx.db, actor, year=form["year"], excellent=form["excellent"],
                                               pass_=form["pass"], report_due=form["report_due"],
                                               today=ctx.today(), tz=ctx.tz))
    except Refusal as refusal:
        return await _list_page(request, ctx, actor, form=form, error=refusal.text(), status_code=400)
    return see_other(f"{ctx.base}/appraisals/{a.year}?done=drafted")


# --- one year ------------------------------------------------------------------------------------

async def _year_page(request: Request, ctx: TenantContext, actor: Actor, year: int, *, error: str | None = None,
                     form: dict | None = None, done: str | None = None, status_code: int = 200) -> Response:
    a = await svc.appraisal_for(ctx.db, ctx.tenant.id, year)
    rows = await svc.results(ctx.db, actor, a)
    talks = await svc.talks(ctx.db, actor, a)
    counts = {g: sum(1 for r, _ in rows if r.grade == g) for g in GRADES}
    missing = [(r, d) for r, d in rows if r.report_at is None]
    # a published appraisal asks for reports when it has a due day; a draft as the county's settings say
    settings = await duty_settings(ctx.db, ctx.tenant.id) if a.status == "draft" else None
    asks = settings.rectification if settings else a.report_due is not None
    due = a.report_due or (ctx.today() + timedelta(days=settings.report_days) if settings else None)
    shown = slice_of(rows, page=request.query_params.get("page"), q=request.query_params.get("q"), per_page=PER_PAGE,
                     name=lambda row: row[1].name)
    return page(request, "duties/appraisal.html", status_code=status_code, a=a, rows=rows, counts=counts,
                shown=shown, PER_PAGE=PER_PAGE,
                asks_report=asks, due_offered=due.isoformat() if due else "",
                missing=missing, failing=[(r, d) for r, d in rows if r.grade == "fail"], talks=talks,
                late={r.deputy_id for r, _ in rows if svc.is_late(a, r, ctx.tz)}, error=error, form=form or {},
                done=DONE.get(done or ""), today=ctx.today(), MAX_REASON=MAX_REASON, MAX_AGREED=MAX_AGREED,
                **_common(ctx, actor))


@get("/appraisals/{year:int}")
async def appraisal_year(request: Request, ctx: TenantContext, year: int, done: str | None = None) -> Response:
    actor = await _actor(request, ctx)
    if actor.scope.role == "deputy":
        return see_other(f"{ctx.base}/appraisals/{year}/mine")
    _require_staff(actor)
    return await _year_page(request, ctx, actor, year, done=done)


async def _change(request: Request, ctx: TenantContext, year: int, keys: tuple[str, ...], limit: int, call,
                  done: str) -> Response:
    """A change on the year's page: the service under ctx.attempt, the page again on a refusal."""
    actor = await _actor(request, ctx)
    _require_staff(actor)
    form = bounded(await request.form(), keys, limit)
    a = await svc.appraisal_for(ctx.db, ctx.tenant.id, year, for_update=True)
    try:
        await ctx.attempt(call(actor, a, form))
    except Refusal as refusal:
        return await _year_page(request, ctx, actor, year, error=refusal.text(), form=form, status_code=400)
    return see_other(f"{ctx.base}/appraisals/{year}?done={done}")


@post("/appraisals/{year:int}/adjust")
async def adjust_score(request: Request, ctx: TenantContext, year: int) -> Response:
    async def call(actor, a, form):
        deputy = await access_deputy(ctx.db, actor.scope, as_id(form["deputy_id"]) or 0)
        return await svc.adjust(ctx.db, actor, a, deputy_id=deputy.id, score=form["score"], reason=form["reason"])
    return await _change(request, ctx, year, ("deputy_id", "score", "reason"), MAX_REASON + 100, call, "adjusted")


@post("/appraisals/{year:int}/publish")
async def publish(request: Request, ctx: TenantContext, year: int) -> Response:
    async def call(actor, a, form):
        return await svc.publish(ctx.db, actor, a, slug=ctx.tenant.slug, report_due=form["report_due"],
                                 now=_now(), tz=ctx.tz)
    return await _change(request, ctx, year, ("report_due",), 20, call, "published")


@post("/appraisals/{year:int}/talks")
async def record_talk(request: Request, ctx: TenantContext, year: int) -> Response:
    async def call(actor, a, form):
        deputy = await access_deputy(ctx.db, actor.scope, as_id(form["deputy_id"]) or 0)
        return await svc.record_talk(ctx.db, actor, a, deputy, day=form["day"], talked_by=form["talked_by"],
                                     agreed=form["agreed"], today=ctx.today())
    return await _change(request, ctx, year, ("deputy_id", "day", "talked_by", "agreed"), MAX_AGREED + 100, call,
                         "talk")


# --- the notice ----------------------------------------------------------------------------------

@get("/appraisals/{year:int}/mine")
async def my_notice(request: Request, ctx: TenantContext, year: int) -> Response:
    """Where the SMS link leads: a deputy to their own notice, staff to the year's page."""
    actor = await _actor(request, ctx)
    if actor.scope.role != "deputy":
        return see_other(f"{ctx.base}/appraisals/{year}")
    a = await svc.appraisal_for(ctx.db, ctx.tenant.id, year)
    rows = await svc.results(ctx.db, actor, a) if a.status == "published" else []
    if not rows:
        raise NotFound()
    return see_other(f"{ctx.base}/appraisals/{year}/notices/{rows[0][1].id}")


async def _notice_page(request: Request, ctx: TenantContext, actor: Actor, year: int, deputy_id: int, *,
                       error: str | None = None, text: str = "", done: str | None = None,
                       status_code: int = 200) -> Response:
    a = await svc.appraisal_for(ctx.db, ctx.tenant.id, year)
    result, deputy = await svc.access_result(ctx.db, actor, a, deputy_id)
    return page(request, "duties/appraisal_notice.html", status_code=status_code, a=a, r=result, dep=deputy,
                printing=request.query_params.get("print") == "1", error=error, text=text,
                own=actor.scope.role == "deputy", late=svc.is_late(a, result, ctx.tz), done=DONE.get(done or ""),
                paper=actor.scope.role in svc.TALK_ROLES, on_paper=svc.on_paper(result, deputy),
                tenant_name=ctx.tenant.name, MAX_REPORT=MAX_REPORT, **_common(ctx, actor))


@get("/appraisals/{year:int}/notices/{deputy_id:int}")
async def notice(request: Request, ctx: TenantContext, year: int, deputy_id: int, done: str | None = None) -> Response:
    return await _notice_page(request, ctx, await _actor(request, ctx), year, deputy_id, done=done)


@post("/appraisals/{year:int}/notices/{deputy_id:int}/report")
async def file_report(request: Request, ctx: TenantContext, year: int, deputy_id: int) -> Response:
    actor = await _actor(request, ctx)
    text = bounded(await request.form(), ("report",), MAX_REPORT + 100)["report"]
    a = await svc.appraisal_for(ctx.db, ctx.tenant.id, year)
    result, deputy = await svc.access_result(ctx.db, actor, a, deputy_id)
    try:
        await ctx.attempt(svc.file_report(ctx.db, actor, a, result, deputy, text=text, now=_now()))
    except Refusal as refusal:
        if refusal.status == 403:
            raise NotFound() from refusal
        return await _notice_page(request, ctx, actor, year, deputy_id, error=refusal.text(), text=text,
                                  status_code=400)
    return see_other(f"{ctx.base}/appraisals/{year}/notices/{deputy_id}?done=report")


route_handlers = [appraisal_list, start_appraisal, appraisal_year, adjust_score, publish, record_talk, my_notice,
                  notice, file_report]
