"""Opinions and cases, as issue 5 will be checked, in a real browser: a villager on a phone-sized
browser submits an opinion on the station's public page, gets a receipt code and looks it up; the
station's staff set its category; the township sends the county matter up; the county assigns it to a
county department; that department's user accepts and replies; the staff feed the answer back; the
villager reads the answer with the code and rates it with the rating code of the receipt; the county
sees the case in the quarterly list."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from app.core.i18n import catalogue
from tests.cases.world import EAST, build_case_county
from tests.e2e.browser import case_step, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
OPINION = "东街口的路灯坏了一个多月，晚上老人出门不安全，希望尽快修好。"
ANSWER = "县交通运输局已于本周更换东街口路灯三盏，恢复夜间照明。"


def _zh(msgid: str) -> str:
    return catalogue("zh_Hans").get(msgid, msgid)


async def test_villager_to_reply_and_back(page, browser, live_server, database, screenshot_dir):
    cc = await build_case_county(database)
    station = cc.stations[EAST]

    # the villager's phone: the opinion form, the receipt, the lookup
    phone_context = await browser.new_context(base_url=live_server, **PHONE)
    phone_context.set_default_timeout(15_000)
    try:
        phone = await phone_context.new_page()
        await phone.goto(f"/p/alpha/stations/{station}")
        await phone.click(f"a[href='/p/alpha/stations/{station}/opinion']")
        await phone.fill("textarea[name=content]", OPINION)
        await phone.fill("input[name=person_name]", "王大爷")
        await phone.fill("input[name=person_mobile]", "13912345678")
        await phone.click("#opinion button[type=submit]")
        code = (await phone.locator("#receipt-code").inner_text()).strip()
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}", code), code
        rating_code = (await phone.locator("#rating-code").inner_text()).strip()  # only the villager has it
        await phone.screenshot(path=str(screenshot_dir / "case-receipt-phone.png"))
        await phone.goto("/p/alpha/lookup")
        await phone.fill("input[name=code]", code.lower())
        await phone.click("form[action='/p/alpha/lookup'] button[type=submit]")
        await expect(phone.locator("#case-status")).to_contain_text(_zh("Registered"))
        assert "王大爷" not in await phone.content() and "13912345678" not in await phone.content()
    finally:
        await phone_context.close()

    # the station's staff find it by the code and set its category
    await sign_in(page, "alpha-station", PASSWORD)
    await page.goto(f"/t/alpha/cases?q={code}")
    link = page.locator("#case-list a[href*='/cases/']")
    await expect(link).to_have_count(1)
    case_url = await link.get_attribute("href")
    await page.goto(case_url)
    await expect(page.locator("main")).to_contain_text(OPINION)
    await case_step(page, case_url, "classify",
                lambda f: f.locator("select[name=category_id]").select_option(label="道路交通"))

    # the township sends the county matter up; the county assigns it to the county department
    await sign_in(page, "alpha-town", PASSWORD)
    await case_step(page, case_url, "escalate")
    await sign_in(page, "alpha-admin", PASSWORD)
    await case_step(page, case_url, "assign",
                lambda f: f.locator("select[name=unit_id]").select_option(label="县交通运输局"))

    # the department's user: accepts and replies
    await sign_in(page, "alpha-transport", PASSWORD)
    await case_step(page, case_url, "accept")
    await case_step(page, case_url, "reply", lambda f: f.locator("textarea[name=result]").fill(ANSWER))
    await page.screenshot(path=str(screenshot_dir / "case-replied.png"), full_page=True)

    # the staff feed the answer back by phone
    await sign_in(page, "alpha-station", PASSWORD)
    await case_step(page, case_url, "feed_back",
                lambda f: f.locator("select[name=channel]").select_option("phone"))

    # the villager reads the answer with the code and rates it, once
    phone_context = await browser.new_context(base_url=live_server, **PHONE)
    phone_context.set_default_timeout(15_000)
    try:
        phone = await phone_context.new_page()
        await phone.goto("/p/alpha/lookup")
        await phone.fill("input[name=code]", code)
        await phone.click("form[action='/p/alpha/lookup'] button[type=submit]")
        await expect(phone.locator("#case-status")).to_contain_text(ANSWER)
        await phone.fill("input[name=rating_code]", rating_code)
        await phone.check("input[name=satisfaction][value=satisfied]")
        await phone.click("form[action='/p/alpha/lookup/rate'] button[type=submit]")
        await expect(phone.locator("#case-status")).to_contain_text(_zh("Closed"))
        await expect(phone.locator("input[name=satisfaction]")).to_have_count(0)
        await phone.screenshot(path=str(screenshot_dir / "case-rated-phone.png"))
    finally:
        await phone_context.close()

    # the county's quarterly list counts it as resolved
    await sign_in(page, "alpha-admin", PASSWORD)
    await page.goto(case_url)
    await expect(page.locator("main")).to_contain_text(_zh("Satisfied"))
    await page.goto("/t/alpha/cases/quarterly")
    await expect(page.locator("main")).to_contain_text("道路交通")
