"""Demo activities of the two demo counties, after the rules of their presets: for a few stations in
operation, a year of activities up to today (held, with the attendance of their stationed deputies:
mostly by personal link, some by the code at the station, some signed in by staff with a reason, a
few late), the activities of the coming weeks with their invitations, opinions registered at
receptions, a few deputies' suggestions, and this year's published plan of the liaison officer's
station (its entries carry plan_id, through to December).

The history is written in bulk (a few flushes per county, no per-row service call) so that the demo
stays fast at every `./run start`; dates, attendance and topics are drawn from a random generator
seeded per county, so the same day always gives the same demo. Idempotent per county: a
county that holds any activity is left alone (as app.demo.people leaves a county holding its stations).
"""

from __future__ import annotations

import calendar
import random
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import (
    Activity, ActivityEvent, ActivityKind, ActivityPhoto, ActivityPlan, Attendance, Invitation, Opinion, Suggestion,
)
from app.activities.services import new_token
from app.audit.services import record
from app.core.db import Database
from app.demo.activities_data import COUNTY_ACTIVITIES, CountyActivities, Rhythm, StationActivities
from app.core.images import store_image
from app.demo.people import COUNTIES, LIAISON_USER, _sub_path, _user_ids, station_photo
from app.deputies.models import Deputy, StationDeputy
from app.stations.models import Station, StationKind
from app.tenancy.models import AdminNode, Tenant

AHEAD = timedelta(days=35)  # how far ahead activities are already arranged (the plan's run to December)
STAFF_REASONS = ("代表在外地，电话确认到场", "代表手机没电，由联络员代为签到", "代表年纪较大，不会使用手机签到")
LEAVE_REASONS = ("外出务工", "因病住院", "参加县里培训", "家中有事", "农忙抢收")


@dataclass
class Occurrence:
    station: StationActivities
    rhythm: Rhythm
    day: date
    held: bool
    cancelled: bool = False
    in_plan: bool = False


@dataclass
class Loaded:
    """What one county's load wrote, for the summary and the plan."""
    activities: list[tuple[Occurrence, Activity]] = field(default_factory=list)
    present: dict[int, list[int]] = field(default_factory=dict)  # activity id -> deputies present


def _day_in(year: int, month: int, spec) -> date:
    """``spec``: a day of the month (the last day for a shorter month) or (n, weekday): the n-th
    weekday (0 = Monday) of the month, n = -1 for the last."""
    length = calendar.monthrange(year, month)[1]
    if isinstance(spec, int):
        return date(year, month, min(spec, length))
    n, weekday = spec
    days = [date(year, month, d) for d in range(1, length + 1) if date(year, month, d).weekday() == weekday]
    return days[n - 1] if n > 0 else days[n]


def _months(start: date, end: date):
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def schedule(county: CountyActivities, today: date, rng: random.Random) -> list[Occurrence]:
    """The occurrences of every rhythm from a year ago to the coming weeks (the plan's station: to the
    end of the year). A past occurrence took place with the rhythm's ``keep`` share; the first one a
    station missed is entered as cancelled when the station says so."""
    start, out = today - timedelta(days=365), []
    for station in county.stations:
        end = max(date(today.year, 12, 31), today + AHEAD) if station.plan else today + AHEAD
        cancel_left = station.cancel_one
        for y, m in _months(start, end):
            for rhythm in station.rhythms:
                day = _day_in(y, m, rhythm.day) if m in rhythm.months else None
                if day is None or not start < day <= end:
                    continue
                in_plan = station.plan and y == today.year and rhythm.in_plan
                if day >= today:
                    if day <= today + AHEAD or in_plan:
                        out.append(Occurrence(station, rhythm, day, held=False, in_plan=in_plan))
                elif rng.random() < rhythm.keep:
                    out.append(Occurrence(station, rhythm, day, held=True, in_plan=in_plan))
                elif cancel_left or in_plan:  # a planned entry that did not happen was cancelled
                    cancel_left = False
                    out.append(Occurrence(station, rhythm, day, held=False, cancelled=True, in_plan=in_plan))
    return sorted(out, key=lambda o: (o.day, o.station.key, o.rhythm.kind))


async def already_loaded(db: AsyncSession) -> bool:
    return await db.scalar(select(Activity.id).limit(1)) is not None


async def _stations(db: AsyncSession, slug: str) -> dict[str, int]:
    """Demo station key -> id of the station in operation at that node of that kind."""
    nodes = (await db.scalars(select(AdminNode))).all()
    by_id = {n.id: n for n in nodes}
    node_ids = {_sub_path(n, by_id): n.id for n in nodes}
    kinds = {k.code: k.id for k in (await db.scalars(select(StationKind))).all()}
    out = {}
    for spec in COUNTIES[slug].stations:
        found = await db.scalar(select(Station.id).where(
            Station.node_id == node_ids.get(spec.node, 0), Station.kind_id == kinds.get(spec.kind, 0),
            Station.status == "active").order_by(Station.id).limit(1))
        if found is not None:
            out[spec.key] = found
    return out


async def load_county(database: Database, tenant_id: int, county: CountyActivities, today: date | None = None) -> bool:
    """One county's activities in one transaction; False when it holds activities already (or its
    demo stations are missing, which is said on stderr)."""
    today = today or date.today()
    async with database.transaction(tenant_id=tenant_id) as db:
        if await already_loaded(db):
            return False
        tenant = await db.get(Tenant, tenant_id)
        stations = await _stations(db, county.slug)
        missing = [s.key for s in county.stations if s.key not in stations]
        live = select(ActivityKind).where(ActivityKind.retired_at.is_(None))
        kinds = {k.code: k.id for k in await db.scalars(live)}
        if missing:
            print(f"demo activities of {county.slug} not loaded: no station {missing}", file=sys.stderr)
            return False
        await _load(db, tenant_id, county, stations, kinds, ZoneInfo(tenant.timezone), today)
    return True


async def _load(db: AsyncSession, tenant_id: int, county: CountyActivities, stations: dict[str, int],
                kinds: dict[str, int], tz: ZoneInfo, today: date) -> None:
    rng = random.Random(county.slug)
    users = await _user_ids(db, {county.admin, LIAISON_USER})
    now = datetime.now(timezone.utc)
    members = await _stationed(db, tenant_id, list(stations.values()), today)
    occurrences = [o for o in schedule(county, today, rng) if o.rhythm.kind in kinds]
    plan = await _plan(db, tenant_id, county, stations, users, tz, today)
    loaded = Loaded()
    for occ in occurrences:
        loaded.activities.append((occ, _activity(tenant_id, occ, stations, kinds, users, county, plan, tz, now)))
    db.add_all([a for _, a in loaded.activities])
    await db.flush()
    invitations, attendance, events = [], [], []
    for occ, activity in loaded.activities:
        deputy_ids = members.get(activity.station_id, [])
        invited = [Invitation(tenant_id=tenant_id, activity_id=activity.id, deputy_id=d, token=new_token(),
                              invited_at=activity.created_at, invited_by=activity.created_by) for d in deputy_ids]
        invitations += invited
        if occ.held:
            attendance += _attendance(tenant_id, activity, deputy_ids, rng, users[county.admin], loaded)
            events += _leave(invited, activity, loaded.present.get(activity.id, []))
        events += _events(tenant_id, occ, activity, deputy_ids)
    db.add_all(invitations)
    await db.flush()
    db.add_all(attendance + events)
    db.add_all(_opinions(tenant_id, county, loaded, rng, users[county.admin]))
    db.add_all(await _suggestions(db, tenant_id, county, today, users[county.admin]))
    await _photos(db, tenant_id, loaded, users[county.admin])
    await db.flush()


async def _photos(db: AsyncSession, tenant_id: int, loaded: "Loaded", uploader: int, n: int = 3) -> None:
    """A photo (留痕) of each of the latest few held activities: a thumbnail only, like an upload that
    exceeds the originals' limit; the record pages show it."""
    held = sorted((a for occ, a in loaded.activities if occ.held), key=lambda a: a.starts_at)[-n:]
    for i, activity in enumerate(held):
        image = await store_image(db, tenant_id, station_photo(0.05 + 0.3 * i))
        db.add(ActivityPhoto(tenant_id=tenant_id, activity_id=activity.id, image_id=image.id, caption="活动现场",
                             uploaded_by=uploader))


async def _stationed(db: AsyncSession, tenant_id: int, station_ids: list[int], today: date) -> dict[int, list[int]]:
    """The serving deputies at each station; their assignments are dated back before the demo's year
    of history (they were made a moment ago by app.demo.people), so that the history reads as theirs."""
    since = datetime.combine(today - timedelta(days=400), time(9), tzinfo=timezone.utc)
    await db.execute(update(StationDeputy).where(StationDeputy.station_id.in_(station_ids),
                                                 StationDeputy.ended_at.is_(None)).values(assigned_at=since))
    rows = await db.execute(
        select(StationDeputy.station_id, StationDeputy.deputy_id)
        .join(Deputy, (Deputy.tenant_id == StationDeputy.tenant_id) & (Deputy.id == StationDeputy.deputy_id))
        .where(StationDeputy.station_id.in_(station_ids), StationDeputy.ended_at.is_(None), Deputy.status == "active")
        .order_by(StationDeputy.station_id, StationDeputy.deputy_id))
    out: dict[int, list[int]] = {}
    for station_id, deputy_id in rows:
        out.setdefault(station_id, []).append(deputy_id)
    return out


def _at(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def _activity(tenant_id: int, occ: Occurrence, stations: dict[str, int], kinds: dict[str, int], users: dict,
              county: CountyActivities, plan: ActivityPlan | None, tz: ZoneInfo, now: datetime) -> Activity:
    r = occ.rhythm
    starts = _at(occ.day, r.start[0], r.start[1], tz)
    ends = starts + timedelta(minutes=r.minutes)
    topic = r.topics[(occ.day.month - 1) % len(r.topics)]
    created = plan.created_at if occ.in_plan and plan else min(starts - timedelta(days=7), now - timedelta(hours=1))
    responsible = users[LIAISON_USER] if occ.station.plan else users[county.admin]
    activity = Activity(
        tenant_id=tenant_id, kind_id=kinds[r.kind], station_id=stations[occ.station.key],
        plan_id=plan.id if occ.in_plan and plan else None, starts_at=starts, ends_at=ends,
        place=r.place or occ.station.place, topic=topic, responsible_user_id=responsible, status="planned",
        created_by=users[county.admin], created_at=created, updated_at=created,
    )
    if occ.held:
        activity.status, activity.recorded_by = "held", responsible
        activity.recorded_at = activity.updated_at = ends + timedelta(hours=2)
        activity.people_received = (7 + (occ.day.day * 3) % 25) if r.counts_people else None
        activity.notes = r.notes or f"{topic}。"
    elif occ.cancelled:
        activity.status, activity.cancel_reason = "cancelled", county.cancel_reason
        activity.updated_at = starts - timedelta(days=2)
    return activity


def _attendance(tenant_id: int, activity: Activity, deputy_ids: list[int], rng: random.Random, staff_id: int,
                loaded: Loaded) -> list[Attendance]:
    """Most invited deputies come: by their personal link mostly, some by the code at the station,
    some signed in by staff with the reason; a few arrive late."""
    rows = []
    for deputy_id in deputy_ids:
        if rng.random() > 0.82:
            continue
        draw, late = rng.random(), rng.random() < 0.08
        method = "link" if draw < 0.72 else "code" if draw < 0.87 else "staff"
        signed = activity.starts_at + timedelta(minutes=rng.randint(20, 45) if late else rng.randint(-25, 5))
        rows.append(Attendance(
            tenant_id=tenant_id, activity_id=activity.id, deputy_id=deputy_id, method=method, signed_at=signed,
            on_behalf_reason=rng.choice(STAFF_REASONS) if method == "staff" else "", late=late,
            recorded_by=staff_id if method == "staff" else None, left_early=not late and rng.random() < 0.03,
        ))
        loaded.present.setdefault(activity.id, []).append(deputy_id)
    return rows


def _leave(invited: list[Invitation], activity: Activity, present: list[int]) -> list[ActivityEvent]:
    """Two in three deputies who stayed away phoned the day before with a reason (请假), recorded by
    the activity's responsible staff; chosen by ids, not by the shared random draw, so the rest of
    the demo stays as it was."""
    out = []
    for inv in invited:
        pick = activity.id + inv.deputy_id
        if inv.deputy_id in present or pick % 3 == 0:
            continue
        inv.absence_reason = LEAVE_REASONS[pick % len(LEAVE_REASONS)]
        inv.absence_recorded_at = activity.starts_at - timedelta(days=1)
        inv.absence_recorded_by = activity.responsible_user_id
        out.append(ActivityEvent(tenant_id=inv.tenant_id, activity_id=activity.id, action="absence_recorded",
                                 data={"deputy_ids": [inv.deputy_id]}, note=inv.absence_reason,
                                 actor_user_id=inv.absence_recorded_by, at=inv.absence_recorded_at))
    return out


def _events(tenant_id: int, occ: Occurrence, activity: Activity, deputy_ids: list[int]) -> list[ActivityEvent]:
    def event(action: str, at: datetime, data: dict | None = None, note: str = "", actor=activity.created_by):
        return ActivityEvent(tenant_id=tenant_id, activity_id=activity.id, action=action, data=data or {},
                             note=note, actor_user_id=actor, at=at)

    out = [event("created", activity.created_at, {"starts_at": activity.starts_at.isoformat(),
                                                  "ends_at": activity.ends_at.isoformat()})]
    if deputy_ids:
        out.append(event("invited", activity.created_at, {"deputy_ids": sorted(deputy_ids)}))
    if occ.held:
        out.append(event("recorded", activity.recorded_at, {"people_received": activity.people_received},
                         actor=activity.recorded_by))
    elif occ.cancelled:
        out.append(event("cancelled", activity.updated_at, note=activity.cancel_reason))
        out[-1].plan_change = occ.in_plan
    return out


async def _plan(db: AsyncSession, tenant_id: int, county: CountyActivities, stations: dict[str, int], users: dict,
                tz: ZoneInfo, today: date) -> ActivityPlan | None:
    """This year's plan of the plan's station, drafted and published at the end of last year."""
    station = next((s for s in county.stations if s.plan), None)
    if station is None:
        return None
    drafted = _at(date(today.year - 1, 12, 26), 10, 0, tz)
    published = _at(date(today.year - 1, 12, 30), 16, 0, tz)
    actor = users[LIAISON_USER]
    plan = ActivityPlan(tenant_id=tenant_id, station_id=stations[station.key], year=today.year, status="published",
                        note=county.plan_note.format(year=today.year), created_by=actor, created_at=drafted,
                        published_at=published, published_by=actor)
    db.add(plan)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor, action="plan_published", target=f"plan:{plan.id}",
                 details={"year": today.year, "demo": True})
    return plan


def _opinions(tenant_id: int, county: CountyActivities, loaded: Loaded, rng: random.Random,
              staff_id: int) -> list[Opinion]:
    """The county's opinions, registered at its latest held receptions with a deputy present."""
    receptions = [(o, a) for o, a in reversed(loaded.activities)
                  if o.held and o.rhythm.kind == "reception" and loaded.present.get(a.id)]
    out = []
    for (occ, activity), (raised_by, content) in zip(receptions[::2], county.opinions):
        out.append(Opinion(tenant_id=tenant_id, activity_id=activity.id, station_id=activity.station_id,
                           deputy_id=rng.choice(loaded.present[activity.id]), received_on=occ.day,
                           raised_by=raised_by, content=content, registered_by=staff_id,
                           registered_at=activity.recorded_at))
    return out


async def _suggestions(db: AsyncSession, tenant_id: int, county: CountyActivities, today: date,
                       staff_id: int) -> list[Suggestion]:
    names = {n: i for n, i in (await db.execute(select(Deputy.name, Deputy.id))).all()}
    return [Suggestion(tenant_id=tenant_id, deputy_id=names[name], kind=kind, title=title,
                       filed_on=today - timedelta(days=days_ago), recorded_by=staff_id)
            for name, kind, title, days_ago in county.suggestions if name in names]


async def load_activities(database: Database, tenant_ids: dict[str, int], today: date | None = None) -> None:
    for slug, county in COUNTY_ACTIVITIES.items():
        if slug in tenant_ids:
            await load_county(database, tenant_ids[slug], county, today)
