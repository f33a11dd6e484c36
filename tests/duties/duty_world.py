"""A county for the dossier tests (tests/deputies/deputy_world.py's two townships and members), with
a deputy in each township — 张东街 linked to the `rep` login — and helpers that put records of the
product's own (attendance, cases, suggestions, joint activities) into a deputy's year."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import select

from app.activities.models import (
    Activity, ActivityKind, Attendance, Invitation, JointAttendance, Suggestion,
)
from app.cases.models import Case
from app.activities.services import new_token
from tests.deputies.deputy_world import add_deputy, build

SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(SHANGHAI).date()


async def county_with_deputies(database):
    c = await build(database)
    c.zhang = await add_deputy(database, c, "张东街", node="东街社区", station="东街社区人大代表联络站",
                               mobile="13800138001", user="rep")
    c.li = await add_deputy(database, c, "李河坝", node="河坝村", mobile="13800138002")
    return c


def png(size=(800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def add_records(database, county, deputy_id: int, year: int, *, month: int = 3, copies: int = 1,
                      staff_signed: bool = True) -> None:
    """In ``month`` of ``year``: activities attended (one a 述职, signed in by staff), opinions the
    deputy received (one closed), a suggestion, and a joint-station activity — ``copies`` times."""
    t = county.tenant.id
    async with database.transaction(tenant_id=t) as db:
        kinds = {k.code: k for k in (await db.scalars(select(ActivityKind))).all()}
        for code, name in (("reception", "接待选民"), ("duty_report", "述职评议")):
            if code not in kinds:
                kinds[code] = ActivityKind(tenant_id=t, code=code, name=name)
                db.add(kinds[code])
        await db.flush()
        for n in range(copies):
            at = datetime(year, month, 10 + n % 10, 9, tzinfo=SHANGHAI)
            for code, topic, method in (("reception", f"接待日{n}", "link"),
                                        ("duty_report", f"向选民述职{n}", "staff" if staff_signed else "link")):
                activity = Activity(tenant_id=t, kind_id=kinds[code].id, station_id=county.stations["东街社区人大代表联络站"],
                                    starts_at=at, ends_at=at.replace(hour=11), topic=topic, status="held")
                db.add(activity)
                await db.flush()
                db.add(Invitation(tenant_id=t, activity_id=activity.id, deputy_id=deputy_id, token=new_token()))
                await db.flush()
                db.add(Attendance(tenant_id=t, activity_id=activity.id, deputy_id=deputy_id, method=method,
                                  on_behalf_reason="手机没电，工作人员代签" if method == "staff" else ""))
            for state in ("registered", "closed"):
                db.add(Case(tenant_id=t, receipt_code=f"R{deputy_id}{month}{n}{state[:2]}", source="visit",
                            content=f"群众反映路灯不亮{n}{state}", deputy_id=deputy_id, state=state, created_at=at,
                            closed_at=at if state == "closed" else None))
            db.add(Suggestion(tenant_id=t, deputy_id=deputy_id, title=f"关于修缮村道的建议{n}", filed_on=at.date(),
                              state="answered"))
            db.add(JointAttendance(tenant_id=t, deputy_id=deputy_id, joint_tenant_id=t, joint_name="川陕联合联络站",
                                   joint_activity_id=year * 10000 + month * 100 + n, kind_name="联合接待", topic=f"跨省接待{n}",
                                   starts_at=at, status="held", present=True, method="link"))
