"""The verbs of activities: create, invite, and the history every change writes.

Every verb takes the acting member's scope and a session bound to the tenant, checks what the member
may do (``app.activities.access``), raises ``Refusal`` (nothing written) for bad input, and records an
``ActivityEvent`` — the visible record of changes that the reminders read. Services do not commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.access import ActivityRef, can_run_at, require_run
from app.activities.models import Activity, ActivityEvent, ActivityKind, Invitation
from app.audit.services import record
from app.core.i18n import lazy
from app.deputies.models import Deputy, DeputyGroup, StationDeputy
from app.stations.access import StationRef
from app.stations.refusals import Refusal
from app.tenancy.scope import Scope

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


def check_text(field_label: str, value: str, limit: int) -> str:
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
    activity = Activity(
        tenant_id=tenant_id, kind_id=kind.id, station_id=station.station.id if station else None,
        group_id=group.id if group else None, plan_id=new.plan_id, starts_at=new.starts_at, ends_at=new.ends_at,
        place=check_text("Place", new.place, TEXT_MAX["place"]),
        topic=check_text("Topic", new.topic, TEXT_MAX["topic"]),
        responsible_user_id=new.responsible_user_id, status="held" if new.held else "planned",
        recorded_at=now if new.held else None, recorded_by=actor_id if new.held else None, created_by=actor_id,
    )
    db.add(activity)
    await db.flush()
    await add_event(db, activity, "created", actor_id,
                    data={"starts_at": new.starts_at.isoformat(), "ends_at": new.ends_at.isoformat()})
    if new.deputy_ids:
        await invite_deputies(db, activity, new.deputy_ids, actor_id=actor_id)
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


async def invite_deputies(db: AsyncSession, activity: Activity, deputy_ids, *, actor_id: int | None) -> list[int]:
    """Invite deputies (again, if they were withdrawn); returns the ids newly invited."""
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


