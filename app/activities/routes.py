"""Staff pages of activities under /t/{tenant_slug}/activities: the list, a new activity, its page
with invitations, sign-in actions, the record, photos, opinions and history, and the changes."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile

from app.activities import absences, access, queries, records, services
from app.activities.models import SIGNIN_METHOD_NAMES, STATUS_NAMES, STATUSES
from app.activities.signin import signin_open
from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import gettext, lazy
from app.core.images import MAX_UPLOAD_BYTES
from app.core.web import bounded, client_addr, htmx_target, page, see_other
from app.deputies.access import access_group
from app.stations.access import get_station
from app.tenancy.access import TenantContext
from app.tenancy.config import get_config

DONE_MESSAGES = {
    "created": lazy("The activity has been arranged."),
    "rescheduled": lazy("The activity has been rescheduled."),
    "cancelled": lazy("The activity has been cancelled."),
    "edited": lazy("The activity's details have been saved."),
    "invited": lazy("The invitations have been changed."),
    "recorded": lazy("The record of the activity has been saved."),
    "photo": lazy("The photo has been saved."),
    "photo_thumb": lazy("The photo has been saved as a thumbnail only: the county's space for original photos is full."),
    "opinion": lazy("The opinion has been registered."),
    "leave_asked": absences.ASKED_DONE, "leave_withdrawn": absences.WITHDRAWN_DONE,
    "absence_recorded": lazy("The reason for the absence has been recorded."),
    "absence_cleared": lazy("The reason for the absence has been cleared."),
}
EVENT_NAMES = {
    "created": lazy("Activity arranged"), "rescheduled": lazy("Activity rescheduled"),
    "cancelled": lazy("Activity cancelled"), "edited": lazy("Activity details changed"),
    "invited": lazy("Deputies invited"), "uninvited": lazy("Invitation withdrawn"),
    "recorded": lazy("Recorded as held"), "record_edited": lazy("Record of the activity edited"),
    "added_to_plan": lazy("Added to the published plan"),
    "leave_asked": lazy("Leave asked for by the deputy"), "leave_withdrawn": lazy("Leave withdrawn by the deputy"),
    "absence_recorded": lazy("Reason for absence recorded by staff"),
    "absence_cleared": lazy("Reason for absence cleared by staff"),
    "leave_signed_in": lazy("Signed in after leave was recorded"),
}
WHEN_NAMES = {"upcoming": lazy("Still to come"), "unrecorded": lazy("Over, not yet recorded")}
STATION_NOT_ACTIVE = lazy("Activities are arranged only at stations in operation.")
CHOOSE_PLACE = lazy("Please choose the station or the deputy group.")
IMAGE_CACHE = "private, max-age=86400"


def _formatters(tz: ZoneInfo) -> dict:
    def local(at, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        return at.astimezone(tz).strftime(fmt) if at else ""

    return {"local": local, "tz": tz}


# --- the list -------------------------------------------------------------------------------------

@get("/activities")
async def activity_list(request: Request, ctx: TenantContext, station: str | None = None, kind: str | None = None,
                        status: str | None = None, month: str | None = None, when: str | None = None,
                        page_no: int = 1) -> Response:
    scope = await ctx.scope()
    access.require_view(scope)
    tz = ctx.tz
    filters = {"station": as_id(station), "kind": as_id(kind), "status": status if status in STATUSES else None,
               "month": month if queries.month_range(month, tz) else None,
               "when": when if when in queries.WHEN else None}
    result = await queries.list_activities(
        ctx.db, scope, now=datetime.now(timezone.utc), tz=tz, station_id=filters["station"],
        kind_id=filters["kind"], status=filters["status"], month=filters["month"], when=filters["when"],
        page=page_no)
    shown = {k: v for k, v in filters.items() if v}

    def page_url(n: int) -> str:
        return f"{ctx.base}/activities?" + urlencode({**shown, "page_no": n})

    context = dict(result=result, filters=filters, page_url=page_url, base=ctx.base, STATUS_NAMES=STATUS_NAMES,
                   is_deputy=scope.role == "deputy", **_formatters(tz))
    if htmx_target(request) == "activity-list":
        return page(request, "activities/_list.html", **context)
    stations, kinds = await queries.filter_choices(ctx.db, scope)
    return page(request, "activities/list.html", stations=stations, kinds=kinds, statuses=STATUSES,
                WHEN=queries.WHEN, WHEN_NAMES=WHEN_NAMES, can_create=scope.role in access.RUN_ROLES, **context)


# --- a new activity -------------------------------------------------------------------------------

FORM_KEYS = ("station", "group", "kind_id", "day", "start", "end", "place", "topic", "responsible", "held")


async def _place(ctx: TenantContext, scope, form: dict):
    """(StationRef | None, DeputyGroup | None) chosen in the form; 404 for one out of reach."""
    station_id, group_id = as_id(form.get("station")), as_id(form.get("group"))
    if station_id:
        ref = await get_station(ctx.db, scope, station_id)
        if ref.station.status != "active":
            raise Refusal(STATION_NOT_ACTIVE)
        return ref, None
    if group_id and scope.role == "county_admin":
        return None, await access_group(ctx.db, scope, group_id)
    return None, None


async def _new_page(request: Request, ctx: TenantContext, form: dict, *, chosen: list[int] | None = None,
                    status_code: int = 200, error: str | None = None) -> Response:
    scope = await ctx.scope()
    try:
        station_ref, group = await _place(ctx, scope, form)
    except Refusal as refusal:
        station_ref, group, error, status_code = None, None, gettext(refusal.message), refusal.status
    deputies = []
    if station_ref:
        deputies = await queries.station_deputies(ctx.db, station_ref.station.id)
    elif group:
        deputies = await queries.group_deputies(ctx.db, group.id)
    if chosen is None:
        chosen = [d.id for d in deputies]
    context = dict(form=form, deputies=deputies, chosen=set(chosen), station_ref=station_ref, group=group,
                   base=ctx.base, error=error)
    choices = await queries.new_choices(ctx.db, scope, ctx.tenant.id)
    if not (station_ref or group) and len(choices["stations"]) == 1 and not choices["groups"] and not error:
        form = {**form, "station": str(choices["stations"][0][0])}
        return await _new_page(request, ctx, form, chosen=chosen if chosen else None)
    return page(request, "activities/new.html", status_code=status_code, **choices, **context)


@get("/activities/new")
async def new_activity(request: Request, ctx: TenantContext, station: str | None = None,
                       group: str | None = None) -> Response:
    scope = await ctx.scope()
    if scope.role not in access.RUN_ROLES:
        raise NotFound()
    return await _new_page(request, ctx, {"station": station or "", "group": group or ""})


@post("/activities/new")
async def create_activity(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    if scope.role not in access.RUN_ROLES:
        raise NotFound()
    form = await request.form()
    values = bounded(form, FORM_KEYS)
    chosen = [i for i in (as_id(v) for v in form.getall("deputy_ids", [])) if i][:500]
    try:
        station_ref, group = await _place(ctx, scope, values)
        if not (station_ref or group):
            raise Refusal(CHOOSE_PLACE)
        starts_at, ends_at = services.parse_when(ctx.tenant.timezone, values["day"], values["start"], values["end"])
        activity = await ctx.attempt(services.create_activity(
            ctx.db, scope, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, station=station_ref, group=group,
            new=services.NewActivity(
                kind_id=as_id(values["kind_id"]), starts_at=starts_at, ends_at=ends_at, place=values["place"],
                topic=values["topic"], responsible_user_id=as_id(values["responsible"]), deputy_ids=tuple(chosen),
                held=values["held"] == "1"),
            client_addr=client_addr(request)))
    except Refusal as refusal:
        if refusal.status == 404:
            raise NotFound() from None
        return await _new_page(request, ctx, values, chosen=chosen, status_code=refusal.status,
                               error=refusal.text())
    return see_other(f"{ctx.base}/activities/{activity.id}?done=created")


# --- the activity's page --------------------------------------------------------------------------

async def detail_page(request: Request, ctx: TenantContext, activity_id: int, *, q: str = "", done: str | None = None,
                  status_code: int = 200, error: str | None = None, error_at: str = "",
                  form: dict | None = None) -> Response:
    scope = await ctx.scope()
    ref = await access.get_activity(ctx.db, scope, activity_id)
    can_run = access.can_run(scope, ref)
    activity = ref.activity
    candidates = await queries.invite_candidates(ctx.db, scope, activity, q) \
        if can_run and activity.status != "cancelled" else []
    context = dict(ref=ref, a=activity, candidates=candidates, q=q, can_run=can_run, base=ctx.base,
                   **_formatters(ctx.tz))
    if htmx_target(request) == "invite-found":
        return page(request, "activities/_invite_choices.html", **context)
    now = datetime.now(timezone.utc)
    events, deputy_names, user_names = await queries.history(ctx.db, activity)
    invitations = await queries.invitations(ctx.db, activity.id)
    return page(
        request, "activities/detail.html", status_code=status_code, **context, invitations=invitations,
        leave=absences.leave_view(scope, activity, invitations, now), photos=await queries.photos(ctx.db, activity.id),
        opinions=await queries.opinions(ctx.db, activity.id), events=events, deputy_names=deputy_names,
        user_names=user_names, staff=await queries.staff_members(ctx.db, ctx.tenant.id) if can_run else [],
        signin_is_open=signin_open(activity, await get_config(ctx.db, ctx.tenant.id), now),
        started=activity.starts_at <= now, now=now, done=DONE_MESSAGES.get(done or ""), error=error,
        error_at=error_at, form=form or {}, STATUS_NAMES=STATUS_NAMES, SIGNIN_METHOD_NAMES=SIGNIN_METHOD_NAMES,
        EVENT_NAMES=EVENT_NAMES,
    )


@get("/activities/{activity_id:int}")
async def activity_detail(request: Request, ctx: TenantContext, activity_id: int, q: str | None = None,
                          done: str | None = None) -> Response:
    return await detail_page(request, ctx, activity_id, q=(q or "")[:40], done=done)


async def _change(request: Request, ctx: TenantContext, activity_id: int, section: str, action,
                  form_keys: tuple[str, ...] = ()) -> Response:
    """Load the activity (404 unless visible and runnable by this member), run ``action(ref, form)``,
    commit and redirect; a Refusal re-renders the page in place with nothing written."""
    scope = await ctx.scope()
    ref = await access.get_activity(ctx.db, scope, activity_id, for_update=True)
    access.require_run(scope, ref)
    form = await request.form()
    try:
        done = await ctx.attempt(action(scope, ref, form)) or section
    except Refusal as refusal:
        values = bounded(form, form_keys, 5000)
        return await detail_page(request, ctx, activity_id, status_code=refusal.status, error_at=section, form=values,
                             error=refusal.text())
    return see_other(f"{ctx.base}/activities/{activity_id}?done={done}#{section}")


@post("/activities/{activity_id:int}/reschedule")
async def reschedule(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        starts_at, ends_at = services.parse_when(ctx.tenant.timezone, str(form.get("day", "")),
                                                 str(form.get("start", "")), str(form.get("end", "")))
        await services.reschedule(ctx.db, scope, ref, starts_at=starts_at, ends_at=ends_at,
                                  reason=str(form.get("reason", "")), actor_id=ctx.user.id,
                                  client_addr=client_addr(request))

    return await _change(request, ctx, activity_id, "rescheduled", act, ("day", "start", "end", "reason"))


@post("/activities/{activity_id:int}/cancel")
async def cancel(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        await services.cancel(ctx.db, scope, ref, reason=str(form.get("reason", "")), actor_id=ctx.user.id,
                              client_addr=client_addr(request))

    return await _change(request, ctx, activity_id, "cancelled", act, ("reason",))


@post("/activities/{activity_id:int}/edit")
async def edit(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        await services.edit(ctx.db, scope, ref, place=str(form.get("place", "")), topic=str(form.get("topic", "")),
                            responsible_user_id=as_id(form.get("responsible")), actor_id=ctx.user.id,
                            client_addr=client_addr(request))

    return await _change(request, ctx, activity_id, "edited", act, ("place", "topic", "responsible"))


@post("/activities/{activity_id:int}/invitations")
async def invite(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        ids = [as_id(v) for v in form.getall("deputy_ids", [])][:500]
        if None in ids:
            raise Refusal(services.DEPUTY_UNKNOWN)
        await services.invite(ctx.db, scope, ref, ids, actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _change(request, ctx, activity_id, "invited", act)


@post("/activities/{activity_id:int}/invitations/{deputy_id:int}/withdraw")
async def withdraw(request: Request, ctx: TenantContext, activity_id: int, deputy_id: int) -> Response:
    async def act(scope, ref, form):
        await services.withdraw(ctx.db, scope, ref, deputy_id, actor_id=ctx.user.id, client_addr=client_addr(request))
        return "invited"

    return await _change(request, ctx, activity_id, "invitations", act)


@post("/activities/{activity_id:int}/record")
async def record_activity(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        await records.record_held(ctx.db, scope, ref, notes=str(form.get("notes", "")),
                                  people=str(form.get("people_received", "")), actor_id=ctx.user.id,
                                  client_addr=client_addr(request))

    return await _change(request, ctx, activity_id, "recorded", act, ("notes", "people_received"))


@post("/activities/{activity_id:int}/photos", opt={"uploads": True}, request_max_body_size=MAX_UPLOAD_BYTES + 65_536)
async def upload_photo(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        upload = form.get("photo")
        raw = await upload.read() if isinstance(upload, UploadFile) else b""
        photo = await records.add_photo(ctx.db, scope, ref, raw, caption=str(form.get("caption", "")),
                                        actor_id=ctx.user.id, client_addr=client_addr(request))
        return "photo" if photo.original_bytes else "photo_thumb"

    return await _change(request, ctx, activity_id, "photo", act, ("caption",))


@get("/activities/{activity_id:int}/photos/{photo_id:int}")
async def photo(ctx: TenantContext, activity_id: int, photo_id: int) -> Response:
    ref = await access.get_activity(ctx.db, await ctx.scope(), activity_id)
    _, image = await records.photo_of(ctx.db, ref, photo_id)
    return Response(content=image.data, media_type=image.media_type,
                    headers={"Cache-Control": IMAGE_CACHE, "Vary": "Cookie"})


@get("/activities/{activity_id:int}/photos/{photo_id:int}/original")
async def photo_original(ctx: TenantContext, activity_id: int, photo_id: int) -> Response:
    ref = await access.get_activity(ctx.db, await ctx.scope(), activity_id)
    row, _ = await records.photo_of(ctx.db, ref, photo_id, original=True)
    return Response(content=await records.original_data(ctx.db, row), media_type=row.original_type,
                    headers={"Cache-Control": IMAGE_CACHE, "Vary": "Cookie",
                             "Content-Disposition": f'inline; filename="activity-{activity_id}-{photo_id}"'})


@post("/activities/{activity_id:int}/opinions")
async def register_opinion(request: Request, ctx: TenantContext, activity_id: int) -> Response:
    async def act(scope, ref, form):
        raw_deputy = str(form.get("deputy_id", "")).strip()
        deputy_id = as_id(raw_deputy)
        if raw_deputy and deputy_id is None:
            raise Refusal(records.RECEIVER_NOT_INVITED)
        await records.register_opinion(ctx.db, scope, ref, content=str(form.get("content", "")),
                                       raised_by=str(form.get("raised_by", "")), deputy_id=deputy_id,
                                       actor_id=ctx.user.id, tz_name=ctx.tenant.timezone,
                                       client_addr=client_addr(request))

    return await _change(request, ctx, activity_id, "opinion", act, ("content", "raised_by", "deputy_id"))


route_handlers = [
    activity_list, new_activity, create_activity, activity_detail, reschedule, cancel, edit, invite, withdraw,
    record_activity, upload_photo, photo, photo_original, register_opinion,
]
