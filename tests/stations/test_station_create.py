"""Proposing and renaming stations over HTTP: every refusal says what is wrong and writes nothing."""

import pytest

from tests.stations.places import county, person, post, rows, sign_in, snapshot


@pytest.fixture
async def alpha(database):
    c = await county(database)
    await person(database, c, "admin")
    await person(database, c, "tongchuan", "township_staff", scope="潼川镇")
    await person(database, c, "viewer", "viewer")
    return c


async def test_county_admin_proposes_a_station_with_the_canonical_name(client, database, owner_sql, alpha):
    c = alpha
    await sign_in(client, "admin")
    form = await client.get(f"{c.base}/stations/new")
    assert form.status_code == 200 and "北坝村" in form.text and "代表联络站" in form.text
    r = await post(client, c, "/stations", {"kind_id": c.kinds["station"], "node_id": c.nodes["北坝村"],
                                            "name": c.canonical("北坝村")})
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert page.status_code == 200
    assert c.canonical("北坝村") in page.text and "已提出" in page.text
    events = await owner_sql("SELECT action, to_status, actor_user_id FROM station_events WHERE tenant_id = $1",
                             c.tenant.id)
    assert [(e["action"], e["to_status"]) for e in events] == [("created", "proposed")]
    assert events[0]["actor_user_id"] == c.users["admin"].id
    audit = await owner_sql("SELECT action FROM audit_log WHERE tenant_id = $1 AND action = 'station_created'",
                            c.tenant.id)
    assert len(audit) == 1


@pytest.mark.parametrize("name, message", [
    ("北坝村人大代表工作室", "名称中含有禁用词“人大代表工作室”"),
    ("张三人大代表联络站", "名称不能使用代表姓名“张三”"),
    ("北坝村联络站", "名称应为“绵阳市alpha县潼川镇北坝村人大代表联络站”"),
    ("", "请填写站点名称"),
])
async def test_bad_names_are_refused_with_the_canonical_name_offered(client, database, owner_sql, alpha,
                                                                     name, message):
    c = alpha
    await sign_in(client, "admin")
    await client.get(f"{c.base}/stations")
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, "/stations", {"kind_id": c.kinds["station"], "node_id": c.nodes["北坝村"], "name": name})
    assert r.status_code == 400
    assert message in r.text
    # the one-click fill: a form that submits the same kind and place with the canonical name
    assert f'name="name" value="{c.canonical("北坝村")}"' in r.text
    assert "使用规范名称" in r.text
    assert await snapshot(owner_sql, c.tenant) == before
    # and that button works
    r = await post(client, c, "/stations", {"kind_id": c.kinds["station"], "node_id": c.nodes["北坝村"],
                                            "name": c.canonical("北坝村")})
    assert r.status_code == 303


async def test_kind_not_allowed_at_the_node(client, database, owner_sql, alpha):
    c = alpha
    await sign_in(client, "admin")
    r = await post(client, c, "/stations", {"kind_id": c.kinds["station"], "node_id": c.nodes["潼川镇"],
                                            "name": "alpha县潼川镇人大代表联络站"})
    assert r.status_code == 400
    assert "代表联络站不能设在乡镇" in r.text and "村、社区" in r.text
    assert await rows(owner_sql, "stations", c.tenant) == 0


async def test_unknown_kind_or_node_is_refused(client, database, owner_sql, alpha):
    c = alpha
    await sign_in(client, "admin")
    r = await post(client, c, "/stations", {"kind_id": "999", "node_id": c.nodes["北坝村"], "name": "x"})
    assert r.status_code == 400 and "请从列表中选择站点类型" in r.text
    r = await post(client, c, "/stations", {"kind_id": c.kinds["station"], "node_id": "abc", "name": "x"})
    assert r.status_code == 400 and "请从列表中选择地点" in r.text
    assert await rows(owner_sql, "stations", c.tenant) == 0


async def test_duplicate_open_name_is_refused(client, database, owner_sql, alpha):
    c = alpha
    await sign_in(client, "admin")
    data = {"kind_id": c.kinds["station"], "node_id": c.nodes["北坝村"], "name": c.canonical("北坝村")}
    assert (await post(client, c, "/stations", data)).status_code == 303
    r = await post(client, c, "/stations", data)
    assert r.status_code == 400 and "已有一个未撤销的站点名为" in r.text
    assert await rows(owner_sql, "stations", c.tenant) == 1


async def test_township_staff_propose_only_within_their_township(client, database, owner_sql, alpha):
    c = alpha
    await sign_in(client, "tongchuan")
    form = await client.get(f"{c.base}/stations/new")
    assert "北坝村" in form.text and "新村" not in form.text
    r = await post(client, c, "/stations", {"kind_id": c.kinds["station"], "node_id": c.nodes["新村"],
                                            "name": c.canonical("新村", "河坝乡")})
    assert r.status_code == 400 and "请从列表中选择地点" in r.text
    assert await rows(owner_sql, "stations", c.tenant) == 0
    r = await post(client, c, "/stations", {"kind_id": c.kinds["station"], "node_id": c.nodes["北坝村"],
                                            "name": c.canonical("北坝村")})
    assert r.status_code == 303


async def test_viewer_cannot_propose(client, database, owner_sql, alpha):
    c = alpha
    await sign_in(client, "viewer")
    assert (await client.get(f"{c.base}/stations/new")).status_code == 404
    r = await post(client, c, "/stations", {"kind_id": c.kinds["station"], "node_id": c.nodes["北坝村"],
                                            "name": c.canonical("北坝村")})
    assert r.status_code == 404
    assert await rows(owner_sql, "stations", c.tenant) == 0


async def test_rename_is_checked_the_same_way(client, database, owner_sql, alpha):
    c = alpha
    await sign_in(client, "admin")
    r = await post(client, c, "/stations", {"kind_id": c.kinds["studio"], "node_id": c.nodes["北坝村"],
                                            "name": "北坝村代表活动室"})
    assert r.status_code == 303
    sid = int(r.headers["location"].split("/")[-1].split("?")[0])
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, f"/stations/{sid}/rename", {"name": "北坝村人大代表活动中心"})
    assert r.status_code == 400 and "名称中含有禁用词“人大代表活动中心”" in r.text
    r = await post(client, c, f"/stations/{sid}/rename", {"name": "张三工作室"})
    assert r.status_code == 400 and "名称不能使用代表姓名“张三”" in r.text
    assert await snapshot(owner_sql, c.tenant) == before
    r = await post(client, c, f"/stations/{sid}/rename", {"name": "北坝村代表工作站"})
    assert r.status_code == 303
    page = await client.get(f"{c.base}/stations/{sid}")
    assert "北坝村代表工作站" in page.text and "已更名" in page.text and "北坝村代表活动室 → 北坝村代表工作站" in page.text


async def test_rename_off_pattern_offers_the_canonical_name(client, database, owner_sql, alpha):
    c = alpha
    await sign_in(client, "admin")
    r = await post(client, c, "/stations", {"kind_id": c.kinds["station"], "node_id": c.nodes["北坝村"],
                                            "name": c.canonical("北坝村")})
    sid = int(r.headers["location"].split("/")[-1].split("?")[0])
    r = await post(client, c, f"/stations/{sid}/rename", {"name": "北坝站"})
    assert r.status_code == 400 and f"名称应为“{c.canonical('北坝村')}”" in r.text
    assert f'action="/t/alpha/stations/{sid}/rename"' in r.text and "使用规范名称" in r.text
