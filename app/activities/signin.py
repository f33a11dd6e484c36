"""Sign-in (签到): when it is open, and the three ways a deputy is signed in — the personal link
(the invitation's secret token, no account needed), the rotating single-use code shown as a QR on
the station's screen (scanned by a deputy signed in to Lianluo), and staff on the deputy's behalf
with a reason. Staff also mark late arrival / early leaving and remove a wrong sign-in.

Services take a session bound to the tenant, raise ``Refusal`` (nothing written) and do not commit.
``now`` may be passed (tests); it defaults to the current time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import every_county
from app.activities.absences import cleared_by_sign_in
from app.activities.access import ActivityRef, require_run
from app.activities.models import Activity, ActivityKind, Attendance, Invitation, SigninCode
from app.activities.services import ensure_running
from app.audit.services import record
from app.core.errors import Refusal
from app.activities.joint_port import roll_up
from app.core.i18n import lazy
from app.deputies.models import Deputy, DeputyGroup
from app.stations.models import Station
from app.tenancy.config import Config
from app.tenancy.scope import Scope

LATE_AFTER = timedelta(minutes=15)  # signed in later than this after the start: marked late
CODE_ROTATES = timedelta(seconds=20)  # the screen shows a new code at least this often
CODE_LIFETIME = timedelta(seconds=60)  # a code works this long after it was issued, and once
TEXT_MAX = 200

NOT_STARTED = lazy("Sign-in has not started yet. It opens at %(time)s.")
CLOSED = lazy("Sign-in has closed (at %(time)s).")
CANCELLED = lazy("The activity was cancelled; there is no sign-in.")
CODE_EXPIRED = lazy("This QR code has expired. Please scan the new QR code on the screen.")
CODE_USED = lazy("This QR code has already been used. Please scan the new QR code on the screen.")
NOT_INVITED = lazy("You are not invited to this activity.")
DEPUTY_NOT_INVITED = lazy("This deputy is not invited to this activity or is not a deputy of this county.")
ALREADY_PRESENT = lazy("%(name)s has already signed in (%(time)s).")
NOT_PRESENT = lazy("%(name)s has not signed in.")
REASON_REQUIRED = lazy("Please give the reason for signing the deputy in on their behalf.")
REMOVE_REASON_REQUIRED = lazy("Please give the reason for removing this sign-in.")
TOO_LONG = lazy("“%(field)s” may have at most %(max)s characters.")
REASON_LABEL = lazy("Reason for the sign-in change")
NOTE_LABEL = lazy("Attendance note")


def signin_window(activity: Activity, config: Config) -> tuple[datetime, datetime]:
    """(opens, closes): sign-in opens ``signin_opens_minutes`` before the start and closes
    ``signin_closes_minutes`` after the end (tenant settings)."""
    return (activity.starts_at - timedelta(minutes=config.signin_opens_minutes),
            activity.ends_at + timedelta(minutes=config.signin_closes_minutes))


def signin_open(activity: Activity, config: Config, now: datetime) -> bool:
    opens, closes = signin_window(activity, config)
    return activity.status != "cancelled" and opens <= now <= closes


def local_time(moment: datetime, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(tz).strftime(fmt)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def window_refusal(activity: Activity, config: Config, tz: ZoneInfo, now: datetime) -> Refusal | None:
    """Why a deputy cannot sign in now (cancelled, not yet open, closed), or None."""
    if activity.status == "cancelled":
        return Refusal(CANCELLED)
    opens, closes = signin_window(activity, config)
    if now < opens:
        return Refusal(NOT_STARTED, time=local_time(opens, tz))
    if now > closes:
        return Refusal(CLOSED, time=local_time(closes, tz))
    return None


def _text(value: str | None, label, *, required=None) -> str:
    value = (value or "").strip()
    if required is not None and not value:
        raise Refusal(required)
    if len(value) > TEXT_MAX:
        raise Refusal(TOO_LONG, field=label, max=TEXT_MAX)
    return value


async def _attend(db: AsyncSession, activity: Activity, deputy_id: int, method: str, now: datetime, *,
                  reason: str = "", recorded_by: int | None = None) -> datetime | None:
    """Write the attendance; None when the deputy was already present (nothing written)."""
    late = method in ("link", "code") and now > activity.starts_at + LATE_AFTER
    stmt = (
        insert(Attendance)
        .values(tenant_id=activity.tenant_id, activity_id=activity.id, deputy_id=deputy_id, method=method,
                signed_at=now, on_behalf_reason=reason, recorded_by=recorded_by, late=late)
        .on_conflict_do_nothing()
        .returning(Attendance.signed_at)
    )
    signed = await db.scalar(stmt)
    if signed is not None:  # present wins over leave asked for earlier
        await cleared_by_sign_in(db, activity, deputy_id, recorded_by)
    return signed


def _with_place(query):
    """Add the station's and the deputy group's names to a query that has joined Activity."""
    return (
        query.add_columns(Station.name, DeputyGroup.name)
        .outerjoin(Station, and_(Station.tenant_id == Activity.tenant_id, Station.id == Activity.station_id))
        .outerjoin(DeputyGroup, and_(DeputyGroup.tenant_id == Activity.tenant_id, DeputyGroup.id == Activity.group_id))
    )


def _attendance_join():
    return and_(Attendance.tenant_id == Invitation.tenant_id, Attendance.activity_id == Invitation.activity_id,
                Attendance.deputy_id == Invitation.deputy_id)


# --- the personal link ----------------------------------------------------------------------------

@dataclass
class LinkView:
    invitation: Invitation
    activity: Activity
    kind: ActivityKind
    deputy: Deputy
    where: str  # the station's (or the deputy group's) name
    attendance: Attendance | None


async def link_view(db: AsyncSession, token: str) -> LinkView | None:
    """The invitation behind a personal link (not withdrawn), or None: the caller answers 404."""
    if not token or len(token) > 40:
        return None
    query = _with_place(
        select(Invitation, Activity, ActivityKind, Deputy, Attendance)
        .join(Activity, and_(Activity.tenant_id == Invitation.tenant_id, Activity.id == Invitation.activity_id))
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .join(Deputy, and_(Deputy.tenant_id == Invitation.tenant_id, Deputy.id == Invitation.deputy_id))
        .outerjoin(Attendance, _attendance_join())
    ).where(Invitation.token == token, Invitation.withdrawn_at.is_(None))
    row = (await db.execute(query)).first()
    if row is None:
        return None
    inv, activity, kind, deputy, attendance, station_name, group_name = row
    return LinkView(inv, activity, kind, deputy, station_name or group_name or "", attendance)


async def sign_in_by_link(db: AsyncSession, view: LinkView, config: Config, tz: ZoneInfo, *,
                          now: datetime | None = None, client_addr: str | None = None) -> datetime | None:
    """Sign the link's deputy in; returns the time, or None when already signed in (nothing written)."""
    now = _now(now)
    if view.attendance is not None:
        return None
    refusal = window_refusal(view.activity, config, tz, now)
    if refusal:
        raise refusal
    signed = await _attend(db, view.activity, view.deputy.id, "link", now)
    if signed is not None:
        await record(db, tenant_id=view.activity.tenant_id, actor_user_id=None, action="signin_link",
                     target=f"activity:{view.activity.id}", client_addr=client_addr,
                     details={"deputy_id": view.deputy.id})
        await roll_up(db, view.activity, client_addr=client_addr)  # a joint station's: into the home county
    return signed


# --- the rotating code on the station's screen ---------------------------------------------------

def new_code() -> str:
    """64 random bits, 11 URL-safe characters: unguessable within its minute of life."""
    return secrets.token_urlsafe(8)


async def screen_code(db: AsyncSession, activity: Activity, *, now: datetime | None = None) -> SigninCode:
    """The code the screen shows now: the newest one if unused and issued less than CODE_ROTATES
    ago, else a new one (so a used code is replaced at the next poll)."""
    now = _now(now)
    current = await db.scalar(
        select(SigninCode)
        .where(SigninCode.activity_id == activity.id, SigninCode.used_at.is_(None),
               SigninCode.issued_at > now - CODE_ROTATES, SigninCode.expires_at > now)
        .order_by(SigninCode.issued_at.desc()).limit(1)
    )
    if current is not None:
        return current
    code = SigninCode(tenant_id=activity.tenant_id, activity_id=activity.id, code=new_code(), issued_at=now,
                      expires_at=now + CODE_LIFETIME)
    db.add(code)
    await db.flush()
    return code


async def purge_codes(database, *, now: datetime | None = None, keep: timedelta = timedelta(days=1)) -> int:
    """The worker's housekeeping: codes that were never used and expired more than `keep` ago are
    deleted (an open screen issues one every 20 s); used ones stay with the deputy who used them.
    Tenant by tenant, each in its own transaction bound to it: only the tenants holding such codes
    (`signin_codes_expired_tenants`, migration 0039), so the hourly run costs one statement where
    nothing is to be done."""
    cutoff = _now(now) - keep
    async with database.transaction() as db:
        tenants = list((await every_county(db, "SELECT tenant_id FROM signin_codes_expired_tenants(:cutoff)",
                                           {"cutoff": cutoff})).scalars())
    removed = 0
    for tenant_id in tenants:
        async with database.transaction(tenant_id=tenant_id) as db:
            result = await db.execute(delete(SigninCode).where(SigninCode.used_at.is_(None),
                                                               SigninCode.expires_at < cutoff))
            removed += result.rowcount
    return removed


async def presence_counts(db: AsyncSession, activity_id: int) -> tuple[int, int]:
    """(signed in, invited) among the current invitations."""
    row = (await db.execute(
        select(func.count(Attendance.deputy_id), func.count())
        .select_from(Invitation).outerjoin(Attendance, _attendance_join())
        .where(Invitation.activity_id == activity_id, Invitation.withdrawn_at.is_(None))
    )).one()
    return row[0], row[1]


@dataclass
class ScanView:
    code: SigninCode
    activity: Activity
    kind: ActivityKind
    where: str
    deputy: Deputy | None  # the signed-in member's deputy invited to this activity
    attendance: Attendance | None


async def scan_view(db: AsyncSession, code: str, user_id: int) -> ScanView | None:
    """The code with its activity and the member's invited deputy (if any); None: unknown code."""
    if not code or len(code) > 20:
        return None
    row = (await db.execute(_with_place(
        select(SigninCode, Activity, ActivityKind)
        .join(Activity, and_(Activity.tenant_id == SigninCode.tenant_id, Activity.id == SigninCode.activity_id))
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
    ).where(SigninCode.code == code))).first()
    if row is None:
        return None
    signin_code, activity, kind, station_name, group_name = row
    mine = (await db.execute(
        select(Deputy, Attendance).select_from(Invitation)
        .join(Deputy, and_(Deputy.tenant_id == Invitation.tenant_id, Deputy.id == Invitation.deputy_id))
        .outerjoin(Attendance, _attendance_join())
        .where(Invitation.activity_id == activity.id, Invitation.withdrawn_at.is_(None), Deputy.user_id == user_id)
        .order_by(Attendance.signed_at.nulls_last(), Deputy.id).limit(1)
    )).first()
    deputy, attendance = mine if mine else (None, None)
    return ScanView(signin_code, activity, kind, station_name or group_name or "", deputy, attendance)


def scan_refusal(view: ScanView, config: Config, tz: ZoneInfo, now: datetime) -> Refusal | None:
    """Why this member cannot sign in with this code now (checked on the page and again on POST)."""
    if view.activity.status == "cancelled":
        return Refusal(CANCELLED)
    if view.deputy is None:
        return Refusal(NOT_INVITED, status=403)
    if view.attendance is not None:
        return None  # already present: the page says so, nothing else matters
    refusal = window_refusal(view.activity, config, tz, now)
    if refusal:
        return refusal
    if view.code.used_at is not None:
        return Refusal(CODE_USED)
    if view.code.expires_at <= now:
        return Refusal(CODE_EXPIRED)
    return None


async def sign_in_by_code(db: AsyncSession, view: ScanView, config: Config, tz: ZoneInfo, *, user_id: int,
                          now: datetime | None = None, client_addr: str | None = None) -> datetime | None:
    """Consume the code (atomically: single use, before it expires) and sign the member's deputy
    in; returns the time, or None when the deputy was already present (the code stays unused)."""
    now = _now(now)
    refusal = scan_refusal(view, config, tz, now)
    if refusal:
        raise refusal
    if view.attendance is not None:
        return None
    consumed = await db.scalar(
        update(SigninCode)
        .where(SigninCode.code == view.code.code, SigninCode.used_at.is_(None), SigninCode.expires_at > now)
        .values(used_at=now, used_by_deputy_id=view.deputy.id)
        .returning(SigninCode.id)
        .execution_options(synchronize_session=False)
    )
    if consumed is None:  # someone else took it between the page and the button, or it just expired
        used = await db.scalar(select(SigninCode.used_at).where(SigninCode.id == view.code.id)
                               .execution_options(populate_existing=True))
        raise Refusal(CODE_USED if used is not None else CODE_EXPIRED)
    signed = await _attend(db, view.activity, view.deputy.id, "code", now)
    await record(db, tenant_id=view.activity.tenant_id, actor_user_id=user_id, action="signin_code",
                 target=f"activity:{view.activity.id}", client_addr=client_addr,
                 details={"deputy_id": view.deputy.id})
    await roll_up(db, view.activity, actor_id=user_id, client_addr=client_addr)
    return signed


# --- staff ---------------------------------------------------------------------------------------

async def invitation_rows(db: AsyncSession, activity_id: int) -> list[tuple]:
    """(Deputy, Invitation, Attendance | None) of the current invitations, by name."""
    rows = await db.execute(
        select(Deputy, Invitation, Attendance).select_from(Invitation)
        .join(Deputy, and_(Deputy.tenant_id == Invitation.tenant_id, Deputy.id == Invitation.deputy_id))
        .outerjoin(Attendance, _attendance_join())
        .where(Invitation.activity_id == activity_id, Invitation.withdrawn_at.is_(None))
        .order_by(Deputy.name, Deputy.id)
    )
    return [tuple(r) for r in rows]


async def _invited(db: AsyncSession, activity_id: int, deputy_id) -> tuple[Deputy, Attendance | None]:
    """The invited deputy (this tenant, invitation not withdrawn) and their attendance."""
    text = str(deputy_id or "").strip()
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise Refusal(DEPUTY_NOT_INVITED)
    row = (await db.execute(
        select(Deputy, Attendance).select_from(Invitation)
        .join(Deputy, and_(Deputy.tenant_id == Invitation.tenant_id, Deputy.id == Invitation.deputy_id))
        .outerjoin(Attendance, _attendance_join())
        .where(Invitation.activity_id == activity_id, Invitation.deputy_id == int(text),
               Invitation.withdrawn_at.is_(None))
    )).first()
    if row is None:
        raise Refusal(DEPUTY_NOT_INVITED)
    return row[0], row[1]


async def sign_in_on_behalf(db: AsyncSession, scope: Scope, ref: ActivityRef, *, deputy_id, reason: str,
                            actor_id: int, config: Config, tz: ZoneInfo, now: datetime | None = None,
                            client_addr: str | None = None) -> Deputy:
    """Staff sign an invited deputy in with a stated reason: from the opening of sign-in on, also
    after it closed (catching up the record), never for a cancelled activity."""
    now = _now(now)
    await ensure_running(scope, ref)
    opens, _ = signin_window(ref.activity, config)
    if now < opens:
        raise Refusal(NOT_STARTED, time=local_time(opens, tz))
    deputy, attendance = await _invited(db, ref.activity.id, deputy_id)
    reason = _text(reason, REASON_LABEL, required=REASON_REQUIRED)
    if attendance is not None:
        raise Refusal(ALREADY_PRESENT, name=deputy.name, time=local_time(attendance.signed_at, tz))
    await _attend(db, ref.activity, deputy.id, "staff", now, reason=reason, recorded_by=actor_id)
    await record(db, tenant_id=ref.activity.tenant_id, actor_user_id=actor_id, action="signin_on_behalf",
                 target=f"activity:{ref.activity.id}", client_addr=client_addr,
                 details={"deputy_id": deputy.id, "reason": reason})
    await roll_up(db, ref.activity, actor_id=actor_id, client_addr=client_addr)
    return deputy


async def set_marks(db: AsyncSession, scope: Scope, ref: ActivityRef, deputy_id, *, late: bool, left_early: bool,
                    note: str, actor_id: int, client_addr: str | None = None) -> Deputy:
    require_run(scope, ref)
    deputy, attendance = await _invited(db, ref.activity.id, deputy_id)
    note = _text(note, NOTE_LABEL)
    if attendance is None:
        raise Refusal(NOT_PRESENT, name=deputy.name)
    attendance.late, attendance.left_early, attendance.note = late, left_early, note
    await record(db, tenant_id=ref.activity.tenant_id, actor_user_id=actor_id, action="signin_marks",
                 target=f"activity:{ref.activity.id}", client_addr=client_addr,
                 details={"deputy_id": deputy.id, "late": late, "left_early": left_early, "note": note})
    await roll_up(db, ref.activity, actor_id=actor_id, client_addr=client_addr)
    return deputy


async def remove_attendance(db: AsyncSession, scope: Scope, ref: ActivityRef, deputy_id, *, reason: str,
                            actor_id: int, client_addr: str | None = None) -> Deputy:
    """Staff take back a wrong sign-in; the audit entry keeps what it was and why it went."""
    require_run(scope, ref)
    deputy, attendance = await _invited(db, ref.activity.id, deputy_id)
    reason = _text(reason, REASON_LABEL, required=REMOVE_REASON_REQUIRED)
    if attendance is None:
        raise Refusal(NOT_PRESENT, name=deputy.name)
    details = {"deputy_id": deputy.id, "method": attendance.method, "signed_at": attendance.signed_at.isoformat(),
               "on_behalf_reason": attendance.on_behalf_reason, "reason": reason}
    await db.execute(delete(Attendance).where(Attendance.activity_id == ref.activity.id,
                                              Attendance.deputy_id == deputy.id))
    await record(db, tenant_id=ref.activity.tenant_id, actor_user_id=actor_id, action="signin_removed",
                 target=f"activity:{ref.activity.id}", client_addr=client_addr, details=details)
    await roll_up(db, ref.activity, actor_id=actor_id, client_addr=client_addr)
    return deputy


async def links_viewed(db: AsyncSession, ref: ActivityRef, *, actor_id: int, client_addr: str | None = None) -> None:
    await record(db, tenant_id=ref.activity.tenant_id, actor_user_id=actor_id, action="signin_links_viewed",
                 target=f"activity:{ref.activity.id}", client_addr=client_addr)
