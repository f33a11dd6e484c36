"""After the county answers, the joint station feeds the answer back and the person rates it: the
county's referred case follows (fed back, then closed with the same satisfaction), so it never sits as
"replied" going overdue in the county's lists. Not satisfied: the county may send its case back for
re-handling, which takes the joint case back to "referred" until the new answer comes and is fed back
again. A joint station refers instead of assigning: assign / escalate / forward are refused there."""

from __future__ import annotations

import pytest

from app.cases import steps
from app.cases.public import public_view
from app.cases.workflow import JOINT_REFERS
from app.core.errors import Refusal
from tests.joint.test_referrals import audits, cases_of, handle, joint_case, refer, referral_rows, run, world  # noqa: F401


async def referred_and_answered(database, owner_sql, world, counties_of=lambda a, b: [b]):
    a, b, _, agreement = world
    admin = a.users["county_admin"]
    case_id = await joint_case(database, agreement, admin)
    counties = counties_of(a, b)
    await refer(database, agreement, admin, case_id, counties)
    for county in counties:
        [theirs] = await cases_of(owner_sql, county.id)
        await handle(database, county, theirs["id"], f"{county.tenant.name}已处理")
    return case_id, admin


async def test_feedback_and_rating_at_the_joint_station_close_the_countys_case(database, owner_sql, world):
    a, b, c, agreement = world
    joint_id = agreement.joint_tenant_id
    case_id, admin = await referred_and_answered(database, owner_sql, world, lambda a, b: [a, b])
    assert {x["state"] for x in await cases_of(owner_sql, b.id)} == {"replied"}
    await run(database, joint_id, admin, case_id, steps.feed_back, channel="phone")
    for county in (a, b):
        [theirs] = await cases_of(owner_sql, county.id)
        assert (theirs["state"], theirs["feedback_channel"]) == ("fed_back", "phone")
        assert theirs["fed_back_at"] is not None
    assert {r["state"] for r in await referral_rows(owner_sql, joint_id)} == {"fed_back"}
    await run(database, joint_id, admin, case_id, steps.rate, satisfaction="satisfied")
    for county in (a, b):
        [theirs] = await cases_of(owner_sql, county.id)
        assert (theirs["state"], theirs["satisfaction"]) == ("closed", "satisfied") and theirs["closed_at"]
        events = [e["action"] for e in await owner_sql(
            "SELECT action FROM case_events WHERE tenant_id = $1 AND case_id = $2 ORDER BY id", county.id, theirs["id"])]
        assert events[-2:] == ["joint_fed_back", "joint_rated"]
        assert await audits(owner_sql, county.id, "joint_case_passed_on") == 2
    assert {r["state"] for r in await referral_rows(owner_sql, joint_id)} == {"closed"}
    assert await audits(owner_sql, joint_id, "joint_case_passed_on") == 2
    assert await cases_of(owner_sql, c.id) == []


async def test_the_persons_own_rating_is_passed_on(database, owner_sql, world):
    a, b, _, agreement = world
    joint_id = agreement.joint_tenant_id
    case_id, admin = await referred_and_answered(database, owner_sql, world)
    await run(database, joint_id, admin, case_id, steps.feed_back, channel="sms")
    async with database.transaction(tenant_id=joint_id) as db:
        from app.cases.models import Case

        case = await db.get(Case, (joint_id, case_id))
        await steps.rate_by_public(db, case, "basically")
    [theirs] = await cases_of(owner_sql, b.id)
    assert (theirs["state"], theirs["satisfaction"]) == ("closed", "basically")


async def test_not_satisfied_the_county_sends_back_and_the_joint_case_waits_again(database, owner_sql, world):
    a, b, _, agreement = world
    joint_id = agreement.joint_tenant_id
    case_id, admin = await referred_and_answered(database, owner_sql, world)
    await run(database, joint_id, admin, case_id, steps.feed_back, channel="phone")
    # the joint case has no handling unit to go back to: not satisfied closes it (with the reason)
    await run(database, joint_id, admin, case_id, steps.rate, satisfaction="unsatisfied", note="排污口仍在排放")
    [theirs] = await cases_of(owner_sql, b.id)
    assert (theirs["state"], theirs["satisfaction"]) == ("closed", "unsatisfied")
    await run(database, b.id, b.users["county_admin"], theirs["id"], steps.send_back, unit_id=b.users["unit_id"])
    joint = (await cases_of(owner_sql, joint_id))[0]
    assert (joint["state"], joint["satisfaction"], joint["fed_back_at"]) == ("referred", None, None)
    async with database.transaction(tenant_id=joint_id) as db:
        from app.cases.models import Case

        labels = [str(s.label) for s in (await public_view(db, await db.get(Case, (joint_id, case_id)))).steps]
    assert any("handled again" in label or "再次办理" in label for label in labels)
    await run(database, b.id, b.users["handling_unit"], theirs["id"], steps.accept)
    await run(database, b.id, b.users["handling_unit"], theirs["id"], steps.reply, result="已关停排污口并复查水质")
    joint = (await cases_of(owner_sql, joint_id))[0]
    assert joint["state"] == "replied" and "已关停排污口并复查水质" in joint["reply_text"]
    await run(database, joint_id, admin, case_id, steps.feed_back, channel="phone")
    await run(database, joint_id, admin, case_id, steps.rate, satisfaction="satisfied")
    [theirs] = await cases_of(owner_sql, b.id)
    assert (theirs["state"], theirs["satisfaction"], theirs["rehandled"]) == ("closed", "satisfied", 1)


async def test_a_joint_station_refers_instead_of_assigning(database, owner_sql, world):
    a, b, _, agreement = world
    joint_id, admin = agreement.joint_tenant_id, a.users["county_admin"]
    case_id = await joint_case(database, agreement, admin)
    with pytest.raises(Refusal) as refused:
        await run(database, joint_id, admin, case_id, steps.assign, unit_id=b.users["unit_id"])
    assert refused.value.message == JOINT_REFERS
    with pytest.raises(Refusal) as refused:
        await run(database, joint_id, admin, case_id, steps.forward_outside, outside_body="市生态环境局", outside_ref="2026-1")
    assert refused.value.message == JOINT_REFERS
    assert (await cases_of(owner_sql, joint_id))[0]["state"] == "registered"


async def test_the_county_leaves_the_feedback_to_the_joint_station(app, database, owner_sql, world):
    """While the county is a member, its referred case offers no feed-back or rating (the joint station
    does them; the page says so); after it withdrew, the county feeds back itself."""
    from app.joint import agreements
    from tests.joint.test_referrals import post, signed_in
    from tests.joint.world import act

    a, b, _, agreement = world
    await referred_and_answered(database, owner_sql, world)
    [theirs] = await cases_of(owner_sql, b.id)
    page = f"/t/fengkai/cases/{theirs['id']}"
    async with signed_in(app, "fengkai-county") as client:
        html = (await client.get(page)).text
        assert 'id="joint-feeds-back"' in html and 'steps/feed_back"' not in html
        r = await post(client, f"{page}/steps/feed_back", [("channel", "phone")], page)
        assert r.status_code == 400 and "the joint station feeds the answer back" in r.text
    assert (await cases_of(owner_sql, b.id))[0]["state"] == "replied"
    await act(database, b, agreements.withdraw, key=agreement.agreement_key)
    async with signed_in(app, "fengkai-county") as client:
        html = (await client.get(page)).text
        assert 'id="joint-feeds-back"' not in html and 'steps/feed_back"' in html
        r = await post(client, f"{page}/steps/feed_back", [("channel", "phone")], page)
        assert r.status_code == 303
    assert (await cases_of(owner_sql, b.id))[0]["state"] == "fed_back"
