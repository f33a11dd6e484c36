"""The county's kinds of activity, on its settings pages (county admins only):
/settings/activity-kinds (list and add), /settings/activity-kinds/{id} (rename, reorder, retire)."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.activities import kind_services as kinds
from app.activities.models import ActivityKind
from app.core.i18n import lazy
from app.core.web import bounded, client_addr, page
from app.tenancy.access import TenantContext, settings_change

DONE = {
    "added": lazy("The kind of activity has been added."),
    "saved": lazy("The kind of activity has been saved."),
    "retired": lazy("The kind of activity has been retired."),
}


async def _kinds_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                      form: dict | None = None, done: str | None = None) -> Response:
    return page(request, "activities/kinds.html", status_code=status_code, lines=await kinds.list_kinds(ctx.db),
                form=form or {"sort": "0"}, error=error, done=DONE.get(done or ""), base=ctx.base)


@get("/settings/activity-kinds")
async def activity_kinds(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _kinds_page(request, ctx, done=done)


@post("/settings/activity-kinds")
async def add_activity_kind(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    values = bounded(await request.form(), ("name", "code", "sort"))
    return await settings_change(
        ctx,
        lambda: kinds.save_kind(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, kind=None,
                                client_addr=client_addr(request), **values),
        lambda error: _kinds_page(request, ctx, status_code=400, error=error, form=values),
        "/settings/activity-kinds?done=added",
    )


async def _kind_page(request: Request, ctx: TenantContext, kind: ActivityKind, *, status_code: int = 200,
                     error: str | None = None, form: dict | None = None, done: str | None = None) -> Response:
    return page(request, "activities/kind.html", status_code=status_code, kind=kind, error=error,
                done=DONE.get(done or ""), base=ctx.base, rules=await kinds.rules_counting(ctx.db, kind.code),
                form=form or {"name": kind.name, "sort": str(kind.sort)})


@get("/settings/activity-kinds/{activity_kind_id:int}")
async def activity_kind(request: Request, ctx: TenantContext, activity_kind_id: int,
                        done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _kind_page(request, ctx, await kinds.get_kind(ctx.db, activity_kind_id), done=done)


@post("/settings/activity-kinds/{activity_kind_id:int}")
async def save_activity_kind(request: Request, ctx: TenantContext, activity_kind_id: int) -> Response:
    ctx.require_role("county_admin")
    kind = await kinds.get_kind(ctx.db, activity_kind_id)
    values = bounded(await request.form(), ("name", "sort"))

    async def refused(error: str) -> Response:
        return await _kind_page(request, ctx, await kinds.get_kind(ctx.db, activity_kind_id), status_code=400,
                                error=error, form=values)

    return await settings_change(
        ctx,
        lambda: kinds.save_kind(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, kind=kind,
                                client_addr=client_addr(request), **values),
        refused, f"/settings/activity-kinds/{activity_kind_id}?done=saved",
    )


@post("/settings/activity-kinds/{activity_kind_id:int}/retire")
async def retire_activity_kind(request: Request, ctx: TenantContext, activity_kind_id: int) -> Response:
    ctx.require_role("county_admin")
    kind = await kinds.get_kind(ctx.db, activity_kind_id)

    async def refused(error: str) -> Response:
        return await _kind_page(request, ctx, await kinds.get_kind(ctx.db, activity_kind_id), status_code=400,
                                error=error)

    return await settings_change(
        ctx,
        lambda: kinds.retire_kind(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, kind=kind,
                                  client_addr=client_addr(request)),
        refused, "/settings/activity-kinds?done=retired",
    )


route_handlers = [activity_kinds, add_activity_kind, activity_kind, save_activity_kind, retire_activity_kind]
