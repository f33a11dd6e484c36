"""A county with a year of binder material (on tests/activities/world.py's county): at 东街社区 a
survey (张伟 present, 李娜 signed in by staff, 王强 absent), a reception with one case raised, a
cancelled activity and last year's one; a survey at 河坝村 (another township); one 述职评议 meeting
of 张伟 with five ballots (4 of 5 satisfied or basically satisfied)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import update

from app.activities.models import Attendance
from app.cases.models import Case
from app.duties.meeting_models import DutyReportBallot, DutyReportMeeting
from tests.activities.world import EAST, ActivityCounty, build_activity_county, local, put_activity

HEBA = "河坝村人大代表联络站"
YEAR = 2026


@dataclass
class BinderWorld:
    ac: ActivityCounty
    survey: int
    reception: int
    case: int
    meeting: int


async def build_binder_world(database, slug: str = "alpha") -> BinderWorld:
    ac = await build_activity_county(database, slug)
    survey = await put_activity(database, ac, kind="survey", starts_at=local(YEAR, 3, 10), topic="道路调研",
                                invited=("张伟", "李娜", "王强"), present=("张伟", "李娜"))
    reception = await put_activity(database, ac, kind="reception", starts_at=local(YEAR, 4, 15), topic="四月接待日",
                                   invited=("张伟", "赵敏"), present=("张伟",))
    await put_activity(database, ac, kind="meeting", starts_at=local(YEAR, 5, 1), topic="取消的会议",
                       status="cancelled", invited=("张伟",))
    await put_activity(database, ac, kind="survey", starts_at=local(YEAR - 1, 12, 31, 15), topic="去年的调研",
                       invited=("张伟",), present=("张伟",))
    await put_activity(database, ac, kind="survey", starts_at=local(YEAR, 6, 1), topic="河坝调研", station=HEBA)
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        await db.execute(update(Attendance).where(Attendance.activity_id == survey,
                                                  Attendance.deputy_id == ac.deputies["李娜"])
                         .values(method="staff", on_behalf_reason="手机没电"))
        case = Case(tenant_id=t, receipt_code=f"{slug[:4]}-R1", source="reception", content="村口路灯坏了，晚上看不见路",
                    station_id=ac.stations[EAST], node_id=ac.county.nodes["东街社区"], activity_id=reception,
                    deputy_id=ac.deputies["张伟"], state="registered")
        meeting = DutyReportMeeting(tenant_id=t, deputy_id=ac.deputies["张伟"], station_id=ac.stations[EAST],
                                    held_on=date(YEAR, 5, 20), starts_at=local(YEAR, 5, 20),
                                    ends_at=local(YEAR, 5, 20, 11), place="会议室", voters_present=40,
                                    status="closed", ballot_token=f"token-{slug}")
        db.add_all([case, meeting])
        await db.flush()
        for rating in ("satisfied", "satisfied", "satisfied", "basic", "unsatisfied"):
            db.add(DutyReportBallot(tenant_id=t, meeting_id=meeting.id, rating=rating, source="paper"))
        await db.flush()
        return BinderWorld(ac, survey, reception, case.id, meeting.id)
