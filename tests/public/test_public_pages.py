"""The public pages /p/{slug}/…: what a villager sees, what they never see, and how the pages travel
(bytes, caching, no cookies)."""

from __future__ import annotations

import re

import brotli
from sqlalchemy import update

from app.deputies.models import StationDeputy
from tests.isolation.routes import normalise
from tests.public.conftest import PRIVATE_MOBILE, THIS_YEAR, build_county

KB = 1024
HTML_BUDGET = 14 * KB
BR = {"Accept-Encoding": "br"}


async def fetch_raw(client, path: str, **headers):
    async with client.stream("GET", path, headers={**BR, **headers}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    return r, raw


def station_url(county, label="active") -> str:
    return f"/p/{county.slug}/stations/{county.stations[label].id}"


# --- the list of stations ---------------------------------------------------------------------------

async def test_index_lists_the_active_stations_with_place_and_next_day(client, alpha):
    r = await client.get("/p/alpha/")
    assert r.status_code == 200
    html = r.text
    assert "alpha城关镇东街社区人大代表联络站" in html and "alpha河坝乡石桥村人大代表联络站" in html
    assert "城关镇 · 东街社区" in html and "河坝乡 · 石桥村" in html
    assert "下次接待日" in html
    assert f'href="{station_url(alpha)}"' in html
    # proposed and closed stations are not public
    assert "拟建" not in html and "旧联络站" not in html
    assert "<script" not in html and "<form" not in html


async def test_index_without_trailing_slash_and_pages(client, alpha):
    assert (await client.get("/p/alpha")).status_code == 200
    r = await client.get("/p/alpha/?page=2")  # past the end: an empty page, not an error
    assert r.status_code == 200
    assert (await client.get("/p/alpha/?page=x")).status_code == 400


# --- one station ------------------------------------------------------------------------------------

async def test_station_page_shows_profile_deputies_days_goals_and_commitments(client, alpha):
    r = await client.get(station_url(alpha))
    assert r.status_code == 200
    html = r.text
    assert '<html lang="zh-Hans">' in html
    for text in ("alpha城关镇东街社区人大代表联络站", "城关镇东街18号", "工作日 9:00–17:00", "0816-1234567", "李联络",
                 "本站设在社区服务中心二楼。", "每月15日、每月第一个星期五"):
        assert text in html, text
    # three next reception days, dated
    days = re.findall(r"<li>(\d{4}年\d{1,2}月\d{1,2}日 星期.)</li>", html)
    assert len(days) == 3
    # serving deputies with an open assignment, highest level first, with levels and public contact
    deputies = html[html.index('id="deputies"'):html.index('id="goals"')]
    assert deputies.index("张代表") < deputies.index("王代表")
    assert "市级、县级" in deputies and "县级" in deputies
    assert "电话 0816-7654321" in deputies
    assert "辞代表" not in html and "离代表" not in html  # resigned, left the station
    photo = alpha.images["deputy_photo"]
    assert re.search(rf'<img src="/p/alpha/images/{photo}" width="\d+" height="\d+" loading="lazy"', deputies)
    assert f'/p/alpha/images/{alpha.images["station_photo"]}"' in html
    # this year's goals with completion, and this year's commitments of the deputies shown
    assert "每月接待选民一次" in html and "已完成" in html and "办结群众意见二十件" in html and "已办结十二件" in html
    assert "去年的目标" not in html and "去年的承诺" not in html
    assert "每季度走访选区一次" in html and "辞职代表的承诺" not in html
    assert f"{THIS_YEAR}年" in html
    # the poster is linked; no yearly plan is invented
    assert f'href="{station_url(alpha)}/poster">打印上墙海报</a>' in html
    assert 'id="yearly-plan"' not in html


async def test_station_page_has_no_private_data(client, alpha):
    html = (await client.get(station_url(alpha))).text
    assert PRIVATE_MOBILE not in html
    assert PRIVATE_MOBILE[:3] + "****" not in html  # not even masked: it has no business here
    assert "某单位" not in html  # work unit is not on the public page
    poster = (await client.get(station_url(alpha) + "/poster")).text
    assert PRIVATE_MOBILE not in poster and "某单位" not in poster


async def test_empty_station_page_says_so(client, alpha):
    html = (await client.get(station_url(alpha, "second"))).text
    assert "每周二" in html
    assert "还没有代表进驻本站" in html
    assert "本年度目标尚未公布" in html


async def test_station_page_in_english_with_the_lang_cookie(client, alpha):
    r = await client.get("/lang/en?next=" + station_url(alpha), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == station_url(alpha)
    html = (await client.get(station_url(alpha))).text
    assert '<html lang="en">' in html
    assert "the 15th of each month, the first Friday of each month" in html
    assert "Deputies at this station" in html and "City level" in html
    assert "Print the wall poster" in html
    assert re.search(r"<li>(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} [A-Z][a-z]+ \d{4}</li>",
                     html)
    assert "中文" in html
    # the poster follows the language too
    poster = (await client.get(station_url(alpha) + "/poster")).text
    assert "Scan to see this station" in poster and "Print this page on A4 paper" in poster
    assert "Station address: 城关镇东街18号" in poster


# --- what is not public -----------------------------------------------------------------------------

async def test_stations_not_in_operation_are_not_found(client, alpha):
    for label in ("proposed", "closed"):
        for suffix in ("", "/poster"):
            r = await client.get(station_url(alpha, label) + suffix)
            assert r.status_code == 404, (label, suffix)
            assert alpha.stations[label].name not in r.text
    assert (await client.get("/p/alpha/stations/987654321")).status_code == 404
    assert (await client.get(f"/p/alpha/stations/{2**63}")).status_code == 404
    assert (await client.get("/p/alpha/stations/0")).status_code == 404


async def test_unknown_and_suspended_tenants_are_the_ordinary_404(client, database, alpha):
    gone = await build_county(database, "gamma", suspended=True)
    baseline = await client.get("/p/no-such-county/")
    assert baseline.status_code == 404
    for path in ("/p/gamma/", station_url(gone), station_url(gone) + "/poster",
                 f"/p/gamma/images/{gone.images['station_photo']}"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert normalise(r.text, path) == normalise(baseline.text, "/p/no-such-county/")
        assert r.headers["cache-control"] == "no-store"


async def test_a_station_that_closes_or_a_deputy_who_leaves_disappears(client, database, alpha):
    async with database.transaction(tenant_id=alpha.tenant.id) as db:
        await db.execute(update(StationDeputy).where(StationDeputy.deputy_id == alpha.deputies["zhang"].id)
                         .values(ended_at=StationDeputy.assigned_at))
    html = (await client.get(station_url(alpha))).text
    assert "张代表" not in html and "每季度走访选区一次" not in html
    # and their photo is no longer public (nothing else public uses it)
    assert (await client.get(f"/p/alpha/images/{alpha.images['deputy_photo']}")).status_code == 404


# --- images -----------------------------------------------------------------------------------------

async def test_public_images_only_when_attached_to_something_public(client, alpha):
    for label in ("station_photo", "deputy_photo"):
        r = await client.get(f"/p/alpha/images/{alpha.images[label]}")
        assert r.status_code == 200, label
        assert r.headers["content-type"] == "image/webp"
        assert r.headers["cache-control"] == "public, max-age=86400"
        assert "set-cookie" not in r.headers
        assert r.content[:4] == b"RIFF"
    for label in ("orphan", "proposed_photo", "retired_deputy_photo"):
        r = await client.get(f"/p/alpha/images/{alpha.images[label]}")
        assert r.status_code == 404, label
    assert (await client.get("/p/alpha/images/987654321")).status_code == 404


async def test_a_deputy_stationed_only_at_a_proposed_station_has_no_public_photo(client, database, alpha):
    async with database.transaction(tenant_id=alpha.tenant.id) as db:
        await db.execute(update(StationDeputy).where(StationDeputy.deputy_id == alpha.deputies["zhang"].id)
                         .values(station_id=alpha.stations["proposed"].id))
    assert (await client.get(f"/p/alpha/images/{alpha.images['deputy_photo']}")).status_code == 404


# --- caching, cookies, budgets ----------------------------------------------------------------------

async def test_public_pages_are_cacheable_and_set_no_cookie(client, alpha):
    for path in ("/p/alpha/", station_url(alpha), station_url(alpha) + "/poster"):
        r = await client.get(path)
        assert r.status_code == 200
        # a minute (less just before the county's midnight, when "today" on the page ends)
        assert re.fullmatch(r"public, max-age=(60|[1-5]?[0-9])", r.headers["cache-control"]), path
        assert "set-cookie" not in r.headers, path
        assert r.headers["vary"] == "Accept-Encoding", path  # not Cookie: proxies key on the lang cookie
        assert re.fullmatch(r'"[0-9a-f]{32}(-br|-gz)?"', r.headers["etag"]), path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert not client.cookies


async def test_station_page_with_ten_deputies_within_budget(client, database):
    county = await build_county(database, "delta", extra_deputies=8)  # + 张代表, 王代表 = 10 serving
    r, raw = await fetch_raw(client, station_url(county))
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "br"
    html = brotli.decompress(raw).decode()
    assert html.count('loading="lazy"') == 9 + 1  # nine deputies' photos (王代表 has none) and the station's
    assert len(raw) <= HTML_BUDGET, f"{len(raw)} B compressed"
    assert "<script" not in html


async def test_station_page_queries_do_not_grow_with_deputies(client, database):
    small = await build_county(database, "small")
    big = await build_county(database, "big", extra_deputies=10)
    counts = []
    for county in (small, big):
        r = await client.get(station_url(county))
        counts.append(int(r.headers["x-query-count"]))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 10
    index = await client.get("/p/big/")
    assert int(index.headers["x-query-count"]) <= 6


# --- the poster -------------------------------------------------------------------------------------

async def test_poster_has_the_essentials_and_a_qr_code_to_the_public_page(client, alpha):
    r = await client.get(station_url(alpha) + "/poster")
    assert r.status_code == 200
    html = r.text
    assert 'class="poster"' in html
    for text in ("alpha城关镇东街社区人大代表联络站", "城关镇东街18号", "每月15日、每月第一个星期五", "张代表", "市级、县级",
                 "王代表"):
        assert text in html, text
    svg = re.search(r"<svg[^>]*class=\"qr\"[^>]*>.*?</svg>", html, re.S)
    assert svg, "no inline QR code"
    assert "style=" not in svg.group(0)  # the CSP forbids inline styles
    link = f"http://testserver.local{station_url(alpha)}"
    assert link in html
    # the QR code says exactly that link
    import segno

    expected = segno.make(link, error="m").svg_inline(scale=1, omitsize=True, dark="#000", light="#fff",
                                                      svgclass="qr")
    assert expected in html


async def test_poster_link_uses_the_configured_public_url(app, client, alpha):
    settings = app.state.settings
    old = settings.public_url
    try:
        object.__setattr__(settings, "public_url", "https://lianluo.example.cn")
        html = (await client.get(station_url(alpha) + "/poster")).text
    finally:
        object.__setattr__(settings, "public_url", old)
    assert f"https://lianluo.example.cn{station_url(alpha)}" in html


async def test_a_big_county_list_is_paged_and_within_budget(client, database, alpha):
    from sqlalchemy import select

    from app.stations.models import Station

    async with database.transaction(tenant_id=alpha.tenant.id) as db:
        first = await db.scalar(select(Station).where(Station.id == alpha.stations["second"].id))
        db.add_all([Station(tenant_id=alpha.tenant.id, kind_id=first.kind_id, node_id=first.node_id,
                            name=f"alpha河坝乡第{i:03d}号人大代表联络站", status="active", reception_rule="nth:last:wed")
                    for i in range(70)])
    r, raw = await fetch_raw(client, "/p/alpha/")
    html = brotli.decompress(raw).decode()
    assert len(raw) <= HTML_BUDGET, f"{len(raw)} B compressed"
    assert html.count('<li><a href="/p/alpha/stations/') == 50
    assert "第1页，共2页" in html and 'href="/p/alpha/?page=2">下一页</a>' in html
    second = (await client.get("/p/alpha/?page=2")).text
    assert second.count('<li><a href="/p/alpha/stations/') == 72 - 50
    assert 'href="/p/alpha/?page=1">上一页</a>' in second
