"""Turning cases into suggestions (and the suggestion's own handling), merging duplicates, and the
activities' opinions becoming cases."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.activities import attendance, records
from app.activities.access import get_activity
from app.activities.models import Activity, Invitation
from app.cases import steps, suggestions, workflow
from app.core.errors import NotFound, Refusal
from app.deputies.models import Deputy
from tests.cases.wf_helpers import load, scope_for, step
from tests.cases.world import EAST, build_case_county, put_case
from tests.deputies.deputy_world import count

MONDAY = date(2030, 3, 4)


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def test_deputy_turns_a_case_into_a_suggestion_then_it_is_handled(database, cc, owner_sql):
    mine = cc.deputies["张伟"]
    case = await put_case(database, cc, content="村村通公路养护不到位", deputy_id=mine)
    with pytest.raises(Refusal) as info:
        await step(database, cc, "rep", case.id, steps.answer_on_spot, answer="x")
    assert info.value.message == workflow.ONLY_DEPUTY_SUGGESTS
    with pytest.raises(Refusal):
        await step(database, cc, "rep", case.id, suggestions.to_suggestion, kind="petition", title="t")
    s = await step(database, cc, "rep", case.id, suggestions.to_suggestion, kind="suggestion",
                   title="关于加强农村公路养护的建议", today=MONDAY)
    c = await load(database, cc, case.id)
    assert (c.state, c.suggestion_id) == ("suggestion", s.id)
    row = (await owner_sql("SELECT deputy_id, content, state, filed_on FROM suggestions WHERE id = $1", s.id))[0]
    assert (row["deputy_id"], row["content"], row["state"], row["filed_on"]) == (mine, "村村通公路养护不到位", "filed",
                                                                                   MONDAY)
    admin, transport, ecology = [await scope_for(database, cc, u) for u in ("admin", "transport", "ecology")]
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        ref = await suggestions.get_suggestion(db, admin, s.id)
        with pytest.raises(Refusal):
            await suggestions.answer_suggestion(db, transport, ref, answer="x", actor_id=1)
        await suggestions.assign_suggestion(db, admin, ref,
                                            unit_id=cc.units["transport"], actor_id=cc.users["admin"].id)
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        with pytest.raises(NotFound):
            await suggestions.get_suggestion(db, ecology, s.id)
        unit_scope = await scope_for(database, cc, "transport")
        ref = await suggestions.get_suggestion(db, unit_scope, s.id)
        with pytest.raises(Refusal):
            await suggestions.answer_suggestion(db, unit_scope, ref, answer=" ", actor_id=1)
        await suggestions.answer_suggestion(db, unit_scope, ref, answer="已列入年度养护计划",
                                            actor_id=cc.users["transport"].id)
    row = (await owner_sql("SELECT state, answer FROM suggestions WHERE id = $1", s.id))[0]
    assert (row["state"], row["answer"]) == ("answered", "已列入年度养护计划")
    actions = [r["action"] for r in await owner_sql("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-3:] == ["case_to_suggestion", "suggestion_assigned", "suggestion_answered"]


async def test_merge_keeps_both_histories(database, cc, owner_sql):
    kept = await put_case(database, cc, content="路灯坏了")
    duplicate = await put_case(database, cc, content="东街路灯不亮")
    with pytest.raises(Refusal):
        await step(database, cc, "station", duplicate.id, steps.merge, into=str(duplicate.id))
    heba_case = await put_case(database, cc, station="河坝村人大代表联络站")
    with pytest.raises(Refusal) as info:
        await step(database, cc, "station", duplicate.id, steps.merge, into=str(heba_case.id))
    assert info.value.message == steps.MERGE_TARGET_BAD
    await step(database, cc, "station", duplicate.id, steps.merge, into=kept.receipt_code, note="同一问题")
    d = await load(database, cc, duplicate.id)
    assert (d.state, d.merged_into_id) == ("merged", kept.id)
    assert await count(owner_sql, "case_events", "case_id = $1", duplicate.id) == 2
    assert await count(owner_sql, "case_events", "case_id = $1 AND action = 'merged_here'", kept.id) == 1


async def test_activity_opinion_and_deputy_register_become_cases(database, cc, owner_sql):
    t = cc.tenant.id
    now = datetime.now(timezone.utc)
    async with database.transaction(tenant_id=t) as db:
        activity = Activity(tenant_id=t, kind_id=cc.ac.kinds["reception"], station_id=cc.stations[EAST],
                            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1), status="planned")
        db.add(activity)
        await db.flush()
        db.add(Invitation(tenant_id=t, activity_id=activity.id, deputy_id=cc.deputies["李娜"], token="t" * 40))
    scope = await scope_for(database, cc, "station")
    async with database.transaction(tenant_id=t, user_id=cc.users["station"].id) as db:
        ref = await get_activity(db, scope, activity.id, for_update=True)
        opinion = await records.register_opinion(db, scope, ref, content="希望增设公交站", raised_by="王大爷",
                                                 deputy_id=cc.deputies["李娜"], actor_id=cc.users["station"].id,
                                                 tz_name="Asia/Shanghai")
    case = (await owner_sql("SELECT * FROM cases WHERE opinion_id = $1", opinion.id))[0]
    assert (case["source"], case["activity_id"], case["station_id"], case["deputy_id"], case["person_name"],
            case["content"], case["state"]) == ("reception", activity.id, cc.stations[EAST], cc.deputies["李娜"],
                                                "王大爷", "希望增设公交站", "registered")
    rep_scope = await scope_for(database, cc, "rep")
    async with database.transaction(tenant_id=t, user_id=cc.users["rep"].id) as db:
        deputy = await db.get(Deputy, (t, cc.deputies["张伟"]))
        own = await attendance.add_opinion(db, rep_scope, tenant_id=t, actor_id=cc.users["rep"].id, deputy=deputy,
                                           values={"content": "村里缺少健身器材", "received_on": "2030-03-01"},
                                           today=MONDAY)
    case = (await owner_sql("SELECT * FROM cases WHERE opinion_id = $1", own.id))[0]
    assert (case["source"], case["deputy_id"], case["station_id"]) == ("other", cc.deputies["张伟"], cc.stations[EAST])
    assert await count(owner_sql, "case_events", "action = 'registered'") == 2
