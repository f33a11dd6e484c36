"""Platform operations: sign-up applications, provisioning, suspension, usage (TOTP: totp.py).

No web imports. Functions that change things say whether they commit; refusals raise
``Refusal`` whose ``message`` is an msgid to translate where it is shown.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo
from typing import Awaitable, Callable

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import invitations
from app.core.clock import now
from app.accounts.models import User, UserSession
from app.audit.models import PlatformAuditEntry
from app.audit.services import record_platform
from app.core.db import Database, every_county
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.security import MOBILE_RE
from app.notify import queries as notify_queries
from app.notify.sweep import TELL_AFTER_ATTEMPTS
from app.tenancy import divisions
from app.platform import notices
from app.platform.models import SignupApplication
from app.tenancy.models import Tenant
from app.tenancy.models import SLUG_RE
from app.presets.services import TenantExists, apply_preset, approval_presets, load_preset, starting_point

SIGNUPS_PER_CLIENT_PER_HOUR = 5
NOTE_MAX = 1000
REASON_MAX = 500


class TooManySignups(Refusal):
    """Answered with 429 on the sign-up page."""


# --- sign-up applications ---------------------------------------------------------------------


@dataclass
class SignupForm:
    division: str = ""  # what the applicant typed: a code or a name
    code: str = ""  # a chosen match (radio button), if any
    contact_name: str = ""
    contact_phone: str = ""
    note: str = ""
    errors: dict[str, tuple[str, dict]] = field(default_factory=dict)  # field -> (msgid, variables)
    matches: list[divisions.Division] = field(default_factory=list)
    resolved: divisions.Division | None = None

    @classmethod
    def from_form(cls, form) -> "SignupForm":
        get = lambda k, n: str(form.get(k, "") or "")[:n]  # noqa: E731
        return cls(
            division=get("division", 60).strip(), code=get("code", 6).strip(),
            contact_name=get("contact_name", 200).strip(), contact_phone=get("contact_phone", 40).strip(),
            note=get("note", NOTE_MAX + 200).strip().replace("\r\n", "\n"),
        )


def resolve_division(form: SignupForm) -> None:
    """Find the division the applicant means, or set an error (and the matches to choose from)."""
    chosen = divisions.lookup(form.code) if form.code else None
    if chosen is not None and divisions.matches(chosen, form.division):
        form.resolved = chosen
        return
    text_ = form.division
    if not text_:
        form.errors["division"] = (lazy("Please enter your county's administrative division code or its name."), {})
        return
    if divisions.CODE_RE.match(text_):
        form.resolved = divisions.lookup(text_)
        if form.resolved is None:
            form.errors["division"] = (lazy(
                "%(code)s is not the code of a county-level division. Please check it, or type the county's name."
            ), {"code": text_})
        return
    form.matches = divisions.search(text_, limit=20)
    if len(form.matches) == 1:
        form.resolved = form.matches[0]
        form.matches = []
    elif not form.matches:
        form.errors["division"] = (
            lazy("No county-level division matches this. Please check the name or enter the 6-digit code."), {})
    else:
        form.errors["division"] = (lazy("Several divisions match. Please choose yours below."), {})


def validate_signup(form: SignupForm) -> None:
    resolve_division(form)
    if not form.contact_name or len(form.contact_name) > 60:
        form.errors["contact_name"] = (lazy("Please enter the contact person's name (at most 60 characters)."), {})
    if not MOBILE_RE.match(form.contact_phone):
        form.errors["contact_phone"] = (lazy("A mobile number has 11 digits and starts with 1."), {})
    if len(form.note) > NOTE_MAX:
        form.errors["note"] = (lazy("The note may have at most %(n)s characters."), {"n": NOTE_MAX})


async def submit_signup(db: AsyncSession, form: SignupForm, client_addr: str | None) -> SignupApplication:
    """Validate and store a pending application. Raises TooManySignups or Refusal; on a
    refusal nothing is written. Commits."""
    recent = await db.scalar(
        select(func.count()).select_from(SignupApplication).where(
            SignupApplication.client_addr == client_addr,
            SignupApplication.created_at > now() - timedelta(hours=1),
        )
    )
    if client_addr is not None and recent >= SIGNUPS_PER_CLIENT_PER_HOUR:
        await db.rollback()
        raise TooManySignups(lazy("Too many applications were sent from your network in the last hour. Please try again later."))
    validate_signup(form)
    if form.errors:
        await db.rollback()
        message, variables = next(iter(form.errors.values()))
        raise Refusal(message, **variables)
    division = form.resolved
    # One applicant at a time per division: two simultaneous submissions cannot both pass.
    await db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("signup:" + division.code)})
    if await db.scalar(select(Tenant.id).where(Tenant.division_code == division.code).limit(1)):
        form.errors["division"] = (
            lazy("%(county)s already uses Lianluo. Please ask its administrator for an account."),
            {"county": division.label})
    elif await db.scalar(
        select(SignupApplication.id).where(
            SignupApplication.division_code == division.code, SignupApplication.status == "pending"
        ).limit(1)
    ):
        form.errors["division"] = (
            lazy("An application for %(county)s is already waiting for review. We will contact its applicant."),
            {"county": division.label})
    if form.errors:
        await db.rollback()
        message, variables = form.errors["division"]
        raise Refusal(message, input_name="division", **variables)
    application = SignupApplication(
        division_code=division.code, county_name=division.label, contact_name=form.contact_name,
        contact_phone=form.contact_phone, note=form.note or None, status="pending", client_addr=client_addr,
    )
    db.add(application)
    await db.flush()
    await notices.signup_received(db, now=now())  # the operators' e-mail digest
    await record_platform(db, actor_user_id=None, action="signup_submitted", target=f"application:{application.id}",
                          client_addr=client_addr, details={"division_code": division.code})
    await db.commit()
    return application


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def pending_applications(db: AsyncSession) -> list[SignupApplication]:
    return list((await db.scalars(
        select(SignupApplication).where(SignupApplication.status == "pending").order_by(SignupApplication.id)
    )).all())


async def get_application(db: AsyncSession, application_id: int) -> SignupApplication | None:
    return await db.get(SignupApplication, application_id)


def county_of(application: SignupApplication) -> str:
    division = divisions.lookup(application.division_code)
    return division.county if division else application.county_name.split()[-1]


def approval_defaults(application: SignupApplication) -> dict[str, str]:
    county = county_of(application)
    return {
        "preset": next((p.name for p in approval_presets()), ""),
        "slug": f"c{application.division_code}",
        "name": f"{county}人大常委会",
        "admin_name": application.contact_name,
        "admin_mobile": application.contact_phone,
    }


@dataclass
class Approval:
    tenant: Tenant
    invitation_path: str


async def approve(
    database: Database, application_id: int, *, actor: User, preset: str, slug: str, name: str,
    admin_name: str, admin_mobile: str, client_addr: str | None,
) -> Approval:
    """Provision the tenant, mark the application approved and invite the county administrator.
    Returns the one-time invitation path. Commits (in several transactions: the application is
    claimed first, so two operators cannot approve it twice)."""
    slug, name, admin_name, admin_mobile = slug.strip().lower(), name.strip(), admin_name.strip(), admin_mobile.strip()
    if preset not in [p.name for p in approval_presets()]:
        raise Refusal(lazy("Please choose a preset from the list."), input_name="preset")
    if not SLUG_RE.match(slug):
        raise Refusal(lazy("The short name may use lower-case letters, digits and hyphens (2 to 40)."), input_name="slug")
    if not name or len(name) > 120:
        raise Refusal(lazy("The name is required (at most 120 characters)."), input_name="name")
    if not admin_name or len(admin_name) > 60:
        raise Refusal(lazy("Please enter the person's name (at most 60 characters)."), input_name="admin_name")
    if admin_mobile and not MOBILE_RE.match(admin_mobile):
        raise Refusal(lazy("A mobile number has 11 digits and starts with 1."), input_name="admin_mobile")
    async with database.transaction() as db:
        application = await db.get(SignupApplication, application_id, with_for_update=True)
        if application is None:
            raise LookupError(application_id)
        if application.status != "pending":
            raise Refusal(lazy("This application has already been decided."))
        if await db.scalar(select(Tenant.id).where(Tenant.slug == slug)):
            raise Refusal(lazy("The short name %(slug)s is taken. Please choose another."), input_name="slug", slug=slug)
        if await db.scalar(select(Tenant.id).where(Tenant.division_code == application.division_code).limit(1)):
            raise Refusal(lazy("This county already has an account on the platform."))
        application.status = "approved"
        application.decided_at = now()
        application.decided_by = actor.id
        division_code, county = application.division_code, county_of(application)
    try:
        # a demo county's preset brings its configuration, not its places (presets.starting_point)
        tenant = await apply_preset(database, starting_point(load_preset(preset), county), create_only=True,
                                    slug=slug, name=name, division_code=division_code, county=county,
                                    status="active")
        async with database.transaction(tenant_id=tenant.id) as db:
            issued = await invitations.invite(
                db, tenant_id=tenant.id, actor_id=actor.id, display_name=admin_name, role="county_admin",
                mobile=admin_mobile or None, client_addr=client_addr,
            )
    except Exception as exc:
        async with database.transaction() as db:  # give the application back
            await db.execute(update(SignupApplication).where(SignupApplication.id == application_id)
                             .values(status="pending", decided_at=None, decided_by=None))
        if isinstance(exc, TenantExists):
            raise Refusal(lazy("The short name %(slug)s is taken. Please choose another."), input_name="slug",
                                slug=slug) from exc
        raise
    async with database.transaction() as db:
        await db.execute(update(SignupApplication).where(SignupApplication.id == application_id)
                         .values(created_tenant_id=tenant.id))
        await record_platform(db, actor_user_id=actor.id, action="signup_approved", subject_tenant_id=tenant.id,
                              target=f"application:{application_id}", client_addr=client_addr,
                              details={"preset": preset, "slug": slug})
        await record_platform(db, actor_user_id=actor.id, action="tenant_created", subject_tenant_id=tenant.id,
                              target=f"tenant:{slug}", client_addr=client_addr)
    return Approval(tenant=tenant, invitation_path=issued.path(tenant.slug))


async def reject(db: AsyncSession, application_id: int, *, actor: User, reason: str, client_addr: str | None) -> None:
    """Refuse an application with a reason. Commits."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise Refusal(lazy("Please give a reason (at most %(n)s characters)."), input_name="reason", n=REASON_MAX)
    application = await db.get(SignupApplication, application_id, with_for_update=True)
    if application is None:
        raise LookupError(application_id)
    if application.status != "pending":
        await db.rollback()
        raise Refusal(lazy("This application has already been decided."))
    application.status = "rejected"
    application.reason = reason
    application.decided_at = now()
    application.decided_by = actor.id
    await record_platform(db, actor_user_id=actor.id, action="signup_rejected", target=f"application:{application_id}",
                          client_addr=client_addr, details={"reason": reason})
    await db.commit()


async def reveal_contact(db: AsyncSession, application: SignupApplication, *, actor: User, client_addr: str | None) -> None:
    """Audit that an operator saw an applicant's full mobile number. Commits."""
    await record_platform(db, actor_user_id=actor.id, action="signup_contact_viewed",
                          target=f"application:{application.id}", client_addr=client_addr)
    await db.commit()


# --- tenants: status and usage ----------------------------------------------------------------

# A source reads some figures for every tenant at once: {tenant_id: {figure key: count}}.
UsageSource = Callable[[AsyncSession], Awaitable[dict[int, dict[str, int]]]]


async def _tenant_counts(db: AsyncSession) -> dict[int, dict[str, int]]:
    """Members, stations (not closed down), serving deputies and open cases of every tenant: one
    call of the SECURITY DEFINER platform_tenant_usage() (migration 0016), counts only."""
    rows = await every_county(db, "SELECT tenant_id, members, stations, deputies, open_cases FROM platform_tenant_usage()")
    return {row.tenant_id: {"members": row.members, "stations": row.stations, "deputies": row.deputies,
                            "open_cases": row.open_cases} for row in rows}


PLATFORM_ZONE = ZoneInfo("Asia/Shanghai")  # the platform's month for the operator's SMS figure


def sms_month_start(at: datetime | None = None) -> datetime:
    local = (at or now()).astimezone(PLATFORM_ZONE)
    return datetime.combine(local.date().replace(day=1), time.min, tzinfo=PLATFORM_ZONE)


SMS_HEALTH_COLUMNS = ("sms_month", "sms_hour", "sms_hour_errors", "sms_day", "sms_day_errors", "msg_unknown",
                      "msg_stuck", "msg_failing")


async def sms_health(db: AsyncSession, at: datetime | None = None) -> dict[int, dict[str, int]]:
    """Per tenant: SMS sent (or being sent) since the first of this month; SMS attempts answered in the
    last hour and day and how many of them were errors; the messages that need attention, counted as
    the county's home counts them (app.notify.queries.trouble_where: unknown; stuck or checked for
    long; failing again and again or failed lately). One call of the SECURITY DEFINER
    platform_sms_health() (migration 0017), counts only."""
    at = at or now()
    rows = await db.execute(text(
        f"SELECT tenant_id, {', '.join(SMS_HEALTH_COLUMNS)} FROM platform_sms_health(:month, :hour, :day, "
        ":stuck, :checking, :failed, :retry)"), {
        "month": sms_month_start(at), "hour": at - timedelta(hours=1), "day": at - timedelta(days=1),
        "stuck": notify_queries.stuck_since(at), "checking": at - notify_queries.CHECKING_LONG,
        "failed": notify_queries.failed_warning_since(at), "retry": TELL_AFTER_ATTEMPTS})
    return {row.tenant_id: {key: int(getattr(row, key)) for key in SMS_HEALTH_COLUMNS} for row in rows}


# Each usage figure the console shows: (key, column heading, source). A source returns figures for
# every tenant in one call of a named SECURITY DEFINER function (operators never read tenant rows),
# and is called once per page however many figures it gives: the console's queries do not grow with
# the number of tenants.
USAGE_FIGURES: list[tuple[str, str, UsageSource]] = [
    ("members", lazy("Members"), _tenant_counts),
    ("stations", lazy("Stations"), _tenant_counts),
    ("deputies", lazy("Deputies"), _tenant_counts),
    ("open_cases", lazy("Open cases"), _tenant_counts),
    ("msg_unknown", lazy("Messages of unknown outcome"), sms_health),
    ("msg_stuck", lazy("Messages stuck"), sms_health),
    ("msg_failing", lazy("Messages failing"), sms_health),
    ("sms_month", lazy("SMS this month"), sms_health),
]


@dataclass
class TenantUsage:
    tenant: Tenant
    figures: dict[str, int]


async def tenants_with_usage(db: AsyncSession) -> list[TenantUsage]:
    tenants = (await db.scalars(select(Tenant).order_by(Tenant.name, Tenant.id))).all()
    read: dict[UsageSource, dict[int, dict[str, int]]] = {}
    for _key, _label, source in USAGE_FIGURES:
        if source not in read:
            read[source] = await source(db)
    return [TenantUsage(t, {key: read[source].get(t.id, {}).get(key, 0) for key, _label, source in USAGE_FIGURES})
            for t in tenants]


async def get_tenant(db: AsyncSession, tenant_id: int) -> Tenant | None:
    return await db.get(Tenant, tenant_id)


async def set_tenant_status(
    db: AsyncSession, tenant_id: int, status: str, *, actor: User, reason: str, client_addr: str | None
) -> int:
    """Suspend or reactivate a tenant. Suspending ends at once every session working in it.
    Returns the number of sessions revoked. Commits."""
    assert status in ("active", "suspended")
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise Refusal(lazy("Please give a reason (at most %(n)s characters)."), input_name="reason", n=REASON_MAX)
    tenant = await db.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise LookupError(tenant_id)
    if tenant.status == "deleted" or (status == "active" and tenant.deletion_due_at is not None):
        await db.rollback()
        raise Refusal(lazy("The county's data is deleted or its deletion is scheduled: cancel the deletion first."))
    if tenant.status == status or tenant.status == "pending":
        await db.rollback()
        raise Refusal(lazy("The county is already suspended.") if status == "suspended"
                            else lazy("The county is not suspended."))
    tenant.status = status
    tenant.status_changed_at = now()
    revoked = 0
    if status == "suspended":
        result = await db.execute(
            update(UserSession).where(UserSession.current_tenant_id == tenant_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=now())
        )
        revoked = result.rowcount or 0
    await record_platform(
        db, actor_user_id=actor.id, action="tenant_suspended" if status == "suspended" else "tenant_reactivated",
        subject_tenant_id=tenant_id, target=f"tenant:{tenant.slug}", client_addr=client_addr,
        details={"reason": reason, "sessions_revoked": revoked},
    )
    await db.commit()
    return revoked


SMS_QUOTA_MAX = 10_000_000


async def set_sms_quota(db: AsyncSession, tenant_id: int, value: str, *, actor: User, client_addr: str | None) -> int:
    """The tenant's monthly SMS quota (beyond it, messages go in-app only). Commits; audited."""
    value = str(value or "").strip()
    if not value.isdigit() or int(value) > SMS_QUOTA_MAX:
        raise Refusal(lazy("The SMS quota is a whole number of messages per month from 0 to %(n)s."),
                            input_name="sms_quota", n=SMS_QUOTA_MAX)
    tenant = await db.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise LookupError(tenant_id)
    old, tenant.sms_quota = tenant.sms_quota, int(value)
    await record_platform(db, actor_user_id=actor.id, action="tenant_sms_quota_set", subject_tenant_id=tenant_id,
                          target=f"tenant:{tenant.slug}", client_addr=client_addr,
                          details={"from": old, "to": tenant.sms_quota})
    await db.commit()
    return tenant.sms_quota


# --- the platform audit log -------------------------------------------------------------------


@dataclass
class AuditRow:
    entry: PlatformAuditEntry
    actor_name: str | None
    tenant_name: str | None


async def audit_page(db: AsyncSession, *, before_id: int | None, limit: int = 50) -> tuple[list[AuditRow], int | None]:
    """Newest first; returns the rows and the id to continue before (None on the last page)."""
    query = (
        select(PlatformAuditEntry, User.display_name, Tenant.name)
        .outerjoin(User, User.id == PlatformAuditEntry.actor_user_id)
        .outerjoin(Tenant, Tenant.id == PlatformAuditEntry.subject_tenant_id)
        .order_by(PlatformAuditEntry.id.desc()).limit(limit + 1)
    )
    if before_id is not None:
        query = query.where(PlatformAuditEntry.id < before_id)
    rows = [AuditRow(e, a, t) for e, a, t in (await db.execute(query)).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].entry.id if more else None)
