"""The administrative tree page: browse without JavaScript and with htmx, scope, and every edit."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.tenancy.models import AdminNode
from tests.factories import add_member, csrf_from, login, make_tenant, make_user

NODES = (
    ("城关镇", "township"), ("城关镇/东街社区", "community"), ("城关镇/北坝村", "village"),
    ("河坝乡", "township"), ("河坝乡/白鹤村", "village"), ("新华街道", "street"),
)


async def _setup(database, slug="alpha", nodes=NODES):
    tenant = await make_tenant(database, slug, nodes=nodes)
    admin = await make_user(database, f"{slug}-admin")
    await add_member(database, tenant, admin, "county_admin")
    staff = await make_user(database, f"{slug}-town")
    await add_member(database, tenant, staff, "township_staff", scope="城关镇")
    return tenant


async def _ids(database, tenant) -> dict[str, int]:
    async with database.session(tenant_id=tenant.id) as db:
        return {n.name: n.id for n in (await db.scalars(select(AdminNode))).all()}


async def _node(database, tenant, node_id) -> AdminNode:
    async with database.session(tenant_id=tenant.id) as db:
        return await db.get(AdminNode, (tenant.id, node_id))


async def _as(client, username):
    assert (await login(client, username)).status_code == 303


async def _post(client, page_url, url, data):
    page = await client.get(page_url)
    return await client.post(url, data={**data, "_csrf_token": csrf_from(page.text)}, follow_redirects=False)


async def test_browse_without_javascript_one_level_at_a_time(client, database):
    tenant = await _setup(database)
    ids = await _ids(database, tenant)
    await _as(client, "alpha-admin")
    page = await client.get("/t/alpha/places")
    assert page.status_code == 200
    for name in ("城关镇", "河坝乡", "新华街道"):
        assert name in page.text
    assert "东街社区" not in page.text and "白鹤村" not in page.text  # the next level is not sent
    assert f'href="/t/alpha/places?open={ids["城关镇"]}"' in page.text
    assert "乡镇" in page.text and "街道" in page.text  # kinds in Chinese
    opened = await client.get(f"/t/alpha/places?open={ids['城关镇']}")
    assert "东街社区" in opened.text and "北坝村" in opened.text and "白鹤村" not in opened.text
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', opened.text, re.S).group(0)
    assert "alpha县" in crumbs and "城关镇" in crumbs
    assert f'href="/t/alpha/places?open={ids["alpha县"]}"' in crumbs


async def test_htmx_partial_lists_the_children_only(client, database):
    tenant = await _setup(database)
    ids = await _ids(database, tenant)
    await _as(client, "alpha-admin")
    page = await client.get("/t/alpha/places")
    assert f'hx-get="/t/alpha/places/{ids["城关镇"]}/children"' in page.text
    partial = await client.get(f"/t/alpha/places/{ids['城关镇']}/children", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "东街社区" in partial.text and "北坝村" in partial.text
    assert "<html" not in partial.text and "河坝乡" not in partial.text


async def test_a_big_county_sends_only_the_first_level(client, database):
    nodes = []
    for t in range(30):
        nodes.append((f"第{t}镇", "township"))
        nodes += [(f"第{t}镇/第{t}镇{v}村", "village") for v in range(20)]
    tenant = await make_tenant(database, "big", nodes=nodes)
    admin = await make_user(database, "big-admin")
    await add_member(database, tenant, admin, "county_admin")
    await _as(client, "big-admin")
    page = await client.get("/t/big/places")
    assert page.status_code == 200
    assert len(re.findall(r"第\d+镇\d+村", page.text)) == 0
    assert len(set(re.findall(r">第(\d+)镇<", page.text))) == 30
    ids = await _ids(database, tenant)
    partial = await client.get(f"/t/big/places/{ids['第7镇']}/children", headers={"HX-Request": "true"})
    assert len(set(re.findall(r"第7镇\d+村", partial.text))) == 20
    assert len(partial.content) <= 5 * 1024
    assert int(partial.headers["x-query-count"]) < 15  # no query per child


async def test_township_staff_see_their_subtree_only(client, database):
    tenant = await _setup(database)
    ids = await _ids(database, tenant)
    await _as(client, "alpha-town")
    page = await client.get("/t/alpha/places")
    assert "东街社区" in page.text and "河坝乡" not in page.text
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', page.text, re.S).group(0)
    assert "城关镇" in crumbs and "alpha县" not in crumbs  # their node is their root
    for url in (f"/t/alpha/places?open={ids['河坝乡']}", f"/t/alpha/places?open={ids['alpha县']}",
                f"/t/alpha/places/{ids['河坝乡']}/children", f"/t/alpha/places/{ids['白鹤村']}",
                f"/t/alpha/places/{ids['城关镇']}"):  # their own root is not editable either
        assert (await client.get(url)).status_code == 404, url
    page = await client.get(f"/t/alpha/places?open={ids['城关镇']}")
    token = csrf_from(page.text)
    for url, data in ((f"/t/alpha/places/{ids['河坝乡']}/children", {"name": "新村", "kind": "village"}),
                      (f"/t/alpha/places/{ids['白鹤村']}/rename", {"name": "改名"}),
                      (f"/t/alpha/places/{ids['城关镇']}/retire", {}),
                      (f"/t/alpha/places/{ids['城关镇']}/move", {"parent": ids["alpha县"]}),
                      (f"/t/alpha/places/{ids['北坝村']}/move", {"parent": ids["河坝乡"]})):
        response = await client.post(url, data={**data, "_csrf_token": token}, follow_redirects=False)
        assert response.status_code in (400, 404), url
    assert (await _ids(database, tenant)) == ids
    assert (await _node(database, tenant, ids["北坝村"])).parent_id == ids["城关镇"]
    # inside their subtree they may add and rename
    response = await _post(client, f"/t/alpha/places?open={ids['城关镇']}", f"/t/alpha/places/{ids['城关镇']}/children",
                           {"name": "南关村", "kind": "village"})
    assert response.status_code == 303
    response = await _post(client, f"/t/alpha/places/{ids['北坝村']}", f"/t/alpha/places/{ids['北坝村']}/rename",
                           {"name": "北坝新村", "division_code": "510722100201"})
    assert response.status_code == 303
    node = await _node(database, tenant, ids["北坝村"])
    assert node.name == "北坝新村" and node.division_code == "510722100201"


async def test_viewer_reads_and_others_do_not(client, database):
    tenant = await _setup(database)
    ids = await _ids(database, tenant)
    for role in ("viewer", "handling_unit", "station_staff", "deputy"):
        user = await make_user(database, f"u-{role.replace('_', '-')}")
        await add_member(database, tenant, user, role)
    await _as(client, "u-viewer")
    page = await client.get("/t/alpha/places")
    assert page.status_code == 200 and "城关镇" in page.text
    assert '<form method="post" action="/t/alpha/places/' not in page.text  # no add (or other) form
    assert 'name="kind"' not in page.text
    assert (await client.get(f"/t/alpha/places/{ids['北坝村']}")).status_code == 404
    response = await client.post(f"/t/alpha/places/{ids['城关镇']}/children",
                                 data={"name": "x", "kind": "village", "_csrf_token": csrf_from(page.text)})
    assert response.status_code == 404
    for username in ("u-handling-unit", "u-station-staff", "u-deputy"):
        await client.post("/logout", data={"_csrf_token": csrf_from(page.text)})
        await _as(client, username)
        assert (await client.get("/t/alpha/places")).status_code == 404


async def test_add_child_checks_kind_name_code_and_siblings(client, database, owner_sql):
    tenant = await _setup(database)
    ids = await _ids(database, tenant)
    await _as(client, "alpha-admin")
    root_page = f"/t/alpha/places?open={ids['alpha县']}"
    add_root = f"/t/alpha/places/{ids['alpha县']}/children"
    before = await owner_sql("SELECT count(*) AS n FROM admin_nodes")
    for data, message in (
        ({"name": "", "kind": "township"}, "名称"),
        ({"name": "新村", "kind": "village"}, "不能"),  # a village directly under the county
        ({"name": "城关镇", "kind": "township"}, "已有"),
        ({"name": "新镇", "kind": "township", "division_code": "12ab"}, "数字"),
        ({"name": "新镇", "kind": "township", "division_code": "1234567890123"}, "数字"),
        ({"name": "新镇", "kind": "planet"}, "列表"),
        ({"name": "镇" * 81, "kind": "township"}, "80"),
    ):
        response = await _post(client, root_page, add_root, data)
        assert response.status_code == 400, data
        assert message in response.text, (data, re.search(r'class="error"[^>]*>([^<]*)', response.text))
    assert await owner_sql("SELECT count(*) AS n FROM admin_nodes") == before
    response = await _post(client, root_page, add_root, {"name": "新镇", "kind": "township", "division_code": "510722107"})
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/t/alpha/places?open={ids['alpha县']}")
    new = (await _ids(database, tenant))["新镇"]
    node = await _node(database, tenant, new)
    assert node.path == f"/{ids['alpha县']}/{new}/" and node.kind == "township" and node.division_code == "510722107"
    # a village cannot hold places
    response = await _post(client, f"/t/alpha/places?open={ids['北坝村']}", f"/t/alpha/places/{ids['北坝村']}/children",
                           {"name": "一组", "kind": "village"})
    assert response.status_code == 404
    audit = await owner_sql("SELECT action, details FROM audit_log WHERE action = 'node_added'")
    assert len(audit) == 1


async def test_rename_refuses_a_sibling_name(client, database, owner_sql):
    tenant = await _setup(database)
    ids = await _ids(database, tenant)
    await _as(client, "alpha-admin")
    url = f"/t/alpha/places/{ids['北坝村']}"
    response = await _post(client, url, f"{url}/rename", {"name": "东街社区"})
    assert response.status_code == 400 and "已有" in response.text
    response = await _post(client, url, f"{url}/rename", {"name": "  "})
    assert response.status_code == 400
    assert (await _node(database, tenant, ids["北坝村"])).name == "北坝村"
    response = await _post(client, url, f"{url}/rename", {"name": "北坝村委"})
    assert response.status_code == 303
    assert (await _node(database, tenant, ids["北坝村"])).name == "北坝村委"
    assert [r["action"] for r in await owner_sql("SELECT action FROM audit_log WHERE action LIKE 'node_%'")] == [
        "node_renamed"]


async def test_move_updates_the_subtree_paths(client, database, owner_sql):
    tenant = await _setup(database)
    ids = await _ids(database, tenant)
    await _as(client, "alpha-admin")
    # 河坝乡 moves nowhere but under the county; 白鹤村 moves to 城关镇
    url = f"/t/alpha/places/{ids['白鹤村']}"
    page = await client.get(url)
    assert f'value="{ids["城关镇"]}"' in page.text and f'value="{ids["新华街道"]}"' in page.text
    assert f'value="{ids["河坝乡"]}"' not in page.text  # its current parent
    response = await _post(client, url, f"{url}/move", {"parent": ids["城关镇"]})
    assert response.status_code == 303
    node = await _node(database, tenant, ids["白鹤村"])
    assert node.parent_id == ids["城关镇"] and node.path == f"/{ids['alpha县']}/{ids['城关镇']}/{ids['白鹤村']}/"
    # a township with its villages: move 城关镇's village 东街社区 into 新华街道, then check a deeper case
    async with database.transaction(tenant_id=tenant.id) as db:
        from app.tenancy.services import add_node
        parent = await db.get(AdminNode, (tenant.id, ids["东街社区"]))
        parent.kind = "street"  # only to build a three-level subtree for the test
        await db.flush()
        leaf = await add_node(db, tenant.id, parent.id, parent.path, "一组", "village")
        leaf_id = leaf.id
    url = f"/t/alpha/places/{ids['东街社区']}"
    response = await _post(client, url, f"{url}/move", {"parent": ids["alpha县"]})
    assert response.status_code == 303
    leaf = await _node(database, tenant, leaf_id)
    assert leaf.path == f"/{ids['alpha县']}/{ids['东街社区']}/{leaf_id}/" and leaf.parent_id == ids["东街社区"]
    # refusals: under itself or a descendant, a kind that does not fit, a sibling with the same name
    response = await _post(client, url, f"{url}/move", {"parent": leaf_id})
    assert response.status_code == 400 and "下级" in response.text
    url = f"/t/alpha/places/{ids['城关镇']}"
    response = await _post(client, url, f"{url}/move", {"parent": ids["河坝乡"]})
    assert response.status_code == 400 and "不能" in response.text
    async with database.transaction(tenant_id=tenant.id) as db:
        await add_node(db, tenant.id, ids["河坝乡"], f"/{ids['alpha县']}/{ids['河坝乡']}/", "北坝村", "village")
    url = f"/t/alpha/places/{ids['北坝村']}"
    response = await _post(client, url, f"{url}/move", {"parent": ids["河坝乡"]})
    assert response.status_code == 400 and "已有" in response.text
    response = await _post(client, url, f"{url}/move", {"parent": "abc"})
    assert response.status_code == 400
    assert (await _node(database, tenant, ids["北坝村"])).parent_id == ids["城关镇"]
    moves = await owner_sql("SELECT count(*) AS n FROM audit_log WHERE action = 'node_moved'")
    assert moves[0]["n"] == 2
    # the county's root cannot be moved, renamed or retired (no edit page)
    assert (await client.get(f"/t/alpha/places/{ids['alpha县']}")).status_code == 404


async def test_retire_rules_and_show_retired(client, database, owner_sql):
    from app.stations.models import Station, StationKind

    tenant = await _setup(database)
    ids = await _ids(database, tenant)
    await _as(client, "alpha-admin")
    url = f"/t/alpha/places/{ids['河坝乡']}"
    response = await _post(client, url, f"{url}/retire", {})
    assert response.status_code == 400 and "白鹤村" not in response.text and "1" in response.text
    assert "下级" in response.text or "下面" in response.text
    async with database.transaction(tenant_id=tenant.id) as db:
        kind = StationKind(tenant_id=tenant.id, code="station", name="代表联络站", node_kinds=["village"])
        db.add(kind)
        await db.flush()
        station = Station(tenant_id=tenant.id, kind_id=kind.id, node_id=ids["白鹤村"], name="白鹤村人大代表联络站",
                          status="active")
        db.add(station)
        await db.flush()
        station_id = station.id
    village = f"/t/alpha/places/{ids['白鹤村']}"
    response = await _post(client, village, f"{village}/retire", {})
    assert response.status_code == 400 and "站" in response.text
    assert (await _node(database, tenant, ids["白鹤村"])).retired_at is None
    await owner_sql("UPDATE stations SET status = 'closed' WHERE id = $1", station_id)
    response = await _post(client, village, f"{village}/retire", {})
    assert response.status_code == 303
    assert (await _node(database, tenant, ids["白鹤村"])).retired_at is not None
    page = await client.get(f"/t/alpha/places?open={ids['河坝乡']}")
    assert "白鹤村" not in page.text
    page = await client.get(f"/t/alpha/places?open={ids['河坝乡']}&retired=1")
    assert "白鹤村" in page.text
    # a retired name still blocks a sibling of the same name (history keeps it)
    response = await _post(client, f"/t/alpha/places?open={ids['河坝乡']}", f"/t/alpha/places/{ids['河坝乡']}/children",
                           {"name": "白鹤村", "kind": "village"})
    assert response.status_code == 400 and "停用" in response.text
    response = await _post(client, village, f"{village}/retire", {})
    assert response.status_code == 400
    response = await _post(client, url, f"{url}/retire", {})
    assert response.status_code == 303
    # retired nodes are not offered as move targets
    page = await client.get(f"/t/alpha/places/{ids['北坝村']}")
    assert f'value="{ids["河坝乡"]}"' not in page.text
    assert len(await owner_sql("SELECT 1 FROM audit_log WHERE action = 'node_retired'")) == 2
