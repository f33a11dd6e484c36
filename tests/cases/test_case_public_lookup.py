"""The lookup by receipt code: the case's public status and history without personal data or internal
notes, the same answer for wrong and unknown codes, the limit on misses (counted in PostgreSQL), and
the public rating, which needs the rating code only the person received."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import brotli
import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.cases import notices, public, steps, workflow
from app.cases.codes import group_code, issue_rating_code
from app.cases.models import Case, CaseEvent, LookupMiss
from app.core.errors import Refusal
from app.notify.models import Outbox
from tests.deputies.deputy_world import signed_in
from tests.cases.world import EAST, build_case_county, put_case
from tests.isolation.routes import normalise

NAME, MOBILE = "王小明", "13912345678"
INTERNAL = "内部备注：请交通局刘科长处理"
ANSWER = "已安排施工队本月内修补村道。"
BUDGET = 14 * 1024


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


@pytest.fixture
async def en(client):
    client.cookies.set("lang", "en")
    return client


async def history(database, cc, state: str, **fields) -> Case:
    """A case taken through the workflow up to ``state``: public steps and internal ones with notes."""
    start = datetime.now(timezone.utc) - timedelta(days=10)
    case = await put_case(database, cc, state=state, unit="transport", level="county", person_name=NAME,
                          person_mobile=MOBILE, created_at=start, **fields)
    steps = [("assigned", True), ("note", False), ("accepted", True), ("replied", True), ("fed_back", True)]
    order = ["registered", "assigned", "accepted", "replied", "fed_back", "closed"]
    upto = order.index(state if state in order else "registered")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        for n, (action, is_public) in enumerate(steps, start=1):
            to_state = action if action != "note" else None
            if to_state and order.index(to_state) > upto:
                break
            db.add(CaseEvent(tenant_id=cc.tenant.id, case_id=case.id, action=action, to_state=to_state,
                             public=is_public, note=INTERNAL, actor_user_id=cc.users["transport"].id,
                             at=start + timedelta(days=n)))
    return case


async def look(client, cc, code: str):
    return await client.post(f"/p/{cc.slug}/lookup", data={"code": code})


async def rate(client, cc, code: str, satisfaction: str, rating_code: str = "", reason: str = ""):
    return await client.post(f"/p/{cc.slug}/lookup/rate", data={"code": code, "satisfaction": satisfaction,
                                                                "rating_code": rating_code, "reason": reason})


async def rating_code(database, cc, case: Case, sent_by: str = "sms") -> str:
    """A rating code given to the case's person (as the SMS with the answer gives one)."""
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        return await issue_rating_code(db, case, sent_by)


# --- the lookup ------------------------------------------------------------------------------------

async def test_lookup_form_is_a_plain_cacheable_form(en, cc):
    r = await en.get(f"/p/{cc.slug}/lookup")
    assert r.status_code == 200
    assert f'<form method="post" action="/p/{cc.slug}/lookup">' in r.text and 'name="code"' in r.text
    assert "<script" not in r.text and "_csrf_token" not in r.text
    assert r.headers["cache-control"] == "public, max-age=300" and "set-cookie" not in r.headers


async def test_lookup_shows_status_and_public_history_without_personal_data(en, cc, database):
    case = await history(database, cc, "accepted", content="村道坑洼，雨天积水")
    code = case.receipt_code
    r = await look(en, cc, f" {code[:4].lower()}-{code[4:8]} {code[8:]} ")  # typed loosely
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store" and "set-cookie" not in r.headers
    html = r.text
    assert group_code(code) in html
    assert "Accepted by the handling unit" in html  # the state
    assert "道路交通" in html and EAST in html  # category and station
    timeline = html[html.index('class="timeline"'):]
    labels = re.findall(r"<li>[^<]*· ([^<]+)</li>", timeline)
    assert labels == ["Registered", "Assigned to a handling unit", "Accepted by the handling unit"]
    for private in (NAME, MOBILE, MOBILE[:3] + "****", INTERNAL, "刘科长", cc.users["transport"].display_name,
                    "雨天积水"):
        assert private not in html, private
    assert "The answer" not in html and 'action="/p/alpha/lookup/rate"' not in html


async def test_workflow_steps_get_generic_public_labels(database, cc):
    case = await put_case(database, cc, state="assigned", unit="transport")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        for n, (action, to_state) in enumerate((("clarify", "accepted"), ("send_back", "assigned"),
                                                ("some_future_step", None)), start=1):
            db.add(CaseEvent(tenant_id=cc.tenant.id, case_id=case.id, action=action, to_state=to_state, public=True,
                             note=INTERNAL, at=case.created_at + timedelta(minutes=n)))
    async with database.session(tenant_id=cc.tenant.id) as db:
        view = await public.public_view(db, await public.find_case(db, case.receipt_code))
    assert [s.label for s in view.steps] == ["Registered", "Clarification given", "Sent back for re-handling",
                                             "Handling progress recorded"]


async def test_wrong_and_unknown_codes_get_the_same_answer(en, cc, database):
    await history(database, cc, "registered")
    answers = []
    for typed in ("ZZZZ-ZZZZ-ZZ", "!!", "abc"):
        r = await look(en, cc, typed)
        assert r.status_code == 400
        answers.append(normalise(r.text.replace(f'value="{typed}"', 'value="…"')))
    assert answers[0] == answers[1] == answers[2]
    assert "No opinion matches this receipt code" in answers[0]


async def test_lookup_of_a_suspended_or_unknown_tenant_is_404(client, cc, database, owner_sql):
    case = await history(database, cc, "registered")
    await owner_sql("UPDATE tenants SET status = 'suspended' WHERE id = $1", cc.tenant.id)
    for path in (f"/p/{cc.slug}/lookup", "/p/nowhere/lookup"):
        assert (await client.get(path)).status_code == 404
        assert (await client.post(path, data={"code": case.receipt_code})).status_code == 404


async def test_another_tenants_code_matches_nothing(en, cc, database):
    other = await build_case_county(database, "beta")
    theirs = await put_case(database, other)
    r = await look(en, cc, theirs.receipt_code)
    assert r.status_code == 400 and "No opinion matches" in r.text


async def test_misses_are_limited_per_client_and_then_every_code_is_refused(en, cc, database):
    case = await history(database, cc, "registered")
    for n in range(public.LOOKUP_MISSES_PER_HOUR):
        assert (await look(en, cc, f"XXXX{n:06d}")).status_code == 400
    r = await look(en, cc, case.receipt_code)  # a real code now gets the same refusal as any other
    assert r.status_code == 429
    assert "Too many receipt codes that match nothing" in r.text
    assert (await look(en, cc, "XXXXXXXXXX")).text == r.text.replace(case.receipt_code, "XXXXXXXXXX")


async def test_misses_are_counted_in_postgres_for_every_process_and_forgotten_after_the_hour(
        en, cc, database, owner_sql):
    """Another web process's misses count too (they are rows, not one process's memory); misses older
    than the hour do not, and go with the next miss."""
    case = await history(database, cc, "registered")
    hashed = public.client_hash(en.app.state.settings.secret_key, cc.tenant.id, "testclient")
    for n in range(public.LOOKUP_MISSES_PER_HOUR):
        await owner_sql("INSERT INTO case_lookup_misses (tenant_id, client_hash, at) "
                        "VALUES ($1, $2, now() - interval '61 minutes')", cc.tenant.id, hashed)
    assert (await look(en, cc, case.receipt_code)).status_code == 200  # an hour old: forgotten
    assert (await look(en, cc, "XXXXXXXXXX")).status_code == 400
    rows = await owner_sql("SELECT client_hash FROM case_lookup_misses")
    assert [r["client_hash"] for r in rows] == [hashed]  # the old ones went with the new miss
    for n in range(public.LOOKUP_MISSES_PER_HOUR - 1):  # as if another process had counted them
        await owner_sql("INSERT INTO case_lookup_misses (tenant_id, client_hash) VALUES ($1, $2)",
                        cc.tenant.id, hashed)
    assert (await look(en, cc, case.receipt_code)).status_code == 429
    other = await build_case_county(database, "beta")  # another county keeps its own count
    assert (await look(en, other, "XXXXXXXXXX")).status_code == 400
    async with database.transaction(tenant_id=other.tenant.id) as db:
        assert await db.scalar(select(func.count()).select_from(LookupMiss)) == 1


# --- the answer and the rating ---------------------------------------------------------------------

async def test_answer_is_shown_only_once_fed_back(en, cc, database):
    replied = await history(database, cc, "replied", reply_text=ANSWER)
    html = (await look(en, cc, replied.receipt_code)).text
    assert ANSWER not in html and "Replied by the handling unit" in html
    fed = await history(database, cc, "fed_back", reply_text=ANSWER)
    html = (await look(en, cc, fed.receipt_code)).text
    assert ANSWER in html and "Answer fed back" in html
    assert f'<form method="post" action="/p/{cc.slug}/lookup/rate">' in html
    for value in ("satisfied", "basically", "unsatisfied"):
        assert f'name="satisfaction" value="{value}"' in html


async def test_rating_closes_the_case_once(en, cc, database):
    case = await history(database, cc, "fed_back", reply_text=ANSWER)
    token = await rating_code(database, cc, case)
    r = await rate(en, cc, group_code(case.receipt_code), "basically", group_code(token).lower())
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert "Thank you: your rating has been recorded." in r.text
    assert "Basically satisfied" in r.text and "Satisfaction rated" in r.text and ANSWER in r.text
    assert 'action="/p/alpha/lookup/rate"' not in r.text
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        row = await db.scalar(select(Case).where(Case.id == case.id))
        rated = await db.scalar(select(CaseEvent).where(CaseEvent.action == "rated_by_public"))
        audits = await db.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "case_rated_by_public"))
    assert (row.state, row.satisfaction) == ("closed", "basically")
    assert row.rated_at is not None and row.closed_at is not None
    assert (rated.public, rated.from_state, rated.to_state, rated.actor_user_id) == (True, "fed_back", "closed", None)
    assert audits == 1
    again = await rate(en, cc, case.receipt_code, "unsatisfied", token)
    assert again.status_code == 400 and "has already been rated" in again.text
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        assert await db.scalar(select(Case.satisfaction).where(Case.id == case.id)) == "basically"
        assert await db.scalar(select(func.count()).select_from(CaseEvent)
                               .where(CaseEvent.action == "rated_by_public")) == 1


async def test_rating_before_feedback_or_without_a_choice_is_refused(en, cc, database):
    replied = await history(database, cc, "replied", reply_text=ANSWER)
    r = await rate(en, cc, replied.receipt_code, "satisfied", await rating_code(database, cc, replied))
    assert r.status_code == 400 and "The answer can be rated once it has been fed back to you." in r.text
    fed = await history(database, cc, "fed_back", reply_text=ANSWER)
    r = await rate(en, cc, fed.receipt_code, "delighted", await rating_code(database, cc, fed))
    assert r.status_code == 400 and "Please choose how satisfied you are with the answer." in r.text
    r = await rate(en, cc, "ZZZZZZZZZZ", "satisfied")
    assert r.status_code == 400 and "No opinion matches this receipt code" in r.text
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        assert await db.scalar(select(func.count()).select_from(Case).where(Case.satisfaction.is_not(None))) == 0
        assert await db.scalar(select(func.count()).select_from(CaseEvent)
                               .where(CaseEvent.action == "rated_by_public")) == 0


async def test_rate_by_public_service(database, cc):
    case = await history(database, cc, "fed_back", reply_text=ANSWER)
    async with database.session(tenant_id=cc.tenant.id) as db:
        found = await public.find_case(db, case.receipt_code)
        await steps.rate_by_public(db, found, "basically")
        await db.commit()
        with pytest.raises(Refusal) as refused:
            await steps.rate_by_public(db, found, "satisfied")
        assert refused.value.message == workflow.ALREADY_RATED
    async with database.session(tenant_id=cc.tenant.id) as db:
        stale = await public.find_case(db, case.receipt_code)
        db.expunge(stale)  # changed in memory only, not flushed
        stale.state, stale.satisfaction, stale.rated_at = "fed_back", None, None  # as read before a racing rating
        with pytest.raises(Refusal):
            await steps.rate_by_public(db, stale, "satisfied")


async def test_rating_with_only_the_receipt_code_is_refused(en, cc, database):
    """Staff (a handling unit among them) may know the receipt code: it shows the progress, but rating
    needs the rating code the person received; a wrong one counts as a miss."""
    case = await history(database, cc, "fed_back", reply_text=ANSWER)
    theirs = await history(database, cc, "fed_back", reply_text=ANSWER)
    other_code = await rating_code(database, cc, theirs)
    html = (await look(en, cc, case.receipt_code)).text
    assert 'name="rating_code"' in html and "Without it the answer cannot be rated here." in html
    r = await rate(en, cc, case.receipt_code, "satisfied")
    assert r.status_code == 400 and "To rate the answer, please type the rating code" in r.text
    r = await rate(en, cc, case.receipt_code, "satisfied", other_code)  # another case's code
    assert r.status_code == 400 and "This rating code does not belong to this opinion." in r.text
    r = await rate(en, cc, case.receipt_code, "satisfied", "ZZZZ-ZZZZ-ZZ")
    assert r.status_code == 400 and "This rating code does not belong to this opinion." in r.text
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        assert await db.scalar(select(func.count()).select_from(Case).where(Case.satisfaction.is_not(None))) == 0
        assert await db.scalar(select(func.count()).select_from(CaseEvent)
                               .where(CaseEvent.action == "rated_by_public")) == 0
        assert await db.scalar(select(func.count()).select_from(LookupMiss)) == 2  # the two wrong codes
    en.cookies.delete("lang")  # the default language: a clear Chinese refusal
    r = await rate(en, cc, case.receipt_code, "satisfied")
    assert r.status_code == 400 and "评价答复需要填写评价码" in r.text


async def test_the_receipt_gives_the_rating_code_that_rates_the_answer(en, cc, database, owner_sql):
    r = await en.post(f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion", data={"content": "路灯不亮"})
    assert "Your rating code:" in r.text and "Keep this rating code to rate the answer" in r.text
    token = re.search(r'<h2 id="rating-code">([^<]+)</h2>', r.text).group(1)
    code = re.search(r'name="code" value="([^"]+)"', r.text).group(1)
    assert token.replace("-", "") != code and len(token.replace("-", "")) == 10
    stored = await owner_sql("SELECT digest, sent_by FROM case_rating_codes")
    assert [r["sent_by"] for r in stored] == ["receipt"] and token.replace("-", "").encode() not in stored[0]["digest"]
    await owner_sql("UPDATE cases SET state = 'fed_back', reply_text = $1, fed_back_at = now()", ANSWER)
    assert 'name="rating_code"' in (await look(en, cc, code)).text
    r = await rate(en, cc, code, "satisfied", token)
    assert r.status_code == 200 and "Thank you: your rating has been recorded." in r.text


async def test_the_sms_with_the_answer_carries_a_rating_code_staff_never_see(en, app, cc, database):
    """A case registered by staff: the person gets the rating code with the answer (and the reminder a
    day later); it rates the answer; the case page does not show it."""
    case = await history(database, cc, "fed_back", reply_text=ANSWER)
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        assert await notices.fed_back(db, await db.get(Case, (cc.tenant.id, case.id))) == 2
        sent = list(await db.scalars(select(Outbox).where(Outbox.kind.in_(("case_answer", "case_satisfaction")))))
    token = sent[0].params["rating"]
    assert {m.params["rating"] for m in sent} == {token} and all(token in m.body for m in sent)
    assert token.replace("-", "") != case.receipt_code
    async with signed_in(app, cc.county, "admin") as admin:
        html = (await admin.get(f"{admin.base}/cases/{case.id}")).text
    assert case.receipt_code in html and token not in html and token.replace("-", "") not in html
    r = await rate(en, cc, case.receipt_code, "unsatisfied", token, reason="路还是没修")
    assert r.status_code == 200 and "Your reason has been passed on" in r.text


async def test_satisfaction_entered_by_staff_is_shown_as_such(en, app, cc, database):
    by_staff = await history(database, cc, "fed_back", reply_text=ANSWER)
    await steps_as(database, cc, "admin", by_staff.id, steps.rate, satisfaction="satisfied", note="电话回访")
    by_person = await history(database, cc, "fed_back", reply_text=ANSWER)
    async with database.transaction(tenant_id=cc.tenant.id) as db:  # as the public rating does
        await steps.rate_by_public(db, await public.find_case(db, by_person.receipt_code), "basically")
    async with signed_in(app, cc.county, "admin") as admin:
        staff_page = (await admin.get(f"{admin.base}/cases/{by_staff.id}")).text
        person_page = (await admin.get(f"{admin.base}/cases/{by_person.id}")).text
    assert "Satisfied" in staff_page and 'id="rated-by-staff">entered by staff' in staff_page
    assert "Basically satisfied" in person_page and "entered by staff" not in person_page
    html = (await look(en, cc, by_staff.receipt_code)).text
    assert "Satisfaction recorded by staff" in html and "Your rating" not in html
    html = (await look(en, cc, by_person.receipt_code)).text
    assert "Your rating" in html and "recorded by staff" not in html


async def steps_as(database, cc, username, case_id, service, **kwargs):
    from tests.cases.wf_helpers import step

    return await step(database, cc, username, case_id, service, **kwargs)


# --- the whole walk, and the bytes -----------------------------------------------------------------

async def test_submit_then_look_up_the_receipt(en, cc):
    r = await en.post(f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion", data={"content": "垃圾没人清运"})
    code = re.search(r'name="code" value="([^"]+)"', r.text).group(1)
    html = (await look(en, cc, code)).text
    assert "Registered" in html and EAST in html and "垃圾没人清运" not in html


async def test_pages_within_the_byte_budget(client, cc, database):
    case = await history(database, cc, "fed_back", reply_text="答复" * 1900)
    for path in (f"/p/{cc.slug}/lookup", f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion"):
        async with client.stream("GET", path, headers={"Accept-Encoding": "br"}) as r:
            raw = b"".join([chunk async for chunk in r.aiter_raw()])
        assert r.headers["content-encoding"] == "br" and len(raw) <= BUDGET, path
        assert "<script" not in brotli.decompress(raw).decode()
    async with client.stream("POST", f"/p/{cc.slug}/lookup", data={"code": case.receipt_code},
                             headers={"Accept-Encoding": "br"}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.status_code == 200 and len(raw) <= BUDGET
    assert int(r.headers["x-query-count"]) <= 6
