"""Reminders in the inbox, in a real phone-sized browser: a deputy with an account sees the unread count
in the header, opens the inbox, reads the gentle reminder of tomorrow's activity and marks it read; the
count goes (in place with JavaScript, and after a reload)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from playwright.async_api import expect

from app.core.i18n import catalogue
from app.notify import outbox
from tests.activities.world import build_activity_county
from tests.e2e.browser import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


async def test_deputy_reads_the_reminder_and_the_count_goes(browser, live_server, database, screenshot_dir):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.deputies(db, t, [ac.deputies["张伟"]])  # the member "alpha-rep"
        await outbox.notify(db, tenant_id=t, kind="activity_eve", subject="activity:1", recipients=who,
                            due_at=datetime.now(timezone.utc),
                            params={"station": "东街社区人大代表联络站", "kind": "接待选民", "when": "2026-11-23 09:00",
                                    "place": "东街社区活动室"})
    context = await browser.new_context(base_url=live_server, **PHONE)
    context.set_default_timeout(15_000)
    try:
        phone = await context.new_page()
        await sign_in(phone, "alpha-rep", PASSWORD)
        await phone.goto("/t/alpha/")
        badge = phone.locator("#inbox-link .badge")
        await expect(badge).to_have_text("1")
        await phone.click("#inbox-link")
        await expect(phone.locator("main")).to_contain_text("东街社区活动室")
        await expect(phone.locator("main")).to_contain_text("张伟")
        await phone.screenshot(path=str(screenshot_dir / "inbox-phone.png"))
        await phone.click(f"main button:has-text('{catalogue('zh_Hans')['Mark as read']}')")
        await expect(badge).to_have_count(0)
        await phone.reload()
        await expect(phone.locator("#inbox-link")).to_be_visible()
        await expect(phone.locator("#inbox-link .badge")).to_have_count(0)
    finally:
        await context.close()
