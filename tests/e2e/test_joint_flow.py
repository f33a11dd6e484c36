"""The source scenario walked through in a real browser (issue 7): on a phone, a villager opens the
public page of the joint station 八步区铺门镇—封开县南丰金装长安省际人大代表联络站 (deputies of both sides),
reports pollution on the Fengkai bank and gets a receipt code; the joint station's staff (铺门镇's
township staff, given station_staff there by 八步区) refer it to 封开县; 封开县's admin assigns it to its
environment unit, whose user accepts and replies; the joint station's case page shows the mirrored
answer and the staff feed it back; the villager reads the answer with the code. The scenario is built
with the joint preset loader (tests/joint/preset_world.py), not the whole demo."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from app.joint.agreements import joint_station_id
from tests.e2e.browser import case_step, sign_in
from tests.e2e.test_case_flow import PHONE, _zh
from tests.factories import PASSWORD
from tests.joint.preset_world import scenario

pytestmark = pytest.mark.e2e

SLUG = "pumen-fengkai"
OPINION = "河对岸封开一侧有排污口，每天傍晚往贺江排黑水，河东村这一段河水发臭，请两地代表督促查处。"
ANSWER = "经现场核查，南丰镇沿江一处养殖场私设排污口，已责令封堵并立案处罚，每周监测贺江水质。"


async def test_pollution_across_the_river_referred_answered_and_fed_back(page, browser, live_server, database,
                                                                         screenshot_dir):
    s = await scenario(database)
    async with database.transaction(tenant_id=s.applied.joint_tenant_id) as db:
        station = await joint_station_id(db, s.applied.joint_tenant_id)

    # the villager's phone: the joint station's public page shows deputies of both sides; the opinion form
    phone_context = await browser.new_context(base_url=live_server, **PHONE)
    phone_context.set_default_timeout(15_000)
    try:
        phone = await phone_context.new_page()
        await phone.goto(f"/p/{SLUG}/stations/{station}")
        main = phone.locator("main")
        await expect(main).to_contain_text("省际人大代表联络站")
        await expect(main).to_contain_text("覃海燕")  # 八步区
        await expect(main).to_contain_text("梁桂英")  # 封开县
        await expect(main).to_contain_text("跨界河流联合监督")
        await phone.screenshot(path=str(screenshot_dir / "joint-station-phone.png"), full_page=True)
        await phone.click(f"a[href='/p/{SLUG}/stations/{station}/opinion']")
        await phone.fill("textarea[name=content]", OPINION)
        await phone.fill("input[name=person_name]", "黄伯")
        await phone.fill("input[name=person_mobile]", "13977001234")
        await phone.click("#opinion button[type=submit]")
        code = (await phone.locator("#receipt-code").inner_text()).strip()
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}", code), code
    finally:
        await phone_context.close()

    # the joint station's staff find it by the code and refer it to 封开县 (a county matter)
    await sign_in(page, "pumen-staff", PASSWORD)
    await page.goto(f"/t/{SLUG}/cases?q={code}")
    link = page.locator("#case-list a[href*='/cases/']")
    await expect(link).to_have_count(1)
    case_url = await link.get_attribute("href")

    async def refer(form):
        await form.locator("label", has_text=s.fengkai.tenant.name).locator("input[name=county_id]").check()
        await form.locator("input[name=level][value=county]").check()
        await form.locator("input[name=note]").fill("排污口在封开一侧，请封开县核查处理。")

    await case_step(page, case_url, "refer", refer)
    await expect(page.locator("main")).to_contain_text(s.fengkai.tenant.name)
    await expect(page.locator("main")).to_contain_text(_zh("Referred to member counties"))

    # 封开县: its admin assigns the referred case to the environment unit; the unit accepts and replies
    await sign_in(page, "fengkai-admin", PASSWORD)
    await page.goto("/t/fengkai/cases")
    link = page.locator("#case-list a[href*='/cases/']")
    await expect(link).to_have_count(1)
    county_url = await link.get_attribute("href")
    await page.goto(county_url)
    await expect(page.locator("main")).to_contain_text(OPINION)
    assert "13977001234" not in await page.content()  # the mobile stays at the joint station
    await case_step(page, county_url, "assign",
                lambda f: f.locator("select[name=unit_id]").select_option(label="肇庆市生态环境局封开分局"))
    await sign_in(page, "fengkai-huanbao", PASSWORD)
    await case_step(page, county_url, "accept")
    await case_step(page, county_url, "reply", lambda f: f.locator("textarea[name=result]").fill(ANSWER))

    # the joint station's case page shows the mirrored answer; the staff feed it back by phone
    await sign_in(page, "pumen-staff", PASSWORD)
    await page.goto(case_url)
    await expect(page.locator("[id^=referral-]")).to_contain_text(ANSWER)
    await expect(page.locator("main")).to_contain_text(_zh("Answer received from a member county"))
    await expect(page.locator("#step-feed_back")).to_be_visible()  # every referral answered: the case is replied
    await page.screenshot(path=str(screenshot_dir / "joint-case-answered.png"), full_page=True)
    await case_step(page, case_url, "feed_back", lambda f: f.locator("select[name=channel]").select_option("phone"))

    # 封开县's case follows: fed back through the joint station, not waiting for a feedback it cannot give
    await sign_in(page, "fengkai-admin", PASSWORD)
    await page.goto(county_url)
    await expect(page.locator("main")).to_contain_text(_zh("Answer fed back to the person through the joint station"))

    # the villager reads the answer with the code
    phone_context = await browser.new_context(base_url=live_server, **PHONE)
    phone_context.set_default_timeout(15_000)
    try:
        phone = await phone_context.new_page()
        await phone.goto(f"/p/{SLUG}/lookup")
        await phone.fill("input[name=code]", code)
        await phone.click(f"form[action='/p/{SLUG}/lookup'] button[type=submit]")
        await expect(phone.locator("#case-status")).to_contain_text(ANSWER)
        await phone.screenshot(path=str(screenshot_dir / "joint-answer-phone.png"))
    finally:
        await phone_context.close()

    # a third county has nothing of it
    await sign_in(page, "third-admin", PASSWORD)
    response = await page.goto(f"/t/{SLUG}/cases")
    assert response.status == 404
