"""Receipt codes stay with the person and the staff who may see the case: a handling unit sees none (a
code let the unit rate its own answer as the person), and a link to a case outside the member's scope
(a duplicate merged across townships) names no code. Rating on the public page needs the rating code."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.activities.models import Suggestion
from app.cases import notices
from app.cases.models import Case, CaseEvent
from app.notify.config import notify_settings
from app.notify.models import Outbox
from tests.cases.world import EAST, build_case_county, put_case
from tests.deputies.deputy_world import signed_in

HEBA = "河坝村人大代表联络站"


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def test_a_handling_unit_sees_no_receipt_code_and_cannot_rate_with_one(app, client, database, cc):
    case = await put_case(database, cc, state="fed_back", unit="transport", reply_text="已修好。",
                          reply_due=date.today() + timedelta(days=1))
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        suggestion = Suggestion(tenant_id=cc.tenant.id, deputy_id=cc.deputies["张伟"], kind="suggestion",
                                title="关于村道养护的建议", filed_on=date.today(), content="村道", state="assigned",
                                handling_unit_id=cc.units["transport"])
        db.add(suggestion)
        await db.flush()
        (await db.get(Case, (cc.tenant.id, case.id))).suggestion_id = suggestion.id
    async with signed_in(app, cc.county, "transport") as unit:
        pages = {path: await unit.get(f"{unit.base}{path}") for path in (
            "/cases", f"/cases/{case.id}", f"/suggestions/{suggestion.id}",
            f"/cases?q={case.receipt_code[:4]}")}
    for path, r in pages.items():
        assert r.status_code == 200, path
        assert case.receipt_code not in r.text, path
        assert "Receipt code" not in r.text or path.startswith("/cases?"), path
    assert f'href="/t/{cc.slug}/cases/{case.id}">#{case.id}</a>' in pages["/cases"].text
    assert f"Case no. {case.id}" in pages[f"/cases/{case.id}"].text
    async with signed_in(app, cc.county, "admin") as admin:  # staff who handle it do see it
        assert case.receipt_code in (await admin.get(f"{admin.base}/cases/{case.id}")).text

    # With the code alone, nobody rates in the person's name (the unit's users included).
    r = await client.post(f"/p/{cc.slug}/lookup/rate", data={"code": case.receipt_code, "satisfaction": "satisfied"})
    assert r.status_code == 400
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        assert (await db.scalar(select(Case.satisfaction).where(Case.id == case.id))) is None
        assert await db.scalar(select(CaseEvent.id).where(CaseEvent.action == "rated_by_public")) is None


async def test_the_units_due_soon_notice_names_the_case_without_its_code(database, cc):
    now = datetime(2030, 3, 4, 1, 0, tzinfo=timezone.utc)
    case = await put_case(database, cc, state="accepted", unit="transport", reply_due=date(2030, 3, 5))
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        config = await notify_settings(db, cc.tenant.id)
        assert await notices.due_soon(db, config, slug=cc.slug, now=now) == 1
        body = await db.scalar(select(Outbox.body).where(Outbox.kind == "case_due_soon"))
    assert case.receipt_code not in body and f"#{case.id}" in body


async def test_a_merge_across_townships_names_no_code_outside_the_scope(app, database, cc):
    kept = await put_case(database, cc, station=HEBA, content="河坝乡的同一问题")
    duplicate = await put_case(database, cc, station=EAST, state="merged", merged_into_id=kept.id,
                               content="城关镇的重复反映")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        db.add(CaseEvent(tenant_id=cc.tenant.id, case_id=duplicate.id, action="merge", from_state="registered",
                         to_state="merged", data={"into": kept.id}, actor_user_id=cc.users["admin"].id))
    async with signed_in(app, cc.county, "town") as town:
        html = (await town.get(f"{town.base}/cases/{duplicate.id}")).text
        assert duplicate.receipt_code in html  # its own case: the code is there
        assert kept.receipt_code not in html and "another case, outside your reach" in html
        assert f'href="/t/{cc.slug}/cases/{kept.id}"' not in html  # no link that would only 404
    async with signed_in(app, cc.county, "heba") as heba:
        html = (await heba.get(f"{heba.base}/cases/{kept.id}")).text
        assert kept.receipt_code in html
        assert duplicate.receipt_code not in html and "another case, outside your reach" in html
        assert "Merged from another case" in html
    async with signed_in(app, cc.county, "admin") as admin:  # the county sees both, linked
        html = (await admin.get(f"{admin.base}/cases/{duplicate.id}")).text
        assert f'<a href="/t/{cc.slug}/cases/{kept.id}">{kept.receipt_code}</a>' in html
        html = (await admin.get(f"{admin.base}/cases/{kept.id}")).text
        assert f'<a href="/t/{cc.slug}/cases/{duplicate.id}">{duplicate.receipt_code}</a>' in html
        assert f"Merged case {duplicate.receipt_code}" in html
