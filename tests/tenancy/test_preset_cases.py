"""Presets carry case categories, handling units, due-date rules and the case settings: applied
idempotently, exactly the difference, nothing deleted or revived, exported so that export → apply →
export is identical; a unit naming an unknown node or a rule an unknown category applies nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.cases.models import CaseCategory, DueRule
from app.tenancy.models import AdminNode, HandlingUnit, TenantConfig
from app.presets.services import PresetError, parse_preset
from app.presets.services import apply_preset, export_preset, load_preset
from tests.isolation.world import snapshot

BASE = """
[tenant]
slug = "demo"
name = "演示县人大常委会"
kind = "county"
division_code = "510722"
county = "演示县"

[config]
case_reply_days = 12
case_feedback_days = 4
case_rehandle_limit = 2
public_limit_per_client = 6
public_limit_per_station = 80

[[nodes]]
path = "城关镇"
kind = "township"

[[nodes]]
path = "城关镇/东村"
kind = "village"

[[case_categories]]
code = "roads"
name = "道路交通"
sort = 10

[[case_categories]]
code = "water"
name = "农田水利"
sort = 20

[[handling_units]]
code = "jiaotong"
name = "演示县交通运输局"
kind = "county_department"
level = "county"
sort = 10

[[handling_units]]
code = "town"
name = "城关镇人民政府"
kind = "township_office"
level = "township"
node = "城关镇"
sort = 20

[[case_due_rules]]
reply_days = 15
feedback_days = 5
working_days = true

[[case_due_rules]]
urgency = "urgent"
reply_days = 5
feedback_days = 3
working_days = true

[[case_due_rules]]
level = "county"
category = "roads"
reply_days = 20
feedback_days = 5
working_days = false
"""


async def _rows(database, tenant_id):
    async with database.session(tenant_id=tenant_id) as db:
        return {
            "categories": {c.code: c for c in (await db.scalars(select(CaseCategory))).all()},
            "units": {u.code: u for u in (await db.scalars(select(HandlingUnit))).all()},
            "rules": (await db.scalars(select(DueRule).order_by(DueRule.id))).all(),
            "nodes": {n.name: n.id for n in (await db.scalars(select(AdminNode))).all()},
            "config": await db.get(TenantConfig, tenant_id),
        }


async def test_case_sections_are_applied_once(database, owner_sql):
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    rows = await _rows(database, tenant.id)
    assert {c: k.name for c, k in rows["categories"].items()} == {"roads": "道路交通", "water": "农田水利"}
    town = rows["units"]["town"]
    assert (town.kind, town.level, town.node_id) == ("township_office", "township", rows["nodes"]["城关镇"])
    assert rows["units"]["jiaotong"].node_id is None
    rules = {(r.level, r.category_id, r.urgency): (r.reply_days, r.feedback_days, r.working_days)
             for r in rows["rules"]}
    assert rules == {(None, None, None): (15, 5, True), (None, None, "urgent"): (5, 3, True),
                     ("county", rows["categories"]["roads"].id, None): (20, 5, False)}
    cfg = rows["config"]
    assert (cfg.case_reply_days, cfg.case_feedback_days, cfg.case_rehandle_limit, cfg.public_limit_per_client,
            cfg.public_limit_per_station) == (12, 4, 2, 6, 80)
    before = await snapshot(owner_sql, tenant.id)
    await apply_preset(database, parse_preset(BASE, name="demo"))
    assert await snapshot(owner_sql, tenant.id) == before


async def test_a_changed_file_changes_the_difference_and_deletes_or_revives_nothing(database, owner_sql):
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    first = await _rows(database, tenant.id)
    async with database.transaction(tenant_id=tenant.id) as db:  # live changes made in the app
        db.add(CaseCategory(tenant_id=tenant.id, code="own-3", name="自设类别", sort=5))
        db.add(DueRule(tenant_id=tenant.id, level="township", reply_days=10, feedback_days=3))
        water = await db.scalar(select(CaseCategory).where(CaseCategory.code == "water"))
        water.retired_at = func.now()
        unit = await db.scalar(select(HandlingUnit).where(HandlingUnit.code == "jiaotong"))
        unit.retired_at = func.now()
    changed = (BASE.replace('name = "道路交通"', 'name = "交通出行"')
               .replace("reply_days = 5\n", "reply_days = 4\n")
               .replace('node = "城关镇"', 'node = "城关镇/东村"')
               .replace("case_reply_days = 12", "case_reply_days = 10"))
    await apply_preset(database, parse_preset(changed, name="demo"))
    after = await _rows(database, tenant.id)
    assert after["categories"]["roads"].name == "交通出行"
    assert after["categories"]["roads"].id == first["categories"]["roads"].id
    assert after["categories"]["water"].retired_at is not None  # retired, not revived
    assert after["units"]["jiaotong"].retired_at is not None
    assert after["units"]["town"].node_id == after["nodes"]["东村"]
    assert "own-3" in after["categories"] and len(after["rules"]) == 4  # not deleted
    urgent = [r for r in after["rules"] if r.urgency == "urgent"]
    assert len(urgent) == 1 and urgent[0].reply_days == 4 and urgent[0].id == [
        r for r in first["rules"] if r.urgency == "urgent"][0].id
    assert after["config"].case_reply_days == 10 and after["config"].case_rehandle_limit == 2
    snap = await snapshot(owner_sql, tenant.id)
    await apply_preset(database, parse_preset(changed, name="demo"))
    assert await snapshot(owner_sql, tenant.id) == snap


async def test_export_apply_export_round_trip(database):
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    async with database.transaction(tenant_id=tenant.id) as db:  # a unit at a node added in the app
        db.add(CaseCategory(tenant_id=tenant.id, code="a-first", name="先加的", sort=1))
    text = await export_preset(database, "demo")
    for part in ("[[case_categories]]", "[[handling_units]]", "[[case_due_rules]]", 'node = "城关镇"',
                 "case_rehandle_limit = 2", 'category = "roads"'):
        assert part in text, part
    assert text.index("先加的") < text.index("道路交通")
    await apply_preset(database, parse_preset(text.replace('slug = "demo"', 'slug = "demo2"'), name="copy"))
    assert await export_preset(database, "demo2") == text.replace('slug = "demo"', 'slug = "demo2"')


@pytest.mark.parametrize("name", ["mianyang-santai", "jinzhong-yuci"])
async def test_the_demo_presets_round_trip_with_their_units(database, name):
    preset = load_preset(name)
    await apply_preset(database, preset)
    slug = preset.tenant["slug"]
    text = await export_preset(database, slug)
    assert text.count("[[handling_units]]") == 9 and text.count("[[case_categories]]") == 10
    await apply_preset(database, parse_preset(text.replace(f'slug = "{slug}"', 'slug = "copy"'), name="copy"))
    assert await export_preset(database, "copy") == text.replace(f'slug = "{slug}"', 'slug = "copy"')


async def test_unknown_node_or_category_applies_nothing(database, owner_sql):
    for bad, word in ((BASE.replace('node = "城关镇"', 'node = "河坝乡"'), "河坝乡"),
                      (BASE.replace('category = "roads"', 'category = "picnic"'), "picnic")):
        with pytest.raises(PresetError) as refused:
            await apply_preset(database, parse_preset(bad, name="demo"))
        assert word in str(refused.value)
    assert await owner_sql("SELECT slug FROM tenants WHERE slug = 'demo'") == []


def test_bad_case_sections_are_refused_when_read():
    cases = {
        "kind": BASE.replace('kind = "county_department"', 'kind = "bureau"'),
        "level": BASE.replace('kind = "county_department"', 'kind = "township_office"'),
        "node": BASE.replace('node = "城关镇"\n', ""),
        "1 to 365": BASE.replace("reply_days = 20", "reply_days = 0"),
        "same level": BASE + '\n[[case_due_rules]]\nurgency = "any"\nreply_days = 3\nfeedback_days = 3\n',
        "unknown keys": BASE.replace('sort = 20\n\n[[handling_units]]', 'sort = 20\ncolour = "red"\n\n[[handling_units]]'),
        "case_rehandle_limit": BASE.replace("case_rehandle_limit = 2", "case_rehandle_limit = 9"),
        "urgency": BASE.replace('urgency = "urgent"', 'urgency = "soon"'),
    }
    for word, text in cases.items():
        with pytest.raises(PresetError) as refused:
            parse_preset(text, name="demo")
        assert word in str(refused.value), (word, str(refused.value))
