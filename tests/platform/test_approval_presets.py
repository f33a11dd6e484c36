"""The operator's approval offers every county preset as a starting point, named by what it models; a
demo county's preset gives the new county its configuration, never the demo county's places."""

from __future__ import annotations

import html

import pytest

from app.presets.services import approval_presets, load_preset, starting_point
from tests.factories import csrf_from

DEMO = {  # preset → (model county, its city, station kinds, rules)
    "mianyang-santai": ("三台县", "绵阳市", {"home", "station", "away"}, {"deputy-constituency", "my-reception"}),
    "jinzhong-yuci": ("榆次区", "晋中市", {"home", "station", "studio"}, None),
}


async def _application(owner_sql, code="140728", county="山西省 晋中市 平遥县"):
    rows = await owner_sql(
        "INSERT INTO signup_applications (division_code, county_name, contact_name, contact_phone, client_addr) "
        "VALUES ($1, $2, '王红', '13800138000', '10.0.0.1') RETURNING id", code, county)
    return rows[0]["id"]


def test_every_county_preset_is_a_starting_point_with_a_chinese_title_and_description():
    offered = approval_presets()
    names = [p.name for p in offered]
    assert names[0] == "standard"
    assert {"mianyang-santai", "jinzhong-yuci", "hezhou-babu", "zhaoqing-fengkai", "beijing-district",
            "yixing-town"} <= set(names)
    assert "joint-hezhou-fengkai" not in names  # a joint station's preset is not a county's
    for preset in offered:
        assert preset.title("zh_Hans") != preset.name and len(preset.description("zh_Hans")) > 30, preset.name
    assert load_preset("mianyang-santai").title("zh_Hans") == "绵阳模式（参照三台县）"


def test_starting_point_keeps_the_configuration_without_the_places():
    for name, (model, city, _, _) in DEMO.items():
        preset = load_preset(name)
        assert preset.nodes and any(u.get("node") for u in preset.handling_units)
        start = starting_point(preset, "平遥县")
        assert start.nodes == [] and not any(u.get("node") for u in start.handling_units)
        assert start.rules == preset.rules and start.case_categories == preset.case_categories
        assert start.config == preset.config and start.checklist == preset.checklist
        names = [u["name"] for u in start.handling_units]
        assert names and all(n.startswith("平遥县") for n in names) and not any(model in n for n in names)
        assert not any(city in k["name_pattern"] for k in start.station_kinds)
    standard = load_preset("standard")
    assert starting_point(standard, "平遥县") is standard


@pytest.mark.parametrize("name", sorted(DEMO))
async def test_approval_with_a_demo_county_preset(client, database, owner_sql, operator, name):
    model, city, kinds, rules = DEMO[name]
    preset = load_preset(name)
    app_id = await _application(owner_sql)
    page = await client.get(f"/ops/applications/{app_id}")
    text = html.unescape(page.text)
    for offered in approval_presets():  # every one, by what it models
        assert f'value="{offered.name}"' in text
        assert offered.title("zh_Hans") in text and offered.description("zh_Hans") in text
    r = await client.post(f"/ops/applications/{app_id}/approve", data={
        "preset": name, "slug": "pingyao", "name": "平遥县人大常委会", "admin_name": "王红",
        "admin_mobile": "13800138000", "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 200, r.text
    tenant = (await owner_sql("SELECT id, preset FROM tenants WHERE slug = 'pingyao'"))[0]
    t = tenant["id"]
    assert tenant["preset"] == name
    # the county's own root, and none of the model county's townships, villages or stations
    nodes = await owner_sql("SELECT name, kind FROM admin_nodes WHERE tenant_id = $1", t)
    assert [(n["name"], n["kind"]) for n in nodes] == [("平遥县", "county")]
    assert not await owner_sql("SELECT 1 FROM stations WHERE tenant_id = $1", t)
    # its station kinds (named for the new county's own city), rules, checklist, categories, departments
    got = {k["code"]: k["name_pattern"] for k in await owner_sql(
        "SELECT code, name_pattern FROM station_kinds WHERE tenant_id = $1", t)}
    assert set(got) == kinds
    assert all(city not in p for p in got.values()) and any(p.startswith("{city}{county}") for p in got.values())
    rule_codes = {r["code"] for r in await owner_sql("SELECT code FROM activity_rules WHERE tenant_id = $1", t)}
    assert rule_codes == (rules or {r["code"] for r in preset.rules})
    items = await owner_sql("SELECT count(*) AS n FROM checklist_items WHERE tenant_id = $1", t)
    assert items[0]["n"] == len(preset.checklist)
    config = (await owner_sql("SELECT lifecycle, checklist_name, forbidden_words FROM tenant_config "
                              "WHERE tenant_id = $1", t))[0]
    assert (config["lifecycle"], config["checklist_name"]) == (preset.config["lifecycle"],
                                                               preset.config["checklist_name"])
    categories = await owner_sql("SELECT code FROM case_categories WHERE tenant_id = $1", t)
    assert {c["code"] for c in categories} == {c["code"] for c in preset.case_categories}
    units = {u["code"]: u for u in await owner_sql(
        "SELECT code, name, level, node_id FROM handling_units WHERE tenant_id = $1", t)}
    assert units["jiaotong"]["name"] == "平遥县交通运输局" and units["jiaotong"]["level"] == "county"
    assert all(u["node_id"] is None and model not in u["name"] for u in units.values())
    assert set(units) == {u["code"] for u in preset.handling_units if not u.get("node")}
    everything = await owner_sql(
        "SELECT name FROM admin_nodes WHERE tenant_id = $1 UNION ALL SELECT name FROM handling_units "
        "WHERE tenant_id = $1 UNION ALL SELECT name FROM station_kinds WHERE tenant_id = $1", t)
    assert not any(model in row["name"] for row in everything)
