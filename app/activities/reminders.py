"""The reminders of an activity, written into the outbox (app.notify.outbox) in the transaction of the
change that causes them. Subject "activity:<id>".

- start − remind_liaison_days: `activity_liaison` to the station's liaison officers (station_staff
  rows of role "liaison" with an account; else the station's station_staff members) naming the
  invited deputies (station activities only: a deputy group has no station);
- start − remind_sms_days: `activity_sms` to each invited deputy, with their personal sign-in link;
  due at once when that moment has passed but the activity has not started;
- start − remind_eve_days: `activity_eve`, the gentle reminder, to each invited deputy.
Offsets are whole days (0: off), due at 09:00 local on that day. A reminder whose moment has passed
is not written (except `activity_sms`, as said). Reschedule: pending reminders withdrawn, new ones
written, `activity_moved` to the invited now; place or topic edited: the reminders not yet due are
written again with the new wording; cancel: everything pending withdrawn,
`activity_cancelled` now; an invitation withdrawn: that deputy's pending rows withdrawn. Activities
already held get nothing.

At a joint station the deputies are projections without a mobile or an account: their messages are
relayed into their home counties' outboxes by `app.joint.reminders` (and withdrawn there likewise).

Names, settings and recipients are cached for the duration of one transaction (the yearly plan
generator creates dozens of activities in one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.activities.models import Activity, ActivityKind, Invitation
from app.deputies.models import DeputyGroup
from app.activities.joint_port import RelayedMessage, joint_stations
from app.notify import links, outbox
from app.notify.config import NotifySettings, notify_settings
from app.notify.outbox import Recipient
from app.notify.sms_templates import names_summary
from app.stations.models import Station, StationStaff
from app.tenancy.models import Tenant

REMINDER_KINDS = ("activity_liaison", "activity_sms", "activity_eve", "activity_moved")
NINE = time(9)
_CACHE = "activity_reminders"


def subject(activity_id: int) -> str:
    return f"activity:{activity_id}"


def at_nine(day: date, tz: ZoneInfo) -> datetime:
    """09:00 local on `day`: when time-based messages fall due (never in quiet hours)."""
    return datetime.combine(day, NINE, tzinfo=tz)


def days_before(starts_at: datetime, days: int, tz: ZoneInfo) -> datetime | None:
    """09:00 local, `days` days before the activity's local date; None when switched off (0)."""
    if days <= 0:
        return None
    return at_nine(starts_at.astimezone(tz).date() - timedelta(days=days), tz)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def upcoming(activity: Activity, now: datetime) -> bool:
    return activity.status == "planned" and activity.starts_at > now


# --- what a message needs to know, cached per transaction -----------------------------------------------

def _cache(db: AsyncSession) -> dict:
    tx = db.sync_session.get_transaction()
    cache = db.info.get(_CACHE)
    if cache is None or cache["tx"] is not tx:
        cache = {"tx": tx, "names": {}, "deputies": {}, "liaisons": {}}
        db.info[_CACHE] = cache
    return cache


@dataclass
class Facts:
    config: NotifySettings
    slug: str
    params: dict  # station, kind, when, place, topic: the same for every recipient
    invited: dict[int, str]  # deputy id -> invitation token (withdrawn invitations left out)
    home_counties: dict[int, tuple[int, int]] = field(default_factory=dict)  # joint station: deputy -> (county, its deputy)
    relayed: list[RelayedMessage] = field(default_factory=list)  # for the home counties, written at the end


async def _tenant(db: AsyncSession, tenant_id: int) -> tuple[NotifySettings, str, bool]:
    """(settings, slug, is a joint station's tenant)."""
    cache = _cache(db)
    if "config" not in cache:
        cache["config"] = await notify_settings(db, tenant_id)
        slug, kind = (await db.execute(select(Tenant.slug, Tenant.kind).where(Tenant.id == tenant_id))).one()
        cache["slug"], cache["joint"] = slug, kind == "joint"
    return cache["config"], cache["slug"], cache["joint"]


async def _home_counties(db: AsyncSession, tenant_id: int, deputy_ids) -> dict[int, tuple[int, int]]:
    """At a joint station, where each deputy comes from; elsewhere nothing (no query)."""
    _, _, joint = await _tenant(db, tenant_id)
    if not joint or not deputy_ids:
        return {}
    return await joint_stations().home_counties(db, tenant_id, deputy_ids)


async def _names(db: AsyncSession, activity: Activity) -> tuple[str, str]:
    """(the kind's name, the station's or the group's name)."""
    key = (activity.kind_id, activity.station_id, activity.group_id)
    names = _cache(db)["names"]
    if key not in names:
        kind = select(ActivityKind.name).where(ActivityKind.id == activity.kind_id).scalar_subquery()
        station = select(Station.name).where(Station.id == activity.station_id).scalar_subquery()
        group = select(DeputyGroup.name).where(DeputyGroup.id == activity.group_id).scalar_subquery()
        row = (await db.execute(select(kind, station, group))).one()
        names[key] = (row[0] or "", row[1] or row[2] or "")
    return names[key]


async def facts(db: AsyncSession, activity: Activity) -> Facts:
    config, slug, _ = await _tenant(db, activity.tenant_id)
    kind, place_name = await _names(db, activity)
    invited = dict((await db.execute(
        select(Invitation.deputy_id, Invitation.token)
        .where(Invitation.activity_id == activity.id, Invitation.withdrawn_at.is_(None))
        .order_by(Invitation.deputy_id)
    )).all())
    when = activity.starts_at.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
    params = {"station": place_name, "kind": kind, "when": when, "place": activity.place or place_name,
              "topic": activity.topic or kind}
    return Facts(config, slug, params, invited, await _home_counties(db, activity.tenant_id, list(invited)))


async def deputy_recipients(db: AsyncSession, tenant_id: int, config: NotifySettings, deputy_ids) -> list[Recipient]:
    """Recipients of these deputies (cached per transaction), in the order asked."""
    cached = _cache(db)["deputies"]
    missing = [d for d in deputy_ids if d not in cached]
    if missing:
        for r in await outbox.deputies(db, tenant_id, missing, config=config):
            cached[r.deputy_id] = r
    return [cached[d] for d in deputy_ids if d in cached]


async def liaison_recipients(db: AsyncSession, tenant_id: int, config: NotifySettings, station_id: int) -> list[Recipient]:
    """The station's liaison officers with an account; else its station_staff members."""
    cached = _cache(db)["liaisons"]
    if station_id not in cached:
        users = list(await db.scalars(select(StationStaff.user_id).where(
            StationStaff.station_id == station_id, StationStaff.role == "liaison", StationStaff.user_id.is_not(None))))
        found = await outbox.members(db, tenant_id, users, config=config) if users else []
        if not found:
            staff = list(await db.scalars(select(Membership.user_id).where(
                Membership.tenant_id == tenant_id, Membership.role == "station_staff",
                Membership.station_id == station_id, Membership.revoked_at.is_(None))))
            found = await outbox.members(db, tenant_id, staff, config=config)
        cached[station_id] = found
    return cached[station_id]


# --- writing the reminders ------------------------------------------------------------------------------

async def _write(db: AsyncSession, activity: Activity, f: Facts, kind: str, recipients, due_at: datetime,
                 params: dict, now: datetime) -> int:
    """Into the tenant's outbox; a joint station's deputies' messages are kept for their home counties."""
    local = []
    for r in recipients:
        home = f.home_counties.get(r.deputy_id) if r.deputy_id else None
        if home is None:
            local.append(r)
        else:
            f.relayed.append(RelayedMessage(home[0], home[1], kind, due_at, params))
    return await outbox.notify(db, tenant_id=activity.tenant_id, kind=kind, subject=subject(activity.id),
                               recipients=local, due_at=due_at, params=params, now=now, config=f.config)


async def _relay(db: AsyncSession, activity: Activity, f: Facts, now: datetime) -> None:
    if f.relayed:
        await joint_stations().relay(db, activity, f.relayed, now=now)
        f.relayed.clear()


async def _withdraw(db: AsyncSession, activity: Activity, *, kinds=None, deputy_id: int | None = None,
                    due_after: datetime | None = None) -> None:
    """Pending messages withdrawn here and, at a joint station, in the deputies' home counties."""
    await outbox.withdraw(db, subject=subject(activity.id), kinds=kinds, deputy_id=deputy_id, due_after=due_after)
    _, _, joint = await _tenant(db, activity.tenant_id)
    if joint:
        everyone = await db.scalars(select(Invitation.deputy_id).where(Invitation.activity_id == activity.id))
        home_counties = await _home_counties(db, activity.tenant_id, list(everyone))
        await joint_stations().withdraw(db, activity, home_counties, kinds=kinds, deputy_id=deputy_id,
                                        due_after=due_after)


async def _each_with_link(db: AsyncSession, activity: Activity, f: Facts, kind: str, recipients, due_at: datetime,
                          now: datetime) -> int:
    """One message per deputy: the params carry their own sign-in link."""
    tokens = {r.deputy_id: f.invited[r.deputy_id] for r in recipients if r.deputy_id in f.invited}
    if not tokens:
        return 0
    codes = await links.signins(db, activity.tenant_id, f.slug, tokens.values(), now=now)
    written = 0
    for r in recipients:
        if r.deputy_id in tokens:
            params = {**f.params, "link": codes[tokens[r.deputy_id]]}
            written += await _write(db, activity, f, kind, [r], due_at, params, now)
    return written


async def _deputy_reminders(db: AsyncSession, activity: Activity, f: Facts, deputy_ids, now: datetime, *,
                            sms_at_once: bool) -> None:
    tz = f.config.tz
    recipients = await deputy_recipients(db, activity.tenant_id, f.config,
                                         [d for d in deputy_ids if d in f.invited])
    sms = days_before(activity.starts_at, f.config.remind_sms_days, tz)
    if sms is not None and sms <= now:
        sms = now if sms_at_once else None
    if sms is not None:
        await _each_with_link(db, activity, f, "activity_sms", recipients, sms, now)
    eve = days_before(activity.starts_at, f.config.remind_eve_days, tz)
    if eve is not None and eve > now:
        await _write(db, activity, f, "activity_eve", recipients, eve, f.params, now)


async def _liaison(db: AsyncSession, activity: Activity, f: Facts, now: datetime) -> None:
    """The liaison officers' reminder names every deputy invited: rewritten (same due time, so the same
    row) whenever the invitations change before it falls due."""
    if activity.station_id is None:
        return
    due = days_before(activity.starts_at, f.config.remind_liaison_days, f.config.tz)
    if due is None or due <= now:
        return
    await outbox.withdraw(db, subject=subject(activity.id), kinds=["activity_liaison"])  # staff only: never relayed
    if not f.invited:
        return
    deputies = await deputy_recipients(db, activity.tenant_id, f.config, list(f.invited))
    who = await liaison_recipients(db, activity.tenant_id, f.config, activity.station_id)
    # As many names as an SMS variable holds, then how many in all (张伟、李娜等12人).
    params = {**f.params, "deputies": names_summary(d.name for d in deputies)}
    await _write(db, activity, f, "activity_liaison", who, due, params, now)


# --- the changes ----------------------------------------------------------------------------------------

async def invited(db: AsyncSession, activity: Activity, deputy_ids, *, now: datetime | None = None) -> None:
    """Deputies newly invited (or invited again) to a planned activity: their reminders, and the
    liaison officers' list brought up to date. Called by `services.invite_deputies` (creation too)."""
    now = _now(now)
    if not deputy_ids or not upcoming(activity, now):
        return
    f = await facts(db, activity)
    await _deputy_reminders(db, activity, f, list(deputy_ids), now, sms_at_once=True)
    await _liaison(db, activity, f, now)
    await _relay(db, activity, f, now)


async def uninvited(db: AsyncSession, activity: Activity, deputy_id: int, *, now: datetime | None = None) -> None:
    """An invitation withdrawn: that deputy's pending reminders go; the liaison list is rewritten."""
    now = _now(now)
    await _withdraw(db, activity, deputy_id=deputy_id)
    if upcoming(activity, now):
        await _liaison(db, activity, await facts(db, activity), now)


async def rescheduled(db: AsyncSession, activity: Activity, *, now: datetime | None = None) -> None:
    """New times: the pending reminders are withdrawn and written for the new times (a reminder due
    at the same moment as before comes back as the same row), and the invited are told now (with
    their sign-in link, which stands in for an SMS reminder whose moment has passed)."""
    now = _now(now)
    await _withdraw(db, activity, kinds=REMINDER_KINDS)
    if not upcoming(activity, now):
        return
    f = await facts(db, activity)
    await _deputy_reminders(db, activity, f, list(f.invited), now, sms_at_once=False)
    await _liaison(db, activity, f, now)
    recipients = await deputy_recipients(db, activity.tenant_id, f.config, list(f.invited))
    await _each_with_link(db, activity, f, "activity_moved", recipients, now, now)
    await _relay(db, activity, f, now)


async def edited(db: AsyncSession, activity: Activity, *, now: datetime | None = None) -> None:
    """Place or topic changed: the reminders not yet due are written again with the new wording (same
    due times, so the same rows come back). Those due already go out as they are."""
    now = _now(now)
    if not upcoming(activity, now):
        return
    await _withdraw(db, activity, kinds=REMINDER_KINDS, due_after=now)
    f = await facts(db, activity)
    await _deputy_reminders(db, activity, f, list(f.invited), now, sms_at_once=False)
    await _liaison(db, activity, f, now)
    await _relay(db, activity, f, now)


async def cancelled(db: AsyncSession, activity: Activity, *, reason: str, now: datetime | None = None) -> None:
    """Cancelled: every pending message of the activity is withdrawn; the invited are told now."""
    now = _now(now)
    await _withdraw(db, activity)
    if activity.starts_at <= now:
        return
    f = await facts(db, activity)
    recipients = await deputy_recipients(db, activity.tenant_id, f.config, list(f.invited))
    await _write(db, activity, f, "activity_cancelled", recipients, now, {**f.params, "reason": reason}, now)
    await _relay(db, activity, f, now)
