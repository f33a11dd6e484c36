"""Tenant presets: apply is idempotent, a changed file changes exactly the difference and deletes
nothing, export → apply → export reproduces the text, and the shipped presets apply cleanly."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.stations.models import ChecklistItem, StationKind
from app.tenancy.models import AdminNode, TenantConfig
from app.presets.services import PresetError, parse_preset
from app.presets.services import apply_preset, export_preset, list_presets, load_preset
from tests.isolation.world import snapshot

BASE = """
[tenant]
slug = "demo"
name = "演示县人大常委会"
kind = "county"
division_code = "510722"
county = "演示县"

[config]
forbidden_words = ["人大代表联络点"]
lifecycle = ["proposed", "approved", "filed", "active", "closed"]
checklist_name = "八有"

[config.seats]
city = { min = 2, max = 3 }

[[nodes]]
path = "城关镇"
kind = "township"

[[nodes]]
path = "城关镇/东街社区"
kind = "community"

[[station_kinds]]
code = "home"
name = "代表之家"
node_kinds = ["county", "township"]
name_pattern = "{county}{township}人大代表之家"
sort = 10

[[checklist]]
code = "place"
label = "有场所"
sort = 10

[[checklist]]
code = "sign"
label = "有标识"
sort = 20
"""


async def _rows(database, tenant_id):
    async with database.session(tenant_id=tenant_id) as db:
        return {
            "nodes": {n.name: n for n in (await db.scalars(select(AdminNode))).all()},
            "kinds": {k.code: k for k in (await db.scalars(select(StationKind))).all()},
            "items": {i.code: i for i in (await db.scalars(select(ChecklistItem))).all()},
            "config": await db.get(TenantConfig, tenant_id),
        }


async def test_applying_the_same_file_twice_changes_nothing(database, owner_sql):
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    before = await snapshot(owner_sql, tenant.id)
    tenants_before = await owner_sql("SELECT * FROM tenants")
    again = await apply_preset(database, parse_preset(BASE, name="demo"))
    assert again.id == tenant.id
    assert await snapshot(owner_sql, tenant.id) == before
    assert await owner_sql("SELECT * FROM tenants") == tenants_before
    rows = await _rows(database, tenant.id)
    assert set(rows["nodes"]) == {"演示县", "城关镇", "东街社区"}
    assert rows["config"].seats == {"city": {"min": 2, "max": 3}} and rows["config"].checklist_name == "八有"
    assert rows["kinds"]["home"].node_kinds == ["county", "township"]


async def test_a_changed_file_changes_exactly_the_difference(database, owner_sql):
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    first = await _rows(database, tenant.id)
    # live history: a station on the community, a node, kind and item made in the app
    async with database.transaction(tenant_id=tenant.id) as db:
        db.add(StationKind(tenant_id=tenant.id, code="own", name="自设类型", node_kinds=["village"]))
        db.add(ChecklistItem(tenant_id=tenant.id, code="own", label="自设项目"))
    changed = (BASE.replace('label = "有标识"', 'label = "有统一标识"')
               .replace('name_pattern = "{county}{township}人大代表之家"', 'name_pattern = "绵阳市{county}{township}人大代表之家"')
               .replace('[[checklist]]\ncode = "place"', '[[station_kinds]]\ncode = "station"\nname = "代表联络站"\n'
                        'node_kinds = ["village"]\nname_pattern = ""\nsort = 20\n\n[[checklist]]\ncode = "place"')
               .replace('[[nodes]]\npath = "城关镇/东街社区"\nkind = "community"\n',
                        '[[nodes]]\npath = "河坝乡"\nkind = "township"\n'))
    assert changed.count("[[station_kinds]]") == 2 and "东街社区" not in changed
    await apply_preset(database, parse_preset(changed, name="demo"))
    after = await _rows(database, tenant.id)
    assert set(after["nodes"]) == {"演示县", "城关镇", "东街社区", "河坝乡"}  # nothing deleted, one added
    for name in ("演示县", "城关镇", "东街社区"):
        assert after["nodes"][name].path == first["nodes"][name].path
    assert after["items"]["sign"].label == "有统一标识" and after["items"]["sign"].id == first["items"]["sign"].id
    assert after["items"]["place"].label == "有场所" and "own" in after["items"] and after["items"]["own"].retired_at is None
    assert after["kinds"]["home"].name_pattern == "绵阳市{county}{township}人大代表之家"
    assert after["kinds"]["home"].id == first["kinds"]["home"].id
    assert after["kinds"]["station"].name == "代表联络站" and "own" in after["kinds"]
    assert after["config"].updated_at == first["config"].updated_at  # config unchanged: not rewritten
    # and applying the changed file again changes nothing more
    snap = await snapshot(owner_sql, tenant.id)
    await apply_preset(database, parse_preset(changed, name="demo"))
    assert await snapshot(owner_sql, tenant.id) == snap


async def test_config_change_is_applied(database):
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    changed = BASE.replace('lifecycle = ["proposed", "approved", "filed", "active", "closed"]',
                           'lifecycle = ["proposed", "filed", "active", "closed"]')
    await apply_preset(database, parse_preset(changed, name="demo"))
    rows = await _rows(database, tenant.id)
    assert rows["config"].lifecycle == ["proposed", "filed", "active", "closed"]
    assert rows["config"].forbidden_words == ["人大代表联络点"]


async def test_export_apply_export_round_trip(database):
    await apply_preset(database, load_preset("mianyang-santai"))
    text = await export_preset(database, "santai")
    assert "[config]" in text and "[[station_kinds]]" in text and "[[checklist]]" in text
    assert "绵阳市{county}{township}{village}人大代表联络站" in text and "有组织体系" in text
    copy = parse_preset(text.replace('slug = "santai"', 'slug = "santai-copy"'), name="copy")
    await apply_preset(database, copy)
    again = await export_preset(database, "santai-copy")
    assert again == text.replace('slug = "santai"', 'slug = "santai-copy"')


async def test_export_after_live_edits_round_trips(database):
    """A moved node, a retired one and a new kind made in the app still round-trip."""
    from app.tenancy.services import add_node

    tenant = await apply_preset(database, load_preset("jinzhong-yuci"))
    async with database.transaction(tenant_id=tenant.id) as db:
        nodes = {n.name: n for n in (await db.scalars(select(AdminNode))).all()}
        await add_node(db, tenant.id, nodes["修文镇"].id, nodes["修文镇"].path, "东长寿村", "village")
        nodes["北合流村"].retired_at = nodes["北合流村"].created_at
        db.add(StationKind(tenant_id=tenant.id, code="reception", name="选民接待室", node_kinds=["village"], sort=5))
    text = await export_preset(database, "yuci")
    assert "东长寿村" in text and "北合流村" not in text
    assert text.index("选民接待室") < text.index("代表之家")  # ordered by sort
    await apply_preset(database, parse_preset(text.replace('slug = "yuci"', 'slug = "yuci2"'), name="copy"))
    assert (await export_preset(database, "yuci2")) == text.replace('slug = "yuci"', 'slug = "yuci2"')


@pytest.mark.parametrize("name", ["mianyang-santai", "jinzhong-yuci", "standard"])
async def test_the_shipped_presets_apply_cleanly(database, owner_sql, name):
    preset = load_preset(name)
    identity = {} if preset.tenant.get("slug") else {
        "slug": "c510723", "name": "盐亭县人大常委会", "division_code": "510723", "county": "盐亭县"}
    tenant = await apply_preset(database, preset, **identity)
    before = await snapshot(owner_sql, tenant.id)
    await apply_preset(database, load_preset(name), **identity)
    assert await snapshot(owner_sql, tenant.id) == before
    rows = await _rows(database, tenant.id)
    assert rows["config"] is not None and rows["kinds"] and rows["items"]


async def test_the_two_county_presets_follow_their_sources(database):
    santai = await apply_preset(database, load_preset("mianyang-santai"))
    yuci = await apply_preset(database, load_preset("jinzhong-yuci"))
    s, y = await _rows(database, santai.id), await _rows(database, yuci.id)
    assert santai.slug == "santai" and yuci.slug == "yuci" and yuci.division_code == "140702"
    assert s["config"].forbidden_words == ["人大代表工作室", "人大代表联络点", "人大代表活动中心"]
    assert s["config"].lifecycle == ["proposed", "approved", "filed", "active", "closed"]
    assert s["config"].seats == {"city": {"min": 2, "max": 3}, "county": {"min": 5}}
    assert [i.label for i in sorted(s["items"].values(), key=lambda i: i.sort)] == [
        "有场所", "有标识", "有设备", "有制度台账", "有人大代表和联络员信息", "有活动记录", "有专人管理", "有组织体系"]
    assert s["kinds"]["station"].name_pattern == "绵阳市{county}{township}{village}人大代表联络站"
    assert s["kinds"]["home"].name_pattern == "绵阳市{county}{township}人大代表之家"
    assert "approved" not in y["config"].lifecycle and y["config"].checklist_name == "五有"
    assert {k.name for k in y["kinds"].values()} == {"代表之家", "代表联络站", "代表工作室"}
    assert len(y["items"]) == 5


def test_bad_preset_files_are_refused_with_a_reason():
    for text, words in (
        ('[config]\nlifecycle = ["proposed", "closed"]', "lifecycle"),
        ('[config]\ncolour = "red"', "unknown"),
        ('[config.seats]\nmayor = { min = 1 }', "seats"),
        ('[[station_kinds]]\ncode = "home"', "lacks"),
        ('[[station_kinds]]\ncode = "Home"\nname = "x"', "code"),
        ('[[station_kinds]]\ncode = "home"\nname = "x"\nnode_kinds = ["planet"]', "node_kinds"),
        ('[[checklist]]\ncode = "a"\nlabel = "x"\n[[checklist]]\ncode = "a"\nlabel = "y"', "twice"),
        ('[[nodes]]\npath = "x"\nkind = "town"', "kind"),
        ("not toml [", "preset"),
    ):
        with pytest.raises(PresetError) as refused:
            parse_preset(text, name="bad")
        assert words in str(refused.value), text


def test_the_demo_presets_exist():
    assert {"mianyang-santai", "jinzhong-yuci", "standard"} <= set(list_presets())
    assert "santai" not in list_presets() and "youxian" not in list_presets()
