"""Each refusal of the workflow writes nothing: wrong state, wrong role, out of scope (404), a unit of
another township, a due date in the past, a second rating; overdue cases and supervision."""

from __future__ import annotations

from datetime import date

import pytest

from app.cases import steps, workflow
from app.cases.access import get_case
from app.core.errors import NotFound, Refusal
from tests.cases.wf_helpers import load, scope_for, step
from tests.cases.world import build_case_county, put_case
from tests.deputies.deputy_world import count

MONDAY = date(2030, 3, 4)
HEBA = "河坝村人大代表联络站"


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def refused(database, cc, who, case_id, service, **kw) -> Refusal:
    with pytest.raises(Refusal) as info:
        await step(database, cc, who, case_id, service, **kw)
    return info.value


async def test_refusals(database, cc, owner_sql):
    case = await put_case(database, cc, deputy_id=cc.deputies["张伟"])
    assigned = await put_case(database, cc, state="assigned", unit="transport", level="county")
    r = await refused(database, cc, "admin", case.id, steps.reply, result="x")
    assert r.message == workflow.ONLY_UNIT
    r = await refused(database, cc, "transport", assigned.id, steps.reply, result="x")
    assert r.variables["state"]  # the state's name, in the member's language
    assert r.message == workflow.WRONG_STATE
    r = await refused(database, cc, "station", case.id, steps.assign, unit_id=cc.units["town-agri"], today=MONDAY)
    assert r.message == workflow.ONLY_ASSIGNERS
    r = await refused(database, cc, "rep", case.id, steps.answer_on_spot, answer="x")
    assert r.message == workflow.ONLY_DEPUTY_SUGGESTS
    r = await refused(database, cc, "viewer", case.id, steps.answer_on_spot, answer="x")
    assert r.message == workflow.ONLY_STAFF
    r = await refused(database, cc, "town", case.id, steps.assign, unit_id=cc.units["transport"], today=MONDAY)
    assert r.message == steps.UNIT_OUT_OF_REACH
    r = await refused(database, cc, "town", case.id, steps.assign, unit_id=cc.units["town-agri"],
                      reply_due="2030-03-01", today=MONDAY)
    assert r.message == steps.DUE_PAST
    r = await refused(database, cc, "town", case.id, steps.forward_outside, outside_body="a", outside_ref="b")
    assert r.message == workflow.ONLY_COUNTY
    r = await refused(database, cc, "admin", case.id, steps.feed_back, channel="pigeon")
    assert r.message == workflow.WRONG_STATE
    assert await count(owner_sql, "case_events", "action <> 'registered'") == 0
    assert await count(owner_sql, "audit_log", "action LIKE 'case_%'") == 0
    assert (await load(database, cc, case.id)).state == "registered"


async def test_out_of_scope_is_404(database, cc):
    heba_case = await put_case(database, cc, station=HEBA)
    town_case = await put_case(database, cc, state="assigned", unit="town-agri")
    with pytest.raises(NotFound):
        await step(database, cc, "town", heba_case.id, steps.answer_on_spot, answer="x")
    with pytest.raises(NotFound):
        await step(database, cc, "transport", town_case.id, steps.accept)
    with pytest.raises(NotFound):
        await step(database, cc, "station", heba_case.id, steps.answer_on_spot, answer="x")


async def test_township_staff_cannot_assign_to_another_townships_unit(database, cc):
    heba_case = await put_case(database, cc, station=HEBA)
    r = await refused(database, cc, "heba", heba_case.id, steps.assign, unit_id=cc.units["town-agri"], today=MONDAY)
    assert r.message == steps.UNIT_OUT_OF_REACH
    await step(database, cc, "admin", heba_case.id, steps.assign, unit_id=cc.units["town-agri"], today=MONDAY)


async def test_second_rating_refused(database, cc, owner_sql):
    case = await put_case(database, cc, state="fed_back", unit="transport")
    await step(database, cc, "town", case.id, steps.rate, satisfaction="satisfied")
    r = await refused(database, cc, "town", case.id, steps.rate, satisfaction="unsatisfied")
    assert r.message == workflow.WRONG_STATE
    r = await refused(database, cc, "admin", case.id, steps.send_back, unit_id=cc.units["transport"], today=MONDAY)
    assert r.message == workflow.NOT_UNSATISFIED
    assert (await load(database, cc, case.id)).satisfaction == "satisfied"


async def test_public_rating_once_and_only_when_fed_back(database, cc, owner_sql):
    early = await put_case(database, cc, state="replied", unit="transport")
    case = await put_case(database, cc, state="fed_back", unit="transport")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        c = await db.get(type(early), (cc.tenant.id, early.id))
        with pytest.raises(Refusal):
            await steps.rate_by_public(db, c, "satisfied")
        c = await db.get(type(case), (cc.tenant.id, case.id))
        await steps.rate_by_public(db, c, "basically")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        c = await db.get(type(case), (cc.tenant.id, case.id))
        with pytest.raises(Refusal) as info:
            await steps.rate_by_public(db, c, "satisfied")
        assert info.value.message == workflow.ALREADY_RATED
    c = await load(database, cc, case.id)
    assert (c.state, c.satisfaction) == ("closed", "basically")
    assert await count(owner_sql, "case_events", "action = 'rated_by_public' AND public AND actor_user_id IS NULL") == 1


async def test_overdue_and_supervise(database, cc, owner_sql):
    late = await put_case(database, cc, state="accepted", unit="transport", level="county",
                          reply_due=date(2030, 3, 1), feedback_due=date(2030, 3, 8))
    on_time = await put_case(database, cc, state="assigned", unit="transport", reply_due=date(2030, 3, 10))
    feedback_late = await put_case(database, cc, state="replied", unit="transport", reply_due=date(2030, 2, 1),
                                   feedback_due=date(2030, 3, 1))
    assert workflow.is_overdue(await load(database, cc, late.id), MONDAY)
    assert not workflow.is_overdue(await load(database, cc, on_time.id), MONDAY)
    assert workflow.is_overdue(await load(database, cc, feedback_late.id), MONDAY)
    r = await refused(database, cc, "admin", on_time.id, steps.supervise, note="x", today=MONDAY)
    assert r.message == workflow.NOT_OVERDUE
    r = await refused(database, cc, "station", late.id, steps.supervise, note="x", today=MONDAY)
    assert r.message == workflow.ONLY_SUPERVISORS
    r = await refused(database, cc, "admin", late.id, steps.supervise, note=" ", today=MONDAY)
    assert r.message == steps.SUPERVISION_REQUIRED
    await step(database, cc, "admin", late.id, steps.supervise, note="请于本周内答复", today=MONDAY)
    c = await load(database, cc, late.id)
    assert c.state == "accepted" and c.supervised_at is not None
    assert await count(owner_sql, "case_events", "action = 'supervise' AND note = '请于本周内答复'") == 1
    scope = await scope_for(database, cc, "admin")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        ref = await get_case(db, scope, late.id)
        assert "supervise" in workflow.available_steps(scope, ref, today=MONDAY, rehandle_limit=1)
        assert workflow.available_steps(scope, ref, today=date(2030, 2, 1), rehandle_limit=1) == []
