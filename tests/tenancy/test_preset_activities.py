"""Presets carry activity kinds, rules and the sign-in / at-risk / photo settings: applied
idempotently, exactly the difference, nothing deleted or revived, exported so that export → apply →
export is identical; a bad rule stops the whole preset with a message naming it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.activities.models import STANDARD_KINDS, ActivityKind, Rule
from app.tenancy.models import TenantConfig
from app.presets.services import PresetError, approval_presets, parse_preset
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
signin_opens_minutes = 30
signin_closes_minutes = 240
at_risk_days = 14
photo_originals_mb = 200

[[station_kinds]]
code = "station"
name = "代表联络站"
node_kinds = ["village"]
name_pattern = ""

[[activity_kinds]]
code = "reception"
name = "接待选民"
sort = 10

[[activity_kinds]]
code = "visit"
name = "走访选区"
sort = 20

[[rules]]
code = "monthly"
name = "每月接待选民一次"
subject = "station"
kind_codes = ["reception"]
period = "month"
minimum = 1
min_deputies = 2
station_kind_codes = ["station"]

[[rules]]
code = "constituency"
name = "每位代表每年进选区不少于两次"
subject = "deputy"
kind_codes = ["visit"]
period = "year"
minimum = 2
deputy_levels = ["county"]
"""


async def _rows(database, tenant_id):
    async with database.session(tenant_id=tenant_id) as db:
        return {
            "kinds": {k.code: k for k in (await db.scalars(select(ActivityKind))).all()},
            "rules": {r.code: r for r in (await db.scalars(select(Rule))).all()},
            "config": await db.get(TenantConfig, tenant_id),
        }


async def test_kinds_rules_and_settings_are_applied_once(database, owner_sql):
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    rows = await _rows(database, tenant.id)
    assert {c: k.name for c, k in rows["kinds"].items()} == {"reception": "接待选民", "visit": "走访选区"}
    monthly = rows["rules"]["monthly"]
    assert (monthly.subject, monthly.kind_codes, monthly.period, monthly.minimum, monthly.min_deputies,
            monthly.station_kind_codes, monthly.sort) == ("station", ["reception"], "month", 1, 2, ["station"], 10)
    constituency = rows["rules"]["constituency"]
    assert constituency.deputy_levels == ["county"] and constituency.min_deputies is None
    cfg = rows["config"]
    assert (cfg.signin_opens_minutes, cfg.signin_closes_minutes, cfg.at_risk_days, cfg.photo_originals_mb) == (
        30, 240, 14, 200)
    before = await snapshot(owner_sql, tenant.id)
    await apply_preset(database, parse_preset(BASE, name="demo"))
    assert await snapshot(owner_sql, tenant.id) == before


async def test_a_changed_file_changes_the_difference_and_deletes_or_revives_nothing(database, owner_sql):
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    first = await _rows(database, tenant.id)
    async with database.transaction(tenant_id=tenant.id) as db:  # live changes made in the app
        db.add(ActivityKind(tenant_id=tenant.id, code="own", name="自设活动", sort=5))
        db.add(Rule(tenant_id=tenant.id, code="own-rule", name="自设规范", subject="group", kind_codes=["visit"],
                    period="half", minimum=1))
        kind = await db.scalar(select(ActivityKind).where(ActivityKind.code == "visit"))
        kind.retired_at = func.now()
        rule = await db.scalar(select(Rule).where(Rule.code == "constituency"))
        rule.retired_at = func.now()
    changed = (BASE.replace("minimum = 2\ndeputy_levels", "minimum = 3\ndeputy_levels")
               .replace('name = "接待选民"', 'name = "接待日"')
               .replace("min_deputies = 2\n", "")
               .replace("at_risk_days = 14", "at_risk_days = 7"))
    await apply_preset(database, parse_preset(changed, name="demo"))
    after = await _rows(database, tenant.id)
    reception = after["kinds"]["reception"]
    assert reception.name == "接待日" and reception.id == first["kinds"]["reception"].id
    assert after["rules"]["monthly"].min_deputies is None  # a rule is described whole
    assert after["rules"]["monthly"].id == first["rules"]["monthly"].id
    assert after["rules"]["constituency"].minimum == 3
    assert after["rules"]["constituency"].retired_at is not None  # retired, not revived
    assert after["kinds"]["visit"].retired_at is not None
    assert "own" in after["kinds"] and after["rules"]["own-rule"].retired_at is None  # not deleted
    assert after["config"].at_risk_days == 7 and after["config"].signin_opens_minutes == 30
    snap = await snapshot(owner_sql, tenant.id)
    await apply_preset(database, parse_preset(changed, name="demo"))
    assert await snapshot(owner_sql, tenant.id) == snap


async def test_a_rule_may_count_a_kind_the_tenant_already_has(database):
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    extra = BASE + '\n[[rules]]\ncode = "visits"\nname = "每季度走访"\nsubject = "station"\n' \
                   'kind_codes = ["visit", "reception"]\nperiod = "quarter"\nminimum = 1\n'
    only_rules = extra[extra.index("[[rules]]\ncode = \"visits\""):]
    await apply_preset(database, parse_preset(BASE.split("[config]")[0] + only_rules, name="demo"))
    rows = await _rows(database, tenant.id)
    assert rows["rules"]["visits"].kind_codes == ["visit", "reception"]


async def test_a_rule_with_an_unknown_kind_applies_nothing(database, owner_sql):
    bad = BASE.replace('kind_codes = ["visit"]', 'kind_codes = ["visit", "picnic"]')
    with pytest.raises(PresetError) as refused:
        await apply_preset(database, parse_preset(bad, name="demo"))
    assert "constituency" in str(refused.value) and "picnic" in str(refused.value)
    assert await owner_sql("SELECT slug FROM tenants WHERE slug = 'demo'") == []  # no tenant made
    # on an existing tenant, nothing changes either
    tenant = await apply_preset(database, parse_preset(BASE, name="demo"))
    before = await snapshot(owner_sql, tenant.id)
    worse = bad.replace('name = "走访选区"', 'name = "进选区"').replace("at_risk_days = 14", "at_risk_days = 3")
    with pytest.raises(PresetError) as refused:
        await apply_preset(database, parse_preset(worse, name="demo"))
    assert "constituency" in str(refused.value)
    assert await snapshot(owner_sql, tenant.id) == before


def test_bad_rules_and_settings_are_refused_when_read():
    for old, new, words in (
        ("minimum = 1\nmin_deputies", "minimum = 40\nmin_deputies", "'monthly'"),
        ('period = "year"', 'period = "decade"', "'constituency'"),
        ('subject = "deputy"', 'subject = "voter"', "'constituency'"),
        ('deputy_levels = ["county"]', 'deputy_levels = ["mayor"]', "mayor"),
        ("min_deputies = 2", "min_deputies = 0", "'monthly'"),
        ('code = "monthly"', 'code = "Monthly"', "code"),
        ("at_risk_days = 14", "at_risk_days = 400", "at_risk_days"),
        ("photo_originals_mb = 200", 'photo_originals_mb = "lots"', "photo_originals_mb"),
        ('name = "走访选区"', 'name = "' + "走" * 41 + '"', "at most 40"),
        ('code = "constituency"', 'code = "monthly"', "twice"),
        ("minimum = 2\ndeputy_levels", "minimum = 2\nat_risk_days = 400\ndeputy_levels", "'constituency'"),
        ("minimum = 2\ndeputy_levels", 'minimum = 2\nat_risk_pace = "sometimes"\ndeputy_levels', "'constituency'"),
    ):
        assert old in BASE, old
        with pytest.raises(PresetError) as refused:
            parse_preset(BASE.replace(old, new, 1), name="bad")
        assert words in str(refused.value), (new, str(refused.value))


async def test_export_apply_export_round_trip_with_kinds_and_rules(database):
    await apply_preset(database, load_preset("jinzhong-yuci"))
    text = await export_preset(database, "yuci")
    assert "[[activity_kinds]]" in text and "[[rules]]" in text and "signin_closes_minutes = 120" in text
    assert 'code = "jz-opinion"' in text and 'counts = "opinions"' in text
    copy = text.replace('slug = "yuci"', 'slug = "yuci-copy"')
    await apply_preset(database, parse_preset(copy, name="copy"))
    assert await export_preset(database, "yuci-copy") == copy
    # a min_deputies condition round-trips as well
    await apply_preset(database, load_preset("beijing-district"), slug="c110105", name="朝阳区人大常委会",
                       division_code="110105", county="朝阳区")
    text = await export_preset(database, "c110105")
    assert "min_deputies = 2" in text and "at_risk_days = 15" in text
    copy = text.replace('slug = "c110105"', 'slug = "c110105x"')
    await apply_preset(database, parse_preset(copy, name="copy"))
    assert await export_preset(database, "c110105x") == copy


async def test_jinzhong_preset_has_the_ten_rules(database):
    tenant = await apply_preset(database, load_preset("jinzhong-yuci"))
    rows = await _rows(database, tenant.id)
    assert {c: k.name for c, k in rows["kinds"].items()} == dict(STANDARD_KINDS)
    got = {r.code: (r.subject, r.counts, r.kind_codes, r.period, r.minimum, r.name) for r in rows["rules"].values()}
    assert got == {
        "jz-reception": ("station", "activities", ["reception"], "month", 1, "每月接待选民一次"),
        "jz-visit": ("station", "activities", ["visit"], "month", 1, "每月走访选区一次"),
        "jz-opinion": ("deputy", "opinions", [], "month", 1, "每位代表每月反映一条社情民意"),
        "jz-survey": ("station", "activities", ["survey"], "quarter", 1, "每季度开展一次调研视察"),
        "jz-training": ("station", "activities", ["training"], "quarter", 1, "每季度组织一次学习培训"),
        "jz-suggestion": ("deputy", "suggestions", [], "year", 1, "每位代表每年提出一件建议"),
        "jz-briefing": ("deputy", "activities", ["briefing"], "year", 1, "每位代表每年参加一次政策宣讲"),
        "jz-meeting": ("station", "activities", ["meeting"], "quarter", 1, "每季度召开一次代表会议"),
        "jz-exchange": ("station", "activities", ["exchange"], "year", 1, "每年开展一次履职交流"),
        "jz-duty-report": ("station", "activities", ["duty_report"], "year", 1, "每年开展一次述职评议"),
    }


@pytest.mark.parametrize("name", ["beijing-district", "yixing-town", "standard"])
async def test_approval_presets_apply_cleanly(database, owner_sql, name):
    assert name in [p.name for p in approval_presets()]
    identity = {"slug": "c320282", "name": "宜兴市人大常委会", "division_code": "320282", "county": "宜兴市"}
    tenant = await apply_preset(database, load_preset(name), create_only=True, **identity)
    before = await snapshot(owner_sql, tenant.id)
    await apply_preset(database, load_preset(name), **identity)
    assert await snapshot(owner_sql, tenant.id) == before
    rows = await _rows(database, tenant.id)
    assert len(rows["kinds"]) == len(STANDARD_KINDS) and rows["rules"]
    if name == "yixing-town":
        group = rows["rules"]["yx-group"]
        assert group.subject == "group" and group.minimum == 4 and len(group.kind_codes) == len(STANDARD_KINDS)
        assert rows["rules"]["yx-monthly"].kind_codes == ["reception", "visit"]


def test_standard_is_still_the_preset_proposed_first():
    assert approval_presets()[0].name == "standard"


async def test_a_rules_own_warning_settings_are_applied_and_exported(database):
    """A rule's own at-risk days and its pace switch (app.compliance.risk) travel in the preset."""
    text = BASE.replace("minimum = 2\ndeputy_levels", "minimum = 2\nat_risk_days = 60\nat_risk_pace = false\ndeputy_levels")
    tenant = await apply_preset(database, parse_preset(text, name="own-warning"))
    rules = (await _rows(database, tenant.id))["rules"]
    assert (rules["constituency"].at_risk_days, rules["constituency"].at_risk_pace) == (60, False)
    assert (rules["monthly"].at_risk_days, rules["monthly"].at_risk_pace) == (None, True)
    exported = await export_preset(database, "demo")
    assert "at_risk_days = 60" in exported and "at_risk_pace = false" in exported
    copy = exported.replace('slug = "demo"', 'slug = "demo-copy"')
    await apply_preset(database, parse_preset(copy, name="copy"))
    assert await export_preset(database, "demo-copy") == copy
