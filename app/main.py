"""The Litestar application: routes of every domain, and the shared web machinery around them."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar, Router
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.template import TemplateConfig

from app.accounts import routes as account_routes
from app.activities import absence_routes, attendance_routes, kind_routes, plan_routes, signin_routes
from app.activities import routes as activity_routes
from app.activities import stats_routes as activity_stats_routes
from app.cases import list_routes as case_list_routes
from app.cases import mailbox_routes, public_routes as case_public_routes
from app.cases import suggestion_routes
from app.cases import routes as case_routes
from app.cases import settings_routes as case_settings_routes
from app.compliance import routes as compliance_routes
from app.compliance import rule_routes
from app.accounts import tenant_routes as member_routes
from app.accounts import audit_routes
from app.binder import routes as binder_routes
from app.core.errors import NotFound
from app.core.local_time import local_filter
from app.data import retention_routes
from app.data import routes as data_routes
from app.deputies import import_kinds, import_routes, roster_routes
from app.deputies import routes as deputy_routes
from app.duties import meeting_public_routes, meeting_routes
from app.duties import routes as duty_routes
from app.duties import point_routes
from app.duties import appraisal_routes
from app.duties import settings_routes as duty_settings_routes
from app.wiring import plug_in
from app.joint import routes as joint_routes
from app.notify import links
from app.notify import routes as notify_routes
from app.notify import short_routes
from app.public import routes as public_routes
from app.stations import award_routes as station_award_routes
from app.stations import place_routes
from app.stations import routes as station_routes
from app.stations import settings_routes as station_settings_routes
from app.platform import routes as platform_routes
from app.platform import calendar_routes as platform_calendar_routes
from app.platform import sms_routes as platform_sms_routes
from app.platform import closing_routes as platform_closing_routes
from app.platform import export_routes as platform_export_routes
from app.accounts.access import LoginRequired, TotpRequired
from app.accounts.models import ROLE_NAMES
from app.core import i18n
from app.core.db import Database
from app.core.health import healthz, metrics_endpoint, readyz
from app.core.metrics import instrument_pool
from app.jobs.metrics import SCRAPE_SOURCES
from app.core.errortracking import error_tracking
from app.core.logs import configure_logging
from app.core.settings import Settings, load_settings
from app.core.static import StaticManifest, serve_static
from app.core.web import (
    AppRequest,
    RequestContextMiddleware,
    http_exception_handler,
    not_found_handler,
    see_other,
    server_error_handler,
)
from app.home import routes as home_routes
from app.home import sections
from app.tenancy import routes as tenancy_routes
from app.notify.queries import header_unread
from app.tenancy.access import membership_guard, tenant_context_provider

TEMPLATES = Path(__file__).resolve().parent / "templates"  # package data: found in a checkout and in a wheel


def _jinja(manifest: StaticManifest) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
        # templates ship with the code and a deploy restarts the server: no stat() of every template
        # and its includes on each render (issue 20)
        auto_reload=False,
    )
    env.globals.update(ROLE_NAMES=ROLE_NAMES, _=i18n.gettext, gettext=i18n.gettext, ngettext=i18n.ngettext, static=manifest.url)
    env.filters["message_links"] = links.linked  # short links in inbox messages become links to click
    env.filters["local"] = local_filter  # a moment in the page's tenant's zone
    env.globals["nav_sections"] = sections.visible  # the menu: the sections the member may open
    env.globals["duty_sections"] = sections.duty_sections  # the duty pages' own menu
    # "import from a spreadsheet" links beside the lists a member's role may fill from a file
    env.globals["imports_for"] = lambda role: [kind.code for kind in import_kinds.kinds_for(role)]
    return env


def _login_required(request, exc: LoginRequired):
    return see_other(f"/login?next={exc.next_path}")


def _totp_required(request, exc: TotpRequired):
    return see_other("/ops/totp" if exc.enrolled else "/ops/totp/enrol")


def tenant_router() -> Router:
    """Everything under /t/{tenant_slug}: a member's pages, bound to that tenant."""
    return Router(
        path="/t/{tenant_slug:str}",
        guards=[membership_guard(header_unread)],
        dependencies={"ctx": Provide(tenant_context_provider())},
        route_handlers=[
            *home_routes.route_handlers,
            *tenancy_routes.route_handlers,
            *place_routes.route_handlers,
            *member_routes.route_handlers,
            *audit_routes.route_handlers,
            *station_routes.route_handlers,
            *station_award_routes.route_handlers,
            *station_settings_routes.route_handlers,
            *deputy_routes.route_handlers,
            *roster_routes.route_handlers,
            *duty_routes.route_handlers,
            *appraisal_routes.route_handlers,
            *point_routes.route_handlers,
            *duty_settings_routes.route_handlers,
            *import_routes.route_handlers,
            *activity_routes.route_handlers,
            *activity_stats_routes.route_handlers,
            *signin_routes.route_handlers,
            *absence_routes.route_handlers,
            *plan_routes.route_handlers,
            *attendance_routes.route_handlers,
            *kind_routes.route_handlers,
            *compliance_routes.route_handlers,
            *rule_routes.route_handlers,
            *case_routes.route_handlers,
            *case_list_routes.route_handlers,
            *suggestion_routes.route_handlers,
            *case_settings_routes.route_handlers,
            *mailbox_routes.route_handlers,
            *notify_routes.route_handlers,
            *joint_routes.route_handlers,
            *data_routes.route_handlers,
            *retention_routes.route_handlers,
            *meeting_routes.route_handlers,
            *binder_routes.route_handlers,
        ],
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    configure_logging(handlers=error_tracking(settings.sentry_dsn))
    plug_in()  # the ports: joint stations and cases take part in activities
    manifest = StaticManifest()
    database = Database(settings, web=True)
    instrument_pool(database.engine)

    async def on_shutdown() -> None:
        await database.dispose()

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics_endpoint,
            serve_static,
            *account_routes.route_handlers,
            *platform_routes.route_handlers,
            *platform_sms_routes.route_handlers,
            *platform_calendar_routes.route_handlers,
            *platform_export_routes.route_handlers,
            *platform_closing_routes.route_handlers,
            tenant_router(),
            *public_routes.route_handlers,
            *signin_routes.public_route_handlers,
            *case_public_routes.public_route_handlers,
            *meeting_public_routes.public_route_handlers,
            *short_routes.public_route_handlers,
        ],
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(_jinja(manifest))),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="lax",
            exclude=["^/healthz$", "^/readyz$", "^/static/"],
        ),
        compression_config=CompressionConfig(
            backend="brotli", brotli_quality=4, gzip_compress_level=6, brotli_gzip_fallback=True,
            exclude="^/static/", exclude_opt_key="skip_compression",  # e.g. photos, already compressed
        ),
        allowed_hosts=AllowedHostsConfig(allowed_hosts=settings.allowed_hosts),
        exception_handlers={
            LoginRequired: _login_required,
            TotpRequired: _totp_required,
            HTTPException: http_exception_handler,
            NotFound: not_found_handler,
            500: server_error_handler,
        },
        request_max_body_size=settings.max_body_bytes,
        request_class=AppRequest,
        on_shutdown=[on_shutdown],
        openapi_config=None,
        logging_config=None,  # app.core.logs configures JSON logging; Litestar's default would replace it
    )
    app.state.settings = settings
    app.state.db = database
    app.state.static = manifest
    app.state.metrics_sources = SCRAPE_SOURCES  # what /metrics reads from PostgreSQL and Redis
    # Outermost, not in `middleware=`: Litestar runs route middleware only for matched routes, and
    # every response (404s, 405s, refused hosts) needs its request id and access log line.
    # It also sets every response's security headers (one layer instead of a before_send hook too).
    app.asgi_handler = RequestContextMiddleware(count_queries=settings.count_queries,
                                                secure=settings.secure_cookies)(app.asgi_handler)
    return app
