"""A station's life in a real browser, as issue 3 will be checked: a county admin of the Mianyang-style
demo county proposes a village station under a forbidden name, sees the error and takes the standard
name offered; the township's staff approve it; the county files it and puts it into operation and
sets its reception days; then anyone opens its public page — on a throttled 2G-like connection — and
prints the poster with its QR code."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from app.core.i18n import catalogue
from app.stations.models import STATUS_NAMES
from app.stations.lifecycle import EVENT_NAMES
from app.presets.services import apply_preset, load_preset
from tests.e2e.browser import sign_in
from tests.factories import PASSWORD, add_member, make_user

pytestmark = pytest.mark.e2e

CANONICAL = "绵阳市三台县潼川镇北坝村人大代表联络站"
FORBIDDEN = "北坝村人大代表联络点"
KB = 1024
PRIVATE_MOBILE = "13855556666"


def _zh(msgid: str) -> str:
    return catalogue("zh_Hans").get(msgid, msgid)


async def _santai(database):
    tenant = await apply_preset(database, load_preset("mianyang-santai"))
    admin = await make_user(database, "santai-admin")
    await add_member(database, tenant, admin, role="county_admin")
    township = await make_user(database, "tongchuan-staff")
    await add_member(database, tenant, township, role="township_staff", scope="潼川镇")
    return tenant


async def _sign_out(page) -> None:
    await page.click("header form[action='/logout'] button")
    await page.wait_for_url("**/login")


async def _take_step(page, station_url: str, step: str) -> None:
    await page.goto(station_url)
    await page.click(f"button[name=step][value={step}]")
    await expect(page.locator("p.ok[role=status]")).to_be_visible()


async def test_propose_approve_file_activate_and_publish(page, database, live_server, screenshot_dir):
    await _santai(database)
    public_missing = None

    # --- the county admin proposes a village station under a forbidden name ---
    await sign_in(page, "santai-admin", PASSWORD)
    await page.goto("/t/santai/stations")
    await page.goto("/t/santai/stations/new")
    kind = await page.locator("select[name=kind_id] option", has_text="代表联络站").first.get_attribute("value")
    node = await page.locator("select[name=node_id] option", has_text="北坝村").get_attribute("value")
    await page.select_option("select[name=kind_id]", kind)
    await page.select_option("select[name=node_id]", node)
    await page.fill("input[name=name]", FORBIDDEN)
    await page.click("form[action='/t/santai/stations'] button[type=submit]:not([name])")
    alert = page.locator("p.error[role=alert]")
    await expect(alert).to_contain_text("人大代表联络点")
    await expect(page.locator("main")).to_contain_text(f"规范名称为“{CANONICAL}”")
    await page.screenshot(path=str(screenshot_dir / "station-forbidden-name.png"), full_page=True)
    # nothing was created by the refused form
    assert await _station_count(database) == 0

    # … and takes the standard name offered
    await page.click("form:has(input[type=hidden][name=name]) button[type=submit]")
    await expect(page.locator("main h1")).to_have_text(CANONICAL)
    # (read the id from the page: with htmx the address bar may still show the form's address)
    action = await page.locator("form#step").get_attribute("action")
    station_id = int(re.fullmatch(r"/t/santai/stations/(\d+)/lifecycle", action).group(1))
    station_url = f"/t/santai/stations/{station_id}"
    public_url = f"/p/santai/stations/{station_id}"
    # not public while only proposed
    public_missing = await page.request.get(public_url)
    assert public_missing.status == 404
    await _sign_out(page)

    # --- the township's staff approve it ---
    await sign_in(page, "tongchuan-staff", PASSWORD)
    await _take_step(page, station_url, "approve")
    await expect(page.locator(".badge").first).to_have_text(_zh(STATUS_NAMES["approved"]))
    await _sign_out(page)

    # --- the county files it, puts it into operation, and sets the profile ---
    await sign_in(page, "santai-admin", PASSWORD)
    await _take_step(page, station_url, "file")
    await _take_step(page, station_url, "activate")
    await expect(page.locator(".badge").first).to_have_text(_zh(STATUS_NAMES["active"]))
    await page.click("#profile summary")
    await page.fill("input[name=address]", "潼川镇北坝村村委会二楼")
    await page.fill("input[name=reception_rule]", "每月15号、每月第一个周五")
    await page.fill("input[name=opening_hours]", "工作日 9:00–17:00")
    await page.click("form[action$='/profile'] button[type=submit]")
    facts = page.locator("#profile dl")
    await expect(facts).to_contain_text("每月15日、每月第一个星期五")  # read and written back
    await expect(facts).to_contain_text("潼川镇北坝村村委会二楼")
    # history shows every step
    history = await page.locator("main").inner_text()
    for event in ("approved", "filed", "activated"):
        assert _zh(EVENT_NAMES[event]) in history, event
    await _sign_out(page)
    await _station_deputy(database, station_id)

    # --- anyone opens the public page, on a slow connection ---
    context = await page.context.browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    try:
        visitor = await context.new_page()
        cdp = await context.new_cdp_session(visitor)
        await cdp.send("Network.enable")
        await cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 400, "downloadThroughput": 250 * KB // 8, "uploadThroughput": 50 * KB // 8,
        })
        response = await visitor.goto(public_url)
        assert response.status == 200
        assert response.headers["cache-control"].startswith("public, max-age=")
        await expect(visitor.locator("main h1")).to_have_text(CANONICAL)
        text = await visitor.locator("main").inner_text()
        assert "每月15日、每月第一个星期五" in text and "潼川镇北坝村村委会二楼" in text
        assert "近期接待日" in text
        assert "赵代表" in text and "市级" in text and "公开联系：0816-2223333" in text
        assert PRIVATE_MOBILE not in await visitor.content()
        photo = visitor.locator("#deputies img")
        assert await photo.get_attribute("loading") == "lazy"
        await photo.scroll_into_view_if_needed()
        await expect(photo).to_have_js_property("complete", True)
        assert await photo.evaluate("img => img.naturalWidth") > 0
        assert await visitor.locator("script").count() == 0
        transferred = await visitor.evaluate("performance.getEntriesByType('navigation')[0].transferSize")
        assert 0 < transferred <= 14 * KB + 1 * KB, f"{transferred} B for the first HTML (headers included)"
        assert not await context.cookies()
        await visitor.screenshot(path=str(screenshot_dir / "public-station-390.png"), full_page=True)

        # the county's list links it
        await visitor.goto("/p/santai/")
        await expect(visitor.locator(f"a[href='{public_url}']")).to_have_text(CANONICAL)

        # --- and prints the poster ---
        await visitor.goto(public_url)
        await visitor.click("text=打印上墙海报")
        await visitor.wait_for_url(f"**{public_url}/poster")
        await expect(visitor.locator("main.poster h1")).to_have_text(CANONICAL)
        qr = visitor.locator("svg.qr")
        await expect(qr).to_be_visible()
        await expect(visitor.locator("figcaption")).to_contain_text(f"{live_server}{public_url}")
        box = await qr.bounding_box()
        assert box and box["width"] >= 100 and abs(box["width"] - box["height"]) < 2
        await visitor.screenshot(path=str(screenshot_dir / "poster-screen.png"), full_page=True)
        await cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1,
        })
        await visitor.emulate_media(media="print")
        assert not await visitor.locator("header.top").is_visible()
        pdf = await visitor.pdf(format="A4", print_background=True)
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        assert pages == 1, f"the poster prints on {pages} A4 pages"
        (screenshot_dir / "poster.pdf").write_bytes(pdf)
    finally:
        await context.close()


async def _station_deputy(database, station_id: int) -> None:
    """A serving city deputy stationed there, with a photo (assigning deputies has its own tests)."""
    import io

    from PIL import Image
    from sqlalchemy import select

    from app.core.images import store_image
    from app.deputies.models import Deputy, Mandate, StationDeputy
    from app.tenancy.models import Tenant

    async with database.session() as db:
        tenant_id = await db.scalar(select(Tenant.id).where(Tenant.slug == "santai"))
    raw = io.BytesIO()
    Image.new("RGB", (120, 160), (40, 90, 160)).save(raw, "PNG")
    async with database.transaction(tenant_id=tenant_id) as db:
        photo = await store_image(db, tenant_id, raw.getvalue())
        deputy = Deputy(tenant_id=tenant_id, name="赵代表", mobile=PRIVATE_MOBILE, public_contact="公开联系：0816-2223333",
                        photo_id=photo.id)
        db.add(deputy)
        await db.flush()
        db.add_all([Mandate(tenant_id=tenant_id, deputy_id=deputy.id, level="city", term=8, direct=False),
                    StationDeputy(tenant_id=tenant_id, station_id=station_id, deputy_id=deputy.id)])


async def _station_count(database) -> int:
    from sqlalchemy import func, select

    from app.stations.models import Station
    from app.tenancy.models import Tenant

    async with database.session() as db:
        tenant_id = await db.scalar(select(Tenant.id).where(Tenant.slug == "santai"))
    async with database.session(tenant_id=tenant_id) as db:
        return await db.scalar(select(func.count()).select_from(Station))
