"""The operator console (/ops/…) and the public sign-up page (/signup)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post

from app.accounts.access import current_auth
from app.core.clock import now as clock_now
from app.core.db import attempt
from app.core.errors import NotFound, Refusal
from app.core.i18n import gettext
from app.core.security import mask_mobile
from app.core.web import absolute_url, bounded, client_addr, page, see_other
from app.data import exports as data_exports
from app.data.closing import GRACE as DELETION_GRACE
from app.data.models import STATUS_NAMES as EXPORT_STATUS_NAMES
from app.joint.models import STATUS_NAMES as JOINT_STATUS_NAMES
from app.platform import ops_home, services, sms_status, totp
from app.tenancy import divisions
from app.platform import calendar as platform_calendar
from app.platform import joint as platform_joint
from app.platform.access import requires_operator, requires_operator_login
from app.presets.services import approval_presets

OPS = [requires_operator]
PUBLIC = {"public": True}
CHINA = ZoneInfo("Asia/Shanghai")


def when(moment: datetime | None) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment else ""


def _ops_page(request: Request, template: str, status_code: int = 200, **context) -> Response:
    return page(request, template, status_code=status_code, when=when, mask_mobile=mask_mobile,
                figures=services.USAGE_FIGURES, **context)


# --- public sign-up ---------------------------------------------------------------------------


def _signup_page(request: Request, form: services.SignupForm, status_code: int = 200) -> Response:
    errors = {k: gettext(msg, **variables) for k, (msg, variables) in form.errors.items()}
    return page(request, "platform/signup.html", status_code=status_code, form=form, errors=errors,
                matches=form.matches, note_max=services.NOTE_MAX)


@get("/signup", opt=PUBLIC)
async def signup_form(request: Request) -> Response:
    return _signup_page(request, services.SignupForm())


@post("/signup", opt=PUBLIC)
async def signup(request: Request) -> Response:
    form = services.SignupForm.from_form(await request.form())
    async with request.app.state.db.session() as db:
        try:
            application = await services.submit_signup(db, form, client_addr(request))
        except services.TooManySignups as refusal:
            return page(request, "error.html", status_code=429, title="Too many attempts", text=refusal.message)
        except Refusal:
            return _signup_page(request, form, status_code=400)
    return see_other(f"/signup/sent?code={application.division_code}")


@get("/signup/sent", opt=PUBLIC)
async def signup_sent(request: Request, code: str = "") -> Response:
    return page(request, "platform/signup_sent.html", division=divisions.lookup(code))


@get("/signup/divisions", opt=PUBLIC)
async def division_suggestions(request: Request, q: str = "", division: str = "") -> Response:
    """The htmx partial that suggests matching divisions while the applicant types."""
    text = (q or division).strip()[:60]
    matches = divisions.search(text, limit=8) if text else []
    return page(request, "platform/_division_matches.html", matches=matches, q=text, chosen="")


# --- the operator console ---------------------------------------------------------------------


@get("/ops/", guards=OPS)
async def dashboard(request: Request, tenants: str = "") -> Response:
    async with request.app.state.db.session() as db:
        pending = await services.pending_applications(db)
        usage = await services.tenants_with_usage(db)
        joint = await platform_joint.joint_agreements(db)
        calendar_missing = await platform_calendar.missing(db, datetime.now(CHINA).date())
        sms_alerts = await sms_status.alert_texts(db)
    shown = tenants if tenants in ops_home.TENANT_FILTERS else ""
    return _ops_page(request, "platform/dashboard.html", pending=pending, tenants=ops_home.narrowed(usage, shown),
                     work=ops_home.workbench(pending, usage), work_base="", tenant_filter=shown,
                     tenant_filter_text=ops_home.TENANT_FILTERS[shown][1] if shown else "", joint=joint,
                     joint_status_names=JOINT_STATUS_NAMES, calendar_missing=calendar_missing, sms_alerts=sms_alerts)


async def _application_page(request: Request, application_id: int, status_code: int = 200, **context) -> Response:
    auth = current_auth(request)
    async with request.app.state.db.session() as db:
        application = await services.get_application(db, application_id)
        if application is None:
            raise NotFound()
        if application.status == "pending":
            await services.reveal_contact(db, application, actor=auth.user, client_addr=client_addr(request))
    context.setdefault("values", services.approval_defaults(application))
    return _ops_page(request, "platform/application.html", status_code=status_code, application=application,
                     presets=approval_presets(), **context)


@get("/ops/applications/{application_id:int}", guards=OPS)
async def application_detail(request: Request, application_id: int) -> Response:
    return await _application_page(request, application_id)


@post("/ops/applications/{application_id:int}/approve", guards=OPS)
async def approve_application(request: Request, application_id: int) -> Response:
    auth = current_auth(request)
    form = await request.form()
    values = bounded(form, ("preset", "slug", "name", "admin_name", "admin_mobile"))
    try:
        approval = await services.approve(
            request.app.state.db, application_id, actor=auth.user, client_addr=client_addr(request), **values
        )
    except LookupError:
        raise NotFound() from None
    except Refusal as refusal:
        status = 409 if refusal.input_name is None else 400
        return await _application_page(request, application_id, status_code=status, values=values,
                                       approve_error=refusal.text())
    link = absolute_url(request, approval.invitation_path)
    return _ops_page(request, "platform/approved.html", tenant=approval.tenant, path=approval.invitation_path,
                     link=link)


@post("/ops/applications/{application_id:int}/reject", guards=OPS)
async def reject_application(request: Request, application_id: int) -> Response:
    auth = current_auth(request)
    form = await request.form()
    reason = str(form.get("reason", ""))[:1000]
    async with request.app.state.db.session() as db:
        try:
            await services.reject(db, application_id, actor=auth.user, reason=reason, client_addr=client_addr(request))
        except LookupError:
            raise NotFound() from None
        except Refusal as refusal:
            status = 409 if refusal.input_name is None else 400
            return await _application_page(request, application_id, status_code=status, reason=reason,
                                           reject_error=refusal.text())
    return see_other(f"/ops/applications/{application_id}")


async def tenant_page(request: Request, tenant_id: int, status_code: int = 200, **context) -> Response:
    async with request.app.state.db.session() as db:
        tenant = await services.get_tenant(db, tenant_id)
        if tenant is None:
            raise NotFound()
        usage = next((u for u in await services.tenants_with_usage(db) if u.tenant.id == tenant_id), None)
        exports = await data_exports.operator_exports(db, tenant_id)
    return _ops_page(request, "platform/tenant.html", status_code=status_code, tenant=tenant, usage=usage,
                     exports=exports, export_status_names=EXPORT_STATUS_NAMES, export_errors=data_exports.ERROR_TEXTS,
                     now=clock_now(), grace_days=DELETION_GRACE.days, **context)


@get("/ops/tenants/{tenant_id:int}", guards=OPS)
async def tenant_detail(request: Request, tenant_id: int, done: str = "") -> Response:
    shown = done if done in ("suspended", "active", "quota", "export", "deletion", "deletion_cancelled") else ""
    return await tenant_page(request, tenant_id, done=shown)


async def _change_status(request: Request, tenant_id: int, status: str) -> Response:
    auth = current_auth(request)
    form = await request.form()
    reason = str(form.get("reason", ""))[:1000]
    async with request.app.state.db.session() as db:
        try:
            await services.set_tenant_status(db, tenant_id, status, actor=auth.user, reason=reason,
                                             client_addr=client_addr(request))
        except LookupError:
            raise NotFound() from None
        except Refusal as refusal:
            status_code = 409 if refusal.input_name is None else 400
            return await tenant_page(request, tenant_id, status_code=status_code, reason=reason,
                                     error=refusal.text())
    return see_other(f"/ops/tenants/{tenant_id}?done={status}")


@post("/ops/tenants/{tenant_id:int}/sms-quota", guards=OPS)
async def set_sms_quota(request: Request, tenant_id: int) -> Response:
    auth = current_auth(request)
    value = str((await request.form()).get("sms_quota", ""))[:20]
    async with request.app.state.db.session() as db:
        try:
            await attempt(db, services.set_sms_quota(db, tenant_id, value, actor=auth.user,
                                                     client_addr=client_addr(request)))
        except LookupError:
            raise NotFound() from None
        except Refusal as refusal:
            return await tenant_page(request, tenant_id, status_code=400, sms_quota=value,
                                     quota_error=refusal.text())
    return see_other(f"/ops/tenants/{tenant_id}?done=quota")


@post("/ops/tenants/{tenant_id:int}/suspend", guards=OPS)
async def suspend_tenant(request: Request, tenant_id: int) -> Response:
    return await _change_status(request, tenant_id, "suspended")


@post("/ops/tenants/{tenant_id:int}/reactivate", guards=OPS)
async def reactivate_tenant(request: Request, tenant_id: int) -> Response:
    return await _change_status(request, tenant_id, "active")


@get("/ops/audit", guards=OPS)
async def audit_log(request: Request, before: int | None = None) -> Response:
    async with request.app.state.db.session() as db:
        rows, next_before = await services.audit_page(db, before_id=before)
    return _ops_page(request, "platform/audit.html", rows=rows, next_before=next_before, first_page=before is None)


# --- operator TOTP ----------------------------------------------------------------------------


async def _enrol_page(request: Request, status_code: int = 200, error: str | None = None) -> Response:
    auth = current_auth(request)
    async with request.app.state.db.session() as db:
        secret = await totp.enrolment_secret(db, request.app.state.settings, auth.user)
    uri = totp.provisioning_uri(auth.user, secret)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return page(request, "platform/totp_enrol.html", status_code=status_code, qr=totp.qr_svg(uri),
                secret=grouped, error=error)


@get("/ops/totp/enrol", guards=[requires_operator_login])
async def totp_enrol_form(request: Request) -> Response:
    auth = current_auth(request)
    if auth.user.totp_enabled_at is not None:
        return see_other("/ops/" if auth.session.totp_verified else "/ops/totp")
    return await _enrol_page(request)


async def _check(request: Request, enrol: bool) -> Response:
    auth = current_auth(request)
    form = await request.form()
    code = str(form.get("code", ""))[:20]
    async with request.app.state.db.session() as db:
        try:
            await totp.check_totp(db, request.app.state.settings, auth.user, auth.session.id, code,
                                      enrol=enrol, client_addr=client_addr(request))
        except Refusal as refusal:
            status = 429 if refusal.message == totp.TOTP_LOCKED else 400
            if enrol:
                return await _enrol_page(request, status_code=status, error=refusal.text())
            return page(request, "platform/totp.html", status_code=status, error=refusal.text())
    return see_other("/ops/")


@post("/ops/totp/enrol", guards=[requires_operator_login])
async def totp_enrol(request: Request) -> Response:
    if current_auth(request).user.totp_enabled_at is not None:
        return see_other("/ops/totp")
    return await _check(request, enrol=True)


@get("/ops/totp", guards=[requires_operator_login])
async def totp_form(request: Request) -> Response:
    auth = current_auth(request)
    if auth.user.totp_enabled_at is None:
        return see_other("/ops/totp/enrol")
    if auth.session.totp_verified:
        return see_other("/ops/")
    return page(request, "platform/totp.html")


@post("/ops/totp", guards=[requires_operator_login])
async def totp_verify(request: Request) -> Response:
    if current_auth(request).user.totp_enabled_at is None:
        return see_other("/ops/totp/enrol")
    return await _check(request, enrol=False)


route_handlers = [
    signup_form, signup, signup_sent, division_suggestions,
    dashboard, application_detail, approve_application, reject_application,
    tenant_detail, set_sms_quota, suspend_tenant, reactivate_tenant, audit_log,
    totp_enrol_form, totp_enrol, totp_form, totp_verify,
]
