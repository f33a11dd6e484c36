"""The joint-station pages over HTTP: proposing and accepting from the pages (the joint station then
opens for both admins), bad input (400, the message, nothing written), viewers read but cannot act,
a third county and other roles get the not-found page, withdrawing needs the confirmation, roles are
given and taken back from the page, and the operator sees the agreements' metadata only."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

from litestar.testing import AsyncTestClient

from app.joint import agreements
from app.joint.agreements import Side
from tests.factories import csrf_from, login
from tests.joint.world import accepted, act, proposed, three_counties
from tests.platform.conftest import enrolled_operator, sign_in_operator

NAME = "两广龙圩—江川省际人大代表联络站"  # the name world.proposed gives


@asynccontextmanager
async def signed_in(app, county, role: str, lang: str = "en"):
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        client.cookies.set("lang", lang)
        r = await login(client, f"{county.tenant.slug}-{role.split('_')[0]}")
        assert r.status_code == 303
        client.base = f"/t/{county.tenant.slug}/joint"
        yield client


async def post(client, path: str, data: dict, page: str | None = None):
    html = (await client.get(page or client.base)).text
    return await client.post(path, data={"_csrf_token": csrf_from(html), **data}, follow_redirects=False)


async def count(owner_sql, table: str = "joint_agreements") -> int:
    return (await owner_sql(f"SELECT count(*) AS n FROM {table}"))[0]["n"]


def proposal(**change) -> dict:
    return {"name": NAME, "slug": "liangguang", "partners": "fengkai", "towns": ["龙圩镇"],
            "co_heads": "龙圩镇人大主席", "deputy_heads": "龙圩镇人大副主席\n", "staff": "",
            "shares": ["deputies", "activities", "cases", "ledgers"]} | change


async def test_propose_and_accept_from_the_pages(app, database, owner_sql):
    a, b, _ = await three_counties(database)
    async with signed_in(app, a, "county_admin") as admin_a:
        page = await admin_a.get(admin_a.base)
        assert page.status_code == 200 and 'name="partners"' in page.text and "龙圩镇" in page.text
        assert f'href="{admin_a.base}"' in (await admin_a.get("/t/wuzhou/")).text  # the nav link
        r = await post(admin_a, admin_a.base, proposal())
        assert r.status_code == 303, r.text
        key = re.fullmatch(r"/t/wuzhou/joint/([0-9a-f-]{36})\?done=proposed", r.headers["location"]).group(1)
        detail = (await admin_a.get(r.headers["location"])).text
        assert NAME in detail and "Invited, not yet answered" in detail and "Joint station proposed" in detail
    async with signed_in(app, b, "county_admin") as admin_b:
        assert NAME in (await admin_b.get(admin_b.base)).text
        detail = await admin_b.get(f"{admin_b.base}/{key}")
        assert 'value="accept"' in detail.text and "江川镇" in detail.text
        r = await post(admin_b, f"{admin_b.base}/{key}/answer",
                       {"answer": "accept", "towns": ["江川镇"], "co_heads": "江川镇人大主席"})
        assert r.status_code == 303 and r.headers["location"] == f"{admin_b.base}/{key}?done=accepted"
        detail = (await admin_b.get(r.headers["location"])).text
        assert "In force" in detail and 'href="/t/liangguang/"' in detail and "Joint station set up" in detail
        assert (await admin_b.get("/t/liangguang/")).status_code == 200
    async with signed_in(app, a, "county_admin") as admin_a:
        assert NAME in (await admin_a.get("/tenants")).text  # the tenant switcher
        home = await admin_a.get("/t/liangguang/")
        assert home.status_code == 200 and 'id="joint-card"' in home.text
        assert "wuzhou县人大常委会" in home.text and "fengkai县人大常委会" in home.text
        assert "Cases and their referrals" in home.text
        assert "/t/liangguang/joint" not in home.text  # the county-only link is hidden in the joint tenant
        assert (await admin_a.get("/t/liangguang/joint")).status_code == 404
    assert await count(owner_sql) == 3  # both counties' copies and the joint tenant's


async def test_bad_input_shows_the_message_in_chinese_and_writes_nothing(app, database, owner_sql):
    a, b, _ = await three_counties(database)
    async with signed_in(app, a, "county_admin", lang="zh_Hans") as admin_a:
        r = await post(admin_a, admin_a.base, proposal(partners="999999"))
        assert r.status_code == 400
        assert "没有县" in r.text and "999999" in r.text, r.text
        assert 'value="两广龙圩—江川省际人大代表联络站"' in r.text  # the form keeps what was typed
        for change in ({"slug": "Bad Slug"}, {"towns": []}, {"co_heads": ""}, {"shares": ["everything"]},
                       {"partners": "wuzhou"}):
            r = await post(admin_a, admin_a.base, proposal(**change))
            assert r.status_code == 400, change
            assert 'role="alert"' in r.text
    assert await count(owner_sql) == 0 and await count(owner_sql, "joint_agreement_events") == 0
    assert (await owner_sql("SELECT count(*) AS n FROM audit_log WHERE action LIKE 'joint_%'"))[0]["n"] == 0


async def test_a_viewer_reads_but_has_no_forms_and_other_roles_see_nothing(app, database):
    a, b, _ = await three_counties(database)
    agreement = await proposed(database, a, b)
    key = agreement.agreement_key
    async with signed_in(app, b, "viewer") as viewer:
        listing = await viewer.get(viewer.base)
        assert listing.status_code == 200 and NAME in listing.text and 'name="partners"' not in listing.text
        detail = await viewer.get(f"{viewer.base}/{key}")
        assert detail.status_code == 200 and 'value="accept"' not in detail.text
        assert (await post(viewer, viewer.base, proposal(slug="other"))).status_code == 404
        answer = await post(viewer, f"{viewer.base}/{key}/answer",
                            {"answer": "accept", "towns": ["江川镇"], "co_heads": "x"})
        assert answer.status_code == 404
    async with signed_in(app, b, "township_staff") as staff:
        assert (await staff.get(staff.base)).status_code == 404
        assert (await staff.get(f"{staff.base}/{key}")).status_code == 404
        assert f'href="{staff.base}"' not in (await staff.get("/t/fengkai/")).text


async def test_a_third_county_gets_the_same_404(app, database):
    a, b, c = await three_counties(database)
    agreement = await accepted(database, a, b)
    key = agreement.agreement_key
    async with signed_in(app, c, "county_admin") as third:
        assert NAME not in (await third.get(third.base)).text
        for path in (f"{third.base}/{key}", f"{third.base}/not-a-uuid", f"{third.base}/{str(key)[:-1]}0"):
            assert (await third.get(path)).status_code == 404, path
        assert (await post(third, f"{third.base}/{key}/withdraw", {"confirm": "1"})).status_code == 404
        assert (await post(third, f"{third.base}/{key}/grants",
                           {"user_id": str(c.users["viewer"].id), "role": "viewer"})).status_code == 404
        assert (await third.get("/t/liangguang/")).status_code == 404


async def test_withdrawing_needs_the_confirmation(app, database, owner_sql):
    a, b, _ = await three_counties(database)
    key = (await accepted(database, a, b)).agreement_key
    async with signed_in(app, b, "county_admin") as admin_b:
        detail = f"{admin_b.base}/{key}"
        r = await post(admin_b, f"{detail}/withdraw", {}, page=detail)
        assert r.status_code == 400 and "Tick the box" in r.text
        assert [x["status"] for x in await owner_sql("SELECT status FROM joint_agreements")] == ["active"] * 3
        r = await post(admin_b, f"{detail}/withdraw", {"confirm": "1"}, page=detail)
        assert r.status_code == 303
        page = (await admin_b.get(r.headers["location"])).text
        assert "Withdrew from the agreement" in page and 'name="confirm"' not in page
        assert (await admin_b.get("/t/liangguang/")).status_code == 404
    async with signed_in(app, a, "county_admin") as admin_a:
        assert "Archived (one member left)" in (await admin_a.get(admin_a.base)).text


async def test_roles_in_the_joint_station_are_given_and_taken_back_from_the_page(app, database):
    a, b, _ = await three_counties(database)
    key = (await accepted(database, a, b)).agreement_key
    staff = a.users["township_staff"]
    async with signed_in(app, a, "county_admin") as admin_a:
        detail = f"{admin_a.base}/{key}"
        r = await post(admin_a, f"{detail}/grants", {"user_id": str(staff.id), "role": "station_staff"}, page=detail)
        assert r.status_code == 303 and r.headers["location"].endswith("?done=granted")
        page = (await admin_a.get(detail)).text
        assert staff.display_name in page and f"/grants/{staff.id}/revoke" in page
        for data in ({"user_id": str(b.users["viewer"].id), "role": "viewer"},  # not one of ours
                     {"user_id": str(staff.id), "role": "operator"}, {"user_id": "x", "role": "viewer"}):
            assert (await post(admin_a, f"{detail}/grants", data, page=detail)).status_code == 400, data
    async with signed_in(app, a, "township_staff") as member:
        assert (await member.get("/t/liangguang/")).status_code == 200
    async with signed_in(app, b, "county_admin") as admin_b:  # the other county sees the step, not the form
        page = (await admin_b.get(f"{admin_b.base}/{key}")).text
        assert "Role in the joint station given" in page and f"/grants/{staff.id}/revoke" not in page
        assert (await post(admin_b, f"{admin_b.base}/{key}/grants/{staff.id}/revoke", {})).status_code == 400
    async with signed_in(app, a, "county_admin") as admin_a:
        detail = f"{admin_a.base}/{key}"
        r = await post(admin_a, f"{detail}/grants/{staff.id}/revoke", {}, page=detail)
        assert r.status_code == 303 and r.headers["location"].endswith("?done=revoked")
    async with signed_in(app, a, "township_staff") as member:
        assert (await member.get("/t/liangguang/")).status_code == 404


async def test_an_invited_county_declines_from_the_page(app, database):
    a, b, _ = await three_counties(database)
    key = (await proposed(database, a, b)).agreement_key
    async with signed_in(app, b, "county_admin") as admin_b:
        detail = f"{admin_b.base}/{key}"
        r = await post(admin_b, f"{detail}/answer", {"answer": "accept", "towns": ["别的镇"], "co_heads": "x"},
                       page=detail)
        assert r.status_code == 400  # not one of its townships
        r = await post(admin_b, f"{detail}/answer", {"answer": "decline"}, page=detail)
        assert r.status_code == 303 and r.headers["location"].endswith("?done=declined")
        assert "Declined the agreement" in (await admin_b.get(detail)).text


async def test_the_operator_sees_the_agreements_metadata(client, app, database, owner_sql):
    a, b, _ = await three_counties(database)
    await accepted(database, a, b)
    await act(database, a, agreements.propose, name="另一个联络站",
              slug="another", partners=["fengkai"], side=Side(towns=["大坡镇"], co_heads=["主席"]), shares=["deputies"])
    _, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, "ops", secret)
    html = (await client.get("/ops/")).text
    section = html[html.index('id="joint"'):]
    assert NAME in section and "另一个联络站" in section and "wuzhou县人大常委会" in section
    assert "fengkai县人大常委会" in section
    assert "龙圩镇人大主席" not in section  # the agreement's details stay with the counties


async def test_deputies_join_and_are_taken_out_from_the_page(app, database, owner_sql):
    from tests.joint.test_deputies import deputy

    a, b, _ = await three_counties(database)
    agreement = await accepted(database, a, b)
    li = await deputy(database, a, "李代表")
    await deputy(database, b, "对方代表")
    async with signed_in(app, a, "county_admin") as admin:
        page = f"{admin.base}/{agreement.agreement_key}"
        html = (await admin.get(page)).text
        assert 'id="joint-deputies"' in html and "李代表" in html and "对方代表" not in html  # only its own
        r = await post(admin, f"{page}/deputies", {"deputy_ids": [str(li)]}, page=page)
        assert r.status_code == 303, r.text
        html = (await admin.get(r.headers["location"])).text
        assert "The deputies have joined the joint station." in html and "Deputies joined the joint station" in html
        r = await post(admin, f"{page}/deputies", {"deputy_ids": ["999999"]}, page=page)
        assert r.status_code == 400 and "Choose serving deputies of your own county." in r.text
        r = await post(admin, f"{page}/deputies/{li}/leave", {}, page=page)
        assert r.status_code == 303
    assert await count(owner_sql, "joint_deputies") == 0
    async with signed_in(app, b, "viewer") as viewer:  # the other county's viewer: no forms, no posting
        page = f"{viewer.base}/{agreement.agreement_key}"
        html = (await viewer.get(page)).text
        assert 'action="' + page + '/deputies"' not in html
        assert (await post(viewer, f"{page}/deputies", {"deputy_ids": [str(li)]}, page=page)).status_code == 404
