"""Attendance at a joint station's activities counts in the points under the county's kind of the same
code (as the compliance rules count it): held and present only, in the county's months, with the
item's levels and caps, in the same number of queries."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

import pytest

from app.activities.models import JointAttendance
from app.core.db import query_counter
from app.core.periods import parse_key
from app.duties import points
from app.duties.point_models import PointsItem
from tests.activities.world import TZ, build_activity_county, local, put_activity
from tests.duties.points_world import put_scheme

Q4 = parse_key("2026-Q4")
JOINT_IDS = itertools.count(1000)


@pytest.fixture
async def ac(database):
    ac = await build_activity_county(database)
    await put_scheme(database, ac)  # a reception attended: 2 points, county-level deputies only
    return ac


async def put_joint(database, ac, deputy: str, starts_at: datetime, *, kind_code: str = "reception",
                    status: str = "held", present: bool = True) -> None:
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        db.add(JointAttendance(tenant_id=t, deputy_id=ac.deputies[deputy], joint_tenant_id=t,
                               joint_name="川陕联合联络站", joint_activity_id=next(JOINT_IDS), kind_name="联合接待",
                               kind_code=kind_code, topic="跨省接待", starts_at=starts_at, status=status,
                               present=present, method="link" if present else None))


async def q4(database, ac) -> dict:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        return await points.compute(db, ac.tenant.id, Q4, TZ)


async def test_joint_attendance_counts_under_the_kind_of_the_same_code(database, ac):
    await put_activity(database, ac, kind="reception", starts_at=local(2026, 10, 12), present=("张伟",))
    await put_joint(database, ac, "张伟", local(2026, 11, 3))
    await put_joint(database, ac, "张伟", local(2026, 12, 31, 23, 30))  # still December in the county's zone
    # none of these count: absent, cancelled, a kind the scheme does not count, the next year, last quarter
    await put_joint(database, ac, "张伟", local(2026, 11, 4), present=False)
    await put_joint(database, ac, "张伟", local(2026, 11, 5), status="cancelled")
    await put_joint(database, ac, "张伟", local(2026, 11, 6), kind_code="training")
    await put_joint(database, ac, "张伟", local(2027, 1, 1, 0, 10))
    await put_joint(database, ac, "张伟", local(2026, 9, 30))
    await put_joint(database, ac, "王强", local(2026, 11, 3))  # a city deputy: the item is for county level
    await put_joint(database, ac, "李娜", local(2026, 11, 3))
    figures = await q4(database, ac)
    zhang, li, wang = (figures[ac.deputies[n]] for n in ("张伟", "李娜", "王强"))
    assert zhang.points == Decimal("6")  # one reception of the county's own and two at the joint station
    assert li.points == Decimal("2") and wang.points == 0
    assert (zhang.rank, li.rank) == (1, 2)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        q3 = await points.compute(db, ac.tenant.id, parse_key("2026-Q3"), TZ)
    assert q3[ac.deputies["张伟"]].points == Decimal("2")


async def test_a_cap_bounds_the_joint_and_own_attendance_together(database, ac):
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        db.add(PointsItem(tenant_id=ac.tenant.id, code="survey", name="参加调研", source="activity",
                          source_code="survey", points=Decimal("1.5"), cap_period="quarter", cap_points=Decimal("3"),
                          deputy_levels=[], sort=9))
    await put_activity(database, ac, kind="survey", starts_at=local(2026, 10, 20), present=("赵敏",))
    for day in (3, 4, 5):
        await put_joint(database, ac, "赵敏", local(2026, 11, day), kind_code="survey")
    assert (await q4(database, ac))[ac.deputies["赵敏"]].points == Decimal("3")  # 4 × 1.5 capped at 3


async def _queries(database, ac) -> int:
    counter = [0]
    token = query_counter.set(counter)
    try:
        async with database.session(tenant_id=ac.tenant.id) as db:
            counter[0] = 0
            await points.compute(db, ac.tenant.id, Q4, TZ)
    finally:
        query_counter.reset(token)
    return counter[0]


async def test_joint_attendance_costs_no_query_of_its_own(database, ac):
    await put_activity(database, ac, kind="reception", starts_at=local(2026, 10, 12), present=("张伟",))
    before = await _queries(database, ac)
    for deputy in ("张伟", "李娜", "赵敏"):
        for day in range(1, 20):
            await put_joint(database, ac, deputy, local(2026, 11, day))
    assert await _queries(database, ac) == before
