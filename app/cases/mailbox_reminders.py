"""The weekly reminder to open the deputy mailbox (app.jobs.scheduled runs it): on the county's
`mailbox_weekday` (ISO weekday, 0 = off), `mailbox_weekly` to each active station's liaison officers
(station_staff rows of role "liaison" with an account; else the station's station_staff members),
once per week (subject "station:<id>", due 09:00 local on that weekday). A station whose box was
already opened this week is not reminded; a worker that was down on the day catches up later in the
same week. A fixed number of queries whatever the number of stations.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.cases.models import MailboxOpening
from app.notify import links, outbox
from app.notify.config import NotifySettings
from app.notify.models import Outbox
from app.stations.models import Station, StationStaff

KIND = "mailbox_weekly"
NINE = time(9)


def subject(station_id: int) -> str:
    return f"station:{station_id}"


async def _officers(db: AsyncSession, tenant_id: int, station_ids: list[int]) -> dict[int, list[int]]:
    """station id → user ids of its liaison officers, else of its station_staff members: two queries."""
    liaisons: dict[int, list[int]] = defaultdict(list)
    for sid, uid in await db.execute(select(StationStaff.station_id, StationStaff.user_id).where(
            StationStaff.station_id.in_(station_ids), StationStaff.role == "liaison",
            StationStaff.user_id.is_not(None)).order_by(StationStaff.id)):
        liaisons[sid].append(uid)
    staff: dict[int, list[int]] = defaultdict(list)
    for sid, uid in await db.execute(select(Membership.station_id, Membership.user_id).where(
            Membership.tenant_id == tenant_id, Membership.role == "station_staff",
            Membership.station_id.in_(station_ids), Membership.revoked_at.is_(None)).order_by(Membership.id)):
        staff[sid].append(uid)
    return {sid: liaisons.get(sid) or staff.get(sid, []) for sid in station_ids}


async def remind(db: AsyncSession, config: NotifySettings, *, slug: str, now: datetime) -> int:
    """This week's reminders not yet written; returns rows written."""
    if not config.mailbox_weekday:
        return 0
    tz = config.tz
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    day = monday + timedelta(days=config.mailbox_weekday - 1)
    if today < day:
        return 0
    due = datetime.combine(day, NINE, tz)
    stations = dict((await db.execute(select(Station.id, Station.name).where(Station.status == "active"))).all())
    if not stations:
        return 0
    opened = set(await db.scalars(select(MailboxOpening.station_id).distinct().where(
        MailboxOpening.opened_at >= datetime.combine(monday, time(0), tz))))
    done = set(await db.scalars(select(Outbox.subject).distinct().where(
        Outbox.kind == KIND, Outbox.due_at == due, Outbox.created_at >= due - timedelta(days=1))))
    todo = [sid for sid in sorted(stations) if sid not in opened and subject(sid) not in done]
    if not todo:
        return 0
    officers = await _officers(db, config.tenant_id, todo)
    people = {r.user_id: r for r in await outbox.members(
        db, config.tenant_id, {u for v in officers.values() for u in v}, config=config)}
    written = 0
    for sid in todo:
        who = [people[u] for u in dict.fromkeys(officers[sid]) if u in people]
        written += await outbox.notify(db, tenant_id=config.tenant_id, kind=KIND, subject=subject(sid),
                                       recipients=who, due_at=due, now=now, config=config,
                                       params={"station": stations[sid],
                                               "link": await links.mailbox(db, config.tenant_id, slug, sid, now=now)})
    return written
