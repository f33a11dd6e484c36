"""Classifying a registered case (an online submission comes without a category): staff set the
category and the urgency, which then decide the due dates; nothing else changes, and bad input or the
wrong role writes nothing."""

from __future__ import annotations

import pytest

from app.cases import steps
from app.cases.access import get_case
from app.cases.models import Case, CaseEvent
from app.core.errors import Refusal
from app.tenancy.scope import scope_of
from app.accounts.models import Membership
from sqlalchemy import select
from tests.cases.world import build_case_county, put_case
from tests.deputies.deputy_world import signed_in, post


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def _scope(db, cc, username):
    membership = await db.scalar(select(Membership).where(Membership.tenant_id == cc.tenant.id,
                                                          Membership.user_id == cc.users[username].id))
    return await scope_of(db, membership)


async def test_staff_classify_an_online_case(app, database, cc, owner_sql):
    case = await put_case(database, cc, category=None, source="online")
    async with signed_in(app, cc.county, "station") as client:
        page = await client.get(f"{client.base}/cases/{case.id}")
        assert "Category and urgency" in page.text
        r = await post(client, f"{client.base}/cases/{case.id}/steps/classify",
                       {"category_id": str(cc.categories["water"]), "urgency": "urgent"},
                       page=f"{client.base}/cases/{case.id}")
        assert r.status_code == 303
    row = (await owner_sql("SELECT category_id, urgency, state FROM cases WHERE id = $1", case.id))[0]
    assert (row["category_id"], row["urgency"], row["state"]) == (cc.categories["water"], "urgent", "registered")
    events = await owner_sql("SELECT action FROM case_events WHERE case_id = $1 ORDER BY id", case.id)
    assert [e["action"] for e in events] == ["registered", "classify"]


async def test_bad_category_or_role_writes_nothing(database, cc):
    case = await put_case(database, cc, category=None, source="online")
    async with database.session(tenant_id=cc.tenant.id) as db:
        scope = await _scope(db, cc, "station")
        ref = await get_case(db, scope, case.id, for_update=True)
        with pytest.raises(Refusal):
            await steps.classify(db, scope, ref, category_id=None, urgency="normal", actor_id=cc.users["station"].id)
        with pytest.raises(Refusal):
            await steps.classify(db, scope, ref, category_id=cc.categories["roads"], urgency="very",
                                 actor_id=cc.users["station"].id)
        await db.rollback()
        viewer = await _scope(db, cc, "viewer")
        ref = await get_case(db, viewer, case.id)
        with pytest.raises(Refusal):
            await steps.classify(db, viewer, ref, category_id=cc.categories["roads"], urgency="normal",
                                 actor_id=cc.users["viewer"].id)
        await db.rollback()
    async with database.session(tenant_id=cc.tenant.id) as db:
        row = await db.get(Case, (cc.tenant.id, case.id))
        assert row.category_id is None and row.urgency == "normal"
        assert await db.scalar(select(CaseEvent.id).where(CaseEvent.action == "classify")) is None
