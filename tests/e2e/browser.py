"""Helpers for the browser tests: what a person does on a page, written once."""

from __future__ import annotations

from dataclasses import dataclass


async def sign_in(page, username: str, password: str) -> None:
    """Fill the sign-in form like a person would and wait for the page after it."""
    await page.goto("/login")
    await page.fill("input[name=login]", username)
    await page.fill("input[name=password]", password)
    await page.click("form[action='/login'] button[type=submit]")
    # With JavaScript htmx swaps the page in place (hx-boost) and pushes the new URL; without, the
    # browser navigates. Either way the address leaves /login.
    await page.wait_for_url(lambda url: "/login" not in url)
    await page.wait_for_load_state()


async def case_step(page, case_url: str, step: str, fill=None) -> None:
    """Open the case, open the step's form if it is folded, fill it and submit; no refusal shown."""
    from playwright.async_api import expect

    await page.goto(case_url)
    form = page.locator(f"#step-{step}")
    await expect(form).to_be_visible()
    if await form.get_attribute("open") is None:
        await form.locator("summary").click()
    if fill:
        await fill(form)
    # Wait for the server's answer to the step itself: with htmx the POST runs in the background, and
    # the next page.goto would otherwise cancel it on a slow machine.
    async with page.expect_response(lambda r: r.request.method == "POST" and "/cases/" in r.url):
        await form.locator("button[type=submit]").click()
    await page.wait_for_load_state()
    await expect(page.locator("[role=alert]")).to_have_count(0)


@dataclass
class Operator:
    username: str
    password: str
    totp_secret: str
    user_id: int

    def code(self) -> str:
        from tests.factories import totp_code

        return totp_code(self.totp_secret)


async def operator_sign_in(page, operator: Operator) -> None:
    """Password, then the 6-digit code at /ops/totp; ends on the operator console."""
    await sign_in(page, operator.username, operator.password)
    assert page.url.endswith("/ops/totp"), page.url
    await page.fill("input[name=code]", operator.code())
    await page.click("form[action='/ops/totp'] button[type=submit]")
    await page.wait_for_url(lambda url: not url.endswith("/ops/totp"))
