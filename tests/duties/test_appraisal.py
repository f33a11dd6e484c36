"""The yearly appraisal end to end: a draft from the points, one score adjusted with a reason, published
(each deputy's notice in the inbox and by SMS at the fake gateway, reminders of the report written),
a deputy files the rectification report (their reminder withdrawn), the list shows who is missing, a
talk is recorded; and the bad input that changes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.notify.sms import HttpSmsProvider
from app.notify.sweep import Channels, sweep
from tests.activities.world import TZ, build_activity_county
from tests.deputies.deputy_world import count, post, signed_in, text_of
from tests.duties.points_world import put_entry, put_scheme
from tests.notify.conftest import start_gateway, stop_gateway
from tests.notify.reliability_helpers import no_quiet_hours


@pytest.fixture(scope="module")
def gateway():
    g = start_gateway()
    yield g
    stop_gateway(g)


@pytest.fixture
async def ac(database, owner_sql):
    ac = await build_activity_county(database)
    # every deputy reachable by SMS; 李娜 also has an account (the member rep2), as 张伟 has (rep)
    await owner_sql("UPDATE deputies SET mobile = '1380000000' || id % 10 WHERE mobile IS NULL")
    await owner_sql("UPDATE deputies SET user_id = $1 WHERE id = $2", ac.users["rep2"].id, ac.deputies["李娜"])
    await put_scheme(database, ac)
    return ac


def this_year() -> int:
    return datetime.now(TZ).year


async def start(client, year: int, **form):
    data = {"year": str(year), "excellent": "90", "pass": "80", "report_due": "", **form}
    return await post(client, f"{client.base}/appraisals", data, page=f"{client.base}/appraisals")


async def test_the_whole_flow(app, database, ac, owner_sql, gateway):
    year = this_year()
    today = datetime.now(TZ).date()
    due = today + timedelta(days=30)
    for day in (date(year, 1, 1), date(year, 1, 2)):
        await put_entry(database, ac, "张伟", "speech", day)  # 2 × 3 points, capped at 5 a quarter
    async with signed_in(app, ac.county, "admin") as client:
        r = await start(client, year)
        assert r.status_code == 303 and r.headers["location"] == f"{client.base}/appraisals/{year}?done=drafted"
        scores = {row["name"]: (str(row["computed"]), row["grade"]) for row in await owner_sql(
            "SELECT d.name, r.computed, r.grade FROM appraisal_results r JOIN deputies d ON d.id = r.deputy_id")}
        assert scores == {"张伟": ("5.0", "fail"), "李娜": ("0.0", "fail"), "王强": ("0.0", "fail"),
                          "赵敏": ("0.0", "fail")}
        page = f"{client.base}/appraisals/{year}"
        r = await post(client, f"{page}/adjust", {"deputy_id": ac.deputies["李娜"], "score": "92.5", "reason": "补记全年视察"},
                       page=page)
        assert r.status_code == 303
        [entry] = await owner_sql("SELECT details FROM audit_log WHERE action = 'appraisal_adjusted'")
        assert '"before": "0.0"' in entry["details"] and '"after": "92.5"' in entry["details"]
        r = await post(client, f"{page}/publish", {"report_due": due.isoformat()}, page=page)
        assert r.status_code == 303, text_of(r.text)
        again = await post(client, f"{page}/publish", {"report_due": due.isoformat()}, page=page)
        assert again.status_code == 400 and "has been published" in text_of(again.text)
        assert await count(owner_sql, "audit_log", "action = 'appraisal_published'") == 1
    # the notices: one inbox row per deputy with an account, one SMS per deputy, the reminders pending
    assert await count(owner_sql, "outbox", "kind = 'appraisal_notice' AND channel = 'inapp'") == 2
    assert await count(owner_sql, "outbox", "kind = 'appraisal_notice' AND channel = 'sms'") == 4
    assert await count(owner_sql, "outbox", "kind = 'appraisal_report_due' AND status = 'pending'") == 6
    await no_quiet_hours(database, ac.tenant.id)
    ch = Channels(sms=HttpSmsProvider(gateway.url, gateway.key_id, gateway.key_secret, "联络", timeout=2))
    gateway.reset()
    await sweep(database, now=datetime.now(timezone.utc), channels=ch)
    got = gateway.messages()
    assert len(got) == 4 and len({m["mobile"] for m in got}) == 4, got
    li = next(m for m in got if m["mobile"] == "13800000002")
    assert "优秀" in str(li) and "92.5" in str(li)
    # 李娜 follows the link to her notice and files her report; her reminders are withdrawn
    async with signed_in(app, ac.county, "rep2") as client:
        r = await client.get(f"{client.base}/appraisals/{year}/mine", follow_redirects=False)
        notice = f"{client.base}/appraisals/{year}/notices/{ac.deputies['李娜']}"
        assert r.status_code == 303 and r.headers["location"] == notice
        printed = await client.get(notice + "?print=1")
        assert printed.status_code == 200 and "92.5" in printed.text and 'class="subnav"' not in printed.text
        r = await post(client, f"{notice}/report", {"report": "   "}, page=notice)
        assert r.status_code == 400 and await count(owner_sql, "appraisal_results", "report_at IS NOT NULL") == 0
        r = await post(client, f"{notice}/report", {"report": "多走访选民，按时参加活动。"}, page=notice)
        assert r.status_code == 303
        r = await post(client, f"{notice}/report", {"report": "再交一次"}, page=notice)
        assert r.status_code == 400 and "already been handed in" in text_of(r.text)
    assert await count(owner_sql, "outbox", "kind = 'appraisal_report_due' AND status = 'withdrawn' "
                       "AND deputy_id = $1", ac.deputies["李娜"]) == 2
    assert await count(owner_sql, "outbox", "kind = 'appraisal_report_due' AND status = 'pending'") == 4
    # the county sees who is missing, and records a talk with an unsatisfactory deputy
    async with signed_in(app, ac.county, "admin") as client:
        page = f"{client.base}/appraisals/{year}"
        missing = text_of((await client.get(page)).text).split("not handed in")[1].split("Unsatisfactory")[0]
        assert all(n in missing for n in ("张伟", "王强", "赵敏")) and "李娜" not in missing
        r = await post(client, f"{page}/talks", {"deputy_id": ac.deputies["张伟"], "day": today.isoformat(),
                                                 "talked_by": "人大主席", "agreed": "每月进站接待一次"}, page=page)
        assert r.status_code == 303
        assert "每月进站接待一次" in (await client.get(page)).text
    assert await count(owner_sql, "appraisal_talks") == 1


async def test_bad_input_changes_nothing(app, database, ac, owner_sql):
    year = this_year()
    today = datetime.now(TZ).date()
    async with signed_in(app, ac.county, "admin") as client:
        for form, message in (({"excellent": "80", "pass": "90"}, "thresholds"),
                              ({"excellent": "101"}, "thresholds"),
                              ({"pass": "x"}, "thresholds"),
                              ({"year": str(year - 5)}, "Choose a year"),
                              ({"report_due": today.isoformat()}, "after today")):
            r = await start(client, form.pop("year", year), **form)
            assert r.status_code == 400 and message in text_of(r.text), (form, text_of(r.text)[-400:])
        assert await count(owner_sql, "appraisals") == 0
        assert (await start(client, year)).status_code == 303
        assert (await start(client, year)).status_code == 400  # one per year
        page = f"{client.base}/appraisals/{year}"
        for form, message in (({"score": "95", "reason": ""}, "reason for the adjustment"),
                              ({"score": "101", "reason": "多"}, "from 0 to 100"),
                              ({"score": "9.55", "reason": "多"}, "from 0 to 100"),
                              ({"score": "0", "reason": "多"}, "same as the current")):
            r = await post(client, f"{page}/adjust", {"deputy_id": ac.deputies["张伟"], **form}, page=page)
            assert r.status_code == 400 and message in text_of(r.text), form
        assert await count(owner_sql, "appraisal_results", "adjusted IS NOT NULL") == 0
        assert await count(owner_sql, "audit_log", "action = 'appraisal_adjusted'") == 0
        # the due day is required to publish; a talk needs a published appraisal
        r = await post(client, f"{page}/publish", {"report_due": ""}, page=page)
        assert r.status_code == 400 and "rectification reports are due" in text_of(r.text)
        r = await post(client, f"{page}/talks", {"deputy_id": ac.deputies["张伟"], "day": today.isoformat(),
                                                 "talked_by": "主席", "agreed": "约定"}, page=page)
        assert r.status_code == 400
        assert await count(owner_sql, "appraisals", "status = 'draft'") == 1
        assert await count(owner_sql, "outbox") == 0
        # a deputy sees no draft notice
    async with signed_in(app, ac.county, "rep") as client:
        assert (await client.get(f"{client.base}/appraisals/{year}/notices/{ac.deputies['张伟']}")).status_code == 404


async def test_a_late_report_is_accepted_and_shown_late(app, database, ac, owner_sql):
    year = this_year()
    today = datetime.now(TZ).date()
    async with signed_in(app, ac.county, "admin") as client:
        assert (await start(client, year, report_due=(today + timedelta(days=1)).isoformat())).status_code == 303
        page = f"{client.base}/appraisals/{year}"
        assert (await post(client, f"{page}/publish", {}, page=page)).status_code == 303
    # the due day passes
    await owner_sql("UPDATE appraisals SET report_due = $1", today - timedelta(days=1))
    async with signed_in(app, ac.county, "rep") as client:
        notice = f"{client.base}/appraisals/{year}/notices/{ac.deputies['张伟']}"
        assert (await post(client, f"{notice}/report", {"report": "迟交的整改报告"}, page=notice)).status_code == 303
        assert "late" in text_of((await client.get(notice)).text)
