"""What a person does in a real browser: sign in, switch between units, sign out, change language,
and the same forms with JavaScript turned off."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.browser import operator_sign_in, sign_in
from tests.factories import PASSWORD, add_member, make_tenant, make_user

pytestmark = pytest.mark.e2e


async def _two_tenant_user(database):
    alpha = await make_tenant(database, "alpha")
    beta = await make_tenant(database, "beta")
    zhou = await make_user(database, "zhou")
    await add_member(database, alpha, zhou, role="station_staff")
    await add_member(database, beta, zhou, role="county_admin")
    return alpha, beta, zhou


async def test_sign_in_switch_units_and_sign_out(page, database, screenshot_dir):
    await _two_tenant_user(database)

    await sign_in(page, "zhou", PASSWORD)
    # Two memberships: the person chooses a unit first.
    assert page.url.endswith("/tenants")
    assert await page.locator("h1").inner_text() == "选择单位"

    await page.click("text=alpha县人大常委会")
    await page.wait_for_url("**/t/alpha/")
    assert await page.locator("main h1").inner_text() == "alpha县人大常委会"
    assert await page.locator("header .tenant").inner_text() == "alpha县人大常委会"
    assert "当前登录：Zhou。" in await page.locator("main").inner_text()
    await page.screenshot(path=str(screenshot_dir / "tenant-home.png"), full_page=True)

    # The header link 切换单位 leads back to the switcher; choose the other unit.
    await page.click("header >> text=切换单位")
    await page.wait_for_url("**/tenants")
    await page.click("text=beta县人大常委会")
    await page.wait_for_url("**/t/beta/")
    assert await page.locator("main h1").inner_text() == "beta县人大常委会"

    # Sign out; the unit's page now sends the browser to the sign-in form.
    await page.click("header >> button:has-text('退出登录')")
    await page.wait_for_url("**/login")
    await page.goto("/t/beta/")
    assert "/login?next=/t/beta" in page.url
    assert await page.locator("main h1").inner_text() == "登录"


async def test_chinese_by_default_and_english_on_request(page):
    # The browser asks for English (Accept-Language en-US), yet the product answers in Chinese until
    # the person picks English with the switch in the header.
    await page.set_extra_http_headers({"Accept-Language": "en-US,en;q=0.9"})
    await page.goto("/login")
    assert await page.get_attribute("html", "lang") == "zh-Hans"
    assert await page.locator("main h1").inner_text() == "登录"
    assert "用户名或手机号码" in await page.locator("form").inner_text()

    await page.click("header >> text=English")
    await page.wait_for_url("**/login")
    await expect(page.locator("html")).to_have_attribute("lang", "en")  # (the CSP forbids eval)
    assert await page.locator("main h1").inner_text() == "Sign in"
    assert "Username or mobile number" in await page.locator("form").inner_text()

    # The choice sticks (a cookie) on the next page, and switches back.
    await page.goto("/")
    assert await page.get_attribute("html", "lang") == "en"
    await page.click("header >> text=中文")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    assert await page.locator("main h1").count() >= 1


async def test_sign_in_works_without_javascript(nojs_page, database):
    page = nojs_page
    tenant = await make_tenant(database, "gamma")
    wang = await make_user(database, "wang")
    await add_member(database, tenant, wang)

    await page.goto("/t/gamma/")
    assert "/login?next=/t/gamma" in page.url
    await page.fill("input[name=login]", "wang")
    await page.fill("input[name=password]", PASSWORD)
    async with page.expect_navigation():  # a real form POST and a 303, no htmx
        await page.click("form[action='/login'] button[type=submit]")
    assert page.url.rstrip("/").endswith("/t/gamma")
    assert await page.locator("main h1").inner_text() == "gamma县人大常委会"

    # A wrong password re-renders the form with the message, still without JavaScript.
    await page.context.clear_cookies()
    await page.goto("/login")
    await page.fill("input[name=login]", "wang")
    await page.fill("input[name=password]", "not-the-password")
    async with page.expect_navigation():
        await page.click("form[action='/login'] button[type=submit]")
    assert "用户名、手机号码或密码错误" in await page.locator("[role=alert]").inner_text()

    # Sign out is a form too.
    await page.goto("/login")
    await page.fill("input[name=login]", "wang")
    await page.fill("input[name=password]", PASSWORD)
    async with page.expect_navigation():
        await page.click("form[action='/login'] button[type=submit]")
    async with page.expect_navigation():
        await page.click("header >> button:has-text('退出登录')")
    assert page.url.endswith("/login")


async def test_operator_passes_the_second_step(page, make_operator):
    # The helper the /ops flows build on: an operator with a known TOTP key reaches the console.
    operator = await make_operator("ops1")
    await operator_sign_in(page, operator)
    assert page.url.endswith("/ops/")
    assert await page.locator("main h1").count() == 1
