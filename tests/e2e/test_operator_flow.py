"""The way a county comes onto the platform, in a real browser: the county congress applies on the
public sign-up page, an operator (password + TOTP) approves it on the console and passes on the
one-time invitation link, the county administrator creates an account with it, and the operator
suspends and reactivates the county. Also the operator's first sign-in, which enrols TOTP."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.async_api import expect

from tests.e2e.browser import sign_in
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.e2e

# 四川省 绵阳市 三台县, the county of the full flow.
COUNTY_CODE = "510722"
COUNTY_LABEL = "四川省 绵阳市 三台县"
TENANT_SLUG = f"c{COUNTY_CODE}"  # the default short name the approval form proposes
TENANT_NAME = "三台县人大常委会"  # the default name: county + 人大常委会
CONTACT_NAME = "李明"
CONTACT_MOBILE = "13812345678"
CONTACT_MASKED = "138****5678"
ADMIN_USERNAME = "liming"
ADMIN_PASSWORD = "santai-admin-2024"


async def _apply_with_javascript(page) -> None:
    """A visitor (not signed in) applies for 三台县, finding it through the htmx suggestions."""
    await page.goto("/")
    await expect(page.locator("header")).not_to_contain_text("退出登录")
    await page.click("main a[href='/signup']")
    await page.wait_for_url("**/signup")
    await expect(page.locator("main h1")).to_have_count(1)

    # Typing the name asks /signup/divisions (htmx, after a short pause) and shows the matches.
    await page.locator("input[name=division]").press_sequentially("三台")
    matches = page.locator("#division-matches")
    await expect(matches.locator("legend")).to_have_text("匹配的行政区划")
    choice = matches.locator(f"input[type=radio][name=code][value='{COUNTY_CODE}']")
    await expect(choice).to_have_count(1)
    await expect(matches.locator("label")).to_contain_text(f"{COUNTY_CODE} {COUNTY_LABEL}")
    await expect(choice).to_be_checked()  # the only match comes pre-selected
    await choice.check()

    await page.fill("input[name=contact_name]", CONTACT_NAME)
    await page.fill("input[name=contact_phone]", CONTACT_MOBILE)
    await page.fill("textarea[name=note]", "县人大常委会办公室，工作日均可联系。")
    await page.click("form[action='/signup'] button[type=submit]")  # hx-boost="false": a real POST
    await page.wait_for_url(f"**/signup/sent?code={COUNTY_CODE}")
    await expect(page.locator("main h1")).to_have_text("申请已提交")
    await expect(page.locator("main")).to_contain_text(f"已收到{COUNTY_LABEL}的入驻申请。")


async def _operator_signs_in(page, operator) -> None:
    await sign_in(page, operator.username, operator.password)
    await expect(page).to_have_url(re.compile(r"/ops/totp$"))
    await expect(page.locator("main h1")).to_have_text("两步验证登录")
    await page.fill("input[name=code]", operator.code())
    await page.click("form[action='/ops/totp'] button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/ops/$"))


async def test_county_applies_operator_approves_admin_joins_and_is_suspended(
    page, browser, live_server, make_operator, owner_sql, screenshot_dir,
):
    # 1. The county applies, as a visitor, with JavaScript.
    await _apply_with_javascript(page)
    rows = await owner_sql("SELECT id, status, contact_phone FROM signup_applications WHERE division_code = $1",
                           COUNTY_CODE)
    assert [(r["status"], r["contact_phone"]) for r in rows] == [("pending", CONTACT_MOBILE)]
    application_id = rows[0]["id"]

    # 2. The operator signs in (password, then a TOTP code); the visitor's cookies are gone first.
    operator = await make_operator("ops1")
    await page.context.clear_cookies()
    ops = page
    await _operator_signs_in(ops, operator)

    # The pending application is on the console, the mobile number masked.
    await expect(ops.locator("main h1")).to_have_text("待审核的入驻申请")
    row = ops.locator("main table tr", has_text=COUNTY_LABEL)
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(CONTACT_NAME)
    await expect(row).to_contain_text(CONTACT_MASKED)
    assert CONTACT_MOBILE not in await ops.locator("main").inner_text()
    await ops.screenshot(path=str(screenshot_dir / "ops-dashboard.png"), full_page=True)

    # Opening it shows the full number (to call the applicant back), which is audited.
    await row.locator("a").click()
    await ops.wait_for_url(f"**/ops/applications/{application_id}")
    await expect(ops.locator("main h1")).to_contain_text(f"{COUNTY_CODE} {COUNTY_LABEL}")
    await expect(ops.locator("main")).to_contain_text(CONTACT_MOBILE)
    viewed = await owner_sql(
        "SELECT count(*) AS n FROM platform_audit_log WHERE action = 'signup_contact_viewed' AND target = $1",
        f"application:{application_id}",
    )
    assert viewed[0]["n"] >= 1
    approve_form = ops.locator(f"form[action='/ops/applications/{application_id}/approve']")
    # every preset is a starting point, named by what it models; the standard one is proposed
    await expect(approve_form.locator("input[name=preset][value=standard]")).to_be_checked()
    await expect(approve_form.locator("#presets")).to_contain_text("绵阳模式（参照三台县）")
    await expect(approve_form.locator("input[name=slug]")).to_have_value(TENANT_SLUG)
    await expect(approve_form.locator("input[name=name]")).to_have_value(TENANT_NAME)
    await expect(approve_form.locator("input[name=admin_name]")).to_have_value(CONTACT_NAME)
    await expect(approve_form.locator("input[name=admin_mobile]")).to_have_value(CONTACT_MOBILE)
    await ops.screenshot(path=str(screenshot_dir / "ops-application.png"), full_page=True)

    # Approve with the standard preset and the proposed short name: the one-time invitation link.
    await approve_form.locator("button[type=submit]").click()
    await expect(ops.locator("main h1")).to_have_text("申请已批准")
    link = (await ops.locator("main code").inner_text()).strip()
    assert re.fullmatch(re.escape(live_server) + rf"/join/{TENANT_SLUG}/[A-Za-z0-9_\-]+", link), link
    tenants = await owner_sql("SELECT id, name, status FROM tenants WHERE slug = $1", TENANT_SLUG)
    assert [(t["name"], t["status"]) for t in tenants] == [(TENANT_NAME, "active")]
    tenant_id = tenants[0]["id"]

    # 3. The county administrator, in a browser of their own, opens the link and creates an account.
    admin_context = await browser.new_context(base_url=live_server, locale="zh-CN")
    admin_context.set_default_timeout(15_000)
    try:
        admin = await admin_context.new_page()
        await admin.goto(link)
        await expect(admin.locator("main h1")).to_contain_text(TENANT_NAME)
        await expect(admin.locator("main")).to_contain_text("县级管理员")
        join_form = admin.locator("main form[action^='/join/']")
        await join_form.locator("input[name=username]").fill(ADMIN_USERNAME)
        await join_form.locator("input[name=password]").fill(ADMIN_PASSWORD)
        await join_form.locator("input[name=confirm]").fill(ADMIN_PASSWORD)
        await join_form.locator("button[type=submit]").click()
        await admin.wait_for_url(f"**/t/{TENANT_SLUG}/")
        await expect(admin.locator("main h1")).to_have_text(TENANT_NAME)
        await expect(admin.locator("header .tenant")).to_have_text(TENANT_NAME)
        await expect(admin.locator("main")).to_contain_text(f"当前登录：{CONTACT_NAME}。")

        await admin.goto(f"/t/{TENANT_SLUG}/members")
        member_row = admin.locator("main table tr", has_text=ADMIN_USERNAME)
        await expect(member_row).to_have_count(1)
        await expect(member_row).to_contain_text(CONTACT_NAME)
        await expect(member_row).to_contain_text("县级管理员")

        # The link worked once.
        await admin.goto(link)
        await expect(admin.locator("main h1")).to_have_text("邀请链接已失效")
        await expect(admin.locator("main form[action^='/join/']")).to_have_count(0)
        await admin.goto(f"/t/{TENANT_SLUG}/")
        await expect(admin.locator("main h1")).to_have_text(TENANT_NAME)

        # 4. The operator suspends the county from the console, with a reason.
        await ops.click("main a:has-text('该县账号')")
        await ops.wait_for_url(f"**/ops/tenants/{tenant_id}")
        await ops.fill(f"form[action='/ops/tenants/{tenant_id}/suspend'] textarea[name=reason]",
                       "县人大常委会来函要求暂停使用。")
        await ops.click(f"form[action='/ops/tenants/{tenant_id}/suspend'] button[type=submit]")
        await ops.wait_for_url(f"**/ops/tenants/{tenant_id}?done=suspended")
        await expect(ops.locator("main [role=status]")).to_have_text("该县账号已暂停，其用户已被退出登录。")
        await expect(ops.locator("main .badge")).to_have_text("已暂停")

        # The administrator's next page load no longer shows the county's pages: their session was
        # ended (the sign-in page), or they see the suspension notice.
        await admin.reload()
        main = admin.locator("main")
        await expect(main.locator("h1")).not_to_have_text(TENANT_NAME)
        await expect(admin.locator("header .tenant")).to_have_count(0)
        if "/login" in admin.url:
            await expect(main.locator("h1")).to_have_text("登录")
            # Signing in again while suspended leads to the notice, not to the county's pages.
            await admin.fill("input[name=login]", ADMIN_USERNAME)
            await admin.fill("input[name=password]", ADMIN_PASSWORD)
            await admin.click("form[action='/login'] button[type=submit]")
        await expect(main).to_contain_text("暂停")
        await expect(main).to_contain_text("本县（市、区）的账户已被暂停使用，请联系平台运营方。")
        await expect(admin.locator("header .tenant")).to_have_count(0)
        await admin.screenshot(path=str(screenshot_dir / "tenant-suspended.png"), full_page=True)

        # The operator reactivates it; the administrator signs in again and is back in the county.
        await ops.fill(f"form[action='/ops/tenants/{tenant_id}/reactivate'] textarea[name=reason]",
                       "问题已解决，恢复使用。")
        await ops.click(f"form[action='/ops/tenants/{tenant_id}/reactivate'] button[type=submit]")
        await ops.wait_for_url(f"**/ops/tenants/{tenant_id}?done=active")
        await expect(ops.locator("main [role=status]")).to_have_text("该县账号已恢复。")

        await admin_context.clear_cookies()
        await sign_in(admin, ADMIN_USERNAME, ADMIN_PASSWORD)
        await expect(admin).to_have_url(re.compile(rf"/t/{TENANT_SLUG}/$"))
        await expect(admin.locator("main h1")).to_have_text(TENANT_NAME)
        await expect(admin.locator("main")).to_contain_text("县级管理员")
    finally:
        await admin_context.close()

    # The console lists the county as active with its one member.
    await ops.goto("/ops/")
    await expect(ops.locator("main")).to_contain_text("没有待审核的申请。")
    tenant_row = ops.locator("main table tr", has_text=TENANT_NAME)
    await expect(tenant_row).to_contain_text("正常")
    await ops.screenshot(path=str(screenshot_dir / "ops-dashboard-tenants.png"), full_page=True)
    actions = [r["action"] for r in await owner_sql(
        "SELECT action FROM platform_audit_log WHERE subject_tenant_id = $1 ORDER BY id", tenant_id)]
    assert actions == ["signup_approved", "tenant_created", "tenant_suspended", "tenant_reactivated"]


async def test_signup_without_javascript_chooses_among_several_matches(nojs_page, owner_sql):
    page = nojs_page
    await page.goto("/signup")
    # 鼓楼 names four districts: the first submission asks which one.
    await page.fill("input[name=division]", "鼓楼")
    await page.fill("input[name=contact_name]", "陈静")
    await page.fill("input[name=contact_phone]", "13900001111")
    async with page.expect_navigation():
        await page.click("form[action='/signup'] button[type=submit]")
    await expect(page.locator("main [role=alert]")).to_be_visible()
    await expect(page.locator("#division-error")).to_have_text("有多个行政区划匹配，请在下面选择。")
    radios = page.locator("#division-matches input[type=radio][name=code]")
    await expect(radios).to_have_count(4)
    await expect(page.locator("input[name=contact_name]")).to_have_value("陈静")  # what was typed is kept
    await expect(page.locator("input[name=contact_phone]")).to_have_value("13900001111")

    await page.check("#division-matches input[type=radio][value='350102']")  # 福建省 福州市 鼓楼区
    async with page.expect_navigation():
        await page.click("form[action='/signup'] button[type=submit]")
    assert page.url.endswith("/signup/sent?code=350102")
    await expect(page.locator("main h1")).to_have_text("申请已提交")
    await expect(page.locator("main")).to_contain_text("已收到福建省 福州市 鼓楼区的入驻申请。")
    rows = await owner_sql("SELECT division_code, contact_name, status FROM signup_applications")
    assert [tuple(r.values()) for r in rows] == [("350102", "陈静", "pending")]


async def test_operator_enrols_totp_on_first_sign_in(page, database, screenshot_dir):
    await make_user(database, "ops2", operator=True)  # no TOTP yet
    await sign_in(page, "ops2", PASSWORD)
    await expect(page).to_have_url(re.compile(r"/ops/totp/enrol$"))
    await expect(page.locator("main h1")).to_have_text("设置两步验证")
    await expect(page.locator("main .qr svg")).to_be_visible()
    box = await page.locator("main .qr svg").bounding_box()
    assert box and box["width"] >= 100 and box["height"] >= 100, box
    await page.screenshot(path=str(screenshot_dir / "ops-totp-enrol.png"), full_page=True)

    # The key is shown as text too (groups of four), for typing into the app by hand.
    secret = "".join((await page.locator("main code").inner_text()).split())
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    # The console stays closed until the code is confirmed.
    await page.goto("/ops/")
    await expect(page).to_have_url(re.compile(r"/ops/totp/enrol$"))
    assert "".join((await page.locator("main code").inner_text()).split()) == secret  # same key on reload

    await page.fill("form[action='/ops/totp/enrol'] input[name=code]", pyotp.TOTP(secret).now())
    await page.click("form[action='/ops/totp/enrol'] button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/ops/$"))
    await expect(page.locator("main h1")).to_have_text("待审核的入驻申请")
