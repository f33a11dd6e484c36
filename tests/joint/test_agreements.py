"""The agreement behind a joint station: proposed to another county, accepted (the joint tenant is
set up with both sides' townships and admins), roles given by each county to its own people only, a
member withdrawing (its people lose their roles, its data stays; one member left: a read-only
archive). Every step is in every member's copy; a third county sees nothing of it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from app.accounts.models import Membership
from app.core.errors import Refusal
from app.joint import agreements
from app.joint.agreements import Side
from app.joint.models import JointAgreement, JointEvent
from app.tenancy.models import AdminNode, Tenant
from tests.joint.world import accepted, act, proposed, three_counties


async def copies(database, tenant_id: int):
    async with database.transaction(tenant_id=tenant_id) as db:
        return list((await db.scalars(select(JointAgreement))).all())


async def event_actions(database, tenant_id: int) -> list[str]:
    async with database.transaction(tenant_id=tenant_id) as db:
        return list((await db.scalars(select(JointEvent.action).order_by(JointEvent.id))).all())


async def test_a_proposal_reaches_the_other_county_and_no_one_else(database):
    a, b, c = await three_counties(database)
    agreement = await proposed(database, a, b)
    assert agreement.status == "proposed" and agreement.tenant_id == a.id
    [theirs] = await copies(database, b.id)
    assert theirs.agreement_key == agreement.agreement_key
    assert [p["status"] for p in theirs.parties] == ["proposer", "invited"]
    assert theirs.party(a.id)["towns"] == ["龙圩镇"]
    assert await copies(database, c.id) == []
    assert await event_actions(database, b.id) == ["proposed"]
    async with database.transaction(tenant_id=c.id) as db:  # the bystander cannot even fetch it by key
        with pytest.raises(Exception):
            await agreements.get(db, c.id, agreement.agreement_key)


@pytest.mark.parametrize("change, message", [
    ({"slug": "Bad Slug"}, agreements.SLUG_BAD),
    ({"slug": "wuzhou"}, agreements.SLUG_TAKEN),
    ({"partners": ["nowhere"]}, agreements.PARTNER_UNKNOWN),
    ({"partners": ["wuzhou"]}, agreements.PARTNER_SELF),
    ({"side": Side(towns=["江川镇"], co_heads=["x"])}, agreements.TOWN_UNKNOWN),
    ({"side": Side(towns=["龙圩镇"])}, agreements.CO_HEAD_REQUIRED),
    ({"shares": ["everything"]}, agreements.SHARES_BAD),
])
async def test_bad_proposals_write_nothing(database, change, message):
    a, b, _ = await three_counties(database)
    values = dict(name="两广省际人大代表联络站", slug="liangguang", partners=["fengkai"],
                  side=Side(towns=["龙圩镇"], co_heads=["龙圩镇人大主席"]), shares=["deputies"]) | change
    with pytest.raises(Refusal) as refused:
        await act(database, a, agreements.propose, **values)
    assert refused.value.message == message
    assert await copies(database, a.id) == [] and await copies(database, b.id) == []


async def test_acceptance_sets_up_the_joint_tenant(database):
    a, b, c = await three_counties(database)
    agreement = await accepted(database, a, b)
    assert agreement.status == "active" and agreement.joint_tenant_id
    joint = agreement.joint_tenant_id
    async with database.transaction() as db:
        tenant = await db.get(Tenant, joint)
    assert (tenant.kind, tenant.slug, tenant.name) == ("joint", "liangguang", "两广龙圩—江川省际人大代表联络站")
    async with database.transaction(tenant_id=joint) as db:
        towns = sorted((await db.scalars(select(AdminNode.name).where(AdminNode.kind == "township"))).all())
        admins = sorted((await db.execute(select(Membership.user_id, Membership.home_tenant_id).where(
            Membership.tenant_id == joint, Membership.revoked_at.is_(None)))).all())
    assert towns == ["fengkai县人大常委会·江川镇", "wuzhou县人大常委会·龙圩镇"]
    assert admins == sorted([(a.users["county_admin"].id, a.id), (b.users["county_admin"].id, b.id)])
    for tenant_id in (a.id, b.id, joint):
        [copy] = await copies(database, tenant_id)
        assert copy.status == "active" and copy.joint_tenant_id == joint
        assert await event_actions(database, tenant_id) == ["proposed", "accepted", "activated"]
    assert await copies(database, c.id) == []


async def test_declining_ends_the_proposal(database):
    a, b, _ = await three_counties(database)
    agreement = await proposed(database, a, b)
    await act(database, b, agreements.answer, key=agreement.agreement_key, accept=False)
    assert [x.status for x in await copies(database, a.id)] == ["declined"]
    assert await event_actions(database, b.id) == ["proposed", "declined"]
    with pytest.raises(Refusal):  # no second answer
        await act(database, b, agreements.answer, key=agreement.agreement_key, accept=True,
                  side=Side(towns=["江川镇"], co_heads=["x"]))


async def test_each_county_gives_roles_to_its_own_people_only(database):
    a, b, _ = await three_counties(database)
    agreement = await accepted(database, a, b)
    key, joint = agreement.agreement_key, agreement.joint_tenant_id
    await act(database, a, agreements.grant, key=key, user_id=a.users["township_staff"].id, role="station_staff")
    with pytest.raises(Refusal) as refused:
        await act(database, b, agreements.grant, key=key, user_id=a.users["viewer"].id, role="viewer")
    assert refused.value.message == agreements.NOT_OWN_MEMBER
    with pytest.raises(Refusal):
        await act(database, b, agreements.revoke, key=key, user_id=a.users["township_staff"].id)
    async with database.transaction(tenant_id=joint) as db:
        held = (await db.execute(select(Membership.role, Membership.home_tenant_id).where(
            Membership.tenant_id == joint, Membership.user_id == a.users["township_staff"].id,
            Membership.revoked_at.is_(None)))).all()
    assert held == [("station_staff", a.id)]
    assert "granted" in await event_actions(database, b.id)  # visible to the other member too


async def test_a_member_withdraws_keeps_its_data_and_the_station_becomes_an_archive(database, owner_sql):
    a, b, _ = await three_counties(database)
    agreement = await accepted(database, a, b)
    key, joint = agreement.agreement_key, agreement.joint_tenant_id
    await act(database, b, agreements.grant, key=key, user_id=b.users["viewer"].id, role="viewer")
    await act(database, b, agreements.withdraw, key=key)
    rows = await owner_sql("SELECT user_id, role, home_tenant_id, revoked_at IS NULL AS active FROM memberships "
                           "WHERE tenant_id = $1 ORDER BY id", joint)
    assert [(r["user_id"], r["role"], r["active"]) for r in rows if r["home_tenant_id"] == b.id] == [
        (b.users["county_admin"].id, "county_admin", False), (b.users["viewer"].id, "viewer", False)]
    # one member left: the joint station is kept as a read-only archive for it
    assert [(r["role"], r["active"]) for r in rows if r["home_tenant_id"] == a.id] == [("viewer", True)]
    assert [x.status for x in await copies(database, a.id)] == ["archived"]
    [theirs] = await copies(database, b.id)
    assert theirs.party(b.id)["status"] == "withdrawn"
    assert await owner_sql("SELECT count(*) FROM memberships WHERE tenant_id = $1 AND revoked_at IS NULL", b.id) \
        == [(3,)]  # its own county untouched
    assert (await event_actions(database, a.id))[-2:] == ["withdrawn", "archived"]
    with pytest.raises(Refusal):
        await act(database, a, agreements.grant, key=key, user_id=a.users["viewer"].id, role="viewer")


async def test_the_acting_county_is_bound_again_after_every_step(database):
    a, b, _ = await three_counties(database)
    async with database.transaction(tenant_id=a.id, user_id=a.users["county_admin"].id) as db:
        agreement = await agreements.propose(
            db, tenant=a.tenant, actor=a.users["county_admin"], name="两广省际人大代表联络站", slug="liangguang",
            partners=["fengkai"], side=Side(towns=["龙圩镇"], co_heads=["主席"]), shares=["deputies"])
        assert (await db.execute(text("SELECT current_setting('app.tenant_id')"))).scalar() == str(a.id)
        assert await db.scalar(select(func.count()).select_from(JointAgreement)) == 1


async def test_station_and_township_roles_work_where_they_belong(database):
    a, b, _ = await three_counties(database)
    agreement = await accepted(database, a, b)
    key, joint = agreement.agreement_key, agreement.joint_tenant_id
    await act(database, a, agreements.grant, key=key, user_id=a.users["viewer"].id, role="station_staff")
    await act(database, a, agreements.grant, key=key, user_id=a.users["township_staff"].id, role="township_staff")
    async with database.transaction(tenant_id=joint) as db:
        station = await agreements.joint_station_id(db, joint)
        rows = dict((await db.execute(select(Membership.user_id, Membership.station_id).where(
            Membership.tenant_id == joint, Membership.revoked_at.is_(None)))).all())
        town = await db.scalar(select(Membership.scope_node_id).where(
            Membership.user_id == a.users["township_staff"].id, Membership.revoked_at.is_(None)))
        town_name = await db.scalar(select(AdminNode.name).where(AdminNode.id == town))
    assert rows[a.users["viewer"].id] == station  # station staff work at the joint station
    assert town_name == "wuzhou县人大常委会·龙圩镇"  # township staff over their own side's township
