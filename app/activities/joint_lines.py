"""A county's record of its deputies at joint stations' activities: the `joint_attendance` rows that
app.joint rolls up into the county, read here like the county's own attendance (same line shape, same
counting) for the deputy's page, the yearly report and the compliance drill-down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.counting import Counts, year_bounds
from app.activities.models import JointAttendance

@dataclass
class JointLine:
    """One joint-station activity a deputy of the county was invited to (the shape of
    ``app.activities.attendance.Line``, so the same templates show it)."""

    activity_id: int
    starts_at: datetime  # local time
    topic: str
    kind: str
    place: str  # the joint station's name
    station_id: None
    status: str
    counted: bool
    present: bool
    method: str | None
    reason: str
    late: bool = False
    left_early: bool = False


async def county_lines(db: AsyncSession, deputy_id: int, year: int, tz: str, now: datetime) -> list[JointLine]:
    """The deputy's joint-station activities of the year, from the county's own rows (one query).
    Counted like the county's own: not cancelled, and held or already started."""
    start, end = year_bounds(year, tz)
    zone = ZoneInfo(tz)
    rows = (await db.scalars(select(JointAttendance).where(
        JointAttendance.deputy_id == deputy_id, JointAttendance.starts_at >= start, JointAttendance.starts_at < end)
        .order_by(JointAttendance.starts_at, JointAttendance.id))).all()
    out = []
    for r in rows:
        due = r.status != "cancelled" and (r.status == "held" or r.starts_at <= now)
        present = due and r.present
        out.append(JointLine(
            activity_id=r.joint_activity_id, starts_at=r.starts_at.astimezone(zone), topic=r.topic, kind=r.kind_name,
            place=r.joint_name, station_id=None, status=r.status, counted=due, present=present,
            method=r.method if present else None, reason=r.on_behalf_reason if present and r.method == "staff" else "",
            late=present and r.late, left_early=present and r.left_early,
        ))
    return out


def county_counts(lines: list[JointLine]):
    """Due at, present, of which signed in by staff: the line of its own for joint stations."""
    c = Counts()
    for line in lines:
        if line.counted:
            c.invited += 1
            c.present += line.present
            c.staff += line.present and line.method == "staff"
    return c
