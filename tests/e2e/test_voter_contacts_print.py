"""人大代表联系选民花名册 printed to PDF by Chromium with the contact details shown (issue 19): its ten
columns on landscape A4, no header cell one character wide nor broken over lines, the full mobile
number on paper. The PDF is kept in bench/out."""

from __future__ import annotations

import pytest

from tests.activities.world import EAST
from tests.binder.binder_world import YEAR
from tests.binder.test_voter_contacts import MOBILE, build_contacts_world
from tests.e2e.browser import sign_in
from tests.e2e.test_register_print import CELLS, LANDSCAPE_CONTENT, page_sizes
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e


async def test_the_revealed_contact_roster_prints_on_landscape_a4(page, database, screenshot_dir):
    ac = await build_contacts_world(database)
    await sign_in(page, "alpha-admin", PASSWORD)
    await page.set_viewport_size(LANDSCAPE_CONTENT)
    await page.goto(f"/t/alpha/binder/voter-contacts?station={ac.stations[EAST]}&year={YEAR}&reveal=1&print=1")
    await page.emulate_media(media="print")
    cells = await page.evaluate(CELLS, "thead th")
    assert len(cells) == 10 and "选民姓名" in [c["text"] for c in cells], cells  # the Chinese page
    for cell in cells:
        assert cell["width"] >= 2 * cell["em"], cell
        assert cell["lines"] == 1, cell
    assert MOBILE in await page.locator("article.landscape table").inner_text()
    pdf = await page.pdf(prefer_css_page_size=True, print_background=False)
    (screenshot_dir / "voter-contacts-print.pdf").write_bytes(pdf)
    for width, height in page_sizes(pdf):
        assert abs(width - 841.9) < 2 and abs(height - 595.3) < 2, (width, height)  # landscape A4
