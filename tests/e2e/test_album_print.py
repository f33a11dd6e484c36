"""The binder's photo album printed to PDF by Chromium (issue 19): portrait A4, month headings that are
never left at a page's foot, two photos a row, each photo whole on one page (its height capped, never
split), and every image loaded when the print starts (eager in print). The PDF and a picture of the page are kept in
bench/out."""

from __future__ import annotations

import pytest

from tests.activities.world import EAST, local, put_activity
from tests.binder.album_world import put_photo
from tests.binder.binder_world import YEAR, build_binder_world
from tests.e2e.browser import sign_in
from tests.e2e.test_binder_print import A4
from tests.e2e.test_register_print import page_sizes
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

MM = 96 / 25.4  # CSS pixels per millimetre
LAYOUT = """() => ({
    loaded: [...document.images].map(i => i.complete && i.naturalWidth > 0),
    lefts: [...new Set([...document.querySelectorAll(".album li")].map(li => Math.round(li.getBoundingClientRect().left)))],
    heights: [...document.querySelectorAll(".album img")].map(i => i.getBoundingClientRect().height),
    photo: getComputedStyle(document.querySelector(".album li")).breakInside,
    month: getComputedStyle(document.querySelector("h3")).breakAfter,
})"""


async def test_the_album_prints_two_whole_photos_a_row_on_portrait_a4(page, database, screenshot_dir):
    world = await build_binder_world(database)
    ac = world.ac
    for month in (1, 2, 5):
        activity = await put_activity(database, ac, kind="visit", starts_at=local(YEAR, month, 8), topic=f"{month}月走访")
        for n in range(3):  # landscape and portrait photos (thumbnails 480×360 and 360×480)
            await put_photo(database, ac, activity, f"{month}月第{n + 1}张", size=(800, 600) if n % 2 else (600, 800))
    await sign_in(page, "alpha-admin", PASSWORD)
    await page.set_viewport_size({"width": round(186 * MM), "height": round(265 * MM)})  # A4 less its margins
    await page.goto(f"/t/alpha/binder/album?station={ac.stations[EAST]}&year={YEAR}&print=1")
    # the load event waits for eager images; a busy machine may still be decoding: wait, then check none broke
    await page.wait_for_function("() => [...document.images].every(i => i.complete)")
    await page.emulate_media(media="print")
    await page.screenshot(path=str(screenshot_dir / "binder-album-print.png"), full_page=True)
    assert await page.locator("h3").all_inner_texts() == ["1月", "2月", "5月"]
    layout = await page.evaluate(LAYOUT)
    assert len(layout["loaded"]) == 9 and all(layout["loaded"]), layout  # eager: all there, none broken
    assert len(layout["lefts"]) == 2, layout  # two photos a row
    assert all(0 < h <= 95 * MM + 1 for h in layout["heights"]), layout  # a photo fits a page, whole
    assert layout["photo"] == "avoid" and layout["month"] == "avoid", layout
    pdf = await page.pdf(prefer_css_page_size=True, print_background=False)
    (screenshot_dir / "binder-album-print.pdf").write_bytes(pdf)
    sizes = [(round(w), round(h)) for w, h in page_sizes(pdf)]
    assert sizes and set(sizes) == {A4}, sizes  # portrait A4 throughout
