"""Duty reports to voters (述职评议): staff hold a meeting, enter paper ballots, open phone voting;
three phones vote by the QR link, a phone's second vote and votes after closing are refused; scope;
the result figures; the public station page; the compliance count."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.activities.models import Rule
from app.compliance import engine
from app.compliance.rules import check_rule
from app.duties import meeting_ballots, meetings
from app.duties.meeting_models import DutyReportMeeting
from app.tenancy.scope import Scope
from tests.activities.world import EAST, HOME, build_activity_county
from tests.deputies.deputy_world import count, post, signed_in, text_of

NEW = {"held_on": "2030-05-01", "start": "09:00", "end": "11:00", "place": "东街社区会议室", "voters_present": "40"}


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


async def _create(client, ac, **form) -> tuple:
    data = {**NEW, "station_id": ac.stations[EAST], "deputy_id": ac.deputies["张伟"], **form}
    return await post(client, f"{client.base}/duty-reports", data, page=f"{client.base}/duty-reports/new")


async def _meeting(database, ac, meeting_id: int) -> DutyReportMeeting:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        return await db.scalar(select(DutyReportMeeting).where(DutyReportMeeting.id == meeting_id))


async def _now_window(owner_sql, meeting_id: int) -> None:
    """Move the meeting to now (the phones' window follows the real clock)."""
    now = datetime.now(timezone.utc)
    await owner_sql("UPDATE duty_report_meetings SET starts_at = $1, ends_at = $2 WHERE id = $3",
                    now - timedelta(minutes=10), now + timedelta(minutes=50), meeting_id)


def _phone(app) -> AsyncTestClient:
    phone = AsyncTestClient(app=app, base_url="http://testserver.local")
    phone.cookies.set("lang", "en")
    return phone


def _new_phone(client, jar=()) -> None:
    """The client becomes another phone: its own cookies only (English pages)."""
    client.cookies.clear()
    for cookie in jar:
        client.cookies.jar.set_cookie(cookie)
    client.cookies.set("lang", "en")


async def _vote(phone, url: str, rating: str, comment: str = ""):
    return await phone.post(url, data={"rating": rating, "comment": comment}, follow_redirects=False)


async def test_a_report_meeting_from_creation_to_result(app, database, ac, owner_sql):
    # Test clients are never open at once (they would share the pool across event loops): the phones
    # are one client whose cookie jar is swapped, and staff act in blocks of their own.
    async with signed_in(app, ac.county, "station") as staff:
        r = await _create(staff, ac)
        assert r.status_code == 303, r.text
        meeting_id = int(re.search(r"/duty-reports/(\d+)", r.headers["location"]).group(1))
        page = f"{staff.base}/duty-reports/{meeting_id}"
        r = await post(staff, f"{page}/paper", {"n_satisfied": "2", "n_basic": "1", "n_unsatisfied": ""}, page=page)
        assert r.status_code == 303
        r = await post(staff, f"{page}/paper", {"rating": "unsatisfied", "comment": "走访太少"}, page=page)
        assert r.status_code == 303
        for bad in ({"n_satisfied": "-1"}, {"n_satisfied": "9999"}, {}, {"rating": "great"},
                    {"rating": "basic", "comment": "长" * 201}):
            r = await post(staff, f"{page}/paper", bad, page=page)
            assert r.status_code == 400, bad
    assert await count(owner_sql, "duty_report_ballots") == 4
    meeting = await _meeting(database, ac, meeting_id)
    url = f"/p/{ac.slug}/report/{meeting.ballot_token}"

    async with _phone(app) as early:  # not open yet: nothing written
        r = await _vote(early, url, "satisfied")
        assert r.status_code == 403 and "not opened yet" in text_of(r.text)
    async with signed_in(app, ac.county, "station") as staff:
        assert (await post(staff, f"{page}/open", page=page)).status_code == 303
        screen = await staff.get(f"{page}/screen")
        assert screen.status_code == 200 and "<svg" in screen.text and meeting.ballot_token in screen.text
    async with _phone(app) as outside:  # open, but the meeting is in 2030
        assert (await _vote(outside, url, "satisfied")).status_code == 403
    await _now_window(owner_sql, meeting_id)

    async with _phone(app) as phone:
        form = await phone.get(url)
        assert form.status_code == 200 and "set-cookie" not in form.headers
        assert "张伟" in form.text and EAST in form.text and form.headers["cache-control"] == "no-store"
        jars = []
        for rating in ("satisfied", "basic", "unsatisfied"):  # three phones
            _new_phone(phone)
            r = await _vote(phone, url, rating, "讲得实在")
            assert r.status_code == 200 and "recorded" in text_of(r.text), r.text
            assert "lianluo_ballot" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
            jars.append(list(phone.cookies.jar))
        assert await count(owner_sql, "duty_report_ballots", "source = 'phone'") == 3
        _new_phone(phone, jars[0])  # the first phone again
        again = await _vote(phone, url, "unsatisfied")
        assert again.status_code == 409 and "already voted" in text_of(again.text)
        phone.cookies.set("lang", "zh_Hans")
        again = await _vote(phone, url, "basic")
        assert again.status_code == 409 and "这部手机已经为本次述职评议投过票" in again.text
        assert await count(owner_sql, "duty_report_ballots") == 7
        _new_phone(phone)  # a cookie we did not sign is no phone of ours: a new one
        phone.cookies.set("lianluo_ballot", "x.y")
        assert (await _vote(phone, url, "basic")).status_code == 200

    async with signed_in(app, ac.county, "station") as staff:
        assert (await post(staff, f"{page}/close", page=page)).status_code == 303
        r = await post(staff, f"{page}/paper", {"n_basic": "1"}, page=page)
        assert r.status_code == 409  # the result of a closed meeting no longer changes
        shown = text_of((await staff.get(page)).text)
        # satisfied 2 paper + 1 phone, basic 1 + 2, unsatisfied 1 + 1: 6 of 8 satisfied or basically = 75.0%
        assert "75.0%" in shown and "Held; voting closed" in shown
        listed = text_of((await staff.get(f"{staff.base}/duty-reports?year=2030")).text)
        assert "张伟" in listed and "75.0%" in listed
    async with _phone(app) as late:
        r = await _vote(late, url, "satisfied")
        assert r.status_code == 403 and "closed" in text_of(r.text)
    assert await count(owner_sql, "duty_report_ballots") == 8

    async with database.transaction(tenant_id=ac.tenant.id) as db:
        refs = await meetings.meetings_of(db, ac.deputies["张伟"], 2030)
        assert [r.meeting.id for r in refs] == [meeting_id]
        result = refs[0].result
        assert result.counts == {"satisfied": 3, "basic": 3, "unsatisfied": 2}
        assert result.total == 8 and result.phone == 4 and result.satisfied_percent == 75.0
        assert await meetings.meetings_of(db, ac.deputies["李娜"], 2030) == []


async def test_the_result_on_the_public_page_where_the_county_chooses(app, database, ac):
    async with signed_in(app, ac.county, "admin") as admin:
        r = await _create(admin, ac, held_on=date.today().isoformat())
        meeting_id = int(re.search(r"/duty-reports/(\d+)", r.headers["location"]).group(1))
        page = f"{admin.base}/duty-reports/{meeting_id}"
        await post(admin, f"{page}/paper", {"n_satisfied": "3", "n_unsatisfied": "1"}, page=page)
        await post(admin, f"{page}/close", page=page)
    public = f"/p/{ac.slug}/stations/{ac.stations[EAST]}/reports"
    async with _phone(app) as anyone:
        assert (await anyone.get(public)).status_code == 404
    async with signed_in(app, ac.county, "admin") as admin:
        settings = f"{admin.base}/settings/duties"
        r = await post(admin, settings, {"excellent": "90", "pass": "80", "rectification": "on", "report_days": "30",
                                         "public_board": "off", "public_duty_reports": "on"}, page=settings)
        assert r.status_code == 303
    async with _phone(app) as anyone:
        r = await anyone.get(public)
        assert r.status_code == 200 and "set-cookie" not in r.headers
        assert "张伟" in r.text and "75.0%" in r.text


async def test_scope_of_who_holds_a_meeting(app, database, ac, owner_sql):
    async with signed_in(app, ac.county, "heba") as heba:  # 河坝乡 staff: 东街 is in 城关镇
        r = await _create(heba, ac)
        assert r.status_code == 400 and "station in operation within your reach" in text_of(r.text)
        assert "张伟" not in (await heba.get(f"{heba.base}/duty-reports/new")).text
    async with signed_in(app, ac.county, "town") as town:
        # a station within reach, but the deputy is not stationed there
        r = await _create(town, ac, station_id=ac.stations[HOME], deputy_id=ac.deputies["张伟"])
        assert r.status_code == 400 and "stationed at this station" in text_of(r.text)
        for bad in ("abc", "99999999999999999999", "-3"):
            assert (await _create(town, ac, deputy_id=bad)).status_code == 400
        assert (await _create(town, ac, end="08:00")).status_code == 400
        r = await _create(town, ac)
        assert r.status_code == 303
        meeting_id = int(re.search(r"/duty-reports/(\d+)", r.headers["location"]).group(1))
    assert await count(owner_sql, "duty_report_meetings") == 1
    async with signed_in(app, ac.county, "heba") as heba:
        assert (await heba.get(f"{heba.base}/duty-reports/{meeting_id}")).status_code == 404
        r = await post(heba, f"{heba.base}/duty-reports/{meeting_id}/open")
        assert r.status_code == 404
    async with signed_in(app, ac.county, "viewer") as viewer:  # reads, does not run
        assert (await viewer.get(f"{viewer.base}/duty-reports/{meeting_id}")).status_code == 200
        assert (await post(viewer, f"{viewer.base}/duty-reports/{meeting_id}/open")).status_code == 404
    async with signed_in(app, ac.county, "rep") as rep:  # 张伟 sees his own meeting
        assert (await rep.get(f"{rep.base}/duty-reports/{meeting_id}")).status_code == 200
    async with signed_in(app, ac.county, "rep2") as rep2:
        assert (await rep2.get(f"{rep2.base}/duty-reports/{meeting_id}")).status_code == 404
    assert (await _meeting(database, ac, meeting_id)).status == "planned"


async def test_phone_ballots_are_limited_per_client_address(app, database, ac, owner_sql, monkeypatch):
    monkeypatch.setattr(meeting_ballots, "BALLOTS_PER_CLIENT", 2)
    async with signed_in(app, ac.county, "admin") as admin:
        r = await _create(admin, ac)
        meeting_id = int(re.search(r"/duty-reports/(\d+)", r.headers["location"]).group(1))
        await post(admin, f"{admin.base}/duty-reports/{meeting_id}/open")
    await _now_window(owner_sql, meeting_id)
    url = f"/p/{ac.slug}/report/{(await _meeting(database, ac, meeting_id)).ballot_token}"
    for n in range(3):
        async with _phone(app) as phone:
            r = await _vote(phone, url, "satisfied")
            assert r.status_code == (200 if n < 2 else 429), n
    assert await count(owner_sql, "duty_report_ballots") == 2
    async with _phone(app) as phone:
        assert (await phone.get(f"/p/{ac.slug}/report/nothing-like-it")).status_code == 404


async def test_compliance_counts_closed_reports_per_deputy(database, ac, owner_sql):
    t = ac.tenant.id
    values = check_rule({"code": "report", "name": "每届述职", "subject": "deputy", "counts": "duty_reports",
                         "period": "year", "minimum": "1"}, kind_codes=set(), station_kind_codes=set())
    admin_scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=ac.users["admin"].id)
    async with database.transaction(tenant_id=t) as db:
        db.add(Rule(tenant_id=t, **values))
        for n, (status, deputy) in enumerate((("closed", "张伟"), ("closed", "张伟"), ("open", "李娜"))):
            db.add(DutyReportMeeting(tenant_id=t, deputy_id=ac.deputies[deputy], station_id=ac.stations[EAST],
                                     held_on=date(2030, 5, 1), starts_at=datetime(2030, 5, 1, 1, tzinfo=timezone.utc),
                                     ends_at=datetime(2030, 5, 1, 3, tzinfo=timezone.utc), status=status,
                                     ballot_token=f"token-{n}"))
        db.add(DutyReportMeeting(tenant_id=t, deputy_id=ac.deputies["王强"], station_id=ac.stations[EAST],
                                 held_on=date(2029, 12, 31), starts_at=datetime(2029, 12, 31, 1, tzinfo=timezone.utc),
                                 ends_at=datetime(2029, 12, 31, 3, tzinfo=timezone.utc), status="closed",
                                 ballot_token="t-last-year"))
    async with database.transaction(tenant_id=t) as db:
        board = await engine.evaluate(db, admin_scope, tz=ZoneInfo("Asia/Shanghai"), today=date(2030, 6, 1),
                                      at_risk_days=10)
        rule = board.rules[0]
        by_name = {c.subject.name: c for (rid, _), c in board.cells.items() if rid == rule.id}
    assert by_name["张伟"].count == 2 and by_name["张伟"].verdict == "met"
    assert by_name["李娜"].count == 0 and by_name["王强"].count == 0  # not closed; another year



async def test_another_countys_ballot_link_is_the_ordinary_404(app, database, ac, owner_sql):
    beta = await build_activity_county(database, "beta")
    t = beta.tenant.id
    async with database.transaction(tenant_id=t) as db:
        db.add(DutyReportMeeting(tenant_id=t, deputy_id=beta.deputies["张伟"], station_id=beta.stations[EAST],
                                 held_on=date(2030, 5, 1), starts_at=datetime.now(timezone.utc) - timedelta(minutes=5),
                                 ends_at=datetime.now(timezone.utc) + timedelta(hours=1), status="open",
                                 ballot_token="beta-open-ballot"))
    async with _phone(app) as phone:
        assert (await phone.get("/p/beta/report/beta-open-ballot")).status_code == 200
        assert (await phone.get("/p/alpha/report/beta-open-ballot")).status_code == 404
        assert (await _vote(phone, "/p/alpha/report/beta-open-ballot", "satisfied")).status_code == 404
    assert await count(owner_sql, "duty_report_ballots") == 0
