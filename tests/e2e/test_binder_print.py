"""The whole station binder printed to PDF by Chromium, as a county's staff print it (issue 19): the
contents and every part in order, each register on landscape A4 pages, the deputies' roster on portrait
A4 (and the presidium's rosters, the album and the deputies' archive after it), with the running header and page numbers of /binder/print.css. The PDF is kept in bench/out."""

from __future__ import annotations

import pytest

from tests.activities.world import EAST
from tests.binder.binder_world import YEAR, build_binder_world
from tests.e2e.browser import sign_in
from tests.e2e.test_register_print import page_sizes
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

A4 = (595, 842)  # points, rounded


def _shape(width: float, height: float) -> str:
    size = (round(width), round(height))
    assert size in (A4, A4[::-1]), size  # A4 either way, nothing else
    return "landscape" if width > height else "portrait"


async def test_the_binder_prints_each_register_landscape_and_the_roster_portrait(page, database, screenshot_dir):
    world = await build_binder_world(database)
    await sign_in(page, "alpha-admin", PASSWORD)
    await page.goto(f"/t/alpha/binder/print?station={world.ac.stations[EAST]}&year={YEAR}")
    headings = await page.locator("article.binder-part > h2").all_inner_texts()
    assert [h.split(" (")[0] for h in headings] == [  # the contents, then the parts in the binder's order
        "目录", "人大代表活动考勤登记簿", "人大代表接待选民登记簿", "人大接待代表登记簿", "人大代表述职登记簿",
        "选民反映情况和代表建议、批评和意见登记簿", "三级人大代表花名册", "人大主席团花名册",
        "人大代表主席团成员联系人大代表花名册", "人大代表联系选民花名册", "照片册", "代表履职档案"], headings
    await page.emulate_media(media="print")
    pdf = await page.pdf(prefer_css_page_size=True, print_background=False)
    (screenshot_dir / "binder-print.pdf").write_bytes(pdf)
    shapes = [_shape(w, h) for w, h in page_sizes(pdf)]
    assert shapes.count("landscape") >= 5 and "portrait" in shapes, shapes
    assert shapes[-1] == "portrait"  # the deputies' archive (their dossiers) comes last, on portrait paper
