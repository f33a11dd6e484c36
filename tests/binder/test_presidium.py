"""The township presidium (乡镇人大主席团): adding, changing and removing members (county admins for any
township, township staff for their own; viewers and station staff read; deputies and handling units
404), the deputies each member contacts (stationed in the township, in reach: one bad id refuses the
whole), every change audited, bad input refused with its message and nothing written, and the
binder's two rosters for a station and rolled up."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.activities.world import EAST, HOME
from tests.binder.binder_world import HEBA, YEAR, build_binder_world
from tests.deputies.deputy_world import add_deputy, count, post, signed_in, text_of

HERE = "/binder/presidium"
MEMBERS = "Roster of the township presidium"[:31]  # a sheet's name is at most 31 characters
CONTACTS = "Roster of presidium members' contacts with deputies"[:31]
BAD_CONTACTS = ("A deputy chosen is not a serving deputy stationed in this township in your reach. "
                "Nothing was changed; please choose again.")


@pytest.fixture
async def world(database):
    w = await build_binder_world(database)
    county = w.ac.county
    w.town, w.heba = county.nodes["城关镇"], county.nodes["河坝乡"]
    w.home_deputy = await add_deputy(database, county, "钱进", station=HOME, level="township")
    w.heba_deputy = await add_deputy(database, county, "孙丽", station=HEBA, level="township", mobile="13900000009")
    return w


async def _add(client, township, **fields):
    data = {"township": str(township), "name": "", "post": "主席", "deputy_id": "", "mobile": "", "sort": "",
            **fields}
    return await post(client, f"{client.base}{HERE}/new", data, page=f"{client.base}{HERE}/new?township={township}")


async def _member_ids(owner_sql) -> dict[str, int]:
    return {row["name"]: row["id"] for row in await owner_sql("SELECT name, id FROM presidium_members")}


async def _set_contacts(client, member: int, deputies: list):
    return await post(client, f"{client.base}{HERE}/contacts", {"member": str(member), "deputy_id": [str(d) for d in deputies]},
                      page=f"{client.base}{HERE}/contacts?member={member}")


async def test_a_county_admin_adds_changes_and_removes_members(app, world, owner_sql):
    d = world.ac.deputies
    async with signed_in(app, world.ac.county, "admin") as client:
        form = text_of((await client.get(f"{client.base}{HERE}/new?township={world.town}")).text)
        assert "张伟" in form and "钱进" in form and "孙丽" not in form  # the township's deputies only
        r = await _add(client, world.town, name="何志军", post="主席", mobile="139 0000 1234")
        assert r.status_code == 303 and r.headers["location"].startswith(f"{client.base}{HERE}?done=added")
        r = await _add(client, world.town, post="副主席", deputy_id=str(d["张伟"]))  # the deputy's own name
        assert r.status_code == 303
        r = await _add(client, world.heba, name="河坝主席", post="主席")
        assert r.status_code == 303
        page = text_of((await client.get(f"{client.base}{HERE}?done=added")).text)
        assert "The member has been added to the presidium." in page
        assert "何志军 主席 139****1234" in page and "张伟 副主席 张伟" in page and "河坝主席" in page
        assert "13900001234" not in page
        ids = await _member_ids(owner_sql)
        rows = await owner_sql("SELECT name, sort, mobile, deputy_id FROM presidium_members ORDER BY id")
        assert [(r["name"], r["sort"]) for r in rows] == [("何志军", 1), ("张伟", 2), ("河坝主席", 1)]
        assert rows[0]["mobile"] == "13900001234" and rows[1]["deputy_id"] == d["张伟"]
        edit = await client.get(f"{client.base}{HERE}/member?member={ids['何志军']}")
        assert "139****1234" in edit.text and "13900001234" not in edit.text
        r = await post(client, f"{client.base}{HERE}/member",
                       {"member": ids["何志军"], "name": "何志军", "post": "专职副主席", "deputy_id": "", "mobile": "",
                        "sort": "5"}, page=f"{client.base}{HERE}/member?member={ids['何志军']}")
        assert r.status_code == 303
        r = await post(client, f"{client.base}{HERE}/remove", {"member": ids["河坝主席"]})
        assert r.status_code == 303
        page = text_of((await client.get(f"{client.base}{HERE}?done=removed")).text)
    assert "The member has been removed from the presidium." in page and "河坝主席" not in page
    rows = await owner_sql("SELECT post, sort, mobile FROM presidium_members WHERE id = $1", ids["何志军"])
    assert (rows[0]["post"], rows[0]["sort"], rows[0]["mobile"]) == ("专职副主席", 5, "13900001234")  # kept
    assert await count(owner_sql, "presidium_members") == 2
    logged = await owner_sql("SELECT action, details::text AS details FROM audit_log WHERE action LIKE 'presidium%' "
                             "ORDER BY id")
    assert [row["action"] for row in logged] == ["presidium_member_added"] * 3 + ["presidium_member_changed",
                                                                                    "presidium_member_removed"]
    assert '"post"' in logged[3]["details"] and "1234" not in logged[3]["details"]  # fields named, no number
    assert "河坝主席" in logged[4]["details"]  # who was removed stays in the log


async def test_contacts_are_the_townships_stationed_deputies_in_reach(app, database, world, owner_sql):
    d = world.ac.deputies
    async with signed_in(app, world.ac.county, "admin") as client:
        await _add(client, world.town, name="何志军")
    member = (await _member_ids(owner_sql))["何志军"]
    beta = await build_binder_world(database, "beta")
    async with signed_in(app, world.ac.county, "town") as client:
        form = await client.get(f"{client.base}{HERE}/contacts?member={member}")
        text = text_of(form.text)
        assert f"{EAST} (4)" in text and f"{HOME} (1)" in text and "孙丽" not in text
        for bad in ([d["张伟"], world.heba_deputy], [d["张伟"], beta.ac.deputies["张伟"]], [d["张伟"], "abc"]):
            r = await _set_contacts(client, member, bad)
            assert r.status_code == 400 and BAD_CONTACTS in r.text, bad
        assert await count(owner_sql, "presidium_contacts") == 0
        r = await _set_contacts(client, member, [d["张伟"], d["李娜"], world.home_deputy])
        assert r.status_code == 303
        r = await _set_contacts(client, member, [d["张伟"], world.heba_deputy])  # nothing changed
        assert r.status_code == 400
        page = text_of((await client.get(f"{client.base}{HERE}?done=contacts")).text)
    assert "The deputies the member contacts have been saved." in page and "张伟、李娜、钱进" in page
    assert await count(owner_sql, "presidium_contacts") == 3
    async with signed_in(app, world.ac.county, "town") as client:
        r = await _set_contacts(client, member, [d["李娜"]])
    assert r.status_code == 303
    logged = await owner_sql("SELECT details->>'added' AS a, details->>'removed' AS r FROM audit_log "
                             "WHERE action = 'presidium_contacts_set' ORDER BY id")
    assert len(logged) == 2 and str(d["张伟"]) in logged[1]["r"]
    assert [row["deputy_id"] for row in await owner_sql("SELECT deputy_id FROM presidium_contacts")] == [d["李娜"]]


async def test_township_staff_cannot_touch_another_township(app, world, owner_sql):
    async with signed_in(app, world.ac.county, "admin") as client:
        await _add(client, world.heba, name="河坝主席")
    heba = (await _member_ids(owner_sql))["河坝主席"]
    async with signed_in(app, world.ac.county, "town") as client:
        page = text_of((await client.get(f"{client.base}{HERE}")).text)
        assert "Presidium of 城关镇" in page and "河坝乡" not in page and "河坝主席" not in page
        for path in (f"member?member={heba}", f"contacts?member={heba}", f"new?township={world.heba}",
                     "member?member=abc", "member?member=999999"):
            assert (await client.get(f"{client.base}{HERE}/{path}")).status_code == 404, path
        for path, data in (("member", {"member": heba, "name": "改名", "post": "成员"}), ("remove", {"member": heba}),
                           ("contacts", {"member": heba, "deputy_id": []}),
                           ("new", {"township": world.heba, "name": "混入", "post": "成员"})):
            r = await post(client, f"{client.base}{HERE}/{path}", data)
            assert r.status_code == 404, path
    rows = await owner_sql("SELECT name, post FROM presidium_members")
    assert [(r["name"], r["post"]) for r in rows] == [("河坝主席", "主席")]
    assert await count(owner_sql, "audit_log", "action LIKE 'presidium%'") == 1


async def test_viewers_and_station_staff_read_only_deputies_and_units_404(app, world, owner_sql):
    async with signed_in(app, world.ac.county, "admin") as client:
        await _add(client, world.town, name="何志军", mobile="13900001234")
        await _add(client, world.heba, name="河坝主席")
    member = (await _member_ids(owner_sql))["何志军"]
    for username, sees_heba in (("viewer", True), ("station", False)):
        async with signed_in(app, world.ac.county, username) as client:
            page = await client.get(f"{client.base}{HERE}")
            assert page.status_code == 200 and "何志军" in page.text and "139****1234" in page.text
            assert ("河坝主席" in page.text) is sees_heba, username
            assert "Add a member" not in page.text and "Edit the member" not in page.text
            for path in (f"new?township={world.town}", f"member?member={member}", f"contacts?member={member}"):
                assert (await client.get(f"{client.base}{HERE}/{path}")).status_code == 404, (username, path)
            r = await post(client, f"{client.base}{HERE}/remove", {"member": member})
            assert r.status_code == 404
    for username in ("rep", "handler"):
        async with signed_in(app, world.ac.county, username) as client:
            assert (await client.get(f"{client.base}{HERE}")).status_code == 404, username
    async with signed_in(app, world.ac.county, "admin") as client:
        index = await client.get(f"{client.base}/binder")
    assert f'href="{client.base}{HERE}"' in index.text
    assert await count(owner_sql, "presidium_members") == 2


@pytest.mark.parametrize("change, message", [
    ({"name": "", "post": "主席"}, "请填写成员姓名，不超过40个字。"),
    ({"name": "长" * 41}, "请填写成员姓名，不超过40个字。"),
    ({"post": "  "}, "请填写成员职务（如主席、成员），不超过40个字。"),
    ({"post": "职" * 41}, "请填写成员职务（如主席、成员），不超过40个字。"),
    ({"mobile": "12345"}, "“12345”不是有效的手机号码"),
    ({"sort": "-1"}, "请用0到999之间的整数填写名单顺序。"),
    ({"sort": "1000"}, "请用0到999之间的整数填写名单顺序。"),
    ({"deputy_id": "heba"}, "所选代表不是您管辖范围内本乡镇的在任代表，请重新选择。"),
    ({"deputy_id": "x"}, "所选代表不是您管辖范围内本乡镇的在任代表，请重新选择。"),
])
async def test_bad_input_is_refused_in_chinese_and_nothing_written(app, world, owner_sql, change, message):
    if change.get("deputy_id") == "heba":
        change = {**change, "deputy_id": str(world.heba_deputy)}
    async with signed_in(app, world.ac.county, "admin") as client:
        client.cookies.set("lang", "zh_Hans")
        r = await _add(client, world.town, **{"name": "何志军", **change})
    assert r.status_code == 400 and message in r.text
    assert await count(owner_sql, "presidium_members") == 0
    assert await count(owner_sql, "audit_log", "action LIKE 'presidium%'") == 0


def _rows(book, name: str) -> list[tuple]:
    return list(book[name].iter_rows(values_only=True))[1:]


async def test_the_binders_two_rosters_for_a_station_and_rolled_up(app, world, owner_sql):
    d = world.ac.deputies
    async with signed_in(app, world.ac.county, "admin") as client:
        await _add(client, world.town, name="何志军", mobile="13900001234")
        await _add(client, world.town, post="成员", deputy_id=str(d["赵敏"]))
        await _add(client, world.heba, name="河坝主席", deputy_id=str(world.heba_deputy))
        ids = await _member_ids(owner_sql)
        await _set_contacts(client, ids["何志军"], [d["张伟"], d["李娜"], world.home_deputy])
        await _set_contacts(client, ids["河坝主席"], [world.heba_deputy])
        books = {}
        for key, station in (("east", world.ac.stations[EAST]), ("heba", world.ac.stations[HEBA]), ("all", "")):
            r = await client.get(f"{client.base}/binder/book.xlsx?station={station}&year={YEAR}")
            assert r.status_code == 200
            books[key] = load_workbook(BytesIO(r.content))
        printed = await client.get(f"{client.base}/binder/print?station={world.ac.stations[EAST]}&year={YEAR}")
    east, heba, everything = books["east"], books["heba"], books["all"]
    assert _rows(east, MEMBERS) == [("城关镇", "何志军", "主席", None, "139****1234"),
                                    ("城关镇", "赵敏", "成员", "Township level", None)]
    assert _rows(east, CONTACTS) == [("城关镇", "何志军", "主席", "张伟、李娜", EAST)]  # this station's deputies only
    assert _rows(heba, MEMBERS) == [("河坝乡", "河坝主席", "主席", "Township level", None)]
    assert _rows(heba, CONTACTS) == [("河坝乡", "河坝主席", "主席", "孙丽", HEBA)]
    assert [r[1] for r in _rows(everything, MEMBERS)] == ["何志军", "赵敏", "河坝主席"]
    assert {(r[1], r[3], r[4]) for r in _rows(everything, CONTACTS)} == {
        ("何志军", "张伟、李娜", EAST), ("何志军", "钱进", HOME), ("河坝主席", "孙丽", HEBA)}
    for book in books.values():  # five columns: the sheets print portrait, one page wide
        for name in (MEMBERS, CONTACTS):
            assert book[name].page_setup.orientation != "landscape"
            assert book[name].page_setup.paperSize in (9, "9")
    assert '<article class="card binder-part" id="part-presidium">' in printed.text
    assert '<article class="card binder-part" id="part-presidium-contacts">' in printed.text
    assert "139****1234" in printed.text and "13900001234" not in printed.text


async def _queries(client, station) -> int:
    r = await client.get(f"{client.base}/binder/print?station={station}&year={YEAR}")
    assert r.status_code == 200
    return int(r.headers["x-query-count"])


async def test_the_rosters_queries_do_not_grow_with_the_rows(app, database, world, owner_sql):
    d = world.ac.deputies
    async with signed_in(app, world.ac.county, "admin") as client:
        await client.get(f"{client.base}/binder")
        await _add(client, world.town, name="何志军")
        before = await _queries(client, "")
        for n in range(4):
            await _add(client, world.town, name=f"成员{n}", post="成员", mobile=f"1390000000{n}")
        ids = await _member_ids(owner_sql)
        for name in ("何志军", "成员1", "成员2"):
            await _set_contacts(client, ids[name], [d["张伟"], d["王强"], world.home_deputy])
        after = await _queries(client, "")
    assert after == before


async def test_the_demo_has_presidiums_with_contacts(client, database, owner_sql):
    """三台县's 潼川镇 (北坝村's township) and 芦溪镇, 榆次区's 庄子乡; loading again adds nothing."""
    from app.demo import load_demo
    from app.demo.presidium import load_presidiums
    from tests.test_demo import sign_in, station_id

    await load_demo(database, border=False)
    counts = {slug: n for slug, n in await owner_sql(
        "SELECT t.slug, count(*) FROM presidium_members m JOIN tenants t ON t.id = m.tenant_id GROUP BY 1")}
    assert counts == {"santai": 7, "yuci": 3}
    contacts = await count(owner_sql, "presidium_contacts")
    tenants = {slug: tid for slug, tid in await owner_sql("SELECT slug, id FROM tenants")}
    await load_presidiums(database, tenants)
    assert await count(owner_sql, "presidium_members") == 10 and await count(owner_sql, "presidium_contacts") == contacts
    # 人大接待代表登记簿: 潼川镇's presidium twice and the county congress once, 庄子乡's once; one awaits its reply
    received = [tuple(row) for row in await owner_sql(
        "SELECT t.slug, n.name, r.reply = '' FROM deputy_receptions r JOIN tenants t ON t.id = r.tenant_id "
        "LEFT JOIN admin_nodes n ON n.tenant_id = r.tenant_id AND n.id = r.node_id ORDER BY r.received_on")]
    assert sorted(received, key=str) == sorted([("santai", "潼川镇", False), ("santai", None, False),
                                                ("santai", "潼川镇", True), ("yuci", "庄子乡", False)], key=str)
    beiba = await station_id(owner_sql, "santai", "%北坝村%")
    await sign_in(client, "santai-admin")
    client.cookies.set("lang", "en")
    r = await client.get(f"/t/santai/binder/book.xlsx?station={beiba}&year={YEAR}")
    book = load_workbook(BytesIO(r.content))
    assert [row[1] for row in _rows(book, MEMBERS)] == ["何志军", "王秀兰", "罗建华", "杨桂芳"]
    chair = _rows(book, CONTACTS)[0]
    assert chair[:3] == ("潼川镇", "何志军", "主席") and "北坝村" in chair[4]
    assert set(chair[3].split("、")) == {"王秀兰", "杨桂芳", "刘志强"}  # 北坝村's deputies
