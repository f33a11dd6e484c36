"""The person's rating closes the loop (issue 17): "不满意" asks for a reason and sends the case back to
the handling unit for re-handling, within the county's limit (past it, the case closes as not
satisfied and the page says so); a later "满意" closes it. The person may rate within the county's
rating period; after it the page says rating is closed and the hourly pass closes the case unrated.
Each walk goes through the real public pages, as the villager would."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.cases import rating, steps
from app.cases.models import Case, CaseEvent
from app.jobs.scheduled import run_scheduled
from tests.cases.wf_helpers import load, step
from tests.cases.world import EAST, build_case_county
from tests.deputies.deputy_world import post, signed_in
from tests.factories import login

REASON = "路面只补了一半，雨天还是积水"


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


@pytest.fixture
async def en(client):
    client.cookies.set("lang", "en")
    return client


async def submitted(client, cc, database) -> tuple[int, str, str]:
    """A villager's opinion through the public form: (case id, receipt code, rating code)."""
    r = await client.post(f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion", data={"content": "村道坑洼，雨天积水"})
    assert r.status_code == 200
    code = re.search(r'name="code" value="([^"]+)"', r.text).group(1)
    token = re.search(r'<h2 id="rating-code">([^<]+)</h2>', r.text).group(1)
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        case_id = await db.scalar(select(Case.id).where(Case.receipt_code == code))
    return case_id, code, token


async def handled(database, cc, case_id: int, answer: str = "已安排修补村道", *, first: bool = True) -> None:
    """Staff assign (the first time), the unit accepts and replies, the station feeds the answer back."""
    if first:
        await step(database, cc, "admin", case_id, steps.assign, unit_id=cc.units["transport"])
    await step(database, cc, "transport", case_id, steps.accept)
    await step(database, cc, "transport", case_id, steps.reply, result=answer)
    await step(database, cc, "station", case_id, steps.feed_back, channel="phone")


async def look(client, cc, code: str):
    return await client.post(f"/p/{cc.slug}/lookup", data={"code": code})


async def rate(client, cc, code: str, token: str, satisfaction: str, reason: str = ""):
    return await client.post(f"/p/{cc.slug}/lookup/rate", data={
        "code": code, "rating_code": token, "satisfaction": satisfaction, "reason": reason})


async def events(owner_sql, case_id: int) -> list:
    return await owner_sql("SELECT action, from_state, to_state, note, public, actor_user_id FROM case_events "
                           "WHERE case_id = $1 ORDER BY id", case_id)


# --- not satisfied: a reason, and back to the unit --------------------------------------------------

async def test_not_satisfied_needs_a_reason_and_changes_nothing_without_one(client, cc, database, owner_sql):
    case_id, code, token = await submitted(client, cc, database)
    await handled(database, cc, case_id)
    before = await events(owner_sql, case_id)
    r = await rate(client, cc, code, token, "unsatisfied")  # the default language: Chinese
    assert r.status_code == 400 and "请说明不满意的原因" in r.text
    r = await rate(client, cc, code, token, "unsatisfied", "长" * (rating.REASON_MAX + 1))
    assert r.status_code == 400 and f"{rating.REASON_MAX}" in r.text and "原因" in r.text
    assert "长" * (rating.REASON_MAX + 1) in r.text  # what was typed is shown again
    c = await load(database, cc, case_id)
    assert (c.state, c.satisfaction, c.rehandled) == ("fed_back", None, 0)
    assert await events(owner_sql, case_id) == before


async def test_not_satisfied_sends_the_case_back_to_the_unit_and_a_later_satisfied_closes_it(
        en, cc, database, owner_sql):
    case_id, code, token = await submitted(en, cc, database)
    await handled(database, cc, case_id)
    html = (await look(en, cc, code)).text
    assert 'name="reason"' in html and "goes back to the handling unit with your reason" in html
    r = await rate(en, cc, code, token, "unsatisfied", REASON)
    assert r.status_code == 200 and "Your reason has been passed on" in r.text
    assert "Being handled again" in r.text and "Not satisfied: sent back for re-handling" in r.text
    assert REASON not in r.text and 'name="rating_code"' not in r.text  # the reason is for the staff
    c = await load(database, cc, case_id)
    assert (c.state, c.handling_unit_id, c.rehandled, c.satisfaction, c.reply_text) == (
        "assigned", cc.units["transport"], 1, None, "")
    back = (await events(owner_sql, case_id))[-1]
    assert (back["action"], back["from_state"], back["to_state"], back["note"], back["public"],
            back["actor_user_id"]) == ("sent_back_by_person", "fed_back", "assigned", REASON, True, None)
    # the unit sees it back, with the person's reason, and may accept it again (the same test client
    # signs in: a second one would serve the app on another event loop)
    assert (await login(en, f"{cc.slug}-transport")).status_code == 303
    page = (await en.get(f"/t/{cc.slug}/cases/{case_id}")).text
    en.cookies.clear()
    en.cookies.set("lang", "en")
    assert "Not satisfied: sent back to the handling unit for re-handling" in page and REASON in page
    assert "the person who raised it" in page and f'/cases/{case_id}/steps/accept' in page
    # the lookup shows it honestly while the unit works on it
    assert "Being handled again" in (await look(en, cc, code)).text
    await handled(database, cc, case_id, "已全部重铺", first=False)
    r = await rate(en, cc, code, token, "satisfied")
    assert r.status_code == 200 and "Thank you: your rating has been recorded." in r.text
    c = await load(database, cc, case_id)
    assert (c.state, c.satisfaction, c.rehandled) == ("closed", "satisfied", 1) and c.closed_at


async def test_past_the_countys_limit_not_satisfied_closes_the_case_and_says_so(en, cc, database, owner_sql):
    case_id, code, token = await submitted(en, cc, database)
    await handled(database, cc, case_id)
    assert (await rate(en, cc, code, token, "unsatisfied", REASON)).status_code == 200
    await handled(database, cc, case_id, "再次处理", first=False)
    html = (await look(en, cc, code)).text
    assert "it cannot be handled again from here" in html  # the one re-handling is used
    r = await rate(en, cc, code, token, "unsatisfied", "第二次还是没修好")
    assert r.status_code == 200
    assert "at most 1 time(s) and this has been reached" in r.text and "closed as not satisfied" in r.text
    c = await load(database, cc, case_id)
    assert (c.state, c.satisfaction, c.rehandled) == ("closed", "unsatisfied", 1)
    last = (await events(owner_sql, case_id))[-1]
    assert (last["action"], last["note"]) == ("rated_by_public", "第二次还是没修好")


async def test_a_county_without_re_handling_closes_at_once(en, cc, database, owner_sql):
    await owner_sql("INSERT INTO tenant_config (tenant_id, case_rehandle_limit) VALUES ($1, 0)", cc.tenant.id)
    case_id, code, token = await submitted(en, cc, database)
    await handled(database, cc, case_id)
    r = await rate(en, cc, code, token, "unsatisfied", REASON)
    assert r.status_code == 200 and "at most 0 time(s)" in r.text
    assert (await load(database, cc, case_id)).state == "closed"


# --- the rating period ------------------------------------------------------------------------------

async def test_rating_closes_after_the_countys_period_and_the_case_closes_unrated(en, cc, database, owner_sql):
    case_id, code, token = await submitted(en, cc, database)
    await handled(database, cc, case_id)
    now = datetime.now(timezone.utc)
    await owner_sql("UPDATE cases SET fed_back_at = $2 WHERE id = $1", case_id, now - timedelta(days=29))
    html = (await look(en, cc, code)).text
    assert 'name="rating_code"' in html and "You can rate the answer until" in html
    await owner_sql("UPDATE cases SET fed_back_at = $2 WHERE id = $1", case_id, now - timedelta(days=32))
    html = (await look(en, cc, code)).text
    assert 'name="rating_code"' not in html and 'id="rating-closed"' in html
    assert "The period for rating this answer ended on" in html
    r = await rate(en, cc, code, token, "satisfied")
    assert r.status_code == 400 and "The period for rating this answer ended on" in r.text
    assert (await load(database, cc, case_id)).satisfaction is None
    # the hourly pass closes it, without a rating in the person's name
    await run_scheduled(database, now=now, tenant_ids=[cc.tenant.id])
    c = await load(database, cc, case_id)
    assert (c.state, c.satisfaction, c.rated_at) == ("closed", None, None) and c.closed_at
    last = (await events(owner_sql, case_id))[-1]
    assert (last["action"], last["to_state"], last["public"]) == ("rating_lapsed", "closed", True)
    html = (await look(en, cc, code)).text
    assert "Closed without a rating" in html and 'name="rating_code"' not in html
    await run_scheduled(database, now=now + timedelta(hours=1), tenant_ids=[cc.tenant.id])  # once only
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        assert await db.scalar(select(func.count()).select_from(CaseEvent)
                               .where(CaseEvent.action == "rating_lapsed")) == 1


async def test_the_pass_leaves_answers_within_the_period_alone(cc, database, client):
    case_id, _, _ = await submitted(client, cc, database)
    await handled(database, cc, case_id)
    now = datetime.now(timezone.utc)
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        assert await rating.close_lapsed(db, cc.tenant.id, now=now + timedelta(days=29)) == 0
    assert (await load(database, cc, case_id)).state == "fed_back"


async def test_the_county_sets_the_rating_period(app, en, cc, database, owner_sql):
    form = {"case_reply_days": "15", "case_feedback_days": "5", "case_rehandle_limit": "1",
            "public_limit_per_client": "5", "public_limit_per_station": "60"}
    async with signed_in(app, cc.county, "admin") as admin:
        page = f"{admin.base}/settings/case-rules"
        html = (await admin.get(page)).text
        assert 'name="case_rating_days" value="30"' in html  # the default
        for bad in ("0", "366", "x"):
            r = await post(admin, page, {**form, "case_rating_days": bad}, page=page)
            assert r.status_code == 400 and "whole number of days from 1 to 365" in r.text
        assert (await owner_sql("SELECT count(*) AS n FROM tenant_config"))[0]["n"] == 0
        r = await post(admin, page, {**form, "case_rating_days": "60"}, page=page)
        assert r.status_code == 303
    assert (await owner_sql("SELECT case_rating_days FROM tenant_config"))[0]["case_rating_days"] == 60
    case_id, code, _ = await submitted(en, cc, database)
    await handled(database, cc, case_id)
    await owner_sql("UPDATE cases SET fed_back_at = now() - interval '45 days' WHERE id = $1", case_id)
    assert 'name="rating_code"' in (await look(en, cc, code)).text  # 45 days: within the county's 60
