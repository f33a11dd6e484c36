"""Staff pages of a case under /t/{tenant_slug}: the quick registration form (phone-sized), the case
page with its history and the forms of exactly the steps the member may take now, the steps
themselves, the mobile reveal (audited), photos, and the page of a suggestion made from cases.
Thin: access → service → render; a refusal re-renders the page with its message, nothing written."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from app.cases import case_reads, joint_port, services, steps, suggestions, views, workflow
from app.cases.access import REGISTER_ROLES, case_filter, cases_query, get_case, shows_receipt_codes
from app.cases.models import (
    FEEDBACK_CHANNEL_NAMES, FEEDBACK_CHANNELS, LEVEL_NAMES, SATISFACTION_NAMES, SATISFACTIONS, SOURCE_NAMES, SOURCES,
    STATE_NAMES, UNIT_KIND_NAMES, URGENCIES, Case,
)
from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.images import MAX_UPLOAD_BYTES, get_image
from app.core.kept_pages import kept_page
from app.core.security import mask_mobile
from app.core.web import client_addr, page, see_other
from app.tenancy.access import TenantContext

DONE_MESSAGES = {
    "registered": lazy("The case has been registered. Give the person the receipt code."),
    "step": lazy("The step has been recorded."),
    "suggestion": lazy("The suggestion has been changed."),
}
NEW_KEYS = ("content", "source", "person_name", "person_mobile", "category_id", "station_id", "urgency", "deputy_id",
            "activity_id")
STEP_KEYS = ("category_id", "urgency", "answer", "unit_id", "reply_due", "note", "outside_body", "outside_ref", "question", "result", "channel",
             "satisfaction", "kind", "title", "deputy_id", "into", "level")


def _local(tz: ZoneInfo):
    def local(at, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        return at.astimezone(tz).strftime(fmt) if at else ""
    return local


def _names() -> dict:
    return dict(STATE_NAMES=STATE_NAMES, SOURCE_NAMES=SOURCE_NAMES, LEVEL_NAMES=LEVEL_NAMES, SOURCES=SOURCES,
                SATISFACTION_NAMES=SATISFACTION_NAMES, SATISFACTIONS=SATISFACTIONS, URGENCIES=URGENCIES,
                FEEDBACK_CHANNEL_NAMES=FEEDBACK_CHANNEL_NAMES, FEEDBACK_CHANNELS=FEEDBACK_CHANNELS,
                UNIT_KIND_NAMES=UNIT_KIND_NAMES, event_label=workflow.event_label, mask_mobile=mask_mobile,
                KIND_NAMES=suggestions.KIND_NAMES, SUGGESTION_STATE_NAMES=suggestions.SUGGESTION_STATE_NAMES)


# --- registering ---------------------------------------------------------------------------------

async def _new_page(request: Request, ctx: TenantContext, form: dict, *, status_code: int = 200,
                    error: str | None = None) -> Response:
    scope = await ctx.scope()
    stations = await views.station_choices(ctx.db, scope)
    station_ids = [s for s, _ in stations]
    chosen = as_id(form.get("station_id"))
    if chosen is None and len(stations) == 1:
        chosen = stations[0][0]
        form = {**form, "station_id": str(chosen)}
    shown = [chosen] if chosen in station_ids else station_ids
    activity = await views.activity_choice(ctx.db, as_id(form.get("activity_id")), shown)
    return page(request, "cases/new.html", status_code=status_code, form=form, error=error, stations=stations,
                categories=await views.categories(ctx.db), deputies=await views.deputy_choices(ctx.db, shown),
                activity=activity, base=ctx.base, local=_local(ctx.tz), **_names())


@get("/cases/new")
async def new_case(request: Request, ctx: TenantContext, activity_id: str | None = None,
                   station_id: str | None = None) -> Response:
    ctx.require_role(*REGISTER_ROLES)
    form = {"activity_id": activity_id or "", "station_id": station_id or "",
            "source": "reception" if activity_id else "", "urgency": "normal"}
    return await _new_page(request, ctx, form)


@post("/cases/new", opt={"uploads": True}, request_max_body_size=MAX_UPLOAD_BYTES + 65_536)
async def create_case(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role(*REGISTER_ROLES)
    scope = await ctx.scope()
    raw_form = await request.form()
    form = {k: str(raw_form.get(k) or "")[:5000] for k in NEW_KEYS if not isinstance(raw_form.get(k), UploadFile)}
    upload = raw_form.get("photo")
    raw = await upload.read() if isinstance(upload, UploadFile) else b""

    async def register():
        case = await services.register_case(ctx.db, scope, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                            client_addr=client_addr(request), new=services.NewCase(
            content=form.get("content", ""), source=form.get("source", ""), person_name=form.get("person_name", ""),
            person_mobile=form.get("person_mobile") or None, category_id=as_id(form.get("category_id")),
            station_id=as_id(form.get("station_id")), deputy_id=as_id(form.get("deputy_id")),
            activity_id=as_id(form.get("activity_id")), urgency=form.get("urgency") or "normal"))
        if raw:
            await services.add_photo(ctx.db, case, raw, actor_id=ctx.user.id, client_addr=client_addr(request))
        return case

    try:
        case = await ctx.attempt(register())
    except Refusal as refusal:
        return await _new_page(request, ctx, form, status_code=400 if refusal.status == 404 else refusal.status,
                               error=refusal.text())
    return see_other(f"{ctx.base}/cases/{case.id}?done=registered")


# --- the case page -----------------------------------------------------------------------------------

async def _case_page(request: Request, ctx: TenantContext, case_id: int, *, status_code: int = 200,
                     error: str | None = None, error_at: str = "", form: dict | None = None,
                     done: str | None = None, revealed: str | None = None) -> Response:
    """The case, its facts, its history and the choices of its forms: four statements (case_reads) plus
    those only some cases need (duplicates, joint stations)."""
    today = ctx.today()
    shown = dict(today=today, error=error, error_at=error_at, form=form or {}, done=DONE_MESSAGES.get(done or ""),
                 revealed=revealed, base=ctx.base, local=_local(ctx.tz), **_names())
    if status_code == 200 and error is None and revealed is None:  # the plain page: read once per change
        return await kept_page(request, "cases/case.html", tenant_id=ctx.tenant.id,
                               name=f"case:{ctx.membership.id}:{ctx.role}:{case_id}:{today}:"
                                    f"{done if done in DONE_MESSAGES else ''}",
                               reads=lambda: _case_reads(ctx, case_id, today), **shown)
    return page(request, "cases/case.html", status_code=status_code, **await _case_reads(ctx, case_id, today),
                **shown)


async def _case_reads(ctx: TenantContext, case_id: int, today) -> dict:
    """What the case page shows from the database (the same for every view until the county's data
    changes; a case out of scope raises NotFound and keeps nothing)."""
    scope = await ctx.scope()
    ref = await case_reads.get_case(ctx.db, scope, case_id)
    case = ref.case
    facts = await case_reads.read_facts(ctx.db, scope, ref)
    joint_feeds_back = await joint_port.joint_feeds_back(ctx.db, case)
    available = workflow.available_steps(scope, ref, today=today, rehandle_limit=facts.rehandle_limit,
                                         tenant_kind=ctx.tenant.kind, joint_feeds_back=joint_feeds_back,
                                         steward=await steps.archive_steward(ctx.db, scope, case))
    entries, merged = await case_reads.history(ctx.db, scope, case, facts.merged_ids)
    choices = await case_reads.choices(
        ctx.db, scope, case, units=bool({"assign", "send_back"} & set(available)), categories="classify" in available,
        merge="merge" in available,
        deputies="to_suggestion" in available and scope.role != "deputy" and case.deputy_id is None)
    return dict(
        ref=ref, c=case, entries=entries, merged=merged, steps=available, overdue=workflow.is_overdue(case, today),
        **choices, limit=facts.rehandle_limit, is_unit=scope.role == "handling_unit",
        show_codes=shows_receipt_codes(scope),
        counties=await joint_port.joint_stations().member_counties(ctx.db, ctx.tenant.id) if "refer" in available else [],
        referrals=await joint_port.joint_stations().referrals_of(ctx.db, case) if ctx.tenant.kind == "joint" else [],
        joint_feeds_back=joint_feeds_back, **facts.names)


@get("/cases/{case_id:int}")
async def case_page(request: Request, ctx: TenantContext, case_id: int, done: str | None = None) -> Response:
    return await _case_page(request, ctx, case_id, done=done)


@post("/cases/{case_id:int}/mobile")
async def case_reveal_mobile(request: Request, ctx: TenantContext, case_id: int) -> Response:
    """Shows the full number in place (never in a URL), after writing the audit entry."""
    ref = await get_case(ctx.db, await ctx.scope(), case_id)
    number = await services.reveal_mobile(ctx.db, ref.case, actor_id=ctx.user.id, client_addr=client_addr(request))
    return await _case_page(request, ctx, case_id, revealed=number or "")


# step → (service, {parameter: form field}); fields ending in "_id" are read as ids
STEP_FORMS = {
    "classify": (steps.classify, {"category_id": "category_id", "urgency": "urgency"}),
    "answer_on_spot": (steps.answer_on_spot, {"answer": "answer"}),
    "assign": (steps.assign, {"unit_id": "unit_id", "reply_due": "reply_due", "note": "note"}),
    "send_back": (steps.send_back, {"unit_id": "unit_id", "reply_due": "reply_due", "note": "note"}),
    "escalate": (steps.escalate, {"note": "note"}),
    "forward_outside": (steps.forward_outside, {"outside_body": "outside_body", "outside_ref": "outside_ref",
                                                "note": "note"}),
    "accept": (steps.accept, {"note": "note"}),
    "ask_clarification": (steps.ask_clarification, {"question": "question"}),
    "clarify": (steps.clarify, {"answer": "answer"}),
    "reply": (steps.reply, {"result": "result"}),
    "feed_back": (steps.feed_back, {"channel": "channel", "note": "note"}),
    "rate": (steps.rate, {"satisfaction": "satisfaction", "note": "note"}),
    "supervise": (steps.supervise, {"note": "note"}),
    "to_suggestion": (suggestions.to_suggestion, {"kind": "kind", "title": "title", "deputy_id": "deputy_id"}),
    "merge": (steps.merge, {"into": "into", "note": "note"}),
    "refer": (joint_port.refer, {"level": "level", "note": "note"}),  # + the chosen counties (county_id, several)
}


@post("/cases/{case_id:int}/steps/{step:str}")
async def take_step(request: Request, ctx: TenantContext, case_id: int, step: str) -> Response:
    """One route for every step; the form fields per step are in STEP_FORMS."""
    scope = await ctx.scope()
    ref = await get_case(ctx.db, scope, case_id, for_update=True)
    if step not in STEP_FORMS:
        raise NotFound()
    service, fields = STEP_FORMS[step]
    raw = await request.form()
    form = {k: str(raw.get(k) or "")[:5000] for k in STEP_KEYS}
    values = {p: as_id(form[k]) if k.endswith("_id") else form[k] for p, k in fields.items()}
    if step == "refer":
        form["county_ids"] = [str(v)[:20] for v in raw.getall("county_id", [])][:20]
        values["county_tenant_ids"] = [as_id(v) for v in form["county_ids"]]
    try:
        await ctx.attempt(service(ctx.db, scope, ref, actor_id=ctx.user.id, client_addr=client_addr(request), **values))
    except Refusal as refusal:
        if refusal.status == 404:
            raise NotFound() from None
        return await _case_page(request, ctx, case_id, status_code=refusal.status, error_at=step, form=form,
                                error=refusal.text())
    return see_other(f"{ctx.base}/cases/{case_id}?done=step#history")


@get("/cases/{case_id:int}/photos/{case_photo_id:int}")
async def case_photo(ctx: TenantContext, case_id: int, case_photo_id: int) -> Response:
    ref = await get_case(ctx.db, await ctx.scope(), case_id)
    photo = await views.photo_of(ctx.db, ref, case_photo_id)
    image = await get_image(ctx.db, photo.image_id) if photo else None
    if image is None:
        raise NotFound()
    return Response(content=image.data, media_type=image.media_type,
                    headers={"Cache-Control": "private, max-age=86400", "Vary": "Cookie"})


@get("/cases/from-opinion/{opinion_id:int}")
async def case_of_opinion(ctx: TenantContext, opinion_id: int) -> Response:
    """The case an activity's opinion became (the activity page links here)."""
    scope = await ctx.scope()
    if scope.role not in ("county_admin", "viewer", "township_staff", "station_staff", "deputy", "handling_unit"):
        raise NotFound()
    case_id = await ctx.db.scalar(cases_query(Case.id).where(Case.opinion_id == opinion_id, case_filter(scope))
                                  .order_by(Case.id).limit(1)) if 0 < opinion_id < 2**63 else None
    if case_id is None:
        raise NotFound()
    return see_other(f"{ctx.base}/cases/{case_id}")


# --- suggestions made from cases ---------------------------------------------------------------------

async def _suggestion_page(request: Request, ctx: TenantContext, suggestion_id: int, *, status_code: int = 200,
                           error: str | None = None, error_at: str = "", form: dict | None = None,
                           done: str | None = None) -> Response:
    scope = await ctx.scope()
    ref = await suggestions.get_suggestion(ctx.db, scope, suggestion_id)
    s = ref.suggestion
    can_assign = scope.role == "county_admin" and s.state in ("filed", "assigned")
    can_answer = scope.role == "handling_unit" and s.state == "assigned" \
        and scope.handling_unit_id == s.handling_unit_id
    return page(request, "cases/suggestion.html", status_code=status_code, ref=ref, s=s, can_assign=can_assign,
                show_codes=shows_receipt_codes(scope),
                can_answer=can_answer, units=await views.unit_choices(ctx.db, scope) if can_assign else [],
                error=error, error_at=error_at, form=form or {}, done=DONE_MESSAGES.get(done or ""), base=ctx.base,
                local=_local(ctx.tz), **_names())


@get("/suggestions/{suggestion_id:int}")
async def suggestion_page(request: Request, ctx: TenantContext, suggestion_id: int,
                          done: str | None = None) -> Response:
    return await _suggestion_page(request, ctx, suggestion_id, done=done)


async def _suggestion_change(request: Request, ctx: TenantContext, suggestion_id: int, part: str, action) -> Response:
    scope = await ctx.scope()
    ref = await suggestions.get_suggestion(ctx.db, scope, suggestion_id, for_update=True)
    raw = await request.form()
    form = {k: str(raw.get(k) or "")[:5000] for k in ("unit_id", "answer")}
    try:
        await ctx.attempt(action(scope, ref, form))
    except Refusal as refusal:
        return await _suggestion_page(request, ctx, suggestion_id, status_code=refusal.status, error_at=part,
                                      form=form, error=refusal.text())
    return see_other(f"{ctx.base}/suggestions/{suggestion_id}?done=suggestion")


@post("/suggestions/{suggestion_id:int}/assign")
async def suggestion_assign(request: Request, ctx: TenantContext, suggestion_id: int) -> Response:
    async def act(scope, ref, form):
        await suggestions.assign_suggestion(ctx.db, scope, ref, unit_id=as_id(form["unit_id"]), actor_id=ctx.user.id,
                                            client_addr=client_addr(request))

    return await _suggestion_change(request, ctx, suggestion_id, "assign", act)


@post("/suggestions/{suggestion_id:int}/answer")
async def suggestion_answer(request: Request, ctx: TenantContext, suggestion_id: int) -> Response:
    async def act(scope, ref, form):
        await suggestions.answer_suggestion(ctx.db, scope, ref, answer=form["answer"], actor_id=ctx.user.id,
                                            client_addr=client_addr(request))

    return await _suggestion_change(request, ctx, suggestion_id, "answer", act)


route_handlers = [
    new_case, create_case, case_page, case_reveal_mobile, take_step, case_photo, case_of_opinion, suggestion_page,
    suggestion_assign, suggestion_answer,
]
