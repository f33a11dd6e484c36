"""The deputies' duty records as people use them, in a real browser (issue 18's "How we will check"):
a deputy files a speech with a photo on a 390-px phone, the county approves it in a batch and sees the
points change, publishes the quarter and the deputy finds it in the inbox; a 述职评议 where three phones
rate by the QR link and the first phone's second vote is refused, with the result in the deputy's
dossier and on the public page; the year's appraisal adjusted with a reason, published, a
rectification report handed in on the phone and the list of who is missing; the dossier printed on A4."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from playwright.async_api import expect

from tests.activities.world import EAST, TZ, build_activity_county
from tests.duties.duty_world import png
from tests.duties.points_world import put_entry, put_scheme
from tests.e2e.browser import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def _last_quarter(today: date) -> tuple[str, date]:
    """The last quarter that has ended (a quarter is published once it is over) and a day in it."""
    first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    day = first - timedelta(days=20)
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}", day


async def _context(browser, live_server, **options):
    context = await browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(15_000)
    return context


async def _points_of(page, base: str, period: str, name: str) -> str:
    await page.goto(f"{base}/points?period={period}")
    return (await page.locator("tbody tr", has_text=name).locator("td").nth(2).inner_text()).strip()


async def _no_sideways_scroll(page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"


async def test_a_speech_filed_on_a_phone_approved_in_a_batch_counts_and_is_published(
        browser, live_server, database, screenshot_dir):
    ac = await build_activity_county(database)
    await put_scheme(database, ac)  # a speech counts 3
    period, day = _last_quarter(datetime.now(TZ).date())
    await put_entry(database, ac, "李娜", "speech", day, status="filed")  # another deputy's, also waiting
    base = f"/t/{ac.slug}"
    phone_ctx = await _context(browser, live_server, **PHONE)
    desk_ctx = await _context(browser, live_server, locale="zh-CN")
    try:
        phone = await phone_ctx.new_page()
        await sign_in(phone, "alpha-rep", PASSWORD)
        await phone.goto(f"{base}/duties/new")
        await phone.select_option("select[name=kind]", "speech")
        await phone.fill("input[name=day]", day.isoformat())
        await phone.fill("textarea[name=text]", "在县人大常委会会议上就农村饮水安全作审议发言")
        await phone.set_input_files("input[name=photo]", {"name": "发言.png", "mimeType": "image/png", "buffer": png()})
        await _no_sideways_scroll(phone)
        await phone.click(f"form[action='{base}/duties'] button[type=submit]")
        await phone.wait_for_url(lambda url: "/duties/new" not in url)
        await expect(phone.locator("[role=alert]")).to_have_count(0)
        await expect(phone.locator("main")).to_contain_text("农村饮水安全")
        await phone.screenshot(path=str(screenshot_dir / "duty-filed-phone.png"), full_page=True)

        desk = await desk_ctx.new_page()
        await sign_in(desk, "alpha-admin", PASSWORD)
        before = await _points_of(desk, base, period, "张伟")
        await desk.goto(f"{base}/duties")
        mine = desk.locator("tr", has_text="农村饮水安全")
        await expect(mine).to_have_count(1)
        await mine.locator("input[name=entry_id]").check()
        await desk.locator("tr", has_text="李娜").locator("input[name=entry_id]").check()
        await desk.click("button[name=decision][value=approve]")
        await expect(desk.locator("[role=status]")).to_be_visible()
        await expect(desk.locator("input[name=entry_id]")).to_have_count(0)  # both approved, none waiting
        after = await _points_of(desk, base, period, "张伟")
        assert float(after) == float(before) + 3, (before, after)

        await desk.click(f"form[action='{base}/points/publish'] button[type=submit]")
        await expect(desk.locator("[role=status]")).to_be_visible()
        await expect(desk.locator("[role=alert]")).to_have_count(0)

        await phone.goto(f"{base}/")
        await expect(phone.locator("#inbox-link .badge")).to_be_visible()
        await phone.click("#inbox-link")
        await expect(phone.locator("main")).to_contain_text(after)
        await _no_sideways_scroll(phone)
    finally:
        await phone_ctx.close()
        await desk_ctx.close()


async def test_three_phones_rate_a_duty_report_and_a_second_vote_is_refused(browser, live_server, database):
    ac = await build_activity_county(database)
    base = f"/t/{ac.slug}"
    now = datetime.now(TZ)
    start = max(now - timedelta(minutes=10), now.replace(hour=0, minute=0))
    end = min(now + timedelta(minutes=50), now.replace(hour=23, minute=59))
    staff_ctx = await _context(browser, live_server, locale="zh-CN")
    phones = [await _context(browser, live_server, **PHONE) for _ in range(3)]
    try:
        admin = await staff_ctx.new_page()  # the county shows report results on the public pages
        await sign_in(admin, "alpha-admin", PASSWORD)
        await admin.goto(f"{base}/settings/duties")
        await admin.check("input[name=public_duty_reports]")
        await admin.click(f"form[action='{base}/settings/duties'] button[type=submit]")
        await expect(admin.locator("[role=status]")).to_be_visible()
        await staff_ctx.clear_cookies()
        staff = await staff_ctx.new_page()
        await sign_in(staff, "alpha-station", PASSWORD)
        await staff.goto(f"{base}/duty-reports/new")
        await staff.select_option("select[name=station_id]", label=EAST)
        await staff.select_option("select[name=deputy_id]", label="张伟")
        await staff.fill("input[name=held_on]", now.date().isoformat())
        await staff.fill("input[name=start]", start.strftime("%H:%M"))
        await staff.fill("input[name=end]", end.strftime("%H:%M"))
        await staff.fill("input[name=place]", "东街社区会议室")
        await staff.fill("input[name=voters_present]", "35")
        await staff.click(f"form[action='{base}/duty-reports'] button[type=submit]")
        await staff.wait_for_url(re.compile(r"/duty-reports/\d+(\?|$)"))
        meeting_url = staff.url.split("?")[0]
        # wait for the server's answer: with htmx the POST runs in the background and the next goto
        # would otherwise overtake it on a slow machine
        async with staff.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/open")):
            await staff.click("form[action$='/open'] button[type=submit]")
        await expect(staff.locator("[role=alert]")).to_have_count(0)
        await staff.goto(meeting_url + "/screen")
        await expect(staff.locator("svg").first).to_be_visible()  # the QR code on the wall
        link = re.search(r"/p/[a-z0-9-]+/report/[A-Za-z0-9_-]+", await staff.content()).group(0)

        for n, (context, rating) in enumerate(zip(phones, ("satisfied", "basic", "unsatisfied"))):
            phone = await context.new_page()
            await phone.goto(link)
            await expect(phone.locator("main")).to_contain_text("张伟")
            await phone.check(f"input[name=rating][value={rating}]")
            await phone.fill("textarea[name=comment]", f"第{n + 1}位选民：讲得实在")
            await phone.click("main form button[type=submit]")
            await expect(phone.locator("main")).to_contain_text("已记录")
        again = await phones[0].new_page()  # the first phone tries a second ballot
        await again.goto(link)
        await again.check("input[name=rating][value=satisfied]")
        await again.click("main form button[type=submit]")
        await expect(again.locator("main")).to_contain_text("这部手机已经为本次述职评议投过票")

        await staff.goto(meeting_url)
        await staff.click("form[action$='/close'] button[type=submit]")
        await expect(staff.locator("main")).to_contain_text("66.7%")  # 2 of 3 satisfied or basically

        public = await phones[1].new_page()
        await public.goto(f"/p/{ac.slug}/stations/{ac.stations[EAST]}/reports")
        await expect(public.locator("main")).to_contain_text("张伟")
        await expect(public.locator("main")).to_contain_text("66.7%")
        await staff.goto(f"{base}/deputies/{ac.deputies['张伟']}/dossier?year={now.year}")
        await expect(staff.locator("main")).to_contain_text("66.7%")
    finally:
        for context in (staff_ctx, *phones):
            await context.close()


async def test_the_appraisal_adjusted_published_reported_and_the_dossier_printed(
        browser, live_server, database, screenshot_dir):
    ac = await build_activity_county(database)
    await put_scheme(database, ac)
    year = datetime.now(TZ).year
    await put_entry(database, ac, "张伟", "speech", date(year, 1, 15))
    base = f"/t/{ac.slug}"
    due = datetime.now(TZ).date() + timedelta(days=30)
    desk_ctx = await _context(browser, live_server, locale="zh-CN")
    phone_ctx = await _context(browser, live_server, **PHONE)
    try:
        desk = await desk_ctx.new_page()
        await sign_in(desk, "alpha-admin", PASSWORD)
        await desk.goto(f"{base}/appraisals")
        form = desk.locator(f"form[action='{base}/appraisals']")
        await form.locator("select[name=year]").select_option(str(year))
        await form.locator("input[name=excellent]").fill("90")
        await form.locator("input[name=pass]").fill("80")
        await form.locator("button[type=submit]").click()
        await desk.wait_for_url(re.compile(rf"/appraisals/{year}"))
        await desk.locator("form[action$='/adjust'] select[name=deputy_id]").select_option(str(ac.deputies["张伟"]))
        await desk.fill("input[name=score]", "85")
        await desk.fill("input[name=reason]", "年中参加省人大培训，档案未录入，经核实加分")
        await desk.click("form[action$='/adjust'] button[type=submit]")
        row = desk.locator("#results tr", has_text="张伟")
        await expect(row).to_contain_text("85")
        await expect(row).to_contain_text("省人大培训")
        await desk.fill("input[name=report_due]", due.isoformat())
        await desk.click("form[action$='/publish'] button[type=submit]")
        await expect(desk.locator("#missing")).to_contain_text("张伟")

        phone = await phone_ctx.new_page()
        await sign_in(phone, "alpha-rep", PASSWORD)
        await phone.goto(f"{base}/appraisals/{year}/mine")
        await expect(phone.locator("main")).to_contain_text("85")
        await phone.fill("textarea[name=report]", "今后每季度至少参加一次接待选民活动，按时报送履职记录。")
        await phone.click("main form[action$='/report'] button[type=submit]")
        await expect(phone.locator("[role=status]")).to_be_visible()
        await _no_sideways_scroll(phone)

        await desk.goto(f"{base}/appraisals/{year}")
        missing = desk.locator("#missing")
        await expect(missing).not_to_contain_text("张伟")
        await expect(missing).to_contain_text("李娜")

        await desk.goto(f"{base}/deputies/{ac.deputies['张伟']}/dossier?year={year}&print=1")
        await desk.emulate_media(media="print")
        pdf = await desk.pdf(format="A4", print_background=False)
        (screenshot_dir / "dossier-a4.pdf").write_bytes(pdf)
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        assert 1 <= pages <= 4, pages
        await expect(desk.locator("main")).to_contain_text("张伟")
        await expect(desk.locator("main")).to_contain_text(f"speech {year}-01-15")  # the approved entry
    finally:
        await desk_ctx.close()
        await phone_ctx.close()
