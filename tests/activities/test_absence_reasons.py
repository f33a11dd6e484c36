"""Absence reasons (请假) over HTTP: the invited deputy asks for leave on the activity's page and
withdraws it before the activity; staff who run the activity record a reason (required, ≤ 100
characters) or clear it; a present deputy has none, and a sign-in after leave wins; every refusal says
why and changes nothing; the attendance register and its XLSX print "name（请假：reason）"."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from io import BytesIO

import pytest
from openpyxl import load_workbook

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.activities.models import Invitation
from tests.activities.world import build_activity_county, put_activity
from tests.binder.binder_world import YEAR, build_binder_world
from tests.deputies.deputy_world import count, post, signed_in, text_of

LEAVE = "/leave"


def _in(minutes: int) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


async def _activity(database, ac, starts_in: int, **kw) -> int:
    kw.setdefault("invited", ("张伟", "李娜", "王强"))
    return await put_activity(database, ac, kind="survey", starts_at=_in(starts_in), status="planned",
                              topic="道路调研", **kw)


async def _leave(owner_sql, activity_id: int, deputy_id: int) -> dict:
    rows = await owner_sql("SELECT absence_reason, absence_recorded_by, absence_recorded_at IS NOT NULL AS at"
                           " FROM activity_invitations WHERE activity_id = $1 AND deputy_id = $2",
                           activity_id, deputy_id)
    return dict(rows[0])


async def _events(owner_sql, activity_id: int) -> list[tuple]:
    rows = await owner_sql("SELECT action, note, data FROM activity_events WHERE activity_id = $1 "
                           "AND action NOT IN ('created', 'invited') ORDER BY id", activity_id)
    return [(r["action"], r["note"]) for r in rows]


async def test_deputy_asks_for_leave_and_withdraws_it(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, starts_in=2 * 24 * 60)
    zhang = ac.deputies["张伟"]  # the member "rep"
    async with signed_in(app, ac.county, "rep") as rep:
        url = f"{rep.base}/activities/{activity_id}"
        assert "Ask for leave" in (await rep.get(url)).text
        for reason, message in (("  ", "Please give the reason for the absence."),
                                ("外" * 101, "The reason for the absence may have at most 100 characters.")):
            r = await post(rep, url + LEAVE, {"reason": reason})
            assert r.status_code == 400 and message in r.text
        assert await _leave(owner_sql, activity_id, zhang) == {"absence_reason": None, "absence_recorded_by": None,
                                                              "at": False}
        r = await post(rep, url + LEAVE, {"reason": " 外出务工 "})
        assert r.status_code == 303 and r.headers["location"].endswith("?done=leave_asked#leave")
        page = text_of((await rep.get(r.headers["location"])).text)
        assert "Your leave has been recorded" in page and "You asked for leave: 外出务工" in page
        assert "Withdraw the leave: I will come" in page and "Leave asked for by the deputy" in page
        assert await _leave(owner_sql, activity_id, zhang) == {
            "absence_reason": "外出务工", "absence_recorded_by": ac.users["rep"].id, "at": True}
        r = await post(rep, url + LEAVE + "/withdraw")
        assert r.status_code == 303
        assert "Your leave has been withdrawn" in (await rep.get(r.headers["location"])).text
        r = await post(rep, url + LEAVE + "/withdraw")  # nothing left to withdraw
        assert r.status_code == 400 and "You have not asked for leave for this activity." in r.text
    assert (await _leave(owner_sql, activity_id, zhang))["absence_reason"] is None
    assert await _events(owner_sql, activity_id) == [("leave_asked", "外出务工"), ("leave_withdrawn", "外出务工")]
    assert await count(owner_sql, "audit_log", "action LIKE 'activity_leave_%'") == 2


async def test_staff_see_the_reason_and_other_deputies_only_the_leave(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, starts_in=2 * 24 * 60)
    async with signed_in(app, ac.county, "rep") as rep:
        assert (await post(rep, f"{rep.base}/activities/{activity_id}{LEAVE}", {"reason": "因病住院"})).status_code == 303
    async with signed_in(app, ac.county, "station") as staff:
        page = text_of((await staff.get(f"{staff.base}/activities/{activity_id}")).text)
        assert "On leave 因病住院" in page and "张伟: 因病住院 Clear the reason" in page
        # staff ask no leave of their own: the deputy's route is not theirs
        assert (await post(staff, f"{staff.base}/activities/{activity_id}{LEAVE}", {"reason": "x"})).status_code == 404


async def test_leave_timing(app, database, ac, owner_sql):
    started = await _activity(database, ac, starts_in=-60)
    long_over = await _activity(database, ac, starts_in=-5 * 24 * 60)
    async with signed_in(app, ac.county, "rep") as rep:
        r = await post(rep, f"{rep.base}/activities/{started}{LEAVE}", {"reason": "路上堵车"})  # a day late: fine
        assert r.status_code == 303
        r = await post(rep, f"{rep.base}/activities/{started}{LEAVE}/withdraw")
        assert r.status_code == 400 and "The activity has started; the leave can no longer be withdrawn." in r.text
        r = await post(rep, f"{rep.base}/activities/{long_over}{LEAVE}", {"reason": "外出务工"})
        assert r.status_code == 400 and "Leave could be asked for until" in r.text
        assert "Ask for leave" not in (await rep.get(f"{rep.base}/activities/{long_over}")).text
    assert (await _leave(owner_sql, started, ac.deputies["张伟"]))["absence_reason"] == "路上堵车"
    assert (await _leave(owner_sql, long_over, ac.deputies["张伟"]))["absence_reason"] is None


async def test_leave_from_the_personal_link_without_an_account(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, starts_in=2 * 24 * 60)
    li = ac.deputies["李娜"]  # no account: the personal link is her page of the invitation
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        token = await db.scalar(select(Invitation.token).where(Invitation.activity_id == activity_id,
                                                               Invitation.deputy_id == li))
    url = f"/signin/{ac.slug}/{token}"
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as phone:
        phone.cookies.set("lang", "en")
        assert "Ask for leave" in (await phone.get(url)).text
        r = await phone.post(url + LEAVE, data={"reason": ""})
        assert r.status_code == 400 and "Please give the reason for the absence." in r.text
        r = await phone.post(url + LEAVE, data={"reason": "在外地开会"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["cache-control"] == "no-store"
        page = text_of((await phone.get(r.headers["location"])).text)
        assert "Your leave has been recorded" in page and "You asked for leave: 在外地开会" in page
        r = await phone.post(url + LEAVE + "/withdraw", follow_redirects=True)
        assert "Your leave has been withdrawn." in r.text
        assert (await phone.post(f"/signin/{ac.slug}/no-such-token{LEAVE}", data={"reason": "x"})).status_code == 404
    assert await _events(owner_sql, activity_id) == [("leave_asked", "在外地开会"), ("leave_withdrawn", "在外地开会")]


async def test_a_deputy_not_invited_gets_404(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, starts_in=60, invited=("李娜",))
    async with signed_in(app, ac.county, "rep") as rep:  # 张伟 is not invited: the activity is not his to see
        assert (await post(rep, f"{rep.base}/activities/{activity_id}{LEAVE}", {"reason": "外出"})).status_code == 404
    assert await count(owner_sql, "activity_invitations", "absence_reason IS NOT NULL") == 0


async def test_staff_record_and_clear_a_reason(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, starts_in=-3 * 60, present=("张伟",))
    li = ac.deputies["李娜"]
    async with signed_in(app, ac.county, "station") as staff:
        url = f"{staff.base}/activities/{activity_id}/absences"
        r = await post(staff, url, {"deputy_id": li, "reason": "因病"})
        assert r.status_code == 303 and r.headers["location"].endswith("?done=absence_recorded#leave")
        page = text_of((await staff.get(r.headers["location"])).text)
        assert "The reason for the absence has been recorded." in page and "On leave 因病" in page
        assert "Reason for absence recorded by staff" in page
        assert await _leave(owner_sql, activity_id, li) == {
            "absence_reason": "因病", "absence_recorded_by": ac.users["station"].id, "at": True}
        r = await post(staff, f"{url}/{li}/clear")
        assert r.status_code == 303
        assert "The reason for the absence has been cleared." in (await staff.get(r.headers["location"])).text
        r = await post(staff, f"{url}/{li}/clear")
        assert r.status_code == 400 and "李娜 has no absence reason to clear." in r.text
    assert (await _leave(owner_sql, activity_id, li))["absence_reason"] is None
    assert await _events(owner_sql, activity_id) == [("absence_recorded", "因病"), ("absence_cleared", "因病")]
    assert await count(owner_sql, "audit_log", "action LIKE 'activity_absence_%'") == 2


async def test_staff_refusals_change_nothing(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, starts_in=-3 * 60, present=("张伟",), invited=("李娜",))
    async with signed_in(app, ac.county, "admin") as admin:
        url = f"{admin.base}/activities/{activity_id}/absences"
        for data, message in (
            ({"deputy_id": ac.deputies["张伟"], "reason": "外出"},
             "张伟 has signed in and is present; a deputy who is present has no absence reason."),
            ({"deputy_id": ac.deputies["李娜"], "reason": " "}, "Please give the reason for the absence."),
            ({"deputy_id": ac.deputies["李娜"], "reason": "病" * 101},
             "The reason for the absence may have at most 100 characters."),
            ({"deputy_id": ac.deputies["王强"], "reason": "外出"}, "This deputy is not invited to the activity."),
            ({"deputy_id": "abc", "reason": "外出"}, "This deputy is not invited to the activity."),
        ):
            r = await post(admin, url, data)
            assert r.status_code == 400 and message in text_of(r.text), message
    assert await count(owner_sql, "activity_invitations", "absence_reason IS NOT NULL") == 0
    assert await _events(owner_sql, activity_id) == []


async def test_out_of_scope_is_404(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, starts_in=-3 * 60)
    data = {"deputy_id": ac.deputies["李娜"], "reason": "外出"}
    for who in ("heba", "viewer", "rep", "handler"):  # another township, read-only, a deputy, a handling unit
        async with signed_in(app, ac.county, who) as client:
            url = f"{client.base}/activities/{activity_id}/absences"
            assert (await post(client, url, data)).status_code == 404, who
            assert (await post(client, f"{url}/{ac.deputies['李娜']}/clear")).status_code == 404, who
    async with signed_in(app, ac.county, "admin") as admin:  # a missing activity: the same 404
        assert (await post(admin, f"{admin.base}/activities/999999/absences", data)).status_code == 404
    assert await count(owner_sql, "activity_invitations", "absence_reason IS NOT NULL") == 0


async def test_a_sign_in_after_leave_wins(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, starts_in=5)
    zhang = ac.deputies["张伟"]
    async with signed_in(app, ac.county, "rep") as rep:
        assert (await post(rep, f"{rep.base}/activities/{activity_id}{LEAVE}", {"reason": "外出务工"})).status_code == 303
    async with signed_in(app, ac.county, "station") as staff:
        r = await post(staff, f"{staff.base}/activities/{activity_id}/attendance",
                       {"deputy_id": zhang, "reason": "赶回来了，手机没电"})
        assert r.status_code == 303
        page = text_of((await staff.get(f"{staff.base}/activities/{activity_id}")).text)
        assert "Signed in after leave was recorded" in page and "On leave" not in page
    assert (await _leave(owner_sql, activity_id, zhang))["absence_reason"] is None
    assert ("leave_signed_in", "外出务工") in await _events(owner_sql, activity_id)


async def test_the_attendance_register_shows_the_reason(app, database):
    world = await build_binder_world(database)
    ac = world.ac
    async with signed_in(app, ac.county, "station") as staff:  # the survey's absent 王强 phoned afterwards
        r = await post(staff, f"{staff.base}/activities/{world.survey}/absences",
                       {"deputy_id": ac.deputies["王强"], "reason": "外出务工"})
        assert r.status_code == 303
    async with signed_in(app, ac.county, "admin") as admin:
        station = ac.stations["东街社区人大代表联络站"]
        page = text_of((await admin.get(f"{admin.base}/binder/attendance?station={station}&year={YEAR}")).text)
        assert "张伟、李娜（signed in by staff (代签): 手机没电） 王强（leave (请假): 外出务工） " in page
        assert " 赵敏 " in page  # absent from the reception without a reason: the plain name
        book = load_workbook(BytesIO((await admin.get(
            f"{admin.base}/binder/attendance.xlsx?station={station}&year={YEAR}")).content))
        cells = [row[6] for row in book.active.iter_rows(min_row=2, values_only=True)]
        assert "王强（leave (请假): 外出务工）" in cells and "赵敏" in cells
        admin.cookies.set("lang", "zh_Hans")
        page = text_of((await admin.get(f"{admin.base}/binder/attendance?station={station}&year={YEAR}")).text)
        assert "王强（请假：外出务工）" in page
