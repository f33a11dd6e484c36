"""The public pages under /p/{tenant_slug}/: the county's stations, one station's page, its printable
poster, and the photos they show. No sign-in, no cookies, nothing written; shared caches may keep
them for a few minutes (nothing personal is on them: a deputy's private mobile never is).

Every handler is app-level with ``opt={"public": True}`` and skips the CSRF middleware, so no
response sets a cookie (a cacheable page must not hand out a token).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from litestar import Request, Response, get
from litestar.params import Parameter

from app.cases.public import where_to_go
from app.core import i18n
from app.core.web import absolute_url, page
from app.deputies.models import LEVEL_NAMES
from app.duties.appraisal_models import GRADE_NAMES
from app.public import access, services
from app.stations.schedule import format_day
from app.tenancy.models import Tenant

PAGE_CACHE = "public, max-age=300"
IMAGE_CACHE = "public, max-age=86400"
OPT = {"public": True, "exclude_from_csrf": True}


def _today(tenant: Tenant) -> date:
    return datetime.now(ZoneInfo(tenant.timezone)).date()


def _public(response: Response) -> Response:
    response.headers["Cache-Control"] = PAGE_CACHE
    return response


def _render(request: Request, template: str, tenant: Tenant, **context) -> Response:
    locale = i18n.current_locale.get()
    return _public(page(
        request, template, tenant=tenant, user=None, membership=None, LEVEL_NAMES=LEVEL_NAMES,
        day=lambda d: format_day(d, locale), base=f"/p/{tenant.slug}", **context,
    ))


@get("/p/{tenant_slug:str}/", opt=OPT)
async def stations_index(request: Request, tenant_slug: str, page_number: int = Parameter(query="page", default=1, ge=1)) -> Response:
    async with access.public_tenant(request, tenant_slug) as (tenant, db):
        number = max(1, min(page_number, 10_000))
        rows, total = await services.list_stations(db, _today(tenant), i18n.current_locale.get(), number)
    pages = max(1, -(-total // services.STATIONS_PER_PAGE))
    return _render(request, "public/index.html", tenant, stations=rows, total=total, page_number=number,
                   pages=pages)


@get("/p/{tenant_slug:str}/stations/{station_id:int}", opt=OPT)
async def station(request: Request, tenant_slug: str, station_id: int) -> Response:
    async with access.public_tenant(request, tenant_slug) as (tenant, db):
        found = await access.public_station(db, station_id)
        view = await services.station_page(db, found, _today(tenant), i18n.current_locale.get(),
                                           plan_tz=ZoneInfo(tenant.timezone))
        elsewhere = await where_to_go(db, tenant.id, tenant.kind)  # an archived joint station's: no more opinions
    return _render(request, "public/station.html", tenant, view=view, elsewhere=elsewhere, GRADE_NAMES=GRADE_NAMES)


@get("/p/{tenant_slug:str}/stations/{station_id:int}/poster", opt=OPT)
async def poster(request: Request, tenant_slug: str, station_id: int) -> Response:
    async with access.public_tenant(request, tenant_slug) as (tenant, db):
        found = await access.public_station(db, station_id)
        view = await services.station_page(db, found, _today(tenant), i18n.current_locale.get())
    link = absolute_url(request, f"/p/{tenant.slug}/stations/{found.id}")
    return _render(request, "public/poster.html", tenant, view=view, link=link, qr=services.qr_code(link))


@get("/p/{tenant_slug:str}/images/{image_id:int}", opt={**OPT, "skip_compression": True})
async def image(request: Request, tenant_slug: str, image_id: int) -> Response:
    async with access.public_tenant(request, tenant_slug) as (_, db):
        stored = await access.public_image(db, image_id)
    return Response(content=stored.data, media_type=stored.media_type, headers={"Cache-Control": IMAGE_CACHE})


route_handlers = [stations_index, station, poster, image]
