"""The deputies list and page: who sees whom (county, township, station, deputy), masking of
mobile numbers, the audited reveal, filters, paging and a query count that does not grow."""

from __future__ import annotations

import pytest

from tests.deputies.deputy_world import add_deputy, add_group, build, count, post, signed_in, text_of


@pytest.fixture
async def county(database):
    c = await build(database)
    # 城关镇: one stationed at the community station, one elected in 西村 but not stationed;
    # 河坝乡: one elected and stationed there.
    c.ids = {
        "张东街": await add_deputy(database, c, "张东街", node="东街社区", station="东街社区人大代表联络站",
                                   mobile="13800138001"),
        "李西村": await add_deputy(database, c, "李西村", node="西村", mobile="13800138002"),
        "赵河坝": await add_deputy(database, c, "赵河坝", node="河坝村", station="河坝村人大代表联络站",
                                   mobile="13800138003", user="rep"),
        "钱无处": await add_deputy(database, c, "钱无处", level="city"),
    }
    return c


def names_in(html: str) -> set[str]:
    return {n for n in ("张东街", "李西村", "赵河坝", "钱无处") if n in html}


@pytest.mark.parametrize("who,expected", [
    ("admin", {"张东街", "李西村", "赵河坝", "钱无处"}),
    ("viewer", {"张东街", "李西村", "赵河坝", "钱无处"}),
    ("town", {"张东街", "李西村"}),
    ("heba", {"赵河坝"}),
    ("station", {"张东街"}),
    ("rep", {"赵河坝"}),
])
async def test_each_role_sees_its_own_deputies(app, county, who, expected):
    async with signed_in(app, county, who) as client:
        r = await client.get(f"{client.base}/deputies")
        assert r.status_code == 200
        assert names_in(r.text) == expected
        for name, deputy_id in county.ids.items():
            page = await client.get(f"{client.base}/deputies/{deputy_id}")
            assert page.status_code == (200 if name in expected else 404), (who, name)


async def test_other_township_by_guessed_id_is_not_found_and_nothing_changes(app, county, owner_sql):
    zhao = county.ids["赵河坝"]
    before = await owner_sql("SELECT d::text FROM deputies d ORDER BY id")
    audit_before = await count(owner_sql, "audit_log", "action LIKE 'deputy%'")
    async with signed_in(app, county, "town") as client:
        for path, data in [
            (f"/deputies/{zhao}/profile", {"name": "改名"}), (f"/deputies/{zhao}/mobile", {}),
            (f"/deputies/{zhao}/status", {"status": "resigned", "note": "x"}),
            (f"/deputies/{zhao}/assign", {"station_id": county.stations["城关镇人大代表之家"]}),
            (f"/deputies/{zhao}/mandates", {"level": "county", "term": "17", "direct": "1"}),
        ]:
            r = await post(client, client.base + path, data)
            assert r.status_code == 404, path
        assert (await client.get(f"{client.base}/deputies/{zhao}/mandates/new")).status_code == 404
        assert (await client.get(f"{client.base}/deputies/999999")).status_code == 404
    assert await owner_sql("SELECT d::text FROM deputies d ORDER BY id") == before
    assert await count(owner_sql, "audit_log", "action LIKE 'deputy%'") == audit_before


async def test_handling_unit_sees_no_deputies_pages(app, county):
    async with signed_in(app, county, "handler") as client:
        for path in ("/deputies", f"/deputies/{county.ids['张东街']}", "/deputies/groups", "/deputies/checks"):
            assert (await client.get(client.base + path)).status_code == 404, path


async def test_deputy_without_a_linked_record_sees_nobody(app, county):
    async with signed_in(app, county, "rep2") as client:
        r = await client.get(f"{client.base}/deputies")
        assert r.status_code == 200 and names_in(r.text) == set()


async def test_mobile_is_masked_in_list_and_page(app, county):
    async with signed_in(app, county, "admin") as client:
        listing = await client.get(f"{client.base}/deputies")
        page = await client.get(f"{client.base}/deputies/{county.ids['张东街']}")
    for html in (listing.text, page.text):
        assert "138****8001" in html
        assert "13800138001" not in html


async def test_reveal_shows_the_number_and_is_audited(app, county, owner_sql):
    deputy_id = county.ids["张东街"]
    async with signed_in(app, county, "town") as client:
        r = await post(client, f"{client.base}/deputies/{deputy_id}/mobile")
        assert r.status_code == 200
        assert "13800138001" in r.text
        assert r.headers.get("cache-control") == "no-store"
        again = await client.get(f"{client.base}/deputies/{deputy_id}")
        assert "13800138001" not in again.text
    rows = await owner_sql("SELECT actor_user_id, target FROM audit_log WHERE action = 'deputy_mobile_revealed'")
    assert len(rows) == 1
    assert rows[0]["actor_user_id"] == county.users["town"].id
    assert rows[0]["target"].startswith(f"deputy:{deputy_id} ")


async def test_filters(app, county, database):
    group = await add_group(database, county, "城关镇代表小组")
    await add_deputy(database, county, "孙辞职", status="resigned", group=group)
    async with signed_in(app, county, "admin") as client:
        async def listed(query: str) -> set[str]:
            html = (await client.get(f"{client.base}/deputies?{query}")).text
            return {n for n in ("张东街", "李西村", "赵河坝", "钱无处", "孙辞职") if f">{n}</a>" in html}

        assert await listed("q=东") == {"张东街"}
        assert await listed("level=city") == {"钱无处"}
        assert await listed("status=resigned") == {"孙辞职"}
        assert await listed(f"group={group}") == {"孙辞职"}
        assert await listed("unassigned=1&status=active") == {"李西村", "钱无处"}
        assert await listed("q=%25") == set()  # a wildcard is a character, not a pattern
        assert (await client.get(f"{client.base}/deputies?level=bogus&group=x")).status_code == 200


async def test_list_shows_levels_group_and_stations(app, county, database):
    group = await add_group(database, county, "城关镇代表小组")
    await add_deputy(database, county, "周两级", level="city", more_levels=("county",), group=group,
                     station="城关镇人大代表之家")
    async with signed_in(app, county, "admin") as client:
        html = text_of((await client.get(f"{client.base}/deputies?q=周两级")).text)
    assert "市级、县级" in html or "City level、County level" in html
    assert "城关镇代表小组" in html and "城关镇人大代表之家" in html


async def test_paging(app, county, database):
    for i in range(55):
        await add_deputy(database, county, f"批量代表{i:02d}")
    async with signed_in(app, county, "admin") as client:
        first = await client.get(f"{client.base}/deputies?q=批量")
        second = await client.get(f"{client.base}/deputies?q=批量&page=2")
        past_end = await client.get(f"{client.base}/deputies?q=批量&page=9")
    assert "批量代表00" in first.text and "批量代表54" not in first.text
    assert "批量代表54" in second.text and "批量代表00" not in second.text
    assert "page=2" in first.text
    # the total heads every page, also one past the last (no rows there to count it from)
    for response in (first, second, past_end):
        assert "(55)" in text_of(response.text)
    assert "批量代表" not in text_of(past_end.text).split("(55)", 1)[1]


async def _queries(app, county, path: str) -> int:
    async with signed_in(app, county, "admin") as client:
        await client.get(client.base + path)  # first entry into the tenant is recorded once
        r = await client.get(client.base + path)
        assert r.status_code == 200
        return int(r.headers["x-query-count"])


async def test_query_count_does_not_grow_with_deputies(app, database, owner_sql):
    county = await build(database)
    group = await add_group(database, county, "小组")
    for i in range(3):
        await add_deputy(database, county, f"代表{i}", node="河坝村", station="东街社区人大代表联络站",
                         more_levels=("city",), group=group)
    few = {p: await _queries(app, county, p) for p in ("/deputies", "/deputies/checks", f"/deputies/groups/{group}")}
    for i in range(3, 30):
        await add_deputy(database, county, f"代表{i}", node="河坝村", station="东街社区人大代表联络站",
                         more_levels=("city",), group=group)
    many = {p: await _queries(app, county, p) for p in few}
    assert many == few
    assert few["/deputies"] <= 8  # the page is one statement and the group choices; incl. the header's unread count


async def test_pages_within_the_html_budget(app, county, database):
    for i in range(60):
        await add_deputy(database, county, f"预算代表{i:02d}", node="东街社区", station="东街社区人大代表联络站",
                         mobile=f"139{i:08d}", more_levels=("city",))
    async with signed_in(app, county, "admin") as client:
        for path in ("/deputies", f"/deputies/{county.ids['张东街']}", "/deputies/checks", "/deputies/new",
                     f"/deputies/{county.ids['张东街']}/mandates/new"):
            async with client.stream("GET", client.base + path, headers={"Accept-Encoding": "br"}) as r:
                raw = b"".join([chunk async for chunk in r.aiter_raw()])
            assert r.status_code == 200
            assert len(raw) <= 14 * 1024, f"{path}: {len(raw)} B"
