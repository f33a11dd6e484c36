"""A deputy's home, phone first: the next activity with "签到" while its sign-in is open (one tap through
the deputy's own sign-in link), the coming activities they are invited to, the opinions they received
still open, and their record this year — each linking to the list of exactly those."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.activities.models import Attendance, Invitation, Opinion, Suggestion
from tests.activities.world import EAST, TZ, put_activity
from tests.cases.world import build_case_county, put_case
from tests.deputies.deputy_world import signed_in, text_of
from tests.home.work_world import check_links, home, items, now_utc, today, values


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def deputy_world(database, cc) -> dict:
    """张伟 (the member "rep"): an activity starting in half an hour (sign-in open), one in three days,
    one attended earlier this year, registers of this year and the last, cases received."""
    now = now_utc()
    t, zhang = cc.tenant.id, cc.deputies["张伟"]
    soon = await put_activity(database, cc.ac, kind="reception", starts_at=now + timedelta(minutes=30),
                              status="planned", invited=("张伟", "李娜"), topic="五月接待日")
    await put_activity(database, cc.ac, kind="visit", starts_at=now + timedelta(days=3), status="planned",
                       invited=("张伟",))
    await put_activity(database, cc.ac, kind="visit", starts_at=now + timedelta(days=4), status="planned",
                       invited=("李娜",))  # not his
    await put_activity(database, cc.ac, kind="visit", starts_at=now + timedelta(days=5), status="cancelled",
                       invited=("张伟",))
    year_start = datetime(today().year, 1, 1, tzinfo=TZ)
    earlier = max(now - timedelta(days=2), year_start + timedelta(minutes=1))
    await put_activity(database, cc.ac, kind="survey", starts_at=earlier, hours=1, status="held",
                       invited=("张伟",), present=("张伟",))
    async with database.transaction(tenant_id=t) as db:
        for day in (today(), today(), date(today().year - 1, 6, 1)):
            db.add(Opinion(tenant_id=t, deputy_id=zhang, station_id=cc.stations[EAST], received_on=day,
                           content="群众反映路灯不亮"))
        db.add(Suggestion(tenant_id=t, deputy_id=zhang, title="关于修路的建议", filed_on=today()))
    await put_case(database, cc, content="张伟收到的", deputy_id=zhang)
    await put_case(database, cc, content="张伟收到已办结", deputy_id=zhang, state="closed")
    await put_case(database, cc, content="别人收到的", deputy_id=cc.deputies["李娜"])
    return {"soon": soon}


async def test_the_deputy_signs_in_from_the_home(app, database, cc):
    world = await deputy_world(database, cc)
    html, queries = await home(app, cc.county, "rep")
    assert queries <= 10
    assert values(html) == {"invited": "2", "open-cases": "1", "attended": "1", "opinions": "2", "suggestions": "1"}
    await check_links(app, cc.county, "rep", html, ["invited", "open-cases"])
    token = await _token(database, cc, world["soon"])
    assert "五月接待日" in html and f'action="/signin/{cc.slug}/{token}"' in html
    async with signed_in(app, cc.county, "rep") as client:
        for key in ("attended", "opinions", "suggestions"):
            r = await client.get(items(html)[key][0])
            assert r.status_code == 200, key
        assert "关于修路的建议" in (await client.get(items(html)["suggestions"][0])).text
        r = await client.post(f"/signin/{cc.slug}/{token}", follow_redirects=False)  # the home's button
        assert r.status_code == 303
        after = text_of((await client.get(f"{client.base}/")).text)
    signed = await _signed_at(database, cc, world["soon"])
    assert f"You signed in at {signed.astimezone(TZ):%H:%M}." in after


async def test_before_sign_in_opens_the_home_says_when(app, database, cc):
    await put_activity(database, cc.ac, kind="reception", starts_at=now_utc() + timedelta(hours=5), status="planned",
                       invited=("张伟",), topic="下午接待")
    html, _ = await home(app, cc.county, "rep")
    assert "下午接待" in html and "Sign-in opens at" in text_of(html) and 'action="/signin/' not in html


async def test_a_deputy_member_without_a_deputy_record(app, database, cc):
    html, _ = await home(app, cc.county, "rep2")
    assert values(html) == {"invited": "0", "open-cases": "0", "attended": "0", "opinions": "0", "suggestions": "0"}
    assert items(html)["attended"][0] is None and "No coming activity you are invited to." in text_of(html)


async def _token(database, cc, activity_id: int) -> str:
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        return await db.scalar(select(Invitation.token).where(Invitation.activity_id == activity_id,
                                                              Invitation.deputy_id == cc.deputies["张伟"]))


async def _signed_at(database, cc, activity_id: int):
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        return await db.scalar(select(Attendance.signed_at).where(Attendance.activity_id == activity_id,
                                                                  Attendance.deputy_id == cc.deputies["张伟"]))
