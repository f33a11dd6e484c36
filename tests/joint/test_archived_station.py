"""An archived joint station (one member county left) is read-only, but no dead end (issue 17): its
public page and form take no more opinions and say where to go instead (no receipt is issued), and
the remaining county's people who were its staff still finish the cases it holds — feed back, record
the satisfaction, refer to their own county — while nothing new starts there and a mere viewer stays
a viewer."""

from __future__ import annotations

import pytest

from app.cases import steps, workflow
from app.core.errors import Refusal
from app.joint import agreements, referrals
from tests.joint import test_referrals
from tests.joint.test_referrals import cases_of, handle, joint_case, post, refer, run, scope_in, signed_in
from tests.joint.world import act

world = test_referrals.world  # the fixture: two member counties with a handling unit each, and a third


async def station_of(database, agreement) -> int:
    async with database.transaction(tenant_id=agreement.joint_tenant_id) as db:
        return await agreements.joint_station_id(db, agreement.joint_tenant_id)


async def test_the_archived_stations_public_page_takes_no_opinions_and_says_where_to_go(
        client, database, owner_sql, world):
    a, b, _, agreement = world
    client.cookies.set("lang", "en")
    station = f"/p/{agreement.slug}/stations/{await station_of(database, agreement)}"
    html = (await client.get(station)).text
    assert f'href="{station}/opinion"' in html and "takes no more opinions" not in html  # in force: open
    await act(database, b, agreements.withdraw, key=agreement.agreement_key)
    html = (await client.get(station)).text
    assert "This joint station has closed and takes no more opinions." in html
    assert f'href="{station}/opinion"' not in html
    assert '<a href="/p/wuzhou/">' in html and '<a href="/p/fengkai/">' in html  # both counties' own pages
    assert f'href="/p/{agreement.slug}/lookup"' in html  # earlier opinions can still be followed
    form = await client.get(f"{station}/opinion")
    assert form.status_code == 200 and "This joint station has closed" in form.text
    assert 'name="content"' not in form.text and 'method="post"' not in form.text
    r = await client.post(f"{station}/opinion", data={"content": "对岸又在排污"})
    assert r.status_code == 403 and "takes no more opinions" in r.text
    assert 'id="rating-code"' not in r.text and 'name="code"' not in r.text  # no receipt
    assert await cases_of(owner_sql, agreement.joint_tenant_id) == []
    client.cookies.delete("lang")
    r = await client.post(f"{station}/opinion", data={"content": "对岸又在排污"})
    assert r.status_code == 403 and "不再受理意见" in r.text


async def test_the_remaining_countys_former_staff_finish_the_open_cases(app, database, owner_sql, world):
    a, b, _, agreement = world
    joint_id, admin = agreement.joint_tenant_id, a.users["county_admin"]
    answered = await joint_case(database, agreement, admin)
    await refer(database, agreement, admin, answered, [a])
    [theirs] = await cases_of(owner_sql, a.id)
    await handle(database, a, theirs["id"], "已责令造纸厂停止排污")
    waiting = await joint_case(database, agreement, admin)  # registered, not yet referred
    untouched = await joint_case(database, agreement, admin)
    await act(database, b, agreements.withdraw, key=agreement.agreement_key)
    assert (await scope_in(database, joint_id, admin)).role == "viewer"  # the archive is read-only ...
    page = f"/t/{agreement.slug}/cases/{answered}"
    async with signed_in(app, "wuzhou-county") as client:  # ... but its former admin finishes the case
        html = (await client.get(page)).text
        assert f'/cases/{answered}/steps/feed_back"' in html and "steps/classify" not in html
        r = await post(client, f"{page}/steps/feed_back", [("channel", "phone")], page)
        assert r.status_code == 303
        r = await post(client, f"{page}/steps/rate", [("satisfaction", "satisfied")], page)
        assert r.status_code == 303
        assert (await client.get(f"/t/{agreement.slug}/cases/new")).status_code in (403, 404)  # nothing new
    joint = {c["id"]: c for c in await cases_of(owner_sql, joint_id)}
    assert (joint[answered]["state"], joint[answered]["satisfaction"]) == ("closed", "satisfied")
    assert (await cases_of(owner_sql, a.id))[0]["state"] == "closed"  # the county's case follows
    # the case still waiting is referred to the remaining county (the only one it may go to now)
    async with database.transaction(tenant_id=joint_id) as db:
        assert await referrals.member_counties(db, joint_id) == [(a.id, a.tenant.name)]
    with pytest.raises(Refusal):
        await refer(database, agreement, admin, waiting, [b])
    await refer(database, agreement, admin, waiting, [a])
    assert len(await cases_of(owner_sql, a.id)) == 2
    # only the steps that finish a case: no classifying, merging or suggestions
    for service, kwargs in ((steps.classify, {"category_id": None, "urgency": "normal"}),
                            (steps.merge, {"into": str(waiting)})):
        with pytest.raises(Refusal) as refused:
            await run(database, joint_id, admin, untouched, service, **kwargs)
        assert refused.value.message == workflow.ARCHIVED


async def test_a_viewer_of_the_joint_station_stays_a_viewer(database, owner_sql, world):
    a, b, _, agreement = world
    joint_id, admin, viewer = agreement.joint_tenant_id, a.users["county_admin"], a.users["viewer"]
    await act(database, a, agreements.grant, key=agreement.agreement_key, user_id=viewer.id, role="viewer")
    case_id = await joint_case(database, agreement, admin)
    await refer(database, agreement, admin, case_id, [a])
    [theirs] = await cases_of(owner_sql, a.id)
    await handle(database, a, theirs["id"], "已处理")
    await act(database, b, agreements.withdraw, key=agreement.agreement_key)
    roles = await owner_sql("SELECT user_id, role, archived_role FROM memberships WHERE tenant_id = $1 "
                            "AND revoked_at IS NULL ORDER BY user_id", joint_id)
    assert {(r["user_id"], r["role"], r["archived_role"]) for r in roles} == {
        (admin.id, "viewer", "county_admin"), (viewer.id, "viewer", "viewer")}
    with pytest.raises(Refusal) as refused:
        await run(database, joint_id, viewer, case_id, steps.feed_back, channel="phone")
    assert refused.value.status == 403
    assert (await cases_of(owner_sql, joint_id))[0]["state"] == "replied"


async def test_while_in_force_the_members_viewers_take_no_steps(database, owner_sql, world):
    """A viewer of a joint station in force is not a steward, whatever role it had elsewhere."""
    a, _, _, agreement = world
    joint_id, admin, viewer = agreement.joint_tenant_id, a.users["county_admin"], a.users["viewer"]
    await act(database, a, agreements.grant, key=agreement.agreement_key, user_id=viewer.id, role="viewer")
    case_id = await joint_case(database, agreement, admin)
    with pytest.raises(Refusal):
        await run(database, joint_id, viewer, case_id, steps.answer_on_spot, answer="已当场解释")
    assert (await cases_of(owner_sql, joint_id))[0]["state"] == "registered"
