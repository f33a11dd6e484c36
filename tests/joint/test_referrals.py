"""Referrals from a joint station: a case raised there is referred to the member county (or both, for a
shared river); the county's case carries only the agreed fields (content, name, never the mobile); each
step the county takes is mirrored into the joint station's referral row; with every answer in, the
joint case is replied and the joint staff feed it back (the person's SMS goes out as usual). A third
county and the county not referred to see nothing; a member that withdrew cannot be referred to."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from app.accounts.models import Membership
from app.cases import steps
from app.cases.access import get_case
from app.cases.models import STATE_NAMES, Case
from app.tenancy.models import HandlingUnit
from app.cases.services import NewCase, register_case
from app.core.errors import Refusal
from app.core.i18n import gettext
from app.joint import agreements, referrals
from app.tenancy.scope import scope_of
from tests.factories import add_member, csrf_from, login, make_user
from tests.joint.world import accepted, act, three_counties
from tests.notify.short_link_helpers import link_of

MOBILE = "13987654321"


@pytest.fixture
async def world(database):
    a, b, c = await three_counties(database)
    agreement = await accepted(database, a, b)
    for county in (a, b):  # each member county has a handling unit with a user
        async with database.transaction(tenant_id=county.id) as db:
            unit = HandlingUnit(tenant_id=county.id, code="ecology", name=f"{county.tenant.slug}生态环境局",
                                kind="county_department", level="county")
            db.add(unit)
            await db.flush()
            unit_id = unit.id
        user = await make_user(database, f"{county.tenant.slug}-unit")
        await add_member(database, county.tenant, user, "handling_unit")
        async with database.transaction(tenant_id=county.id) as db:
            await db.execute(update(Membership).where(Membership.tenant_id == county.id,
                                                      Membership.user_id == user.id).values(handling_unit_id=unit_id))
        county.users["handling_unit"], county.users["unit_id"] = user, unit_id
    return a, b, c, agreement


async def scope_in(database, tenant_id: int, user):
    async with database.transaction(tenant_id=tenant_id, user_id=user.id) as db:
        m = await db.scalar(select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user.id,
                                                     Membership.revoked_at.is_(None)))
        return await scope_of(db, m)


async def run(database, tenant_id: int, user, case_id: int, service, **kwargs):
    """A step as the member, in its own transaction (committed unless it raises)."""
    scope = await scope_in(database, tenant_id, user)
    async with database.transaction(tenant_id=tenant_id, user_id=user.id) as db:
        ref = await get_case(db, scope, case_id, for_update=True)
        return await service(db, scope, ref, actor_id=user.id, **kwargs)


async def joint_case(database, agreement, admin) -> int:
    """A villager's report registered at the joint station by the joint tenant's admin."""
    joint_id = agreement.joint_tenant_id
    scope = await scope_in(database, joint_id, admin)
    async with database.transaction(tenant_id=joint_id, user_id=admin.id) as db:
        station = await agreements.joint_station_id(db, joint_id)
        case = await register_case(db, scope, tenant_id=joint_id, actor_id=admin.id, new=NewCase(
            content="对岸江川镇的造纸厂往西江排污，河水发黑", source="reception", person_name="陈村民",
            person_mobile=MOBILE, station_id=station))
        return case.id


async def refer(database, agreement, admin, case_id, counties, level="county", note="请贵方核查处理"):
    return await run(database, agreement.joint_tenant_id, admin, case_id, referrals.refer,
                     county_tenant_ids=[c.id for c in counties], level=level, note=note)


async def cases_of(owner_sql, tenant_id: int) -> list:
    return await owner_sql("SELECT * FROM cases WHERE tenant_id = $1 ORDER BY id", tenant_id)


async def referral_rows(owner_sql, joint_id: int) -> list:
    return await owner_sql("SELECT * FROM joint_referrals WHERE tenant_id = $1 ORDER BY id", joint_id)


async def audits(owner_sql, tenant_id: int, action: str) -> int:
    return (await owner_sql("SELECT count(*) AS n FROM audit_log WHERE tenant_id = $1 AND action = $2",
                            tenant_id, action))[0]["n"]


async def handle(database, county, case_id: int, answer: str):
    """The county assigns to its unit, the unit accepts and replies."""
    await run(database, county.id, county.users["county_admin"], case_id, steps.assign,
              unit_id=county.users["unit_id"])
    await run(database, county.id, county.users["handling_unit"], case_id, steps.accept)
    await run(database, county.id, county.users["handling_unit"], case_id, steps.reply, result=answer)


async def test_refer_creates_the_countys_case_with_the_agreed_fields_only(database, owner_sql, world):
    a, b, c, agreement = world
    joint_id, admin = agreement.joint_tenant_id, a.users["county_admin"]
    case_id = await joint_case(database, agreement, admin)
    await refer(database, agreement, admin, case_id, [b])
    joint = (await owner_sql("SELECT * FROM cases WHERE tenant_id = $1", joint_id))[0]
    assert (joint["state"], joint["level"], joint["person_mobile"]) == ("referred", "county", MOBILE)
    [theirs] = await cases_of(owner_sql, b.id)
    assert theirs["source"] == "referral" and theirs["content"] == joint["content"]
    assert theirs["person_name"] == "陈村民" and theirs["person_mobile"] is None and theirs["level"] == "county"
    assert (theirs["referred_from_tenant_id"], theirs["referred_from_case_id"]) == (joint_id, case_id)
    assert theirs["station_id"] is None and theirs["state"] == "registered"
    town = await owner_sql("SELECT id FROM admin_nodes WHERE tenant_id = $1 AND name = '江川镇'", b.id)
    assert theirs["node_id"] == town[0]["id"]  # the one township the agreement names on b's side
    dumped = str(await owner_sql("SELECT * FROM cases c JOIN case_events e ON e.tenant_id = c.tenant_id "
                                 "AND e.case_id = c.id WHERE c.tenant_id = $1", b.id))
    assert MOBILE not in dumped and joint["receipt_code"] in dumped and "请贵方核查处理" in dumped
    [row] = await referral_rows(owner_sql, joint_id)
    assert (row["case_id"], row["county_tenant_id"], row["county_case_id"]) == (case_id, b.id, theirs["id"])
    assert (row["county_receipt_code"], row["state"]) == (theirs["receipt_code"], "registered")
    assert await audits(owner_sql, joint_id, "joint_case_referred") == 1
    assert await audits(owner_sql, b.id, "joint_case_referred") == 1
    # the county not referred to and the third county have nothing
    assert await cases_of(owner_sql, a.id) == [] and await cases_of(owner_sql, c.id) == []
    assert await owner_sql("SELECT count(*) FROM joint_referrals WHERE tenant_id <> $1", joint_id) == [(0,)]


async def test_the_countys_steps_are_mirrored_and_the_joint_station_feeds_back(database, owner_sql, world):
    a, b, _, agreement = world
    joint_id, admin = agreement.joint_tenant_id, b.users["county_admin"]
    case_id = await joint_case(database, agreement, admin)
    await refer(database, agreement, admin, case_id, [b])
    [theirs] = await cases_of(owner_sql, b.id)
    seen = []
    await run(database, b.id, b.users["county_admin"], theirs["id"], steps.assign, unit_id=b.users["unit_id"])
    seen.append((await referral_rows(owner_sql, joint_id))[0])
    await run(database, b.id, b.users["handling_unit"], theirs["id"], steps.accept)
    seen.append((await referral_rows(owner_sql, joint_id))[0])
    answer = "经查，造纸厂已停产整改，环保部门将每周监测西江水质。" * 20
    await run(database, b.id, b.users["handling_unit"], theirs["id"], steps.reply, result=answer)
    seen.append((await referral_rows(owner_sql, joint_id))[0])
    assert [r["state"] for r in seen] == ["assigned", "accepted", "replied"]
    county_case = (await cases_of(owner_sql, b.id))[0]
    assert all(r["reply_due"] == county_case["reply_due"] for r in seen)
    assert seen[1]["replied_at"] is None and seen[2]["replied_at"] == county_case["replied_at"]
    assert seen[2]["answer_summary"] == answer[:600]
    assert await audits(owner_sql, joint_id, "joint_case_mirrored") == 3
    assert await audits(owner_sql, b.id, "joint_case_mirrored") == 0  # audited where it is written
    joint = (await cases_of(owner_sql, joint_id))[0]
    assert joint["state"] == "replied" and joint["feedback_due"] is not None
    assert joint["reply_text"] == f"{b.tenant.name}: {answer[:600]}"
    events = [e["action"] for e in await owner_sql(
        "SELECT action FROM case_events WHERE tenant_id = $1 ORDER BY id", joint_id)]
    assert events == ["registered", "refer", "referral_answered"]
    # the joint staff feed it back: the person's SMS goes out through the existing notices
    await run(database, joint_id, admin, case_id, steps.feed_back, channel="sms")
    assert (await cases_of(owner_sql, joint_id))[0]["state"] == "fed_back"
    sms = await owner_sql("SELECT kind, body FROM outbox WHERE tenant_id = $1 AND kind = 'case_answer'", joint_id)
    # the SMS says the opinion has an answer and leads to the joint station's lookup page, where the
    # person reads it (an SMS template variable holds 35 characters: the answer is not quoted)
    assert len(sms) == 1 and "已答复" in sms[0]["body"] and "造纸厂" not in sms[0]["body"]
    assert await link_of(database, sms[0]["body"]) == f"/p/{agreement.slug}/lookup"
    assert await owner_sql("SELECT count(*) FROM outbox WHERE tenant_id = $1", b.id) == [(0,)]


async def test_a_shared_river_goes_to_both_counties_and_waits_for_both(database, owner_sql, world):
    a, b, c, agreement = world
    joint_id, admin = agreement.joint_tenant_id, a.users["county_admin"]
    case_id = await joint_case(database, agreement, admin)
    await refer(database, agreement, admin, case_id, [a, b], level="township")
    [ours], [theirs] = await cases_of(owner_sql, a.id), await cases_of(owner_sql, b.id)
    town = await owner_sql("SELECT id FROM admin_nodes WHERE tenant_id = $1 AND name = '龙圩镇'", a.id)
    assert ours["node_id"] == town[0]["id"] and ours["level"] == theirs["level"] == "township"
    assert len(await referral_rows(owner_sql, joint_id)) == 2
    await handle(database, b, theirs["id"], "江川镇已清理排污口")
    assert (await cases_of(owner_sql, joint_id))[0]["state"] == "referred"  # waits for the other side
    await handle(database, a, ours["id"], "龙圩镇已加强岸线巡查")
    joint = (await cases_of(owner_sql, joint_id))[0]
    assert joint["state"] == "replied"
    assert joint["reply_text"] == f"{a.tenant.name}: 龙圩镇已加强岸线巡查\n\n{b.tenant.name}: 江川镇已清理排污口"
    assert await cases_of(owner_sql, c.id) == []


async def test_refusals_write_nothing(database, owner_sql, world):
    a, b, c, agreement = world
    joint_id, admin = agreement.joint_tenant_id, a.users["county_admin"]
    case_id = await joint_case(database, agreement, admin)
    for counties, level, message in (([], "county", referrals.COUNTY_REQUIRED), ([c], "county", referrals.COUNTY_BAD),
                                     ([b], "outside", referrals.LEVEL_BAD)):
        with pytest.raises(Refusal) as refused:
            await refer(database, agreement, admin, case_id, counties, level=level)
        assert refused.value.message == message
    # a viewer of the joint tenant may not refer
    viewer = a.users["viewer"]
    await act(database, a, agreements.grant, key=agreement.agreement_key, user_id=viewer.id, role="viewer")
    with pytest.raises(Refusal) as refused:
        await refer(database, agreement, viewer, case_id, [b])
    assert refused.value.status == 403
    # a county's own case cannot be referred (a joint station's step only)
    node = (await owner_sql("SELECT id FROM admin_nodes WHERE tenant_id = $1 LIMIT 1", b.id))[0]["id"]
    async with database.transaction(tenant_id=b.id) as db:
        own = Case(tenant_id=b.id, receipt_code="OWNCASE234", source="phone", content="本县的事", node_id=node,
                   state="registered")
        db.add(own)
        await db.flush()
        own_id = own.id
    with pytest.raises(Refusal) as refused:
        await run(database, b.id, b.users["county_admin"], own_id, referrals.refer, county_tenant_ids=[b.id])
    assert refused.value.status == 404
    assert len(await cases_of(owner_sql, b.id)) == 1 and await referral_rows(owner_sql, joint_id) == []
    # once referred, it cannot be referred again
    await refer(database, agreement, admin, case_id, [b])
    with pytest.raises(Refusal) as refused:
        await refer(database, agreement, admin, case_id, [b])
    # the state's name in whatever language is current (the message is translated where it is shown)
    assert refused.value.variables["state"] == gettext(STATE_NAMES["referred"])
    assert len(await referral_rows(owner_sql, joint_id)) == 1


async def test_a_member_that_withdrew_can_no_longer_be_referred_to(database, owner_sql, world):
    a, b, _, agreement = world
    joint_id, admin = agreement.joint_tenant_id, b.users["county_admin"]
    first = await joint_case(database, agreement, admin)
    await refer(database, agreement, admin, first, [a])
    second = await joint_case(database, agreement, admin)
    await act(database, a, agreements.withdraw, key=agreement.agreement_key)
    async with database.transaction(tenant_id=joint_id) as db:  # the archive refers to its remaining member only
        assert await referrals.member_counties(db, joint_id) == [(b.id, b.tenant.name)]
    admin_in_joint = await scope_in(database, joint_id, admin)
    assert admin_in_joint.role == "viewer"  # the archive: read-only
    with pytest.raises(Refusal):
        await refer(database, agreement, admin, second, [a])
    # the county's own case stays and is handled in the county, but nothing flows back any more
    [ours] = await cases_of(owner_sql, a.id)
    await handle(database, a, ours["id"], "已处理")
    [row] = await referral_rows(owner_sql, joint_id)
    assert row["state"] == "registered" and row["answer_summary"] == ""
    assert await audits(owner_sql, joint_id, "joint_case_mirrored") == 0


# --- the pages -----------------------------------------------------------------------------------------

@asynccontextmanager
async def signed_in(app, username: str):
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        client.cookies.set("lang", "en")
        assert (await login(client, username)).status_code == 303
        yield client


async def post(client, path: str, data, page: str):
    html = (await client.get(page)).text
    form: dict = {"_csrf_token": csrf_from(html)}
    for key, value in data:  # several values of one key (the counties) become a list
        form[key] = [*form[key], value] if isinstance(form.get(key), list) else [form[key], value] if key in form else value
    return await client.post(path, data=form, follow_redirects=False)


async def test_refer_from_the_page_and_what_each_county_sees(app, database, owner_sql, world):
    a, b, c, agreement = world
    joint_id = agreement.joint_tenant_id
    case_id = await joint_case(database, agreement, a.users["county_admin"])
    joint_page = f"/t/liangguang/cases/{case_id}"
    async with signed_in(app, "wuzhou-county") as client:
        html = (await client.get(joint_page)).text
        assert 'steps/refer"' in html
        assert all(f'name="county_id" value="{county.id}"' in html for county in (a, b))
        bad = await post(client, f"{joint_page}/steps/refer", [("level", "county"), ("note", "")], joint_page)
        assert bad.status_code == 400 and "Choose the member county (or counties)" in bad.text
        bad = await post(client, f"{joint_page}/steps/refer", [("county_id", str(c.id)), ("level", "county")],
                         joint_page)
        assert bad.status_code == 400 and "Choose member counties of this joint station" in bad.text
        assert await referral_rows(owner_sql, joint_id) == [] and await cases_of(owner_sql, b.id) == []
        r = await post(client, f"{joint_page}/steps/refer",
                       [("county_id", str(b.id)), ("level", "county"), ("note", "请核查")], joint_page)
        assert r.status_code == 303
        html = (await client.get(joint_page)).text
        [theirs] = await cases_of(owner_sql, b.id)
        assert "Referred to member counties" in html and theirs["receipt_code"] in html and b.tenant.name in html
        assert "Registered" in html.split('id="referral-')[1]  # the state the county case is in
        assert "Referred to a member county" in html and 'steps/refer"' not in html
        # the county's case is in the county's tenant only
        assert (await client.get(f"/t/wuzhou/cases/{theirs['id']}")).status_code == 404
    joint = (await cases_of(owner_sql, joint_id))[0]
    async with signed_in(app, "fengkai-county") as client:
        html = (await client.get(f"/t/fengkai/cases/{theirs['id']}")).text
        assert f"referred from {agreement.name} (its receipt code {joint['receipt_code']})" in html
        # not even masked (the page's random hex tokens, e.g. the CSRF token, are left out of the search)
        assert MOBILE[-4:] not in re.sub(r"[0-9a-f]{32,}", "", html)
        # a county's own case has no refer step (a 404 like any unknown step)
        r = await post(client, f"/t/fengkai/cases/{theirs['id']}/steps/refer", [("county_id", str(b.id))],
                       f"/t/fengkai/cases/{theirs['id']}")
        assert r.status_code == 404
    async with signed_in(app, "third-county") as client:
        assert (await client.get(f"/t/third/cases/{theirs['id']}")).status_code == 404
        assert (await client.get(joint_page)).status_code in (403, 404)
        listing = (await client.get("/t/third/cases")).text
        assert theirs["receipt_code"] not in listing and joint["receipt_code"] not in listing
    async with signed_in(app, "fengkai-unit") as client:  # the unit replies; the joint page shows the answer
        await run(database, b.id, b.users["county_admin"], theirs["id"], steps.assign, unit_id=b.users["unit_id"])
        r = await post(client, f"/t/fengkai/cases/{theirs['id']}/steps/accept", [("note", "")],
                       f"/t/fengkai/cases/{theirs['id']}")
        assert r.status_code == 303
        r = await post(client, f"/t/fengkai/cases/{theirs['id']}/steps/reply", [("result", "排污口已封堵")],
                       f"/t/fengkai/cases/{theirs['id']}")
        assert r.status_code == 303
    async with signed_in(app, "wuzhou-county") as client:
        html = (await client.get(joint_page)).text
        assert "排污口已封堵" in html and "Replied by the handling unit" in html and 'steps/feed_back"' in html
