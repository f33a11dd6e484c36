"""Sign-in at the station, as issue 4 will be checked: the station's staff open the sign-in screen
(the rotating QR code); a deputy on a phone-sized browser signs in to Lianluo, opens the address in
the QR code, confirms and sees the success; the screen moves on to a new code by itself; a second
deputy who opens the same (photographed) address is refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from playwright.async_api import expect
from sqlalchemy import update

from app.core.i18n import catalogue
from app.deputies.models import Deputy
from tests.activities.world import build_activity_county, put_activity
from tests.e2e.browser import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def _zh(msgid: str) -> str:
    return catalogue("zh_Hans").get(msgid, msgid)


def _lead(msgid: str) -> str:
    """The fixed start of a message with a variable (what a person reads before the time)."""
    return _zh(msgid).split("%(")[0].rstrip(" ,，")


async def _phone(browser, live_server):
    context = await browser.new_context(base_url=live_server, **PHONE)
    context.set_default_timeout(15_000)
    return context


async def test_deputy_signs_in_by_scanning_the_rotating_code(page, browser, live_server, database, owner_sql,
                                                              screenshot_dir):
    ac = await build_activity_county(database)
    async with database.transaction(tenant_id=ac.tenant.id) as db:  # 李娜 has the account "alpha-rep2"
        await db.execute(update(Deputy).where(Deputy.id == ac.deputies["李娜"]).values(user_id=ac.users["rep2"].id))
    starts = datetime.now(timezone.utc) + timedelta(minutes=5)
    activity_id = await put_activity(database, ac, kind="reception", starts_at=starts, status="planned",
                                     invited=("张伟", "李娜"), topic="五月接待日")

    # the station's laptop: the sign-in screen
    await sign_in(page, "alpha-station", PASSWORD)
    await page.goto(f"/t/alpha/activities/{activity_id}/screen")
    screen_code = page.locator("#screen-code")
    await expect(screen_code.locator("svg")).to_be_visible()
    url = await screen_code.get_attribute("data-signin-url")
    assert url and url.startswith(f"{live_server}/t/alpha/signin/")
    await page.screenshot(path=str(screenshot_dir / "signin-screen.png"))

    # 张伟 on his phone: signs in to Lianluo, opens the scanned address, confirms
    first = await _phone(browser, live_server)
    try:
        phone = await first.new_page()
        await sign_in(phone, "alpha-rep", PASSWORD)
        await phone.goto(url)
        await expect(phone.locator("h1")).to_contain_text("五月接待日")
        await phone.click("form button[type=submit]:not(.link)")
        await expect(phone.locator("h2.ok[role=status]")).to_contain_text(_lead("Signed in successfully, %(time)s"))
        await phone.screenshot(path=str(screenshot_dir / "signin-phone.png"))
    finally:
        await first.close()

    # the screen shows a new code by itself (htmx polling) and the count
    await expect(screen_code).not_to_have_attribute("data-signin-url", url, timeout=10_000)
    await expect(page.locator("#screen-code h2")).to_contain_text("1")

    # 李娜 opens the same address (a photo of the code): refused, nothing to confirm
    second = await _phone(browser, live_server)
    try:
        phone = await second.new_page()
        await sign_in(phone, "alpha-rep2", PASSWORD)
        await phone.goto(url)
        await expect(phone.locator("p.error[role=alert]")).to_contain_text(
            _zh("This QR code has already been used. Please scan the new QR code on the screen.")
        )
        assert await phone.locator("form[action*='/signin/'] button").count() == 0
    finally:
        await second.close()

    rows = await owner_sql("SELECT deputy_id, method FROM attendances")
    assert [(r["deputy_id"], r["method"]) for r in rows] == [(ac.deputies["张伟"], "code")]
