"""The county's configuration pages: naming rule, lifecycle, seats, station kinds, checklist."""

from __future__ import annotations

from sqlalchemy import select

from app.stations.models import ChecklistItem, StationKind
from app.tenancy.config import canonical_name
from app.tenancy.models import AdminNode, TenantConfig
from tests.factories import add_member, csrf_from, login, make_tenant, make_user

NODES = (("潼川镇", "township"), ("潼川镇/北坝村", "village"), ("城北街道", "street"))


async def _setup(database):
    tenant = await make_tenant(database, "santai", nodes=NODES)
    for role, scope in (("county_admin", None), ("township_staff", "潼川镇"), ("viewer", None)):
        user = await make_user(database, role.replace("_", "-"))
        await add_member(database, tenant, user, role, scope=scope)
    return tenant


async def _post(client, page_url, url, data):
    page = await client.get(page_url)
    return await client.post(url, data={**data, "_csrf_token": csrf_from(page.text)}, follow_redirects=False)


def test_canonical_name_fills_the_placeholders():
    root = AdminNode(name="三台县", kind="county", division_code="510722", path="/1/")
    town = AdminNode(name="潼川镇", kind="township", path="/1/2/")
    village = AdminNode(name="北坝村", kind="village", path="/1/2/3/")
    pattern = "绵阳市{county}{township}{village}人大代表联络站"
    assert canonical_name(pattern, [root, town, village], "代表联络站") == "绵阳市三台县潼川镇北坝村人大代表联络站"
    assert canonical_name("绵阳市{county}{township}人大代表之家", [root, town], "代表之家") == "绵阳市三台县潼川镇人大代表之家"
    assert canonical_name("绵阳市{county}{township}人大代表之家", [root], "代表之家") == "绵阳市三台县人大代表之家"
    assert canonical_name("{city}{county}{kind}", [root], "代表之家") == "绵阳市三台县代表之家"
    assert canonical_name("{nope}{county}", [root], "x") == "{nope}三台县"
    unknown_city = AdminNode(name="某县", kind="county", division_code=None, path="/9/")
    assert canonical_name("{city}{county}", [unknown_city], "x") == "某县"


async def test_only_county_admins_see_the_settings(client, database):
    tenant = await _setup(database)
    async with database.transaction(tenant_id=tenant.id) as db:
        kind = StationKind(tenant_id=tenant.id, code="home", name="代表之家", node_kinds=["township"])
        item = ChecklistItem(tenant_id=tenant.id, code="place", label="有场所")
        db.add_all([kind, item])
    urls = ["/t/santai/settings", "/t/santai/settings/kinds", f"/t/santai/settings/kinds/{kind.id}",
            "/t/santai/settings/checklist", f"/t/santai/settings/checklist/{item.id}"]
    for username in ("township-staff", "viewer"):
        await login(client, username)
        for url in urls:
            assert (await client.get(url)).status_code == 404, (username, url)
        token = csrf_from((await client.get("/t/santai/")).text)
        for url in urls + [f"/t/santai/settings/kinds/{kind.id}/retire", f"/t/santai/settings/checklist/{item.id}/retire"]:
            response = await client.post(url, data={"_csrf_token": token, "label": "x", "name": "x"})
            assert response.status_code == 404, (username, url)
        await client.post("/logout", data={"_csrf_token": token})
    await login(client, "county-admin")
    for url in urls:
        assert (await client.get(url)).status_code == 200, url
    nav = (await client.get("/t/santai/")).text
    assert 'href="/t/santai/settings"' in nav


async def test_settings_defaults_then_first_save_creates_the_row(client, database, owner_sql):
    tenant = await _setup(database)
    await login(client, "county-admin")
    page = await client.get("/t/santai/settings")
    assert "默认值" in page.text
    assert 'name="approval" value="1" checked' in page.text and 'name="filing" value="1" checked' in page.text
    assert await owner_sql("SELECT 1 FROM tenant_config") == []
    response = await _post(client, "/t/santai/settings", "/t/santai/settings", {
        "forbidden_words": "人大代表工作室\n人大代表联络点\n\n人大代表联络点\n人大代表活动中心",
        "filing": "1", "seats_city_min": "2", "seats_city_max": "3", "seats_county_min": "5",
        "checklist_name": "八有",
    })
    assert response.status_code == 303 and response.headers["location"] == "/t/santai/settings?done=saved"
    async with database.session(tenant_id=tenant.id) as db:
        row = await db.get(TenantConfig, tenant.id)
    assert row.forbidden_words == ["人大代表工作室", "人大代表联络点", "人大代表活动中心"]
    assert row.lifecycle == ["proposed", "filed", "active", "closed"]  # no township approval
    assert row.seats == {"city": {"min": 2, "max": 3}, "county": {"min": 5}}
    assert row.checklist_name == "八有"
    page = await client.get("/t/santai/settings?done=saved")
    assert "配置已保存" in page.text and 'name="approval" value="1" checked' not in page.text
    assert 'value="3"' in page.text
    audit = await owner_sql("SELECT details FROM audit_log WHERE action = 'config_saved'")
    assert len(audit) == 1


async def test_settings_refuse_bad_input_and_write_nothing(client, database, owner_sql):
    await _setup(database)
    await login(client, "county-admin")
    for data, message in (
        ({"seats_city_min": "x"}, "整数"),
        ({"seats_city_min": "4", "seats_city_max": "3"}, "市级人大代表"),
        ({"seats_county_min": "100"}, "整数"),
        ({"forbidden_words": "字" * 41}, "40"),
        ({"checklist_name": "八" * 41}, "40"),
    ):
        response = await _post(client, "/t/santai/settings", "/t/santai/settings", data)
        assert response.status_code == 400 and message in response.text, data
    assert await owner_sql("SELECT 1 FROM tenant_config") == []
    assert await owner_sql("SELECT 1 FROM audit_log WHERE action = 'config_saved'") == []


async def test_station_kinds_add_edit_example_and_retire(client, database, owner_sql):
    tenant = await _setup(database)
    await login(client, "county-admin")
    page = await client.get("/t/santai/settings/kinds")
    assert "{township}" in page.text and "{village}" in page.text  # the placeholders are documented
    good = {"code": "station", "name": "代表联络站", "node_kinds": ["village", "community"],
            "name_pattern": "绵阳市{county}{township}{village}人大代表联络站", "sort": "20"}
    for change, message in (
        ({"code": "Bad Code"}, "代码"),
        ({"name": ""}, "类型名称"),
        ({"node_kinds": []}, "勾选"),
        ({"node_kinds": ["planet"]}, "列表"),
        ({"name_pattern": "{county}{town}站"}, "{town}"),
        ({"name_pattern": "{county站"}, "大括号"),
        ({"sort": "x"}, "整数"),
    ):
        response = await _post(client, "/t/santai/settings/kinds", "/t/santai/settings/kinds", {**good, **change})
        assert response.status_code == 400 and message in response.text, change
    assert await owner_sql("SELECT 1 FROM station_kinds") == []
    response = await _post(client, "/t/santai/settings/kinds", "/t/santai/settings/kinds", good)
    assert response.status_code == 303
    async with database.session(tenant_id=tenant.id) as db:
        kind = await db.scalar(select(StationKind))
    assert kind.node_kinds == ["village", "community"] and kind.sort == 20
    page = await client.get(f"/t/santai/settings/kinds/{kind.id}")
    assert "绵阳市santai县潼川镇北坝村人大代表联络站" in page.text  # a live example for a real village
    response = await _post(client, "/t/santai/settings/kinds", "/t/santai/settings/kinds", {**good, "name": "别的"})
    assert response.status_code == 400 and "station" in response.text  # same code
    url = f"/t/santai/settings/kinds/{kind.id}"
    response = await _post(client, url, url, {**good, "name": "村级代表联络站", "node_kinds": ["village"],
                                               "name_pattern": "{county}{village}{kind}"})
    assert response.status_code == 303
    page = await client.get(url)
    assert "santai县北坝村村级代表联络站" in page.text
    response = await _post(client, url, f"{url}/retire", {})
    assert response.status_code == 303
    page = await client.get("/t/santai/settings/kinds")
    assert "已停用" in page.text
    response = await _post(client, url, f"{url}/retire", {})
    assert response.status_code == 400
    actions = [r["action"] for r in await owner_sql("SELECT action FROM audit_log WHERE action LIKE 'station_kind%' ORDER BY id")]
    assert actions == ["station_kind_added", "station_kind_changed", "station_kind_retired"]


async def test_checklist_items_add_edit_and_retire(client, database, owner_sql):
    tenant = await _setup(database)
    await login(client, "county-admin")
    base = "/t/santai/settings/checklist"
    response = await _post(client, base, base, {"label": "有场所", "sort": "10"})
    assert response.status_code == 303
    response = await _post(client, base, base, {"label": "有标识", "sort": "20", "code": "sign"})
    assert response.status_code == 303
    for data, message in (({"label": ""}, "内容"), ({"label": "有场所"}, "已有"), ({"label": "x", "sort": "a"}, "整数"),
                          ({"label": "有设备", "code": "sign"}, "sign")):
        response = await _post(client, base, base, data)
        assert response.status_code == 400 and message in response.text, data
    async with database.session(tenant_id=tenant.id) as db:
        items = {i.label: i for i in (await db.scalars(select(ChecklistItem))).all()}
    assert set(items) == {"有场所", "有标识"} and items["有标识"].code == "sign" and items["有场所"].code
    url = f"{base}/{items['有场所'].id}"
    response = await _post(client, url, url, {"label": "有固定场所", "sort": "30"})
    assert response.status_code == 303
    page = await client.get(base)
    assert page.text.index("有标识") < page.text.index("有固定场所")
    response = await _post(client, url, url, {"label": "有标识", "sort": "30"})
    assert response.status_code == 400
    response = await _post(client, url, f"{url}/retire", {})
    assert response.status_code == 303
    async with database.session(tenant_id=tenant.id) as db:
        item = await db.get(ChecklistItem, (tenant.id, items["有场所"].id))
    assert item.retired_at is not None and item.label == "有固定场所"
    assert len(await owner_sql("SELECT 1 FROM audit_log WHERE action LIKE 'checklist_item%'")) == 4
