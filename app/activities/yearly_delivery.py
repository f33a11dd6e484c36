"""Delivering the yearly attendance report (年度出勤情况报告) to each deputy (app.jobs.scheduled runs it):
on the county's `yearly_report_day` of January (0 = off), `yearly_report` to every deputy who was invited
to anything the year before, with how many activities they were due at and attended (the same rule as
``app.activities.attendance``: invitations not withdrawn, activities not cancelled) and a link to their
report page. Once per year (subject "deputy:<id>", due 09:00 local on that day); a worker that was down
on the day catches up later in January. One aggregate query for the counts, whatever the number of deputies.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.attendance import attendance_join, counted, invitation_join
from app.activities.counting import year_bounds
from app.activities.models import Activity, Attendance, Invitation
from app.deputies.models import Deputy
from app.notify import links, outbox
from app.notify.config import NotifySettings
from app.notify.models import Outbox

KIND = "yearly_report"
NINE = time(9)
GONE = ("deceased", "removed")  # deputies who no longer get messages


def subject(deputy_id: int) -> str:
    return f"deputy:{deputy_id}"


def report_day(config: NotifySettings, today: date) -> date | None:
    """This January's report day if it has come (catching up until January ends), else None."""
    if not config.yearly_report_day or today.month != 1 or today.day < config.yearly_report_day:
        return None
    return date(today.year, 1, config.yearly_report_day)


async def year_counts(db: AsyncSession, year: int, tz: str, now: datetime) -> dict[int, tuple[int, int]]:
    """deputy id → (activities due at, present) in `year`: one query."""
    start, end = year_bounds(year, tz)
    rows = await db.execute(
        select(Invitation.deputy_id, func.count(), func.count(Attendance.deputy_id))
        .select_from(Activity).join(Invitation, invitation_join()).outerjoin(Attendance, attendance_join())
        .join(Deputy, and_(Deputy.tenant_id == Invitation.tenant_id, Deputy.id == Invitation.deputy_id))
        .where(Invitation.withdrawn_at.is_(None), counted(now), Activity.starts_at >= start,
               Activity.starts_at < end, Deputy.status.not_in(GONE))
        .group_by(Invitation.deputy_id))
    return {deputy_id: (invited, present) for deputy_id, invited, present in rows}


async def deliver(db: AsyncSession, config: NotifySettings, *, slug: str, now: datetime) -> int:
    """Write the reports not yet written this year; returns rows written."""
    day = report_day(config, now.astimezone(config.tz).date())
    if day is None:
        return 0
    due = datetime.combine(day, NINE, config.tz)
    done = set(await db.scalars(select(Outbox.subject).distinct().where(
        Outbox.kind == KIND, Outbox.due_at == due, Outbox.created_at >= due - timedelta(days=1))))
    year = day.year - 1
    counts = {d: c for d, c in (await year_counts(db, year, config.timezone, now)).items() if subject(d) not in done}
    if not counts:
        return 0
    written = 0
    for r in await outbox.deputies(db, config.tenant_id, counts, config=config):
        invited, present = counts[r.deputy_id]
        params = {"year": year, "invited": invited, "present": present,
                  "link": await links.yearly_report(db, config.tenant_id, slug, r.deputy_id, year, now=now)}
        written += await outbox.notify(db, tenant_id=config.tenant_id, kind=KIND, subject=subject(r.deputy_id),
                                       recipients=[r], due_at=due, params=params, now=now, config=config)
    return written
