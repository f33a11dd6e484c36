"""The product's own code on the Citus cluster (issue 21), with LIANLUO_DB_CITUS: its sessions bind the
tenant with SET LOCAL, which reaches the shards, so a county's pages show the county's rows and
another county's stay out of reach — through the same sign-in, membership guard and services as on
one PostgreSQL."""

from __future__ import annotations


import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

from app.core.db import as_tenant
from app.tenancy.models import AdminNode
from tests.factories import add_member, login, make_tenant, make_user

pytestmark = pytest.mark.citus


async def test_sessions_bind_the_tenant_on_the_workers_and_switch_for_joint_work(citus_database):
    one = await make_tenant(citus_database, "cz-one", nodes=[("乡一", "township")])
    two = await make_tenant(citus_database, "cz-two", nodes=[("乡二", "township")])
    async with citus_database.transaction(tenant_id=one.id) as db:
        names = set(await db.scalars(select(AdminNode.name).where(AdminNode.tenant_id == one.id)))
        assert "乡一" in names and "乡二" not in names
        assert not (await db.scalars(select(AdminNode.name).where(AdminNode.tenant_id == two.id))).all()
        async with as_tenant(db, two.id):  # the one way to cross tenants, on the workers too
            assert "乡二" in set(await db.scalars(select(AdminNode.name).where(AdminNode.tenant_id == two.id)))
        assert not (await db.scalars(select(AdminNode.name).where(AdminNode.tenant_id == two.id))).all()
    async with citus_database.transaction() as db:  # nothing bound: nothing found (over every shard)
        await db.execute(text("SET LOCAL citus.multi_task_query_log_level = 'off'"))
        assert not (await db.scalars(select(AdminNode.id))).all()


async def test_a_member_signs_in_and_works_in_their_county_only(on_citus, citus_database):
    from app.main import create_app

    one = await make_tenant(citus_database, "cz-home", nodes=[("城关镇", "township")])
    other = await make_tenant(citus_database, "cz-away", nodes=[("外乡", "township")])
    wang = await make_user(citus_database, "cz-wang")
    await add_member(citus_database, one, wang)
    li = await make_user(citus_database, "cz-li")
    await add_member(citus_database, other, li)
    async with AsyncTestClient(app=create_app(on_citus), base_url="http://testserver.local") as client:
        assert (await login(client, "cz-wang")).status_code == 303
        home = await client.get("/t/cz-home/")
        assert home.status_code == 200 and "cz-home县人大常委会" in home.text
        places = await client.get("/t/cz-home/places")
        assert places.status_code == 200 and "城关镇" in places.text and "外乡" not in places.text
        assert (await client.get("/t/cz-away/")).status_code == 404
        assert (await client.get("/t/cz-away/places")).status_code == 404
        # the unit switcher: a person's memberships in every county, the one read across shards on purpose
        switcher = await client.get("/tenants")
        assert switcher.status_code == 200 and "/t/cz-home/" in switcher.text and "cz-away" not in switcher.text


async def test_the_demo_loads_and_its_pages_open_on_the_cluster_every_statement_on_one_shard(on_citus, citus_demo,
                                                                                              coordinator_sql):
    """The demo goes through the product's services (presets, places, deputies, activities, cases,
    duties), and every demo login's home and every link of its menus open (each role, each county, the
    joint station): here each statement must name
    its county (the suite refuses any other), and what the demo wrote lands under each county's shard."""
    from app.demo import DEMO_PASSWORD, DEMO_USERS
    from app.main import create_app
    from tests.crawl import broken, main_links, nav_links, visit, walk

    rows = await coordinator_sql("SELECT t.slug, count(c.*) AS cases FROM tenants t JOIN cases c ON c.tenant_id = t.id "
                                 "WHERE t.slug IN ('santai', 'yuci') GROUP BY t.slug ORDER BY t.slug")
    [(ballots,)] = await coordinator_sql("SELECT count(*) FROM duty_report_ballots WHERE source = 'paper'")
    assert [r["slug"] for r in rows] == ["santai", "yuci"] and all(r["cases"] > 10 for r in rows)
    assert ballots > 0  # paper ballots: rows of VALUES, not INSERT … SELECT (Citus would COPY, which RLS refuses)

    failures, pages = {}, 0
    async with AsyncTestClient(app=create_app(on_citus), base_url="http://testserver.local") as client:
        for username, slug in dict.fromkeys((u[0], u[2]) for u in DEMO_USERS):
            client.cookies.clear()
            assert (await login(client, username, DEMO_PASSWORD)).status_code == 303
            home = f"/t/{slug}/"
            first = await visit(client, home)
            visits = {home: first, **await walk(client, [*main_links(first.text), *nav_links(first.text)],
                                               seen={home})}
            pages += len(visits)
            failures.update({f"{username} {url}": why for url, why in broken(visits).items()})
    assert pages > 200 and not failures, (pages, failures)


async def test_a_villager_sends_an_opinion_and_looks_it_up_on_the_cluster(on_citus, citus_database):
    """The public form end to end on the cluster: the county found by its slug and bound (SET LOCAL),
    the limits counted, the case, its history, search keys (a trigger on the worker), notice and rating
    code written on the county's shard; then the receipt code finds it, and another county's lookup
    does not."""
    import re

    from app.main import create_app
    from tests.cases.world import EAST, build_case_county

    cc = await build_case_county(citus_database, "cz-case")
    other = await build_case_county(citus_database, "cz-case2")
    async with AsyncTestClient(app=create_app(on_citus), base_url="http://testserver.local") as client:
        sent = await client.post(f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion",
                                 data={"content": "村口路灯坏了两个月，请尽快修理。", "person_name": "",
                                       "person_mobile": "", "website": ""})
        assert sent.status_code == 200
        code = re.search(r'<input type="hidden" name="code" value="([^"]+)">', sent.text).group(1)
        found = await client.post(f"/p/{cc.slug}/lookup", data={"code": code})
        assert found.status_code == 200 and "已登记" in found.text  # its history: registered today
        elsewhere = await client.post(f"/p/{other.slug}/lookup", data={"code": code})
        assert "已登记" not in elsewhere.text


async def test_a_case_goes_from_registration_to_rating_on_the_cluster(on_citus, citus_database, coordinator_sql):
    """The case workflow through the staff pages, each step by its own member (county admin, the
    handling unit, the station), every statement on the county's shard; the notices and search keys
    the steps write land there too."""
    from app.main import create_app
    from tests.cases.world import EAST, build_case_county
    from tests.deputies.deputy_world import post, signed_in

    cc = await build_case_county(citus_database, "cz-flow")
    app = create_app(on_citus)
    async with signed_in(app, cc.county, "admin") as client:
        r = await post(client, f"{client.base}/cases/new", {"content": "县道塌方", "source": "visit",
                                                            "station_id": str(cc.stations[EAST])})
        assert r.status_code == 303, r.text[:300]
        case_id = int(r.headers["location"].split("/cases/")[1].split("?")[0])
        assert (await client.get(f"{client.base}/cases/{case_id}")).status_code == 200
        assert (await client.get(f"{client.base}/cases?q=塌方")).status_code == 200  # the text search
        r = await post(client, f"{client.base}/cases/{case_id}/steps/assign", {"unit_id": str(cc.units["transport"])})
        assert r.status_code == 303
    async with signed_in(app, cc.county, "transport") as client:
        assert (await post(client, f"{client.base}/cases/{case_id}/steps/accept")).status_code == 303
        r = await post(client, f"{client.base}/cases/{case_id}/steps/reply", {"result": "已抢修完毕"})
        assert r.status_code == 303
    async with signed_in(app, cc.county, "station") as client:
        r = await post(client, f"{client.base}/cases/{case_id}/steps/feed_back", {"channel": "sms"})
        assert r.status_code == 303
        r = await post(client, f"{client.base}/cases/{case_id}/steps/rate", {"satisfaction": "satisfied"})
        assert r.status_code == 303
    assert await coordinator_sql("SELECT state FROM cases WHERE tenant_id = $1 AND id = $2",
                                 cc.tenant.id, case_id) == [("closed",)]
    assert await coordinator_sql("SELECT count(*) FROM case_events WHERE tenant_id = $1 AND case_id = $2",
                                 cc.tenant.id, case_id) == [(6,)]


async def test_a_deputy_signs_in_to_an_activity_by_their_link_on_the_cluster(on_citus, citus_database,
                                                                              coordinator_sql):
    """An activity planned through the services (its invitations and reminders written), then a
    deputy's personal sign-in link on a phone: the attendance lands on the county's shard."""
    from datetime import datetime, timedelta, timezone

    from app.activities.models import Invitation
    from app.main import create_app
    from tests.activities.world import build_activity_county, put_activity

    ac = await build_activity_county(citus_database, "cz-act")
    activity_id = await put_activity(citus_database, ac, kind="reception", status="planned", topic="五月接待日",
                                     starts_at=datetime.now(timezone.utc) + timedelta(minutes=5),
                                     invited=("张伟", "李娜"))
    async with citus_database.transaction(tenant_id=ac.tenant.id) as db:
        token = await db.scalar(select(Invitation.token).where(Invitation.activity_id == activity_id,
                                                               Invitation.deputy_id == ac.deputies["张伟"]))
    url = f"/signin/{ac.slug}/{token}"
    async with AsyncTestClient(app=create_app(on_citus), base_url="http://testserver.local") as phone:
        page = await phone.get(url)
        assert page.status_code == 200 and "五月接待日" in page.text
        assert (await phone.post(url, follow_redirects=False)).status_code == 303
    rows = await coordinator_sql("SELECT method FROM attendances WHERE tenant_id = $1 AND activity_id = $2",
                                 ac.tenant.id, activity_id)
    assert [r["method"] for r in rows] == ["link"]


async def test_a_joint_station_is_agreed_and_refers_a_case_to_a_member_county_on_the_cluster(citus_database,
                                                                                            coordinator_sql):
    """Two counties agree on a joint station (a tenant of its own), a villager's report is registered
    there and referred to one member county: the steps that touch two counties run as one
    transaction across their shards (as_tenant), each statement still on one shard."""
    from app.joint import agreements
    from tests.joint.test_referrals import joint_case, refer
    from tests.joint.world import Side, act, county

    a = await county(citus_database, "cz-wz", ("龙圩镇", "大坡镇"))
    b = await county(citus_database, "cz-fk", ("江川镇", "南丰镇"))
    proposal = await act(citus_database, a, agreements.propose, name="两广龙圩—江川省际人大代表联络站", slug="cz-lg",
                         partners=[b.tenant.slug], side=Side(towns=["龙圩镇"], co_heads=["龙圩镇人大主席"]),
                         shares=["deputies", "activities", "cases", "ledgers"])
    agreement = await act(citus_database, b, agreements.answer, key=proposal.agreement_key, accept=True,
                          side=Side(towns=["江川镇"], co_heads=["江川镇人大主席"]))
    case_id = await joint_case(citus_database, agreement, a.users["county_admin"])
    await refer(citus_database, agreement, a.users["county_admin"], case_id, [b])
    theirs = await coordinator_sql("SELECT content FROM cases WHERE tenant_id = $1", b.id)
    joint = await coordinator_sql("SELECT state FROM cases WHERE tenant_id = $1 AND id = $2",
                                  agreement.joint_tenant_id, case_id)
    assert [r["content"] for r in theirs] == ["对岸江川镇的造纸厂往西江排污，河水发黑"]
    assert [r["state"] for r in joint] == ["referred"]


async def test_a_countys_data_export_and_binder_are_built_on_the_cluster(citus_demo, citus_database, coordinator_sql):
    """The worker's two biggest jobs on the demo county (santai): the county's data export (every
    table, photos) and the ledger binder workbook, each built in its own snapshot bound to the county:
    every statement on its shard (the suite refuses any other), the bytes stored there."""
    from datetime import date

    from app.binder import builds
    from app.data import exports
    from app.tenancy.scope import Scope

    [(tenant_id, admin_id)] = await coordinator_sql(
        "SELECT t.id, u.id FROM tenants t, users u WHERE t.slug = 'santai' AND u.username = 'santai-admin'")
    async with citus_database.transaction(tenant_id=tenant_id) as db:
        export = await exports.request_export(db, tenant_id=tenant_id, actor_id=admin_id)
        scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=admin_id)
        build, _new = await builds.request_build(db, scope, tenant_id=tenant_id, station=None, year=None,
                                                 today=date.today())
    assert await exports.run_export(citus_database, tenant_id, export.id) == "done"
    assert await builds.run_build(citus_database, tenant_id, build.id) == "done"
    [(export_bytes,)] = await coordinator_sql("SELECT size FROM data_exports WHERE tenant_id = $1 AND id = $2",
                                              tenant_id, export.id)
    [(workbook,)] = await coordinator_sql("SELECT octet_length(data) FROM binder_builds WHERE tenant_id = $1 "
                                          "AND id = $2", tenant_id, build.id)
    assert export_bytes > 10_000 and workbook > 5_000, (export_bytes, workbook)


async def test_a_deputies_file_is_checked_and_imported_by_the_worker_on_the_cluster(citus_database, coordinator_sql):
    """The import: the file checked against the county's places and stations, confirmed, and the
    worker's job writing 200 deputies with their mandates and stations in batches — on the county's
    shard, every statement naming it."""
    from app.deputies import imports
    from app.tenancy.scope import Scope
    from tests.deputies.deputy_world import build
    from tests.deputies.test_import import DEPUTY_HEAD, deputy_rows, xlsx

    county = await build(citus_database, "cz-import")
    admin = county.users["admin"]
    scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=admin.id)
    async with citus_database.transaction(tenant_id=county.tenant.id) as db:
        job = await imports.create_preview(db, tenant_id=county.tenant.id, scope=scope, actor_id=admin.id,
                                           kind="deputies", data=xlsx([DEPUTY_HEAD, *deputy_rows(200)]),
                                           filename="全县代表.xlsx")
        assert job.problems == [] and job.total == 200
        assert await imports.confirm(db, tenant_id=county.tenant.id, job=job, actor_id=admin.id)
    before = (await coordinator_sql("SELECT count(*) FROM deputies WHERE tenant_id = $1", county.tenant.id))[0][0]
    assert await imports.run_import(citus_database, county.tenant.id, job.id) == "done"
    after = (await coordinator_sql("SELECT count(*) FROM deputies WHERE tenant_id = $1", county.tenant.id))[0][0]
    assert after == before + 200
