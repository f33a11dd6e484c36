"""A county's duty points scheme travels in its preset (`[[points_items]]`): 三台县's scheme is applied
with the county, export → apply → export is identical, and a bad item stops the whole preset with a
message naming it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.duties.point_models import PointsItem
from app.presets.services import PresetError, apply_preset, export_preset, load_preset, parse_preset

ITEM = '''
[[points_items]]
code = "motion"
name = "提出议案"
counts = "entry:motion"
points = 3.0
'''


async def test_santai_gets_its_points_scheme_and_it_round_trips(database):
    tenant = await apply_preset(database, load_preset("mianyang-santai"))
    async with database.session(tenant_id=tenant.id) as db:
        items = {i.code: i for i in (await db.scalars(select(PointsItem))).all()}
    assert len(items) == 8
    assert (items["leave"].source, items["leave"].source_code, items["leave"].points) == ("entry", "leave",
                                                                                         Decimal("-1.0"))
    assert (items["reception"].cap_period, items["reception"].cap_points) == ("quarter", Decimal("8.0"))
    text = await export_preset(database, "santai")
    assert "[[points_items]]" in text and 'counts = "activity:visit"' in text and "points = -1.0" in text
    copy = text.replace('slug = "santai"', 'slug = "santai-copy"')
    await apply_preset(database, parse_preset(copy, name="copy"))
    assert await export_preset(database, "santai-copy") == copy
    await apply_preset(database, load_preset("mianyang-santai"))  # applied again: nothing doubles
    async with database.session(tenant_id=tenant.id) as db:
        assert len((await db.scalars(select(PointsItem))).all()) == 8


def test_bad_items_are_refused_when_read():
    base = load_preset("standard")  # a file without points items reads as before
    assert base.points_items == []
    text = _standard_path().read_text(encoding="utf-8")
    for old, new, words in (
        ('counts = "entry:motion"', 'counts = "entry:bribery"', "'motion'"),
        ("points = 3.0", "points = 0", "'motion'"),
        ("points = 3.0", 'points = 3.0\ncap_period = "year"', "'motion'"),
        ("points = 3.0", "points = 3.0\nbonus = 1", "unknown keys"),
    ):
        with pytest.raises(PresetError) as refused:
            parse_preset(text + ITEM.replace(old, new, 1), name="bad")
        assert words in str(refused.value), (new, str(refused.value))


async def test_an_item_counting_a_kind_nobody_has_applies_nothing(database):
    text = _standard_path().read_text(encoding="utf-8") + ITEM.replace(
        'counts = "entry:motion"', 'counts = "activity:tea_party"')
    with pytest.raises(PresetError) as refused:
        await apply_preset(database, parse_preset(text, name="bad"), slug="c510999", name="测试县人大常委会",
                           division_code="510722", county="测试县")
    assert "tea_party" in str(refused.value)


def _standard_path():
    from app.presets.services import PRESET_DIR

    return PRESET_DIR / "standard.toml"
