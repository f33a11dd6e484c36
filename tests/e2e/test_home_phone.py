"""A deputy's home on a 390-px phone, as issue 17 will be checked: the next activity with "签到" while its
sign-in is open, signed in with one tap; the attendance report's tables scroll inside their own box
instead of running off the screen (the page itself never scrolls sideways)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from playwright.async_api import expect

from app.core.i18n import catalogue
from tests.activities.world import TZ, build_activity_county, put_activity
from tests.e2e.browser import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 800}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
LONG_TOPIC = "关于城区老旧小区加装电梯和停车难问题的专题接待活动"
# Per table: [the page's own width and its viewport's, the box that scrolls: its class, its width, the
# width of what it holds, its right edge].
MEASURE = """() => { const d = document.documentElement;
  return [...document.querySelectorAll('main table')].map(t => { const box = t.parentElement;
    return [d.scrollWidth, d.clientWidth, box.className, box.clientWidth, box.scrollWidth,
            box.getBoundingClientRect().right]; }); }"""


def _zh(msgid: str) -> str:
    return catalogue("zh_Hans").get(msgid, msgid)


async def test_the_deputy_signs_in_from_the_phone_home_and_reads_the_report(browser, live_server, database,
                                                                             screenshot_dir):
    ac = await build_activity_county(database)
    now = datetime.now(timezone.utc)
    year_start = datetime(now.astimezone(TZ).year, 1, 1, tzinfo=TZ)
    for d in (1, 2):  # this year, even on the first of January
        earlier = max(now - timedelta(days=d, hours=3), year_start + timedelta(minutes=d))
        await put_activity(database, ac, kind="reception", starts_at=earlier, hours=1, status="held",
                           invited=("张伟", "李娜"), present=("张伟",), topic=LONG_TOPIC)
    await put_activity(database, ac, kind="reception", starts_at=now + timedelta(minutes=20), status="planned",
                       invited=("张伟",), topic="五月接待日")
    context = await browser.new_context(base_url=live_server, **PHONE)
    context.set_default_timeout(15_000)
    try:
        phone = await context.new_page()
        await sign_in(phone, "alpha-rep", PASSWORD)
        await phone.goto("/t/alpha/")
        next_activity = phone.locator("#next-activity")
        await expect(next_activity).to_contain_text("五月接待日")
        await expect(phone.locator("#work-attended b")).to_have_text("2")
        await phone.screenshot(path=str(screenshot_dir / "deputy-home-phone.png"), full_page=True)
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390

        await phone.goto(f"/t/alpha/deputies/{ac.deputies['张伟']}/attendance/report")
        tables = await phone.evaluate(MEASURE)
        assert tables
        for page_width, viewport, box, box_width, inside, right in tables:
            assert page_width <= viewport == 390 and box == "scroll" and box_width < 390 and right <= 390
        assert any(inside > box_width for *_, box_width, inside, _right in tables)  # wide ones scroll
        await phone.screenshot(path=str(screenshot_dir / "deputy-report-phone.png"), full_page=True)

        await phone.goto("/t/alpha/")
        await phone.locator("#next-activity button").click()  # 签到
        await expect(phone.locator("#signin")).to_contain_text(_zh("Signed in successfully, %(time)s").split("%(")[0])
        await phone.goto("/t/alpha/")
        await expect(next_activity).to_contain_text(_zh("You signed in at %(time)s.").split("%(")[0])
    finally:
        await context.close()
