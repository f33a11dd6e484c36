"""Isolation around a joint station: a member county's staff working in the joint tenant reach the joint
station's data and their own county's, never the other member's records that were not shared (deputies
not joined, rosters, cases not referred) — over HTTP and in SQL — and lose the joint station when their
county withdraws, while the third county never sees anything."""

from __future__ import annotations

from contextlib import asynccontextmanager

from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

from app.cases.models import Case
from app.deputies.models import Deputy
from app.joint import agreements, deputies
from tests.factories import login
from tests.joint.test_deputies import deputy
from tests.joint.world import accepted, act, three_counties


@asynccontextmanager
async def signed_in(app, username: str):
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        assert (await login(client, username)).status_code == 303
        yield client


async def county_case(database, county, content: str) -> int:
    async with database.transaction(tenant_id=county.id) as db:
        node = await db.scalar(text("SELECT id FROM admin_nodes ORDER BY id LIMIT 1"))
        case = Case(tenant_id=county.id, receipt_code=f"{county.tenant.slug[:4].upper()}000001", source="phone",
                    content=content, node_id=node, state="registered")
        db.add(case)
        await db.flush()
        return case.id


async def test_member_staff_in_the_joint_station_see_only_what_was_shared(app, database, owner_sql):
    a, b, c = await three_counties(database)
    agreement = await accepted(database, a, b)
    key, joint = agreement.agreement_key, agreement.joint_tenant_id
    joined = await deputy(database, b, "共享代表")
    await deputy(database, b, "未共享代表")
    await county_case(database, b, "封开一侧内部事项")
    await act(database, b, deputies.join, key=key, deputy_ids=[joined])
    await act(database, a, agreements.grant, key=key, user_id=a.users["township_staff"].id, role="station_staff")
    staff = f"{a.tenant.slug}-township"

    async with signed_in(app, staff) as client:
        # the joint station's own pages open; the other county's do not (no membership there)
        assert (await client.get("/t/liangguang/")).status_code == 200
        page = await client.get("/t/liangguang/deputies")
        assert page.status_code == 200 and "共享代表" in page.text and "未共享代表" not in page.text
        for path in ("/t/fengkai/", "/t/fengkai/deputies", "/t/fengkai/cases", "/t/fengkai/rosters",
                     f"/t/fengkai/joint/{key}", "/t/third/"):
            assert (await client.get(path)).status_code == 404, path
        assert "封开一侧内部事项" not in (await client.get("/t/liangguang/cases")).text

    # in SQL, bound to the joint tenant: nothing of the member counties' own tables
    async with database.transaction(tenant_id=joint) as db:
        names = set((await db.scalars(select(Deputy.name))).all())
        assert names == {"共享代表"}
        assert (await db.scalars(select(Case.content))).all() == []
        mobiles = (await db.scalars(select(Deputy.mobile).where(Deputy.mobile.is_not(None)))).all()
        assert mobiles == []
    # every row the joint station holds carries the joint tenant's id only
    for table in ("deputies", "deputy_mandates", "station_deputies", "stations", "admin_nodes", "joint_deputies"):
        rows = await owner_sql(f"SELECT DISTINCT tenant_id FROM {table} WHERE tenant_id = $1", joint)
        assert rows == [(joint,)], table
    # the third county, bound to itself, finds nothing of the agreement or the joint station
    async with database.transaction(tenant_id=c.id) as db:
        for table in ("joint_agreements", "joint_agreement_events", "joint_deputies", "joint_referrals",
                      "joint_attendance"):
            assert (await db.execute(text(f"SELECT count(*) FROM {table}"))).scalar() == 0, table


async def test_after_withdrawal_the_countys_people_and_deputies_are_out(app, database, owner_sql):
    a, b, _ = await three_counties(database)
    agreement = await accepted(database, a, b)
    key, joint = agreement.agreement_key, agreement.joint_tenant_id
    await act(database, b, agreements.grant, key=key, user_id=b.users["viewer"].id, role="viewer")
    await act(database, b, deputies.join, key=key, deputy_ids=[await deputy(database, b, "赵代表")])
    async with signed_in(app, f"{b.tenant.slug}-viewer") as client:
        assert (await client.get("/t/liangguang/")).status_code == 200
    await act(database, b, agreements.withdraw, key=key)
    async with signed_in(app, f"{b.tenant.slug}-viewer") as client:
        assert (await client.get("/t/liangguang/")).status_code == 404
        assert (await client.get("/t/fengkai/")).status_code == 200  # its own county as before
    async with signed_in(app, f"{b.tenant.slug}-county") as client:
        assert (await client.get("/t/liangguang/")).status_code == 404
    async with database.transaction(tenant_id=joint) as db:
        assert (await db.scalars(select(Deputy.status).where(Deputy.name == "赵代表"))).all() == ["removed"]
    # the withdrawn county still holds its own copy of the agreement and of its deputy
    assert await owner_sql("SELECT count(*) FROM joint_agreements WHERE tenant_id = $1", b.id) == [(1,)]
    assert await owner_sql("SELECT status FROM deputies WHERE tenant_id = $1 AND name = '赵代表'", b.id) == [("active",)]


async def test_in_the_joint_station_each_county_manages_only_its_own_people(app, database, owner_sql):
    from tests.factories import csrf_from

    a, b, _ = await three_counties(database)
    agreement = await accepted(database, a, b)
    await act(database, b, agreements.grant, key=agreement.agreement_key, user_id=b.users["viewer"].id, role="viewer")
    joint = agreement.joint_tenant_id
    theirs = (await owner_sql("SELECT id FROM memberships WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                              joint, b.users["viewer"].id))[0][0]
    async with signed_in(app, f"{a.tenant.slug}-county") as client:  # 八步-side admin in the joint station
        page = await client.get("/t/liangguang/members")
        assert page.status_code == 200 and 'id="joint-members-note"' in page.text
        assert 'action="/t/liangguang/invitations"' not in page.text
        token = csrf_from(page.text)
        r = await client.post("/t/liangguang/invitations", data={"_csrf_token": token, "name": "外人", "role": "viewer"})
        assert r.status_code == 400
        for path, data in ((f"/t/liangguang/members/{theirs}/role", {"role": "county_admin"}),
                           (f"/t/liangguang/members/{theirs}/remove", {})):
            r = await client.post(path, data={"_csrf_token": token, **data})
            assert r.status_code == 400, path
    assert await owner_sql("SELECT count(*) FROM invitations WHERE tenant_id = $1", joint) == [(0,)]
    assert await owner_sql("SELECT role, revoked_at IS NULL FROM memberships WHERE id = $1", theirs) == [("viewer", True)]
