"""Staff pages of homes and stations (家 · 站 · 室) under /t/{tenant_slug}/stations, and the images
they show under /t/{tenant_slug}/images/{image_id}."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from sqlalchemy import select

from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.images import MAX_UPLOAD_BYTES
from app.core.i18n import current_locale, lazy
from app.core.web import bounded, client_addr, page, see_other
from app.deputies.imports import IMPORT_ROLES
from app.deputies.models import Commitment
from app.stations import access, awards, checklist, homes, lifecycle, profile, schedule, services
from app.stations.models import STAFF_ROLE_NAMES, STAFF_ROLES, STATUS_NAMES, STATUSES, StationGoal, StationStaff
from app.tenancy.access import TenantContext

DONE_MESSAGES = {
    "created": lazy("The station has been proposed."),
    "renamed": lazy("The station has been renamed."),
    "step": lazy("The station's status has been changed."),
    "profile": lazy("The profile has been saved."),
    "photo": lazy("The photo has been saved."),
    "staff": lazy("The staff list has been changed."),
    "goal": lazy("The goals have been saved."),
    "commitment": lazy("The commitments have been saved."),
    "checklist": lazy("The checklist has been scored."),
}
NO_PHOTO = lazy("Please choose a photo to upload.")
IMAGE_CACHE = "private, max-age=86400"


# --- lists ----------------------------------------------------------------------------------------

@get("/stations")
async def station_list(request: Request, ctx: TenantContext, status: str | None = None, kind: str | None = None,
                       page_no: int = 1, done: str | None = None) -> Response:
    scope = await ctx.scope()
    access.require_places(scope)
    status = status if status in STATUSES else None
    kind_id = as_id(kind)
    result = await services.list_stations(ctx.db, scope, status=status, kind_id=kind_id, page=page_no)
    filters = {k: v for k, v in (("status", status), ("kind", kind_id)) if v}

    def page_url(n: int) -> str:
        return f"{ctx.base}/stations?" + urlencode({**filters, "page_no": n})

    return page(
        request, "stations/list.html", result=result, kinds=await services.all_kinds(ctx.db), status=status,
        kind_id=kind_id, statuses=STATUSES, STATUS_NAMES=STATUS_NAMES, base=ctx.base, page_url=page_url,
        can_create=scope.can_edit, done=DONE_MESSAGES.get(done or ""),
    )


@get("/stations/ratings")
async def station_ratings(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    access.require_places(scope)
    groups, active = await services.ratings(ctx.db, scope)
    return page(request, "stations/ratings.html", groups=groups, active=active, STATUS_NAMES=STATUS_NAMES,
                base=ctx.base)


# --- creating -------------------------------------------------------------------------------------

async def _new_page(request: Request, ctx: TenantContext, *, form: dict, status_code: int = 200,
                    error: str | None = None, canonical: str = "") -> Response:
    scope = await ctx.scope()
    return page(
        request, "stations/new.html", status_code=status_code, form=form, error=error, canonical=canonical,
        kinds=await services.active_kinds(ctx.db), nodes=await services.node_choices(ctx.db, scope),
        NODE_KIND_NAMES=services.NODE_KIND_NAMES, base=ctx.base,
    )


@get("/stations/new")
async def new_station(request: Request, ctx: TenantContext, node: str | None = None) -> Response:
    scope = await ctx.scope()
    if not scope.can_edit:
        raise NotFound()
    return await _new_page(request, ctx, form={"node_id": node or ""})


@post("/stations")
async def create_station(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    if not scope.can_edit:
        raise NotFound()
    form = await request.form()
    values = bounded(form, ("kind_id", "node_id", "name"))
    try:
        station = await ctx.attempt(services.create_station(
            ctx.db, scope, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, kind_id=values["kind_id"],
            node_id=values["node_id"], name=values["name"], client_addr=client_addr(request),
        ))
    except Refusal as refusal:
        return await _new_page(request, ctx, form=values, status_code=refusal.status, error=refusal.text(),
                               canonical=refusal.canonical)
    return see_other(f"{ctx.base}/stations/{station.id}?done=created")


# --- the station page -----------------------------------------------------------------------------

async def _station_page(request: Request, ctx: TenantContext, station_id: int, *, status_code: int = 200,
                        error: str | None = None, error_at: str = "", canonical: str = "", form: dict | None = None,
                        done: str | None = None) -> Response:
    scope = await ctx.scope()
    ref = await access.get_station(ctx.db, scope, station_id)
    detail = await profile.station_detail(ctx.db, ref, ctx.today(), current_locale.get())
    config = await services.tenant_config(ctx.db, ctx.tenant.id)
    can_edit = access.can_edit_station(scope, ref.node.path)
    can_profile = access.can_edit_profile(scope, ref)
    staff_users, staff_deputies = ([], [])
    if can_edit and ref.station.status != "closed":
        staff_users, staff_deputies = await profile.staff_choices(ctx.db, ctx.tenant.id, ref)
    return page(
        request, "stations/station.html", status_code=status_code, d=detail, s=ref.station, error=error,
        error_at=error_at, canonical=canonical, form=form or {}, done=DONE_MESSAGES.get(done or ""),
        can_edit=can_edit, can_profile=can_profile and ref.station.status != "closed",
        steps=lifecycle.steps_for(scope, config.lifecycle, ref) if scope.can_edit else [],
        STEP_NAMES=lifecycle.STEP_NAMES, EVENT_NAMES=lifecycle.EVENT_NAMES, STATUS_NAMES=STATUS_NAMES,
        STAFF_ROLES=STAFF_ROLES, STAFF_ROLE_NAMES=STAFF_ROLE_NAMES, staff_users=staff_users,
        HOLIDAY_RECEPTION_NAMES=schedule.HOLIDAY_RECEPTION_NAMES,
        staff_deputies=staff_deputies, year=ctx.today().year, tz=ctx.tz, base=ctx.base,
        lifecycle=lifecycle.forward_path(config.lifecycle), can_import=scope.role in IMPORT_ROLES,
        public_base=f"/p/{ctx.tenant.slug}", under=await homes.stations_under(ctx.db, scope, ref),
        years=await awards.station_years(ctx.db, ref.station.id),
    )


@get("/stations/{station_id:int}")
async def station(request: Request, ctx: TenantContext, station_id: int, done: str | None = None) -> Response:
    return await _station_page(request, ctx, station_id, done=done)


async def _change(request: Request, ctx: TenantContext, station_id: int, section: str, action, *,
                  profile: bool = False, form_keys: tuple[str, ...] = ()) -> Response:
    """Load the station (404 unless visible and changeable by this member), run ``action(ref, form)``,
    commit and redirect; a Refusal re-renders the page in place with nothing written."""
    scope = await ctx.scope()
    ref = await access.get_station(ctx.db, scope, station_id, for_update=True)
    (access.require_profile_edit if profile else access.require_edit)(scope, ref)
    form = await request.form()
    try:
        await ctx.attempt(action(ref, form))
    except Refusal as refusal:
        values = bounded(form, form_keys, 2000)
        return await _station_page(request, ctx, station_id, status_code=refusal.status, error=refusal.text(),
                                   error_at=section, canonical=refusal.canonical, form=values)
    return see_other(f"{ctx.base}/stations/{station_id}?done={section}#{section}")


@post("/stations/{station_id:int}/rename")
async def rename_station(request: Request, ctx: TenantContext, station_id: int) -> Response:
    async def act(ref, form):
        await services.rename_station(ctx.db, ref, actor_id=ctx.user.id, name=str(form.get("name", ""))[:200],
                                      client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "renamed", act, form_keys=("name",))


@post("/stations/{station_id:int}/lifecycle")
async def lifecycle_step(request: Request, ctx: TenantContext, station_id: int) -> Response:
    """Viewers, station staff and deputies do not change the lifecycle: the same 404 as elsewhere.
    Township staff asking for a county step get a clear refusal (403)."""
    scope = await ctx.scope()
    ref = await access.get_station(ctx.db, scope, station_id, for_update=True)
    if not scope.can_edit:
        raise NotFound()
    form = await request.form()
    try:
        await ctx.attempt(lifecycle.take_step(ctx.db, scope, ref, step=str(form.get("step", "")),
                                              note=str(form.get("note", "")), actor_id=ctx.user.id,
                                              client_addr=client_addr(request)))
    except Refusal as refusal:
        return await _station_page(request, ctx, station_id, status_code=refusal.status, error=refusal.text(),
                                   error_at="step", form={"note": str(form.get("note", ""))[:500]})
    return see_other(f"{ctx.base}/stations/{station_id}?done=step#history")


@post("/stations/{station_id:int}/profile")
async def edit_profile(request: Request, ctx: TenantContext, station_id: int) -> Response:
    async def act(ref, form):
        await profile.update_profile(ctx.db, ref, {k: form.get(k, "") for k in profile.PROFILE_KEYS},
                                      actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "profile", act, profile=True,
                         form_keys=profile.PROFILE_KEYS)


@post("/stations/{station_id:int}/photo", opt={"uploads": True}, request_max_body_size=MAX_UPLOAD_BYTES + 65_536)
async def upload_photo(request: Request, ctx: TenantContext, station_id: int) -> Response:
    async def act(ref, form):
        upload = form.get("photo")
        if not isinstance(upload, UploadFile):
            raise Refusal(NO_PHOTO)
        raw = await upload.read()
        if not raw:
            raise Refusal(NO_PHOTO)
        await profile.set_photo(ctx.db, ref, raw, actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "photo", act, profile=True)


@post("/stations/{station_id:int}/staff")
async def add_staff(request: Request, ctx: TenantContext, station_id: int) -> Response:
    async def act(ref, form):
        await profile.add_staff(ctx.db, ref, role=str(form.get("role", "")), person=str(form.get("person", "")),
                                 actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "staff", act, form_keys=("role", "person"))


@post("/stations/{station_id:int}/staff/{staff_id:int}/remove")
async def remove_staff(request: Request, ctx: TenantContext, station_id: int, staff_id: int) -> Response:
    async def act(ref, form):
        row = await ctx.db.scalar(select(StationStaff).where(StationStaff.station_id == ref.station.id,
                                                             StationStaff.id == staff_id))
        if row is None:
            raise NotFound()
        await profile.remove_staff(ctx.db, ref, row, actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "staff", act)


@post("/stations/{station_id:int}/goals")
async def add_goal(request: Request, ctx: TenantContext, station_id: int) -> Response:
    async def act(ref, form):
        await profile.add_goal(ctx.db, ref, year=form.get("year", ""), goal=str(form.get("goal", "")),
                                actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "goal", act, profile=True, form_keys=("year", "goal"))


@post("/stations/{station_id:int}/goals/{goal_id:int}")
async def edit_goal(request: Request, ctx: TenantContext, station_id: int, goal_id: int) -> Response:
    async def act(ref, form):
        goal = await ctx.db.scalar(select(StationGoal).where(StationGoal.station_id == ref.station.id,
                                                             StationGoal.id == goal_id))
        if goal is None:
            raise NotFound()
        await profile.update_goal(ctx.db, ref, goal, progress=str(form.get("progress", "")),
                                   done=form.get("done") == "1", actor_id=ctx.user.id,
                                   client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "goal", act, profile=True)


@post("/stations/{station_id:int}/commitments")
async def add_commitment(request: Request, ctx: TenantContext, station_id: int) -> Response:
    async def act(ref, form):
        await profile.add_commitment(ctx.db, ref, deputy_id=form.get("deputy_id", ""), year=form.get("year", ""),
                                      commitment=str(form.get("commitment", "")), actor_id=ctx.user.id,
                                      client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "commitment", act, profile=True,
                         form_keys=("deputy_id", "year", "commitment"))


@post("/stations/{station_id:int}/commitments/{commitment_id:int}/remove")
async def remove_commitment(request: Request, ctx: TenantContext, station_id: int, commitment_id: int) -> Response:
    async def act(ref, form):
        row = await ctx.db.scalar(select(Commitment).where(Commitment.station_id == ref.station.id,
                                                           Commitment.id == commitment_id))
        if row is None:
            raise NotFound()
        await profile.remove_commitment(ctx.db, ref, row, actor_id=ctx.user.id, client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "commitment", act, profile=True)


@post("/stations/{station_id:int}/checklist")
async def score_checklist(request: Request, ctx: TenantContext, station_id: int) -> Response:
    async def act(ref, form):
        await checklist.score_checklist(ctx.db, ref, dict(form.items()), actor_id=ctx.user.id,
                                        client_addr=client_addr(request))

    return await _change(request, ctx, station_id, "checklist", act)


# --- images ---------------------------------------------------------------------------------------

@get("/images/{image_id:int}")
async def image(ctx: TenantContext, image_id: int) -> Response:
    scope = await ctx.scope()
    stored = await access.get_image(ctx.db, scope, image_id)
    return Response(content=stored.data, media_type=stored.media_type,
                    headers={"Cache-Control": IMAGE_CACHE, "Vary": "Cookie"})


route_handlers = [
    station_list, station_ratings, new_station, create_station, station, rename_station, lifecycle_step,
    edit_profile, upload_photo, add_staff, remove_staff, add_goal, edit_goal, add_commitment, remove_commitment,
    score_checklist, image,
]
