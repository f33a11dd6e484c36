"""Issue 17's own check, on the demo, in a real browser: a villager's opinion at 北坝村 reaches 北坝村's
liaison officer (home and inbox) after one sweep of the worker; assigned to 三台县交通运输局, its user's
home shows one more "新交办" and the inbox says so; the villager rates the answer "不满意" with a reason
and the case is back with the unit ("被退回"). The worker's sweep is run by the test (`now` = the real
clock), never waited for."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from playwright.async_api import expect

from app.core.i18n import catalogue
from app.demo import DEMO_PASSWORD, load_demo
from app.notify.sweep import sweep
from tests.e2e.browser import case_step, sign_in

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
STATION = "绵阳市三台县潼川镇北坝村人大代表联络站"
UNIT = "三台县交通运输局"
OPINION = "北坝村到镇上的村道塌了一段，雨天电动车过不去，请尽快修复。"
ANSWER = "县交通运输局已派员勘查，本月内完成村道塌方段修复。"
REASON = "答复只说本月内修复，没有说清具体哪天，村道至今没人来看过。"


def _zh(msgid: str) -> str:
    return catalogue("zh_Hans").get(msgid, msgid)


async def _work_count(page, key: str) -> int:
    """The number an item of the member's workbench shows on the home page."""
    await page.goto(page.url.split("/t/")[0] + "/t/santai/")
    return int(await page.locator(f"#work-{key} b").inner_text())


async def _worker(database) -> None:
    """One pass of the worker's outbox sweep: queued notices become inbox rows."""
    await sweep(database, now=datetime.now(timezone.utc))


async def _sign_in_to_santai(page, username: str) -> None:
    await sign_in(page, username, DEMO_PASSWORD)
    await page.goto("/t/santai/")  # liaison-both works in two counties: this is 三台县's home


async def test_work_arrives_for_the_liaison_and_the_unit_and_comes_back(page, browser, live_server, database,
                                                                       owner_sql, screenshot_dir):
    await load_demo(database, border=False)
    station_id, = (await owner_sql("SELECT id FROM stations WHERE name = $1", STATION))[0]

    await _sign_in_to_santai(page, "liaison-both")
    to_handle = await _work_count(page, "to-handle")
    await _sign_in_to_santai(page, "santai-jiaotong")
    newly_assigned = await _work_count(page, "new")
    sent_back = await _work_count(page, "sent-back")

    # the villager's phone: the opinion, the receipt and its rating code
    phone_context = await browser.new_context(base_url=live_server, **PHONE)
    phone_context.set_default_timeout(15_000)
    try:
        phone = await phone_context.new_page()
        await phone.goto(f"/p/santai/stations/{station_id}/opinion")
        await phone.fill("textarea[name=content]", OPINION)
        await phone.fill("input[name=person_name]", "李大姐")
        await phone.fill("input[name=person_mobile]", "13912345670")
        await phone.click("#opinion button[type=submit]")
        code = (await phone.locator("#receipt-code").inner_text()).strip()
        rating_code = (await phone.locator("#rating-code").inner_text()).strip()
    finally:
        await phone_context.close()

    # within a sweep, 北坝村's liaison officer has it on the home and in the inbox
    await _worker(database)
    await _sign_in_to_santai(page, "liaison-both")
    assert await _work_count(page, "to-handle") == to_handle + 1
    await page.goto("/t/santai/inbox")
    await expect(page.locator("main")).to_contain_text(_zh("New opinion"))
    await expect(page.locator("main")).to_contain_text(code)
    await page.goto(f"/t/santai/cases?q={code}")
    link = page.locator("#case-list a[href*='/cases/']")
    await expect(link).to_have_count(1)
    case_url = await link.get_attribute("href")
    await case_step(page, case_url, "classify",
                lambda f: f.locator("select[name=category_id]").select_option(index=1))

    # the township sends the county matter up, the county assigns it to the transport bureau
    await _sign_in_to_santai(page, "santai-tongchuan")
    await case_step(page, case_url, "escalate")
    await _sign_in_to_santai(page, "santai-admin")
    await case_step(page, case_url, "assign", lambda f: f.locator("select[name=unit_id]").select_option(label=UNIT))

    await _worker(database)
    await _sign_in_to_santai(page, "santai-jiaotong")
    assert await _work_count(page, "new") == newly_assigned + 1
    await page.screenshot(path=str(screenshot_dir / "unit-home-new-work.png"), full_page=True)
    await page.goto("/t/santai/inbox")
    await expect(page.locator("main")).to_contain_text(_zh("Case assigned to you"))
    await case_step(page, case_url, "accept")
    await case_step(page, case_url, "reply", lambda f: f.locator("textarea[name=result]").fill(ANSWER))

    await _sign_in_to_santai(page, "liaison-both")
    await case_step(page, case_url, "feed_back", lambda f: f.locator("select[name=channel]").select_option("phone"))

    # the villager is not satisfied, says why: the case goes back to the unit
    phone_context = await browser.new_context(base_url=live_server, **PHONE)
    phone_context.set_default_timeout(15_000)
    try:
        phone = await phone_context.new_page()
        await phone.goto("/p/santai/lookup")
        await phone.fill("input[name=code]", code)
        await phone.click("form[action='/p/santai/lookup'] button[type=submit]")
        await expect(phone.locator("#case-status")).to_contain_text(ANSWER)
        await phone.fill("input[name=rating_code]", rating_code)
        await phone.check("input[name=satisfaction][value=unsatisfied]")
        await phone.fill("textarea[name=reason]", REASON)
        await phone.click("form[action='/p/santai/lookup/rate'] button[type=submit]")
        await expect(phone.locator("#case-status")).to_contain_text(re.compile("重新办理"))
        await phone.screenshot(path=str(screenshot_dir / "case-sent-back-by-person-phone.png"))
    finally:
        await phone_context.close()

    await _worker(database)
    await _sign_in_to_santai(page, "santai-jiaotong")
    assert await _work_count(page, "sent-back") == sent_back + 1
    await page.goto("/t/santai/inbox")
    await expect(page.locator("main")).to_contain_text(_zh("Case sent back to you"))
    await page.goto(case_url)
    await expect(page.locator("main")).to_contain_text(REASON)
