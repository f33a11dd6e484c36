"""The public pages under /p/{tenant_slug}/: the county's stations, one station's page, its printable
poster, and the photos they show. No sign-in, no cookies, nothing written; nothing personal is on
them (a deputy's private mobile never is), so they are the same for everyone who reads the same
language.

The three pages are served from the page cache (app.public.cache): a hit answers from Redis without
touching PostgreSQL, with a strong ETag (If-None-Match → 304) and `Cache-Control: public` for phones
and the reverse proxy; a miss renders from the database and stores the page under the generations
read before it. What changes a page invalidates it (app.public.invalidation).

Every handler is app-level with ``opt={"public": True}`` and skips the CSRF middleware, so no
response sets a cookie (a cacheable page must not hand out a token). The pages compress themselves
(each encoding is cached), so they skip the compression middleware.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Awaitable, Callable
from zoneinfo import ZoneInfo

from litestar import Request, Response, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.public import where_to_go
from app.core import i18n
from app.core.web import absolute_url
from app.deputies.models import LEVEL_NAMES
from app.duties.appraisal_models import GRADE_NAMES
from app.public import access, services
from app.public import cache as page_cache
from app.stations.schedule import format_day
from app.tenancy.models import Tenant

IMAGE_CACHE = "public, max-age=86400"
OPT = {"public": True, "exclude_from_csrf": True}
PAGE_OPT = {**OPT, "skip_compression": True}  # compressed once, when cached

# A page's builder: (tenant, session bound to it, the county's today) → (html, whether to keep it)
Build = Callable[[Tenant, AsyncSession, date], Awaitable[tuple[str, bool]]]


def _today(tenant: Tenant) -> date:
    return datetime.now(ZoneInfo(tenant.timezone)).date()


def _html(request: Request, template: str, tenant: Tenant, path: str, **context) -> str:
    """The page's HTML. Only what every reader in this language shares goes in: no user, no token;
    the language switch goes back to the page's canonical path."""
    locale = i18n.current_locale.get()
    return request.app.template_engine.get_template(template).render(
        tenant=tenant, user=None, membership=None, unread=None, locale=locale, html_lang=i18n.HTML_LANG[locale],
        current_path=path, LEVEL_NAMES=LEVEL_NAMES, day=lambda d: format_day(d, locale), base=f"/p/{tenant.slug}",
        **context,
    )


async def _serve(request: Request, slug: str, path: str, build: Build, *, station_id: int | None = None,
                 extra: str = "") -> Response:
    """The page at ``path`` (canonical: one entry however the address was spelt) from the cache, else
    built from the database and kept."""
    slug = slug[:40]  # as access.active_tenant looks it up
    cache = page_cache.page_cache(request.app)
    encoding = page_cache.negotiate(request.headers.get("accept-encoding"))
    key = cache.page(i18n.current_locale.get(), path + extra)
    found = await cache.lookup(slug, station_id, key, encoding)
    if found.hit:
        return _respond(request, found.digest, found.body, encoding, found.until)
    async with request.app.state.db.session() as db:
        tenant = await access.active_tenant(db, slug)
        today = _today(tenant)
        html, keep = await build(tenant, db, today)
    rendered = page_cache.Page.of(html, page_cache.day_end(today, ZoneInfo(tenant.timezone)))
    # The generations are trusted only when read before the tenant was (Redis knew the slug's tenant):
    # a suspension committed in between is then either seen here (404) or bumps them afterwards.
    gens = found.gens if found.tenant_id == tenant.id and keep else None
    await cache.store(slug, tenant.id, gens, key, rendered)
    return _respond(request, rendered.digest, rendered.bodies[encoding], encoding, rendered.until)


def _respond(request: Request, digest: str, body: bytes, encoding: str, until: int) -> Response:
    """The page (or 304) with its validator. It varies on Accept-Encoding and on the language, which is
    a cookie: `Vary: Cookie` would make every visitor's cookie string a variant, so the proxy keys on the
    `lang` cookie instead (deploy/nginx.conf) and no other shared cache sits behind TLS."""
    max_age = max(0, min(page_cache.MAX_AGE, until - int(time.time())))
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": page_cache.etag(digest, encoding),
               "Vary": "Accept-Encoding"}
    if page_cache.matches(request.headers.get("if-none-match"), digest):
        return Response(b"", status_code=304, headers=headers, media_type=page_cache.HTML)
    if encoding != "id":
        headers["Content-Encoding"] = page_cache.ENCODINGS[encoding]
    return Response(body, headers=headers, media_type=page_cache.HTML)


@get("/p/{tenant_slug:str}/", opt=PAGE_OPT)
async def stations_index(request: Request, tenant_slug: str, page_number: int = Parameter(query="page", default=1, ge=1)) -> Response:
    number = max(1, min(page_number, 10_000))
    path = f"/p/{tenant_slug[:40]}/"

    async def build(tenant: Tenant, db: AsyncSession, today: date) -> tuple[str, bool]:
        rows, total = await services.list_stations(db, today, i18n.current_locale.get(), number)
        pages = max(1, -(-total // services.STATIONS_PER_PAGE))
        html = _html(request, "public/index.html", tenant, path, stations=rows, total=total, page_number=number,
                     pages=pages)
        return html, number <= pages  # a page past the end is answered, not kept

    return await _serve(request, tenant_slug, path, build, extra=f"?{number}")


@get("/p/{tenant_slug:str}/stations/{station_id:int}", opt=PAGE_OPT)
async def station(request: Request, tenant_slug: str, station_id: int) -> Response:
    access.valid_id(station_id)
    path = f"/p/{tenant_slug[:40]}/stations/{station_id}"

    async def build(tenant: Tenant, db: AsyncSession, today: date) -> tuple[str, bool]:
        found = await access.public_station(db, station_id)
        view = await services.station_page(db, found, today, i18n.current_locale.get(),
                                           plan_tz=ZoneInfo(tenant.timezone))
        elsewhere = await where_to_go(db, tenant.id, tenant.kind)  # an archived joint station's: no more opinions
        return _html(request, "public/station.html", tenant, path, view=view, elsewhere=elsewhere,
                     GRADE_NAMES=GRADE_NAMES), True

    return await _serve(request, tenant_slug, path, build, station_id=station_id)


@get("/p/{tenant_slug:str}/stations/{station_id:int}/poster", opt=PAGE_OPT)
async def poster(request: Request, tenant_slug: str, station_id: int) -> Response:
    access.valid_id(station_id)
    path = f"/p/{tenant_slug[:40]}/stations/{station_id}/poster"
    site = absolute_url(request, "")  # the QR code's link: the configured public URL, else this host

    async def build(tenant: Tenant, db: AsyncSession, today: date) -> tuple[str, bool]:
        found = await access.public_station(db, station_id)
        view = await services.station_page(db, found, today, i18n.current_locale.get())
        link = f"{site}/p/{tenant.slug}/stations/{found.id}"
        return _html(request, "public/poster.html", tenant, path, view=view, link=link,
                     qr=services.qr_code(link)), True

    return await _serve(request, tenant_slug, path, build, station_id=station_id, extra=f"@{site}")


@get("/p/{tenant_slug:str}/images/{image_id:int}", opt={**OPT, "skip_compression": True})
async def image(request: Request, tenant_slug: str, image_id: int) -> Response:
    async with access.public_tenant(request, tenant_slug) as (_, db):
        stored = await access.public_image(db, image_id)
    return Response(content=stored.data, media_type=stored.media_type, headers={"Cache-Control": IMAGE_CACHE})


route_handlers = [stations_index, station, poster, image]
