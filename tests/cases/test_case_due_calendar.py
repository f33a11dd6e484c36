"""Due dates counted in working days follow China's working calendar: statutory holidays are skipped,
make-up working days (调休) count, and days the operator entered for a year the library does not cover
count as they were entered."""

from __future__ import annotations

from datetime import date

import pytest

from app.cases import steps
from app.cases.models import DueRule
from tests.cases.wf_helpers import load, step
from tests.cases.world import build_case_county, put_case


@pytest.fixture
async def cc(database):
    county = await build_case_county(database)
    async with database.transaction(tenant_id=county.tenant.id) as db:
        db.add(DueRule(tenant_id=county.tenant.id, level="township", reply_days=5, feedback_days=2,
                       working_days=True))
    return county


async def test_five_working_days_from_28_september_2026_fall_after_national_day(database, cc):
    case = await put_case(database, cc)
    await step(database, cc, "town", case.id, steps.assign, unit_id=cc.units["town-agri"], today=date(2026, 9, 28))
    c = await load(database, cc, case.id)
    # 29, 30 September, 国庆 1–7 October off, then 8, 9 and the make-up Saturday 10 October (weekdays only: 5 October)
    assert c.reply_due == date(2026, 10, 10)
    assert c.feedback_due == date(2026, 10, 13)  # Sunday 11 October is an ordinary day off


async def test_days_the_operator_entered_count_for_a_year_the_library_lacks(database, cc, owner_sql):
    await owner_sql("INSERT INTO working_calendar_days (day, kind, name) SELECT d::date, 'holiday', '春节' "
                    "FROM generate_series('2027-02-08'::date, '2027-02-12'::date, '1 day') AS d")
    case = await put_case(database, cc)
    await step(database, cc, "town", case.id, steps.assign, unit_id=cc.units["town-agri"], today=date(2027, 2, 5))
    c = await load(database, cc, case.id)
    assert c.reply_due == date(2027, 2, 19)  # the week of 8–12 February does not count
