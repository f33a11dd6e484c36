"""The case register printed to PDF by Chromium (issue 19: its twelve columns were squeezed onto
portrait A4, so 问题类别, 反映人 and 接待代表 wrapped one character a line): every page landscape A4,
and in print media no header cell narrower than two characters nor broken over lines. The quarterly
list, seven columns, stays portrait. The PDF is kept in bench/out for a person to look at."""

from __future__ import annotations

import re

import pytest

from tests.activities.world import local
from tests.cases.world import build_case_county, put_case
from tests.e2e.browser import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]")
# The page box of A4 landscape less the 12 mm margins (273 mm at 96 px per inch): emulating print media
# does not change the viewport, so the header cells are measured at the width they get on paper.
LANDSCAPE_CONTENT = {"width": 1032, "height": 700}
LONG = ("村里到镇上的早班车停了三个月，老人和学生每天要走五公里去镇上搭车，雨天路滑很危险，"
        "希望交通部门尽快恢复早班车，或者调整班次时间，方便群众出行。")

CELLS = """selector => [...document.querySelector("article.landscape table").querySelectorAll(selector)].map(cell => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    return {text: cell.innerText.trim(), width: cell.getBoundingClientRect().width,
            em: parseFloat(getComputedStyle(cell).fontSize), lines: tops.size};
})"""


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in MEDIA_BOX.findall(pdf)]


async def test_the_register_prints_on_landscape_a4_with_readable_headers(page, database, screenshot_dir):
    cc = await build_case_county(database)
    for n in range(40):  # enough lines for more than one printed page
        await put_case(database, cc, content=LONG if n % 3 == 0 else f"第{n}号：村道坑洼需要修补", person_name="王大爷",
                       deputy_id=cc.deputies["张伟"], unit="transport", state="fed_back", reply_text="已安排维修" * 8,
                       fed_back_at=local(2026, 5, 20), satisfaction="satisfied", created_at=local(2026, 5, 2, 9, n))
    await sign_in(page, "alpha-admin", PASSWORD)
    await page.set_viewport_size(LANDSCAPE_CONTENT)
    await page.goto(f"/t/{cc.slug}/cases/register?period=2026-Q2")
    await page.emulate_media(media="print")

    await page.screenshot(path=str(screenshot_dir / "case-register-print.png"))
    cells = await page.evaluate(CELLS, "thead th")
    assert len(cells) == 12 and "问题类别" in [c["text"] for c in cells], cells  # the Chinese page
    for cell in cells:
        assert cell["width"] >= 2 * cell["em"], cell  # never a column one character wide
        assert cell["lines"] == 1, cell  # 问题类别, 反映人, 接待代表 each on one line
    dates = await page.evaluate(CELLS, "tbody td.day")
    assert {c["text"] for c in dates} == {"2026-05-02", "2026-05-20"}
    assert all(c["lines"] == 1 for c in dates), dates  # not "2026-" over "05-02"

    pdf = await page.pdf(prefer_css_page_size=True, print_background=False)
    (screenshot_dir / "case-register-a4-landscape.pdf").write_bytes(pdf)
    sizes = page_sizes(pdf)
    assert len(sizes) >= 2, sizes  # forty lines: the table goes on, its head repeated
    for width, height in sizes:
        assert width > height, sizes
        assert abs(width - 841.9) < 2 and abs(height - 595.3) < 2, sizes  # A4 in points


async def test_the_quarterly_list_stays_portrait(page, database):
    cc = await build_case_county(database)
    for content in ("希望恢复早班车。", "希望恢复早班车。", "村道坑洼需要修补"):
        await put_case(database, cc, content=content, created_at=local(2026, 5, 2))
    await sign_in(page, "alpha-admin", PASSWORD)
    await page.goto(f"/t/{cc.slug}/cases/quarterly?quarter=2026-Q2")
    await page.emulate_media(media="print")
    issues = await page.locator("tbody tr").first.locator("td").nth(6).inner_text()
    assert issues.split() == ["村道坑洼需要修补；", "希望恢复早班车。"], issues  # the newest first, each once
    for width, height in page_sizes(await page.pdf(prefer_css_page_size=True)):
        assert width < height
