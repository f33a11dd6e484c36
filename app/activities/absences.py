"""Absence reasons (请假) per activity, kept on the invitation (0036).

An invited deputy asks for leave with a short reason on the activity's page (on the phone), from
the invitation until ``LATE_DAYS`` after the activity ends (offices accept a note handed in late),
and may withdraw it until the activity starts. Staff who may sign a deputy in on their behalf
(``access.can_run``: county admins, township staff in their subtree, the station's staff) record or
clear a reason for an invited deputy at any time, e.g. after a phone call; recording needs the reason.
A deputy who signed in is present and has no absence reason: recording one is refused, and a sign-in
after leave was recorded wins — it clears the reason (``cleared_by_sign_in``, called by every
sign-in) and the activity's history keeps it.

An excused absence is still an absence: attendance counts and compliance do not read the reason;
the attendance register prints it beside the name. Every change writes an ``ActivityEvent`` (the
reason in its note) and an audit entry. Services raise ``Refusal`` (nothing written), never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.access import ActivityRef
from app.activities.attendance import attendance_join
from app.activities.models import Activity, Attendance, Invitation
from app.activities.services import ACTIVITY_CANCELLED, NOT_INVITED, add_event, ensure_running
from app.audit.services import record
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.deputies.models import Deputy
from app.tenancy.scope import Scope

LATE_DAYS = timedelta(days=3)
REASON_MAX = 100

REASON_REQUIRED = lazy("Please give the reason for the absence.")
REASON_TOO_LONG = lazy("The reason for the absence may have at most %(max)s characters.")
PRESENT = lazy("%(name)s has signed in and is present; a deputy who is present has no absence reason.")
TOO_LATE = lazy("Leave could be asked for until %(time)s. Please tell the station's staff.")
NO_LEAVE = lazy("You have not asked for leave for this activity.")
STARTED = lazy("The activity has started; the leave can no longer be withdrawn.")
NOTHING_TO_CLEAR = lazy("%(name)s has no absence reason to clear.")
ASKED_DONE = lazy("Your leave has been recorded; the station's staff can see the reason.")
WITHDRAWN_DONE = lazy("Your leave has been withdrawn.")

# ActivityEvent actions (the history's names are in app.activities.routes.EVENT_NAMES)
ASKED, WITHDRAWN, RECORDED, CLEARED, SIGNED_IN = (
    "leave_asked", "leave_withdrawn", "absence_recorded", "absence_cleared", "leave_signed_in")


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def check_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Refusal(REASON_REQUIRED, input_name="reason")
    if len(reason) > REASON_MAX:
        raise Refusal(REASON_TOO_LONG, input_name="reason", max=REASON_MAX)
    return reason


def leave_deadline(activity: Activity) -> datetime:
    return activity.ends_at + LATE_DAYS


@dataclass
class LeaveView:
    """What the activity's page offers the signed-in deputy about their own leave."""

    mine: tuple | None  # (Deputy, Invitation, Attendance | None): the deputy's own invitation
    deadline: datetime
    can_ask: bool = False
    can_withdraw: bool = False


def leave_view(scope: Scope, activity: Activity, invitations: list[tuple], now: datetime) -> LeaveView:
    """From the invitations the page has loaded (no query); the services check all of it again."""
    mine = None
    if scope.role == "deputy":
        mine = next((row for row in invitations if row[0].user_id == scope.user_id), None)
    return offer(mine, activity, now)


def offer(mine: tuple | None, activity: Activity, now: datetime) -> LeaveView:
    """What a deputy with this invitation (Deputy, Invitation, Attendance | None) may do now."""
    view = LeaveView(mine, leave_deadline(activity))
    if mine is not None and mine[2] is None and activity.status != "cancelled":
        view.can_ask = now <= view.deadline
        view.can_withdraw = mine[1].absence_reason is not None and now < activity.starts_at
    return view


def _invitation_query(activity_id: int):
    return (
        select(Deputy, Invitation, Attendance).select_from(Invitation)
        .join(Deputy, and_(Deputy.tenant_id == Invitation.tenant_id, Deputy.id == Invitation.deputy_id))
        .outerjoin(Attendance, attendance_join())
        .where(Invitation.activity_id == activity_id, Invitation.withdrawn_at.is_(None))
        .with_for_update(of=Invitation)
    )


async def _own(db: AsyncSession, scope: Scope, ref: ActivityRef) -> tuple[Deputy, Invitation, Attendance | None]:
    """The signed-in deputy's own invitation to this activity (locked); 404 for anyone else."""
    if scope.role != "deputy":
        raise NotFound()
    row = (await db.execute(_invitation_query(ref.activity.id).where(Deputy.user_id == scope.user_id)
                            .order_by(Deputy.id).limit(1))).first()
    if row is None:
        raise NotFound()
    return row[0], row[1], row[2]


async def _invited(db: AsyncSession, ref: ActivityRef, deputy_id) -> tuple[Deputy, Invitation, Attendance | None]:
    """An invited deputy of this activity, by the id a staff form posted (locked)."""
    text = str(deputy_id or "").strip()
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise Refusal(NOT_INVITED)
    row = (await db.execute(_invitation_query(ref.activity.id).where(Invitation.deputy_id == int(text)))).first()
    if row is None:
        raise Refusal(NOT_INVITED)
    return row[0], row[1], row[2]


async def _change(db: AsyncSession, ref: ActivityRef | Activity, deputy: Deputy, inv: Invitation, action: str, *,
                  reason: str | None, actor_id: int | None, now: datetime, client_addr: str | None) -> None:
    """Set (``reason``) or clear (None) the invitation's reason; the event's note keeps the reason set
    or the one cleared."""
    activity = ref.activity if isinstance(ref, ActivityRef) else ref
    note = reason if reason is not None else inv.absence_reason or ""
    inv.absence_reason = reason
    inv.absence_recorded_at = now if reason is not None else None
    inv.absence_recorded_by = actor_id if reason is not None else None
    await add_event(db, activity, action, actor_id, data={"deputy_ids": [deputy.id]}, note=note)
    await record(db, tenant_id=activity.tenant_id, actor_user_id=actor_id, action=f"activity_{action}",
                 target=f"activity:{activity.id}", client_addr=client_addr,
                 details={"deputy_id": deputy.id, "reason": note})


# --- the deputy -----------------------------------------------------------------------------------

async def ask_leave(db: AsyncSession, scope: Scope, ref: ActivityRef, *, reason: str | None, tz: ZoneInfo,
                    now: datetime | None = None, client_addr: str | None = None) -> Deputy:
    """The signed-in deputy asks for leave (or changes the reason given)."""
    mine = await _own(db, scope, ref)
    return await ask(db, ref.activity, mine, reason=reason, tz=tz, actor_id=scope.user_id, now=now,
                     client_addr=client_addr)


async def withdraw_leave(db: AsyncSession, scope: Scope, ref: ActivityRef, *, now: datetime | None = None,
                         client_addr: str | None = None) -> Deputy:
    mine = await _own(db, scope, ref)
    return await withdraw(db, ref.activity, mine, actor_id=scope.user_id, now=now, client_addr=client_addr)


async def ask(db: AsyncSession, activity: Activity, mine: tuple, *, reason: str | None, tz: ZoneInfo,
              actor_id: int | None, now: datetime | None = None, client_addr: str | None = None) -> Deputy:
    """The deputy of the invitation ``mine`` (Deputy, Invitation, Attendance | None: their own, found
    through their account or their personal link) asks for leave; all checks before any write."""
    now = _now(now)
    deputy, inv, attendance = mine
    if activity.status == "cancelled":
        raise Refusal(ACTIVITY_CANCELLED)
    if attendance is not None:
        raise Refusal(PRESENT, name=deputy.name)
    deadline = leave_deadline(activity)
    if now > deadline:
        raise Refusal(TOO_LATE, time=deadline.astimezone(tz).strftime("%Y-%m-%d %H:%M"))
    await _change(db, activity, deputy, inv, ASKED, reason=check_reason(reason), actor_id=actor_id, now=now,
                  client_addr=client_addr)
    return deputy


async def withdraw(db: AsyncSession, activity: Activity, mine: tuple, *, actor_id: int | None,
                   now: datetime | None = None, client_addr: str | None = None) -> Deputy:
    """The deputy takes the leave back (they will come after all): only before the activity starts."""
    now = _now(now)
    deputy, inv, _ = mine
    if inv.absence_reason is None:
        raise Refusal(NO_LEAVE)
    if now >= activity.starts_at:
        raise Refusal(STARTED)
    await _change(db, activity, deputy, inv, WITHDRAWN, reason=None, actor_id=actor_id, now=now,
                  client_addr=client_addr)
    return deputy


# --- staff ----------------------------------------------------------------------------------------

async def record_absence(db: AsyncSession, scope: Scope, ref: ActivityRef, deputy_id, *, reason: str | None,
                         actor_id: int, now: datetime | None = None, client_addr: str | None = None) -> Deputy:
    """Staff record (or change) an invited deputy's reason for being absent."""
    await ensure_running(scope, ref)
    deputy, inv, attendance = await _invited(db, ref, deputy_id)
    if attendance is not None:
        raise Refusal(PRESENT, name=deputy.name)
    await _change(db, ref, deputy, inv, RECORDED, reason=check_reason(reason), actor_id=actor_id,
                  now=_now(now), client_addr=client_addr)
    return deputy


async def clear_absence(db: AsyncSession, scope: Scope, ref: ActivityRef, deputy_id, *, actor_id: int,
                        now: datetime | None = None, client_addr: str | None = None) -> Deputy:
    """Staff clear a reason recorded by mistake (the history keeps it)."""
    await ensure_running(scope, ref)
    deputy, inv, _ = await _invited(db, ref, deputy_id)
    if inv.absence_reason is None:
        raise Refusal(NOTHING_TO_CLEAR, name=deputy.name)
    await _change(db, ref, deputy, inv, CLEARED, reason=None, actor_id=actor_id, now=_now(now),
                  client_addr=client_addr)
    return deputy


# --- a sign-in wins -------------------------------------------------------------------------------

async def cleared_by_sign_in(db: AsyncSession, activity: Activity, deputy_id: int, actor_id: int | None) -> None:
    """A deputy who asked for leave signed in after all: present, so the reason goes from the
    invitation; the history keeps it (no audit entry: the sign-in writes its own)."""
    inv = await db.scalar(select(Invitation).where(Invitation.activity_id == activity.id,
                                                   Invitation.deputy_id == deputy_id,
                                                   Invitation.absence_reason.is_not(None)).with_for_update())
    if inv is None:
        return
    await add_event(db, activity, SIGNED_IN, actor_id, data={"deputy_ids": [deputy_id]}, note=inv.absence_reason)
    inv.absence_reason = inv.absence_recorded_at = inv.absence_recorded_by = None
