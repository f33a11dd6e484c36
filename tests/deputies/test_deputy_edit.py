"""Creating and changing deputies: profile, status, photo, linked account, mandates. Every refusal
is a clear 400 (or 403 for a role that may not change anything) and writes nothing."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.deputies.deputy_world import add_deputy, add_group, build, count, post, signed_in, text_of
from tests.core.bombs import png_declaring


@pytest.fixture
async def county(database):
    c = await build(database)
    c.zhang = await add_deputy(database, c, "张东街", node="东街社区", station="东街社区人大代表联络站",
                               mobile="13800138001")
    return c


async def deputies_state(owner_sql) -> list[str]:
    rows = await owner_sql("SELECT d::text AS r FROM deputies d")
    mandates = await owner_sql("SELECT m::text AS r FROM deputy_mandates m ORDER BY id")
    stationed = await owner_sql("SELECT s::text AS r FROM station_deputies s ORDER BY id")
    audit = await owner_sql("SELECT count(*)::text AS r FROM audit_log WHERE action LIKE 'deputy%'")
    return sorted(r["r"] for r in rows) + [r["r"] for r in mandates + stationed + audit]


CREATE = {"name": "王新", "mobile": "13900139000", "occupation": "农民", "work_unit": "西村村委会",
          "level": "县", "term": "第十八届", "direct": "1"}


async def test_county_admin_creates_a_deputy(app, county, owner_sql):
    async with signed_in(app, county, "admin") as client:
        form = await client.get(f"{client.base}/deputies/new")
        assert form.status_code == 200
        r = await post(client, f"{client.base}/deputies",
                       {**CREATE, "constituency_node_id": str(county.nodes["西村"]),
                        "station_id": str(county.stations["城关镇人大代表之家"])})
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
    assert "王新" in page.text and "139****9000" in page.text and "13900139000" not in page.text
    assert "城关镇人大代表之家" in page.text
    rows = await owner_sql("SELECT level, term, direct, constituency_node_id FROM deputy_mandates m "
                           "JOIN deputies d ON d.id = m.deputy_id WHERE d.name = '王新'")
    assert [tuple(r) for r in rows] == [("county", 18, True, county.nodes["西村"])]
    assert await count(owner_sql, "audit_log", "action = 'deputy_created'") == 1


@pytest.mark.parametrize("change,message", [
    ({"name": ""}, "enter the deputy's name"),
    ({"mobile": "12345"}, "not a mobile number"),
    ({"level": "村"}, "not a level"),
    ({"term": "第一百届"}, "not a term"),
    ({"direct": ""}, "directly or indirectly"),
    ({"constituency_node_id": "99999"}, "constituency from the list"),
    ({"constituency_node_id": "abc"}, "constituency from the list"),
    ({"station_id": "99999"}, "active or filed station"),
    ({"group_id": "99999"}, "deputy group from the list"),
    ({"occupation": "农" * 61}, "at most 60"),
])
async def test_create_refusals_write_nothing(app, county, owner_sql, change, message):
    before = await deputies_state(owner_sql)
    async with signed_in(app, county, "admin") as client:
        r = await post(client, f"{client.base}/deputies", {**CREATE, **change})
    assert r.status_code == 400
    assert message in r.text.replace("&#39;", "'")
    assert await deputies_state(owner_sql) == before


async def test_proposed_station_is_refused(app, county, owner_sql):
    async with signed_in(app, county, "admin") as client:
        r = await post(client, f"{client.base}/deputies", {**CREATE, "station_id": str(county.stations["西村人大代表联络站"])})
    assert r.status_code == 400 and "active or filed station" in r.text


async def test_township_staff_create_within_their_township(app, county, owner_sql):
    before = await deputies_state(owner_sql)
    async with signed_in(app, county, "town") as client:
        lost = await post(client, f"{client.base}/deputies", CREATE)
        assert lost.status_code == 400 and "within your township" in lost.text
        other = await post(client, f"{client.base}/deputies", {**CREATE, "constituency_node_id": str(county.nodes["河坝村"])})
        assert other.status_code == 400
        away = await post(client, f"{client.base}/deputies", {**CREATE, "station_id": str(county.stations["河坝村人大代表联络站"])})
        assert away.status_code == 400
        assert await deputies_state(owner_sql) == before
        ok = await post(client, f"{client.base}/deputies", {**CREATE, "constituency_node_id": str(county.nodes["西村"])})
        assert ok.status_code == 303
        assert (await client.get(ok.headers["location"])).status_code == 200


@pytest.mark.parametrize("who", ["viewer", "station", "rep"])
async def test_roles_that_may_not_edit(app, county, owner_sql, database, who):
    await add_deputy(database, county, "赵本人", station="东街社区人大代表联络站", user="rep")
    async with signed_in(app, county, who) as client:
        target = county.zhang if who != "rep" else (await owner_sql("SELECT id FROM deputies WHERE name='赵本人'"))[0]["id"]
        page = await client.get(f"{client.base}/deputies/{target}")
        assert page.status_code == 200 and "/profile" not in page.text
        before = await deputies_state(owner_sql)
        for path, data in [
            ("/deputies", CREATE), (f"/deputies/{target}/profile", {"name": "改名"}),
            (f"/deputies/{target}/status", {"status": "resigned", "note": "x"}),
            (f"/deputies/{target}/assign", {"station_id": county.stations["城关镇人大代表之家"]}),
            (f"/deputies/{target}/mandates", {"level": "city", "term": "5", "direct": "1"}),
            (f"/deputies/{target}/account", {"user_id": ""}),
        ]:
            r = await post(client, client.base + path, data)
            assert r.status_code == 403, path
        assert (await client.get(f"{client.base}/deputies/new")).status_code == 403
        assert await deputies_state(owner_sql) == before


async def test_edit_profile_and_mobile(app, county, owner_sql, database):
    group = await add_group(database, county, "城关镇代表小组")
    async with signed_in(app, county, "town") as client:
        base = f"{client.base}/deputies/{county.zhang}"
        r = await post(client, base + "/profile", {"name": "张东街", "occupation": "教师", "group_id": str(group),
                                                   "public_contact": "0816-1234567"})
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        assert "教师" in page.text and "城关镇代表小组" in page.text and "138****8001" in page.text
        assert "13800138001" not in page.text  # the edit form does not reveal the number either
        r = await post(client, base + "/profile", {"name": "张东街", "occupation": "教师", "group_id": str(group),
                                                   "public_contact": "0816-1234567", "mobile": "13700137000"})
        assert r.status_code == 303
        r = await post(client, base + "/profile", {"name": "张东街", "occupation": "教师", "group_id": str(group),
                                                   "public_contact": "0816-1234567"})
        assert "done=unchanged" in r.headers["location"]
        before = await deputies_state(owner_sql)
        bad = await post(client, base + "/profile", {"name": "张东街", "mobile": "1370013700"})
        assert bad.status_code == 400 and "not a mobile number" in bad.text
        assert await deputies_state(owner_sql) == before
        r = await post(client, base + "/profile", {"name": "张东街", "occupation": "教师", "group_id": str(group),
                                                   "public_contact": "0816-1234567", "remove_mobile": "1"})
        assert r.status_code == 303
    rows = await owner_sql("SELECT mobile, occupation, public_contact FROM deputies WHERE id = $1", county.zhang)
    assert tuple(rows[0]) == (None, "教师", "0816-1234567")
    details = await owner_sql("SELECT details FROM audit_log WHERE action = 'deputy_updated' ORDER BY id")
    assert len(details) == 3


async def test_status_with_note_ends_assignments(app, county, owner_sql):
    async with signed_in(app, county, "admin") as client:
        base = f"{client.base}/deputies/{county.zhang}"
        before = await deputies_state(owner_sql)
        no_note = await post(client, base + "/status", {"status": "resigned", "note": ""})
        assert no_note.status_code == 400 and "note" in no_note.text
        same = await post(client, base + "/status", {"status": "active"})
        assert same.status_code == 400
        bad = await post(client, base + "/status", {"status": "suspended", "note": "x"})
        assert bad.status_code == 400 and "not a status" in bad.text
        long = await post(client, base + "/status", {"status": "resigned", "note": "长" * 501})
        assert long.status_code == 400 and "at most 500" in long.text
        assert await deputies_state(owner_sql) == before
        r = await post(client, base + "/status", {"status": "resigned", "note": "2026年3月1日常委会接受辞职"})
        assert r.status_code == 303
        page = await client.get(base)
    assert "2026年3月1日常委会接受辞职" in page.text
    assert await count(owner_sql, "station_deputies", "ended_at IS NULL") == 0
    assert await count(owner_sql, "station_deputies", "ended_at IS NOT NULL") == 1


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def test_photo_upload(app, county, owner_sql):
    async with signed_in(app, county, "admin") as client:
        base = f"{client.base}/deputies/{county.zhang}"
        assert (await client.get(base + "/photo")).status_code == 404
        html = (await client.get(base)).text
        from tests.factories import csrf_from

        token = csrf_from(html)
        before = await count(owner_sql, "images")
        bad = await client.post(base + "/photo", data={"_csrf_token": token},
                                files={"photo": ("x.png", b"not an image", "image/png")}, follow_redirects=False)
        assert bad.status_code == 400 and "not a photo" in bad.text
        assert await count(owner_sql, "images") == before
        r = await client.post(base + "/photo", data={"_csrf_token": token},
                              files={"photo": ("me.png", _png(), "image/png")}, follow_redirects=False)
        assert r.status_code == 303
        photo = await client.get(base + "/photo")
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/webp"
        assert len(photo.content) <= 40 * 1024
        assert f"/deputies/{county.zhang}/photo" in (await client.get(base)).text
    assert await count(owner_sql, "audit_log", "action = 'deputy_photo_changed'") == 1


async def test_a_photo_of_too_many_pixels_is_refused(app, county, owner_sql):
    async with signed_in(app, county, "admin") as client:
        base = f"{client.base}/deputies/{county.zhang}"
        from tests.factories import csrf_from

        token = csrf_from((await client.get(base)).text)
        r = await client.post(base + "/photo", data={"_csrf_token": token},
                              files={"photo": ("bomb.png", png_declaring(8000, 8000), "image/png")},
                              follow_redirects=False)
        assert r.status_code == 400 and "too many pixels" in r.text
        assert (await client.get(base + "/photo")).status_code == 404
    assert await count(owner_sql, "images") == 0


async def test_link_account(app, county, owner_sql, database):
    other = await add_deputy(database, county, "赵本人", station="东街社区人大代表联络站", user="rep")
    async with signed_in(app, county, "admin") as client:
        base = f"{client.base}/deputies/{county.zhang}"
        page = await client.get(base)
        assert county.users["rep2"].username in page.text
        viewer = await post(client, base + "/account", {"user_id": str(county.users["viewer"].id)})
        assert viewer.status_code == 400 and "role is deputy" in viewer.text
        taken = await post(client, base + "/account", {"user_id": str(county.users["rep"].id)})
        assert taken.status_code == 400 and "赵本人" in taken.text
        ok = await post(client, base + "/account", {"user_id": str(county.users["rep2"].id)})
        assert ok.status_code == 303
    async with signed_in(app, county, "rep2") as client:
        mine = await client.get(f"{client.base}/deputies")
        assert "张东街" in mine.text and "赵本人" not in mine.text
        assert (await client.get(f"{client.base}/deputies/{other}")).status_code == 404
    async with signed_in(app, county, "town") as client:
        refused = await post(client, f"{client.base}/deputies/{county.zhang}/account", {"user_id": ""})
        assert refused.status_code == 403
    assert await count(owner_sql, "deputies", "user_id = $1", county.users["rep2"].id) == 1


async def test_mandates(app, county, owner_sql):
    async with signed_in(app, county, "town") as client:
        base = f"{client.base}/deputies/{county.zhang}"
        form = await client.get(base + "/mandates/new")
        assert form.status_code == 200 and "河坝村" not in form.text and "西村" in form.text
        r = await post(client, base + "/mandates", {"level": "市", "term": "8", "direct": "0",
                                                    "constituency": "城关镇选举单位"})
        assert r.status_code == 303
        before = await deputies_state(owner_sql)
        dup = await post(client, base + "/mandates", {"level": "city", "term": "第八届", "direct": "1"})
        assert dup.status_code == 400 and "already has a mandate" in dup.text
        away = await post(client, base + "/mandates", {"level": "township", "term": "3", "direct": "1",
                                                       "constituency_node_id": str(county.nodes["河坝村"])})
        assert away.status_code == 400
        assert await deputies_state(owner_sql) == before
        page = text_of((await client.get(base)).text)
        assert "城关镇选举单位" in page
        mandate = (await owner_sql("SELECT id FROM deputy_mandates WHERE level = 'city'"))[0]["id"]
        assert (await post(client, f"{base}/mandates/999999/remove")).status_code == 404
        r = await post(client, f"{base}/mandates/{mandate}/remove")
        assert r.status_code == 303
    assert await count(owner_sql, "deputy_mandates", "deputy_id = $1", county.zhang) == 1
    actions = [r["action"] for r in await owner_sql("SELECT action FROM audit_log WHERE action LIKE 'deputy_mandate%' ORDER BY id")]
    assert actions == ["deputy_mandate_added", "deputy_mandate_removed"]
