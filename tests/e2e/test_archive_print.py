"""The binder's 一档案 printed to PDF by Chromium (issue 19): every deputy stationed at the station has
their dossier on portrait A4, each starting a new page. The PDF is kept in bench/out."""

from __future__ import annotations

import pytest

from tests.activities.world import EAST
from tests.binder.binder_world import YEAR, build_binder_world
from tests.e2e.browser import sign_in
from tests.e2e.test_binder_print import _shape
from tests.e2e.test_register_print import page_sizes
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e


async def test_each_deputys_dossier_prints_portrait_from_a_new_page(page, database, screenshot_dir):
    world = await build_binder_world(database)
    await sign_in(page, "alpha-admin", PASSWORD)
    await page.goto(f"/t/alpha/binder/archive?station={world.ac.stations[EAST]}&year={YEAR}&print=1")
    headings = await page.locator(".binder-dossier > h2").all_inner_texts()
    assert headings == [f"{name} {YEAR}年度履职档案" for name in ("张伟", "李娜", "王强", "赵敏")], headings
    await page.emulate_media(media="print")
    breaks = await page.eval_on_selector_all(".binder-dossier", "els => els.map(e => getComputedStyle(e).breakBefore)")
    assert breaks == ["auto", "page", "page", "page"], breaks
    pdf = await page.pdf(prefer_css_page_size=True, print_background=False)
    (screenshot_dir / "binder-archive-print.pdf").write_bytes(pdf)
    shapes = [_shape(w, h) for w, h in page_sizes(pdf)]
    assert len(shapes) >= len(headings) and set(shapes) == {"portrait"}, shapes
