"""What the person who raised a case is told by SMS, written with the step that causes it: the receipt
code at registration (staff form and public form), the answer at feedback, the satisfaction request a
day later at 09:00, withdrawn when the case is rated first."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.cases import services, steps
from app.cases.models import Case
from app.notify.models import Outbox
from app.tenancy.models import TenantConfig
from tests.activities.world import TZ
from tests.cases.wf_helpers import load, scope_for, step
from tests.cases.world import EAST, build_case_county, put_case
from tests.notify.short_link_helpers import code_in, link_of

# Wednesday 18 November 2026, 16:20 in the county
NOW = datetime(2026, 11, 18, 16, 20, tzinfo=TZ)
MOBILE = "13912345678"


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def rows(database, cc, **where) -> list[Outbox]:
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        query = select(Outbox).order_by(Outbox.id)
        for key, value in where.items():
            query = query.where(getattr(Outbox, key) == value)
        return list((await db.scalars(query)).all())


async def register(database, cc, mobile: str | None = MOBILE, username: str | None = "station") -> Case:
    scope = await scope_for(database, cc, username) if username else None
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        return await services.register_case(
            db, scope, tenant_id=cc.tenant.id, actor_id=cc.users[username].id if username else None,
            new=services.NewCase(content="村口路灯坏了", source="reception", person_name="王小明",
                                 person_mobile=mobile, station_id=cc.stations[EAST]))


async def test_registering_with_a_mobile_writes_the_receipt_sms(database, cc):
    case = await register(database, cc)
    [receipt] = await rows(database, cc)
    assert (receipt.kind, receipt.channel, receipt.status, receipt.address, receipt.subject) == (
        "case_receipt", "sms", "pending", MOBILE, f"case:{case.id}")
    assert receipt.params["code"] == case.receipt_code and case.receipt_code in receipt.body
    assert await link_of(database, receipt.body) == f"/p/{cc.slug}/lookup"
    assert receipt.params["link"] == code_in(receipt.body)
    assert receipt.user_id is None and receipt.deputy_id is None


async def test_no_mobile_or_county_switched_it_off_writes_nothing(database, cc):
    await register(database, cc, mobile=None)
    assert await rows(database, cc) == []
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        db.add(TenantConfig(tenant_id=cc.tenant.id, notify_case_person=False))
    await register(database, cc)
    assert await rows(database, cc) == []


async def test_the_public_form_gets_a_receipt_sms_too(client, database, cc):
    r = await client.post(f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion",
                          data={"content": "东街路灯坏了", "person_mobile": "139 1234 5678", "website": ""})
    assert r.status_code == 200
    [receipt] = await rows(database, cc)
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        code = await db.scalar(select(Case.receipt_code))
    assert receipt.kind == "case_receipt" and receipt.address == MOBILE and code in receipt.body
    assert code in r.text and 'id="receipt-sms"' in r.text
    # without a number the receipt page promises no SMS
    r = await client.post(f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion",
                          data={"content": "西街也有一盏路灯坏了", "website": ""})
    assert r.status_code == 200 and 'id="receipt-sms"' not in r.text


async def handled(database, cc, case_id: int) -> None:
    await step(database, cc, "admin", case_id, steps.assign, unit_id=cc.units["transport"], today=NOW.date())
    await step(database, cc, "transport", case_id, steps.accept)
    await step(database, cc, "transport", case_id, steps.reply, result="已安排维修，本周内修好。")


async def test_feedback_sends_the_answer_now_and_asks_for_satisfaction_the_next_morning(database, cc):
    case = await put_case(database, cc, level="county", person_mobile=MOBILE, person_name="王小明")
    await handled(database, cc, case.id)
    await step(database, cc, "station", case.id, steps.feed_back, channel="phone", now=NOW)
    got = await rows(database, cc, subject=f"case:{case.id}")
    assert [(r.kind, r.channel, r.status, r.due_at.astimezone(TZ)) for r in got] == [
        ("case_answer", "sms", "pending", NOW),
        ("case_satisfaction", "sms", "pending", datetime(2026, 11, 19, 9, 0, tzinfo=TZ))]
    # The answer is not quoted (a template variable holds 35 characters): the SMS says it has one and
    # leads to the lookup page, where the person reads it.
    assert "已答复" in got[0].body and "已安排维修" not in got[0].body and case.receipt_code in got[0].body
    assert await link_of(database, got[0].body) == f"/p/{cc.slug}/lookup"
    assert all(r.address == MOBILE for r in got)
    # The person rates the answer on the lookup page before the request went: it is withdrawn.
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        found = await db.get(Case, (cc.tenant.id, case.id))
        await steps.rate_by_public(db, found, "satisfied", now=NOW + timedelta(hours=1))
    assert [(r.kind, r.status) for r in await rows(database, cc, subject=f"case:{case.id}")] == [
        ("case_answer", "pending"), ("case_satisfaction", "withdrawn")]


async def test_staff_recording_the_rating_withdraws_the_request_and_a_second_round_asks_again(database, cc):
    case = await put_case(database, cc, level="county", person_mobile=MOBILE)
    await handled(database, cc, case.id)
    await step(database, cc, "station", case.id, steps.feed_back, channel="sms", now=NOW)
    # Not satisfied (the person's reason, recorded by staff): the case goes back to the unit at once.
    await step(database, cc, "town", case.id, steps.rate, satisfaction="unsatisfied", note="没有修好",
               now=NOW + timedelta(hours=2))
    assert {(r.kind, r.status) for r in await rows(database, cc)} == {
        ("case_answer", "pending"), ("case_satisfaction", "withdrawn")}
    # Handled again, fed back a week later: a new answer and a new request.
    await handled_again(database, cc, case.id)
    later = NOW + timedelta(days=7)
    await step(database, cc, "station", case.id, steps.feed_back, channel="visit", now=later)
    got = await rows(database, cc)
    assert len(got) == 4
    assert [(r.kind, r.status) for r in got[2:]] == [("case_answer", "pending"), ("case_satisfaction", "pending")]
    assert got[3].due_at == datetime(2026, 11, 26, 9, 0, tzinfo=TZ)


async def handled_again(database, cc, case_id: int) -> None:
    await step(database, cc, "transport", case_id, steps.accept)
    await step(database, cc, "transport", case_id, steps.reply, result="已重新处理。")


async def test_a_case_without_a_mobile_gets_no_answer_sms(database, cc):
    case = await put_case(database, cc, level="county")
    await handled(database, cc, case.id)
    await step(database, cc, "station", case.id, steps.feed_back, channel="phone", now=NOW)
    assert await rows(database, cc) == []
    assert (await load(database, cc, case.id)).state == "fed_back"
