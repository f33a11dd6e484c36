"""The verbs of activities: create, invite, and the history every change writes.

Every verb takes the acting member's scope and a session bound to the tenant, checks what the member
may do (``app.activities.access``), raises ``Refusal`` (nothing written) for bad input, and records an
``ActivityEvent`` — the visible record of changes. Creating, inviting, rescheduling, cancelling,
withdrawing an invitation and editing the place or topic also write (or withdraw) the activity's
reminders in the same transaction (``app.activities.reminders``). Services do not commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.activities import reminders
from app.activities.access import RUN_ROLES, ActivityRef, can_run_at, require_run
from app.activities.models import Activity, ActivityEvent, ActivityKind, ActivityPlan, Attendance, Invitation
from app.audit.services import record
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy, DeputyGroup, StationDeputy
from app.activities.joint_port import roll_up
from app.stations.access import StationRef
from app.tenancy.scope import Scope

STAFF_MEMBER_ROLES = RUN_ROLES  # who may be named responsible for an activity
MAX_DURATION = timedelta(days=3)
TEXT_MAX = {"place": 200, "topic": 200, "note": 500}

KIND_REQUIRED = lazy("Please choose the kind of activity.")
WHEN_REQUIRED = lazy("Please give the date and the start and end times.")
ENDS_BEFORE_START = lazy("The activity must end after it starts.")
TOO_LONG_ACTIVITY = lazy("An activity lasts at most three days; enter longer work as several activities.")
IN_THE_PAST = lazy(
    "This activity would start in the past. To enter an activity that already took place, record it as held."
)
NOT_YET_HELD = lazy("An activity that has not started yet cannot be recorded as held.")
NO_PLACE_TO_RUN = lazy("You may not arrange activities for this station.")
DEPUTY_UNKNOWN = lazy("One of the chosen deputies is not a serving deputy of this county.")
ACTIVITY_CANCELLED = lazy("The activity was cancelled; it can no longer be changed.")
TEXT_TOO_LONG = lazy("“%(field)s” may have at most %(max)s characters.")
PLACE_LABEL = lazy("Activity place")
TOPIC_LABEL = lazy("Activity topic")
RESPONSIBLE_UNKNOWN = lazy("The responsible person must be a staff member of this county.")


def new_token() -> str:
    """The secret of a personal sign-in link: 128 bits, URL-safe."""
    return secrets.token_urlsafe(16)


async def add_event(db: AsyncSession, ref_or_activity, action: str, actor_id: int | None, *, data: dict | None = None,
                    note: str = "", plan_change: bool = False) -> None:
    activity = ref_or_activity.activity if isinstance(ref_or_activity, ActivityRef) else ref_or_activity
    db.add(ActivityEvent(tenant_id=activity.tenant_id, activity_id=activity.id, action=action, data=data or {},
                         note=note[:TEXT_MAX["note"]], plan_change=plan_change, actor_user_id=actor_id))


async def active_kind(db: AsyncSession, kind_id: int | None) -> ActivityKind:
    kind = None
    if kind_id is not None and 0 < kind_id < 2**63:
        kind = await db.scalar(select(ActivityKind).where(ActivityKind.id == kind_id, ActivityKind.retired_at.is_(None)))
    if kind is None:
        raise Refusal(KIND_REQUIRED)
    return kind


def check_times(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is None or ends_at is None:
        raise Refusal(WHEN_REQUIRED)
    if ends_at <= starts_at:
        raise Refusal(ENDS_BEFORE_START)
    if ends_at - starts_at > MAX_DURATION:
        raise Refusal(TOO_LONG_ACTIVITY)


def check_text(field_label, value: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise Refusal(TEXT_TOO_LONG, field=field_label, max=limit)
    return value


@dataclass
class NewActivity:
    kind_id: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    place: str = ""
    topic: str = ""
    responsible_user_id: int | None = None
    deputy_ids: tuple[int, ...] = ()
    held: bool = False  # entering an activity that already took place
    plan_id: int | None = None


async def create_activity(db: AsyncSession, scope: Scope, *, tenant_id: int, actor_id: int,
                          station: StationRef | None, group: DeputyGroup | None, new: NewActivity,
                          now: datetime | None = None, client_addr: str | None = None) -> Activity:
    """A planned activity of a station (or a deputy group), with its invited deputies. One that
    starts in the past is refused unless it is being entered as held."""
    now = now or datetime.now(timezone.utc)
    if not can_run_at(scope, station.station if station else None, station.node if station else None):
        raise Refusal(NO_PLACE_TO_RUN, status=404)
    kind = await active_kind(db, new.kind_id)
    check_times(new.starts_at, new.ends_at)
    if new.held and new.starts_at > now:
        raise Refusal(NOT_YET_HELD)
    if not new.held and new.starts_at < now:
        raise Refusal(IN_THE_PAST)
    await check_deputies_in_scope(db, scope, new.deputy_ids)
    activity = Activity(
        tenant_id=tenant_id, kind_id=kind.id, station_id=station.station.id if station else None,
        group_id=group.id if group else None, plan_id=new.plan_id, starts_at=new.starts_at, ends_at=new.ends_at,
        place=check_text(PLACE_LABEL, new.place, TEXT_MAX["place"]),
        topic=check_text(TOPIC_LABEL, new.topic, TEXT_MAX["topic"]),
        responsible_user_id=await check_responsible(db, tenant_id, new.responsible_user_id), status="held" if new.held else "planned",
        recorded_at=now if new.held else None, recorded_by=actor_id if new.held else None, created_by=actor_id,
    )
    db.add(activity)
    await db.flush()
    await add_event(db, activity, "created", actor_id,
                    data={"starts_at": new.starts_at.isoformat(), "ends_at": new.ends_at.isoformat()})
    if new.deputy_ids:
        await invite_deputies(db, activity, new.deputy_ids, actor_id=actor_id, now=now)
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="activity_created",
                 target=f"activity:{activity.id}", client_addr=client_addr)
    return activity


async def invitable_deputies(db: AsyncSession, deputy_ids) -> list[Deputy]:
    """The serving deputies of this tenant with these ids; Refusal if any id is not one."""
    ids = {int(i) for i in deputy_ids}
    if not ids:
        return []
    if any(not 0 < i < 2**63 for i in ids):
        raise Refusal(DEPUTY_UNKNOWN)
    found = list(await db.scalars(select(Deputy).where(Deputy.id.in_(ids), Deputy.status == "active")))
    if len(found) != len(ids):
        raise Refusal(DEPUTY_UNKNOWN)
    return found


async def invite_deputies(db: AsyncSession, activity: Activity, deputy_ids, *, actor_id: int | None,
                          now: datetime | None = None) -> list[int]:
    """Invite deputies (again, if they were withdrawn) and write their reminders; returns the ids
    newly invited."""
    if activity.status == "cancelled":
        raise Refusal(ACTIVITY_CANCELLED)
    deputies = await invitable_deputies(db, deputy_ids)
    existing = {
        inv.deputy_id: inv for inv in await db.scalars(
            select(Invitation).where(Invitation.activity_id == activity.id,
                                     Invitation.deputy_id.in_([d.id for d in deputies]))
        )
    }
    added = []
    for deputy in deputies:
        inv = existing.get(deputy.id)
        if inv is None:
            db.add(Invitation(tenant_id=activity.tenant_id, activity_id=activity.id, deputy_id=deputy.id,
                              token=new_token(), invited_by=actor_id))
            added.append(deputy.id)
        elif inv.withdrawn_at is not None:
            inv.withdrawn_at = None
            inv.token = new_token()  # an old link stays dead
            inv.invited_by = actor_id
            added.append(deputy.id)
    if added:
        await db.flush()
        await add_event(db, activity, "invited", actor_id, data={"deputy_ids": sorted(added)})
        await reminders.invited(db, activity, added, now=now)
        await roll_up(db, activity, actor_id=actor_id)  # a joint station's: into the home counties
    return added


async def station_deputy_ids(db: AsyncSession, station_id: int) -> list[int]:
    """The serving deputies currently stationed at a station (the default invitation list)."""
    rows = await db.scalars(
        select(StationDeputy.deputy_id)
        .join(Deputy, and_(Deputy.tenant_id == StationDeputy.tenant_id, Deputy.id == StationDeputy.deputy_id))
        .where(StationDeputy.station_id == station_id, StationDeputy.ended_at.is_(None), Deputy.status == "active")
        .order_by(StationDeputy.deputy_id)
    )
    return list(dict.fromkeys(rows))


async def ensure_running(scope: Scope, ref: ActivityRef) -> None:
    require_run(scope, ref)
    if ref.activity.status == "cancelled":
        raise Refusal(ACTIVITY_CANCELLED)


async def check_deputies_in_scope(db: AsyncSession, scope: Scope, deputy_ids) -> None:
    """Deputies posted by id must be ones the member may see (else their names would show on the
    activity page): the same refusal as an unknown deputy."""
    ids = {int(i) for i in deputy_ids}
    if not ids:
        return
    if any(not 0 < i < 2**63 for i in ids):
        raise Refusal(DEPUTY_UNKNOWN)
    seen = set(await db.scalars(select(Deputy.id).where(Deputy.id.in_(ids), deputies_in_scope(scope))))
    if seen != ids:
        raise Refusal(DEPUTY_UNKNOWN)


async def check_responsible(db: AsyncSession, tenant_id: int, user_id: int | None) -> int | None:
    """The responsible person: a current member of this tenant in a staff role, or nobody."""
    if user_id is None:
        return None
    found = None
    if 0 < user_id < 2**63:
        found = await db.scalar(
            select(Membership.user_id).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id,
                                             Membership.role.in_(STAFF_MEMBER_ROLES),
                                             Membership.revoked_at.is_(None)).limit(1)
        )
    if found is None:
        raise Refusal(RESPONSIBLE_UNKNOWN)
    return found


# --- changes to an activity -------------------------------------------------------------------------

CHOOSE_DEPUTIES = lazy("Please choose the deputies to invite.")
REASON_REQUIRED = lazy("Please give a reason.")
ALREADY_HELD = lazy("The activity has already been held; it can no longer be rescheduled or cancelled.")
NOT_INVITED = lazy("This deputy is not invited to the activity.")
ALREADY_SIGNED_IN = lazy("This deputy has already signed in; the invitation can no longer be withdrawn.")
REASON_LABEL = lazy("Reason for the change")


def parse_when(tz_name: str, day: str, start: str, end: str) -> tuple[datetime | None, datetime | None]:
    """A date (YYYY-MM-DD) and two times (HH:MM) in the tenant's zone → aware datetimes; None where
    a field is missing or not a date/time (``check_times`` then refuses)."""
    tz = ZoneInfo(tz_name)
    try:
        d = date.fromisoformat((day or "").strip())
        t1 = time.fromisoformat((start or "").strip()[:5])
        t2 = time.fromisoformat((end or "").strip()[:5])
    except ValueError:
        return None, None
    return datetime.combine(d, t1, tz), datetime.combine(d, t2, tz)


def check_reason(reason: str) -> str:
    reason = check_text(REASON_LABEL, reason, TEXT_MAX["note"])
    if not reason:
        raise Refusal(REASON_REQUIRED)
    return reason


async def plan_published(db: AsyncSession, activity: Activity) -> bool:
    """A change to an activity of a published yearly plan is a change to that plan (shown as such)."""
    if activity.plan_id is None:
        return False
    status = await db.scalar(select(ActivityPlan.status).where(ActivityPlan.id == activity.plan_id))
    return status == "published"


def _open_and_not_held(ref: ActivityRef) -> None:
    if ref.activity.status == "cancelled":
        raise Refusal(ACTIVITY_CANCELLED)
    if ref.activity.status == "held":
        raise Refusal(ALREADY_HELD)


async def reschedule(db: AsyncSession, scope: Scope, ref: ActivityRef, *, starts_at: datetime | None,
                     ends_at: datetime | None, reason: str, actor_id: int, now: datetime | None = None,
                     client_addr: str | None = None) -> None:
    """New times for a planned activity, kept in its history with the old ones (the invited
    deputies see the change on their list)."""
    now = now or datetime.now(timezone.utc)
    require_run(scope, ref)
    _open_and_not_held(ref)
    check_times(starts_at, ends_at)
    if starts_at < now:
        raise Refusal(IN_THE_PAST)
    reason = check_reason(reason)
    activity = ref.activity
    data = {"from": [activity.starts_at.isoformat(), activity.ends_at.isoformat()],
            "to": [starts_at.isoformat(), ends_at.isoformat()]}
    activity.starts_at, activity.ends_at, activity.updated_at = starts_at, ends_at, now
    await add_event(db, activity, "rescheduled", actor_id, data=data, note=reason,
                    plan_change=await plan_published(db, activity))
    await reminders.rescheduled(db, activity, now=now)
    await roll_up(db, activity, actor_id=actor_id, client_addr=client_addr)
    await _audit(db, activity, actor_id, "activity_rescheduled", client_addr)


async def cancel(db: AsyncSession, scope: Scope, ref: ActivityRef, *, reason: str, actor_id: int,
                 now: datetime | None = None, client_addr: str | None = None) -> None:
    require_run(scope, ref)
    _open_and_not_held(ref)
    reason = check_reason(reason)
    activity = ref.activity
    activity.status, activity.cancel_reason = "cancelled", reason
    activity.updated_at = now = now or datetime.now(timezone.utc)
    await add_event(db, activity, "cancelled", actor_id, note=reason, plan_change=await plan_published(db, activity))
    await reminders.cancelled(db, activity, reason=reason, now=now)
    await roll_up(db, activity, actor_id=actor_id, client_addr=client_addr)
    await _audit(db, activity, actor_id, "activity_cancelled", client_addr)


async def edit(db: AsyncSession, scope: Scope, ref: ActivityRef, *, place: str, topic: str,
               responsible_user_id: int | None, actor_id: int, client_addr: str | None = None,
               now: datetime | None = None) -> bool:
    """Place, topic and responsible person; the history keeps what changed. False: nothing did."""
    await ensure_running(scope, ref)
    activity = ref.activity
    new = {"place": check_text(PLACE_LABEL, place, TEXT_MAX["place"]),
           "topic": check_text(TOPIC_LABEL, topic, TEXT_MAX["topic"]),
           "responsible_user_id": responsible_user_id if responsible_user_id == activity.responsible_user_id
           else await check_responsible(db, activity.tenant_id, responsible_user_id)}
    changed = {k: [getattr(activity, k), v] for k, v in new.items() if getattr(activity, k) != v}
    if not changed:
        return False
    for key, (_, value) in changed.items():
        setattr(activity, key, value)
    activity.updated_at = now = now or datetime.now(timezone.utc)
    await add_event(db, activity, "edited", actor_id, data=changed)
    if "place" in changed or "topic" in changed:
        await reminders.edited(db, activity, now=now)
    if "topic" in changed:
        await roll_up(db, activity, actor_id=actor_id, client_addr=client_addr)
    await _audit(db, activity, actor_id, "activity_edited", client_addr)
    return True


async def invite(db: AsyncSession, scope: Scope, ref: ActivityRef, deputy_ids, *, actor_id: int,
                 client_addr: str | None = None, now: datetime | None = None) -> list[int]:
    """Invite more deputies (those the member may see); returns the ids newly invited."""
    await ensure_running(scope, ref)
    if not deputy_ids:
        raise Refusal(CHOOSE_DEPUTIES)
    await check_deputies_in_scope(db, scope, deputy_ids)
    added = await invite_deputies(db, ref.activity, deputy_ids, actor_id=actor_id, now=now)
    if added:
        await _audit(db, ref.activity, actor_id, "activity_invited", client_addr)
    return added


async def withdraw(db: AsyncSession, scope: Scope, ref: ActivityRef, deputy_id: int, *, actor_id: int,
                   client_addr: str | None = None, now: datetime | None = None) -> None:
    """Withdraw an invitation (its sign-in link dies); not once the deputy has signed in."""
    await ensure_running(scope, ref)
    inv = await db.scalar(select(Invitation).where(Invitation.activity_id == ref.activity.id,
                                                   Invitation.deputy_id == deputy_id,
                                                   Invitation.withdrawn_at.is_(None)).with_for_update())
    if inv is None:
        raise Refusal(NOT_INVITED)
    signed = await db.scalar(select(Attendance.deputy_id).where(Attendance.activity_id == ref.activity.id,
                                                                Attendance.deputy_id == deputy_id))
    if signed is not None:
        raise Refusal(ALREADY_SIGNED_IN)
    inv.withdrawn_at = now = now or datetime.now(timezone.utc)
    await add_event(db, ref.activity, "uninvited", actor_id, data={"deputy_ids": [deputy_id]})
    await reminders.uninvited(db, ref.activity, deputy_id, now=now)
    await roll_up(db, ref.activity, actor_id=actor_id, client_addr=client_addr)
    await _audit(db, ref.activity, actor_id, "activity_uninvited", client_addr)


async def _audit(db: AsyncSession, activity: Activity, actor_id: int, action: str, client_addr: str | None) -> None:
    await record(db, tenant_id=activity.tenant_id, actor_user_id=actor_id, action=action,
                 target=f"activity:{activity.id}", client_addr=client_addr)
