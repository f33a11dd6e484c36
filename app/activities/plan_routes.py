"""Staff pages of a station's yearly activity plans (年度活动计划) under /t/{tenant_slug}/stations/{id}/plans:
the list by year, one plan (printable, for the station's wall) with its change record, and the forms
that draft, fill, publish and annotate it."""

from __future__ import annotations

from datetime import datetime
from typing import Awaitable, Callable
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from sqlalchemy import select

from app.activities import plan_views, plans
from app.activities.models import STATUS_NAMES, ActivityKind
from app.core.db import as_id
from app.core.errors import Refusal
from app.core.i18n import current_locale, lazy
from app.core.web import client_addr, page, see_other
from app.stations.access import get_station
from app.stations.schedule import describe_rule, format_day
from app.tenancy.access import TenantContext

DONE_MESSAGES = {
    "created": lazy("The draft plan has been started."),
    "entry": lazy("The entry has been added to the plan."),
    "published": lazy("The plan has been published; it now shows on the station's public page."),
    "note": lazy("The plan note has been saved."),
    "moved": lazy("The entries on public holidays have been moved to the next working day."),
}
PLAN_STATUS_NAMES = {"draft": lazy("Draft plan"), "published": lazy("Published plan")}
RECEPTION = "reception"


def _whole_number(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _helpers() -> dict:
    locale = current_locale.get()
    return dict(
        full_day=lambda d: format_day(d, locale), short_day=lambda d: plan_views.short_day(d, locale),
        weekday=lambda d: plan_views.weekday(d, locale), month_name=lambda m: plan_views.month_name(m, locale),
    )


# --- the station's plans --------------------------------------------------------------------------

async def _list_page(request: Request, ctx: TenantContext, station_id: int, *, status_code: int = 200,
                     error: str | None = None, done: str | None = None) -> Response:
    scope = await ctx.scope()
    ref = await get_station(ctx.db, scope, station_id)
    rows = await plans.station_plans(ctx.db, ref.station.id)
    this_year = datetime.now(ctx.tz).year
    have = {r.plan.year for r in rows}
    startable = [y for y in (this_year, this_year + 1) if y not in have] if plans.can_change(scope, ref) else []
    return page(request, "activities/plan_list.html", status_code=status_code, s=ref.station, rows=rows,
                startable=startable, error=error, done=DONE_MESSAGES.get(done or ""), base=ctx.base,
                PLAN_STATUS_NAMES=PLAN_STATUS_NAMES, **_helpers())


@get("/stations/{station_id:int}/plans")
async def plan_list(request: Request, ctx: TenantContext, station_id: int) -> Response:
    return await _list_page(request, ctx, station_id)


@post("/stations/{station_id:int}/plans")
async def plan_create(request: Request, ctx: TenantContext, station_id: int) -> Response:
    scope = await ctx.scope()
    ref = await get_station(ctx.db, scope, station_id)
    plans.require_change(scope, ref)
    year = _whole_number((await request.form()).get("year"))
    try:
        plan = await ctx.attempt(plans.create_plan(
            ctx.db, scope, ref, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, year=year,
            today=datetime.now(ctx.tz).date(), client_addr=client_addr(request)))
    except Refusal as refusal:
        return await _list_page(request, ctx, station_id, status_code=refusal.status, error=refusal.text())
    return see_other(f"{ctx.base}/stations/{ref.station.id}/plans/{plan.year}?done=created")


# --- one plan -------------------------------------------------------------------------------------

async def _kinds(ctx: TenantContext) -> list[ActivityKind]:
    return list(await ctx.db.scalars(select(ActivityKind).where(ActivityKind.retired_at.is_(None))
                                     .order_by(ActivityKind.sort, ActivityKind.id)))


def _generate_defaults(kinds: list[ActivityKind], reception_rule: str) -> dict:
    """The generate form starts on reception days, prefilled with the station's own fixed days."""
    reception = next((k for k in kinds if k.code == RECEPTION), None)
    try:
        days = describe_rule(reception_rule, "zh_Hans")
    except Refusal:
        days = ""
    return {"kind_id": str(reception.id) if reception else "", "days": days, "start": "09:00", "end": "11:30",
            "invite": "1", "reception_kind": str(reception.id) if reception else "", "station_days": days}


async def _plan_page(request: Request, ctx: TenantContext, station_id: int, year: int, *, status_code: int = 200,
                     error: str | None = None, error_at: str = "", form: dict | None = None,
                     done: str | None = None, generated: plans.Generated | None = None) -> Response:
    scope = await ctx.scope()
    pref = await plans.get_plan(ctx.db, scope, station_id, year)
    view = await plan_views.plan_view(ctx.db, pref.plan, ctx.tz)
    can_change = plans.can_change(scope, pref.station)
    kinds = await _kinds(ctx) if can_change else []
    defaults = _generate_defaults(kinds, pref.station.station.reception_rule)
    return page(
        request, "activities/plan.html", status_code=status_code, s=pref.station.station, p=pref.plan, view=view,
        can_change=can_change, kinds=kinds, defaults=defaults, form=form or {}, error=error, error_at=error_at,
        done=DONE_MESSAGES.get(done or ""), generated=generated, base=ctx.base, STATUS_NAMES=STATUS_NAMES,
        PLAN_STATUS_NAMES=PLAN_STATUS_NAMES, CHANGE_NAMES=plan_views.CHANGE_NAMES,
        OTHER_CHANGE=plan_views.OTHER_CHANGE, **_helpers(),
    )


@get("/stations/{station_id:int}/plans/{year:int}")
async def plan_page(request: Request, ctx: TenantContext, station_id: int, year: int, done: str | None = None,
                    made: int | None = None, past: int | None = None, existing: int | None = None,
                    holidays: int | None = None) -> Response:
    generated = None
    if done == "generated":
        generated = plans.Generated(created=made or 0, past=past or 0, existing=existing or 0,
                                    holidays=holidays or 0)
    return await _plan_page(request, ctx, station_id, year, done=done, generated=generated)


Change = Callable[[object, plans.PlanRef], Awaitable[str]]


async def _change(request: Request, ctx: TenantContext, station_id: int, year: int, *, error_at: str, form: dict,
                  act: Change) -> Response:
    """Run one verb on the plan (locked for the transaction): redirect to the plan with what it returns
    as the query string, or show the page again with the refusal and nothing written."""
    scope = await ctx.scope()
    pref = await plans.get_plan(ctx.db, scope, station_id, year, for_update=True)
    plans.require_change(scope, pref.station)
    try:
        query = await ctx.attempt(act(scope, pref))
    except Refusal as refusal:
        return await _plan_page(request, ctx, station_id, year, status_code=refusal.status,
                                error=refusal.text(), error_at=error_at, form=form)
    return see_other(f"{ctx.base}/stations/{pref.station.station.id}/plans/{pref.plan.year}?{query}")


async def _form(request: Request, *names: str) -> dict:
    data = await request.form()
    return {n: str(data.get(n, "")).strip()[:1000] for n in names}


def _slot(form: dict) -> plans.Slot:
    return plans.Slot(kind_id=as_id(form.get("kind_id")), start=plans.read_time(form.get("start")),
                      end=plans.read_time(form.get("end")), place=form.get("place", ""),
                      topic=form.get("topic", ""), invite=form.get("invite") == "1")


SLOT_FIELDS = ("kind_id", "start", "end", "place", "topic", "invite")


@post("/stations/{station_id:int}/plans/{year:int}/generate")
async def plan_generate(request: Request, ctx: TenantContext, station_id: int, year: int) -> Response:
    form = await _form(request, "days", *SLOT_FIELDS)

    async def act(scope, pref) -> str:
        result = await plans.generate(ctx.db, scope, pref, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                      days_text=form["days"], slot=_slot(form), tz=ctx.tz,
                                      client_addr=client_addr(request))
        return urlencode({"done": "generated", "made": result.created, "past": result.past,
                          "existing": result.existing, "holidays": result.holidays})

    return await _change(request, ctx, station_id, year, error_at="generate", form=form, act=act)


@post("/stations/{station_id:int}/plans/{year:int}/entries")
async def plan_add_entry(request: Request, ctx: TenantContext, station_id: int, year: int) -> Response:
    form = await _form(request, "day", *SLOT_FIELDS)

    async def act(scope, pref) -> str:
        await plans.add_entry(ctx.db, scope, pref, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                              day=plans.read_date(form["day"]), slot=_slot(form), tz=ctx.tz,
                              client_addr=client_addr(request))
        return "done=entry"

    return await _change(request, ctx, station_id, year, error_at="entry", form=form, act=act)


@post("/stations/{station_id:int}/plans/{year:int}/publish")
async def plan_publish(request: Request, ctx: TenantContext, station_id: int, year: int) -> Response:
    async def act(scope, pref) -> str:
        await plans.publish(ctx.db, scope, pref, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                            client_addr=client_addr(request))
        return "done=published"

    return await _change(request, ctx, station_id, year, error_at="publish", form={}, act=act)


@post("/stations/{station_id:int}/plans/{year:int}/note")
async def plan_note(request: Request, ctx: TenantContext, station_id: int, year: int) -> Response:
    data = await request.form()
    form = {"note": str(data.get("note", ""))}

    async def act(scope, pref) -> str:
        await plans.save_note(ctx.db, scope, pref, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, note=form["note"],
                              client_addr=client_addr(request))
        return "done=note"

    return await _change(request, ctx, station_id, year, error_at="note", form=form, act=act)


@post("/stations/{station_id:int}/plans/{year:int}/holidays")
async def plan_move_holidays(request: Request, ctx: TenantContext, station_id: int, year: int) -> Response:
    """One click: a flagged entry (``activity``) or all of them (``activity=all``) to the next working day."""
    form = await _form(request, "activity")
    activity_id = None if form["activity"] == "all" else (as_id(form["activity"]) or 0)

    async def act(scope, pref) -> str:
        await plans.move_off_holidays(ctx.db, scope, pref, activity_id=activity_id, tenant_id=ctx.tenant.id,
                                      actor_id=ctx.user.id, tz=ctx.tz, client_addr=client_addr(request))
        return "done=moved#entries"

    return await _change(request, ctx, station_id, year, error_at="holidays", form=form, act=act)


route_handlers = [plan_list, plan_create, plan_page, plan_generate, plan_add_entry, plan_publish, plan_note,
                  plan_move_holidays]
