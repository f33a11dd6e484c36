"""The whole binder built by the worker, under /t/{tenant_slug}/binder/builds: ask (POST, from the
binder's page: a roll-up over many stations is too long for a request) → the build's page, which
polls its progress with htmx (reloaded by hand without it) → download while it is kept (audited).
Only the member who asked sees a build (``builds.get_build``). Thin: access → service → render."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, Response, get, post

from app.binder import book, builds
from app.binder.build_models import BUILD_STATUS_NAMES, BinderBuild
from app.core.clock import now
from app.core.db import as_id
from app.core.errors import Refusal
from app.core.web import bounded, client_addr, download, page, see_other
from app.tenancy.access import TenantContext

HERE = "/binder/builds"


@post(HERE)
async def build_request(request: Request, ctx: TenantContext) -> Response:
    form = bounded(await request.form(), ("station", "year"), 20)
    station, year = form["station"], form["year"]
    try:
        build, new = await ctx.attempt(builds.request_build(
            ctx.db, await ctx.scope(), tenant_id=ctx.tenant.id, station=station, year=year, today=ctx.today(),
            client_addr=client_addr(request)))
    except Refusal:
        # the binder's page says what is wrong with the year (400), nothing was queued
        return see_other(f"{ctx.base}/binder?" + urlencode({"station": station, "year": year}))
    if new:
        redis_url, tenant_id = request.app.state.settings.redis_url, ctx.tenant.id
        ctx.after_commit(lambda: builds.enqueue(redis_url, tenant_id, build.id))
    return see_other(f"{ctx.base}{HERE}/{build.id}")


async def _context(ctx: TenantContext, build_id: int) -> dict:
    build: BinderBuild = await builds.get_build(ctx.db, await ctx.scope(), as_id(build_id))
    place = await builds.place(ctx.db, build, ctx.tenant.name)
    return dict(base=ctx.base, build=build, heading=book.title(place, build.year), status_names=BUILD_STATUS_NAMES,
                error_texts=builds.ERROR_TEXTS, now=now(), kept_days=builds.KEPT.days,
                back=f"{ctx.base}/binder?station={build.station_id or ''}&year={build.year}")


@get(f"{HERE}/{{build_id:int}}")
async def build_page(request: Request, ctx: TenantContext, build_id: int) -> Response:
    return page(request, "binder/build.html", **await _context(ctx, build_id))


@get(f"{HERE}/{{build_id:int}}/progress")
async def build_progress(request: Request, ctx: TenantContext, build_id: int) -> Response:
    """The htmx partial polled every 3 s while the build waits or runs."""
    return page(request, "binder/_build_progress.html", **await _context(ctx, build_id))


@get(f"{HERE}/{{build_id:int}}/download")
async def build_download(request: Request, ctx: TenantContext, build_id: int) -> Response:
    context = await _context(ctx, build_id)
    try:
        body = await ctx.attempt(builds.download(ctx.db, context["build"], client_addr=client_addr(request)))
    except Refusal as refusal:  # rolled back: the page reads the build again
        return page(request, "binder/build.html", status_code=refusal.status, error=refusal.text(),
                    **await _context(ctx, build_id))
    return download(body, f"{context['heading']}.xlsx")


route_handlers: list = [build_request, build_page, build_progress, build_download]
