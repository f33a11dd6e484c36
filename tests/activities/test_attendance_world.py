"""(No tests here: the shared set-up of the test_attendance_* files.) A year (2024) of activities
at 东街社区 with every way of being there: signed in by link, by code, by staff with a reason, late,
left early; absent; a cancelled activity, a withdrawn invitation, a planned activity nobody recorded,
and one at another station."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import update

from app.activities.models import Attendance, Invitation
from tests.activities.world import EAST, HOME, build_activity_county, local, put_activity
from tests.deputies.deputy_world import add_deputy

REASON = "手机没电，由联络员代签"


async def set_attendance(database, ac, activity_id: int, name: str, **values) -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await db.execute(update(Attendance).where(Attendance.activity_id == activity_id,
                                                  Attendance.deputy_id == ac.deputies[name]).values(**values))


async def withdraw(database, ac, activity_id: int, name: str) -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await db.execute(update(Invitation).where(Invitation.activity_id == activity_id,
                                                  Invitation.deputy_id == ac.deputies[name])
                         .values(withdrawn_at=datetime(2024, 3, 1, tzinfo=timezone.utc)))


async def backdate_stationing(owner_sql) -> None:
    """The deputies were stationed long before 2024 (rows are created 'now' by the builders)."""
    await owner_sql("UPDATE station_deputies SET assigned_at = '2020-01-01T00:00:00Z'")


async def attendance_year(database, owner_sql):
    """The county with the year 2024. 孙丽 serves at the township home only."""
    ac = await build_activity_county(database)
    ac.deputies["孙丽"] = await add_deputy(database, ac.county, "孙丽", station=HOME, mobile="13800000009")
    both = ("张伟", "李娜")
    # 07:00 on 1 January in Beijing is still 31 December in UTC: it belongs to January 2024
    a = await put_activity(database, ac, kind="training", starts_at=local(2024, 1, 1, 7), present=("张伟",),
                           topic="新年学习")
    await set_attendance(database, ac, a, "张伟", left_early=True)
    a = await put_activity(database, ac, kind="reception", starts_at=local(2024, 1, 10), present=both, topic="一月接待日")
    await set_attendance(database, ac, a, "李娜", method="staff", on_behalf_reason=REASON)
    a = await put_activity(database, ac, kind="visit", starts_at=local(2024, 1, 20), invited=both, present=("张伟",),
                           topic="走访东街")
    await set_attendance(database, ac, a, "张伟", method="code", late=True)
    await put_activity(database, ac, kind="survey", starts_at=local(2024, 2, 5), invited=both, topic="二月调研")
    await put_activity(database, ac, kind="reception", starts_at=local(2024, 3, 3), status="cancelled",
                       invited=("张伟",), topic="取消的接待日")
    a = await put_activity(database, ac, kind="reception", starts_at=local(2024, 3, 4), invited=("张伟",),
                           topic="撤回邀请的活动")
    await withdraw(database, ac, a, "张伟")
    await put_activity(database, ac, kind="meeting", starts_at=local(2024, 4, 1), status="planned",
                       invited=("张伟",), topic="未登记的代表会议")
    await put_activity(database, ac, kind="briefing", station=HOME, starts_at=local(2024, 5, 5),
                       present=("张伟", "孙丽"), topic="之家政情通报")
    # 07:00 on 1 January 2025 in Beijing is 2024 in UTC: not part of 2024
    await put_activity(database, ac, kind="reception", starts_at=local(2025, 1, 1, 7), present=("张伟",),
                       topic="二〇二五年元旦")
    await backdate_stationing(owner_sql)
    return ac


__all__ = ["EAST", "HOME", "REASON", "attendance_year", "set_attendance", "withdraw", "backdate_stationing"]
