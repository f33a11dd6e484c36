"""The workflow's services, step by step: the whole road from assignment to a re-handled answer, the
answer on the spot, clarification, escalation and forwarding, each with its history and audit."""

from __future__ import annotations

from datetime import date

import pytest

from app.cases import rating, steps
from app.cases.models import DueRule
from app.core.errors import Refusal
from tests.cases.wf_helpers import load, step
from tests.cases.world import build_case_county, put_case
from tests.deputies.deputy_world import count

MONDAY = date(2030, 3, 4)


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def test_assign_accept_reply_feed_back_rate_send_back(database, cc, owner_sql):
    case = await put_case(database, cc, level="county")
    await step(database, cc, "admin", case.id, steps.assign, unit_id=cc.units["transport"], note="请尽快办理",
               today=MONDAY)
    c = await load(database, cc, case.id)
    assert c.state == "assigned" and c.handling_unit_id == cc.units["transport"]
    # tenant defaults: 15 working days to reply, 5 more to feed back
    assert c.reply_due == date(2030, 3, 25) and c.feedback_due == date(2030, 4, 1)
    await step(database, cc, "transport", case.id, steps.accept)
    await step(database, cc, "transport", case.id, steps.reply, result="已安排修补")
    await step(database, cc, "station", case.id, steps.feed_back, channel="phone", note="电话告知")
    c = await load(database, cc, case.id)
    assert (c.state, c.reply_text, c.feedback_channel) == ("fed_back", "已安排修补", "phone")
    assert c.replied_at and c.fed_back_at
    # staff record "not satisfied" for the person: the reason is required, and the case goes back to the
    # unit that answered (the county allows one re-handling)
    with pytest.raises(Refusal) as refused:
        await step(database, cc, "town", case.id, steps.rate, satisfaction="unsatisfied")
    assert refused.value.message == rating.STAFF_REASON_REQUIRED
    await step(database, cc, "town", case.id, steps.rate, satisfaction="unsatisfied", note="路面还是坑洼")
    c = await load(database, cc, case.id)
    assert (c.state, c.rehandled, c.handling_unit_id, c.satisfaction) == ("assigned", 1, cc.units["transport"], None)
    assert (c.reply_text, c.fed_back_at, c.closed_at) == ("", None, None) and c.reply_due > date.today()
    events = await owner_sql("SELECT action, from_state, to_state, note, public, actor_user_id, data FROM case_events "
                             "WHERE case_id = $1 ORDER BY id", case.id)
    assert [e["action"] for e in events] == ["registered", "assign", "accept", "reply", "feed_back",
                                             "sent_back_by_person"]
    back = events[-1]
    assert (back["from_state"], back["to_state"], back["note"], back["public"]) == (
        "fed_back", "assigned", "路面还是坑洼", True)
    assert back["actor_user_id"] == cc.users["town"].id and '"by_staff": true' in back["data"]
    assert events[1]["note"] == "请尽快办理" and events[1]["actor_user_id"] == cc.users["admin"].id
    audit = await owner_sql("SELECT action FROM audit_log WHERE target = $1 ORDER BY id", f"case:{case.id}")
    assert [a["action"] for a in audit] == ["case_assigned", "case_accepted", "case_replied", "case_fed_back",
                                            "case_rated"]
    # the second round: not satisfied again, but the county's one re-handling is used: recorded and closed
    for who, service, kw in (("transport", steps.accept, {}), ("transport", steps.reply, {"result": "再次处理"}),
                             ("town", steps.feed_back, {"channel": "visit"}),
                             ("town", steps.rate, {"satisfaction": "unsatisfied", "note": "仍未修好"})):
        await step(database, cc, who, case.id, service, **kw)
    c = await load(database, cc, case.id)
    assert (c.state, c.satisfaction, c.rehandled) == ("closed", "unsatisfied", 1) and c.closed_at
    with pytest.raises(Refusal) as refused:
        await step(database, cc, "admin", case.id, steps.send_back, unit_id=cc.units["ecology"], today=MONDAY)
    assert "the most the county allows" in refused.value.message
    assert (await load(database, cc, case.id)).state == "closed"


async def test_staff_send_back_of_a_closed_unsatisfied_case_to_another_unit(database, cc, owner_sql):
    """A case closed as not satisfied without a re-handling (its unit retired meanwhile) may still be
    sent back by staff, to another unit, within the county's limit."""
    case = await put_case(database, cc, state="fed_back", unit="transport", level="county")
    await owner_sql("UPDATE handling_units SET retired_at = now() WHERE id = $1", cc.units["transport"])
    await step(database, cc, "town", case.id, steps.rate, satisfaction="unsatisfied", note="没人处理")
    assert ((c := await load(database, cc, case.id)).state, c.satisfaction) == ("closed", "unsatisfied")
    await step(database, cc, "admin", case.id, steps.send_back, unit_id=cc.units["ecology"], today=MONDAY)
    c = await load(database, cc, case.id)
    assert (c.state, c.rehandled, c.handling_unit_id, c.satisfaction) == ("assigned", 1, cc.units["ecology"], None)


async def test_due_rule_and_given_reply_date(database, cc):
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        db.add(DueRule(tenant_id=cc.tenant.id, level="township", urgency="urgent", reply_days=3, feedback_days=2,
                       working_days=False))
    urgent = await put_case(database, cc, urgency="urgent")
    await step(database, cc, "town", urgent.id, steps.assign, unit_id=cc.units["town-agri"], today=MONDAY)
    c = await load(database, cc, urgent.id)
    assert (c.reply_due, c.feedback_due) == (date(2030, 3, 7), date(2030, 3, 9))
    given = await put_case(database, cc)
    await step(database, cc, "town", given.id, steps.assign, unit_id=cc.units["town-agri"], reply_due="2030-03-20",
               today=MONDAY)
    assert (await load(database, cc, given.id)).reply_due == date(2030, 3, 20)


async def test_answer_on_spot_closes(database, cc, owner_sql):
    case = await put_case(database, cc)
    await step(database, cc, "station", case.id, steps.answer_on_spot, answer="当场解释了政策")
    c = await load(database, cc, case.id)
    assert (c.state, c.reply_text, c.feedback_channel) == ("closed", "当场解释了政策", "visit")
    assert c.fed_back_at and c.closed_at
    assert await count(owner_sql, "audit_log", "action = 'case_answered_on_spot'") == 1


async def test_clarification_round_trip(database, cc, owner_sql):
    case = await put_case(database, cc, state="assigned", unit="town-agri")
    await step(database, cc, "townoffice", case.id, steps.ask_clarification, question="具体是哪一段路?")
    assert (await load(database, cc, case.id)).state == "clarifying"
    with pytest.raises(Refusal):
        await step(database, cc, "station", case.id, steps.clarify, answer="")
    await step(database, cc, "station", case.id, steps.clarify, answer="东街口到学校一段")
    assert (await load(database, cc, case.id)).state == "accepted"
    notes = await owner_sql("SELECT note, public FROM case_events WHERE case_id = $1 AND action IN "
                            "('ask_clarification', 'clarify') ORDER BY id", case.id)
    assert [(n["note"], n["public"]) for n in notes] == [("具体是哪一段路?", False), ("东街口到学校一段", True)]


async def test_escalate_then_forward_outside(database, cc):
    case = await put_case(database, cc)
    await step(database, cc, "town", case.id, steps.escalate, note="涉及县道")
    c = await load(database, cc, case.id)
    assert (c.state, c.level) == ("registered", "county")
    with pytest.raises(Refusal) as refused:
        await step(database, cc, "town", case.id, steps.assign, unit_id=cc.units["town-agri"], today=MONDAY)
    assert "township matters" in refused.value.message
    with pytest.raises(Refusal) as refused:
        await step(database, cc, "admin", case.id, steps.forward_outside, outside_body="市交通局", outside_ref="")
    assert refused.value.message == steps.OUTSIDE_REQUIRED
    await step(database, cc, "admin", case.id, steps.forward_outside, outside_body="市交通局", outside_ref="市交字12号")
    c = await load(database, cc, case.id)
    assert (c.state, c.level, c.outside_body, c.outside_ref) == ("forwarded", "outside", "市交通局", "市交字12号")
