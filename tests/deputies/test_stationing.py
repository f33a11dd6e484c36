"""进站: stationing deputies at active or filed stations in scope, ending assignments (history
kept), and the 应进必进 checks: unassigned deputies, directly elected deputies outside their
constituency, stations outside the seats guidance."""

from __future__ import annotations

import pytest

from tests.deputies.deputy_world import add_deputy, build, count, post, signed_in, text_of

SEATS = {"city": {"min": 1, "max": 2}, "county": {"min": 2}}


@pytest.fixture
async def county(database):
    c = await build(database, seats=SEATS)
    c.li = await add_deputy(database, c, "李西村", node="西村", mobile="13800138002")
    return c


async def test_assign_end_and_history(app, county, owner_sql):
    async with signed_in(app, county, "town") as client:
        base = f"{client.base}/deputies/{county.li}"
        page = await client.get(base)
        assert "城关镇人大代表之家" in page.text and "河坝村人大代表联络站" not in page.text
        assert "西村人大代表联络站" not in page.text  # proposed: not offered
        before = await count(owner_sql, "station_deputies")
        for station, message in (("西村人大代表联络站", "active or filed station"),
                                 ("河坝村人大代表联络站", "active or filed station")):
            r = await post(client, base + "/assign", {"station_id": str(county.stations[station])})
            assert r.status_code == 400 and message in r.text
        assert (await post(client, base + "/assign", {"station_id": "abc"})).status_code == 400
        assert await count(owner_sql, "station_deputies") == before

        r = await post(client, base + "/assign", {"station_id": str(county.stations["东街社区人大代表联络站"])})
        assert r.status_code == 303 and r.headers["location"].endswith("done=assigned")
        again = await post(client, base + "/assign", {"station_id": str(county.stations["东街社区人大代表联络站"])})
        assert again.status_code == 400 and "already stationed at this station" in again.text
        second = await post(client, base + "/assign", {"station_id": str(county.stations["城关镇人大代表之家"])})
        assert second.status_code == 303
        page = await client.get(second.headers["location"])
        assert "more than one station" in page.text and "Stationed at 2 stations at once" in page.text

        first = (await owner_sql("SELECT id FROM station_deputies WHERE station_id = $1",
                                 county.stations["东街社区人大代表联络站"]))[0]["id"]
        r = await post(client, f"{base}/assignments/{first}/end")
        assert r.status_code == 303
        ended = await post(client, f"{base}/assignments/{first}/end")
        assert ended.status_code == 400 and "already ended" in ended.text
        assert (await post(client, f"{base}/assignments/999999/end")).status_code == 404
        history = text_of((await client.get(base)).text)
        assert "东街社区人大代表联络站" in history and "城关镇人大代表之家" in history
    assert await count(owner_sql, "station_deputies", "ended_at IS NOT NULL") == 1
    assert await count(owner_sql, "station_deputies", "ended_at IS NULL") == 1
    actions = [r["action"] for r in await owner_sql("SELECT action FROM audit_log WHERE action LIKE 'deputy_assign%' ORDER BY id")]
    assert actions == ["deputy_assigned", "deputy_assigned", "deputy_assignment_ended"]


async def test_filed_station_and_not_serving(app, county, database, owner_sql):
    zhao = await add_deputy(database, county, "赵河坝", node="河坝村")
    gone = await add_deputy(database, county, "钱去世", node="河坝村", status="deceased")
    async with signed_in(app, county, "heba") as client:
        ok = await post(client, f"{client.base}/deputies/{zhao}/assign",
                        {"station_id": str(county.stations["河坝村人大代表联络站"])})
        assert ok.status_code == 303
        dead = await post(client, f"{client.base}/deputies/{gone}/assign",
                          {"station_id": str(county.stations["河坝村人大代表联络站"])})
        assert dead.status_code == 400 and "serving deputy" in dead.text
    assert await count(owner_sql, "station_deputies") == 1


async def test_township_staff_cannot_end_another_townships_assignment(app, county, database, owner_sql):
    both = await add_deputy(database, county, "孙两处", node="西村", station="河坝村人大代表联络站")
    assignment = (await owner_sql("SELECT id FROM station_deputies WHERE deputy_id = $1", both))[0]["id"]
    async with signed_in(app, county, "town") as client:
        page = await client.get(f"{client.base}/deputies/{both}")
        assert page.status_code == 200 and f"/assignments/{assignment}/end" not in page.text
        r = await post(client, f"{client.base}/deputies/{both}/assignments/{assignment}/end")
        assert r.status_code == 400 and "outside your township" in r.text
    assert await count(owner_sql, "station_deputies", "ended_at IS NULL") == 1


async def test_assign_from_a_station_page_returns_there(app, county):
    async with signed_in(app, county, "admin") as client:
        station = county.stations["东街社区人大代表联络站"]
        r = await post(client, f"{client.base}/deputies/{county.li}/assign",
                       {"station_id": str(station), "next": f"{client.base}/stations/{station}"})
        assert r.status_code == 303 and r.headers["location"] == f"{client.base}/stations/{station}"
        r = await post(client, f"{client.base}/deputies/{county.li}/assign",
                       {"station_id": str(county.stations["城关镇人大代表之家"]), "next": "https://evil.example/"})
        assert r.headers["location"].startswith(f"{client.base}/deputies/")


async def test_unassigned_list_shrinks_when_a_deputy_is_stationed(app, county, database):
    wang = await add_deputy(database, county, "王未进站", node="东街社区")
    await add_deputy(database, county, "周已进站", node="东街社区", station="东街社区人大代表联络站")
    await add_deputy(database, county, "吴辞职", node="东街社区", status="resigned")
    async with signed_in(app, county, "admin") as client:
        checks = f"{client.base}/deputies/checks"
        before = await client.get(checks)
        section = before.text.split('id="unassigned"')[1].split("</section>")[0]
        assert "王未进站" in section and "李西村" in section
        assert "周已进站" not in section and "吴辞职" not in section
        assert f"/deputies/{wang}#stations" in section
        r = await post(client, f"{client.base}/deputies/{wang}/assign",
                       {"station_id": str(county.stations["东街社区人大代表联络站"])})
        assert r.status_code == 303
        after = (await client.get(checks)).text.split('id="unassigned"')[1].split("</section>")[0]
        assert "王未进站" not in after and "李西村" in after
        listing = await client.get(f"{client.base}/deputies?unassigned=1&status=active")
        assert "王未进站" not in listing.text and "李西村" in listing.text


async def test_unassigned_by_scope(app, county, database):
    await add_deputy(database, county, "赵河坝", node="河坝村")
    async with signed_in(app, county, "town") as client:
        section = (await client.get(f"{client.base}/deputies/checks")).text.split('id="unassigned"')[1]
        assert "李西村" in section.split("</section>")[0] and "赵河坝" not in section
    async with signed_in(app, county, "rep") as client:
        assert (await client.get(f"{client.base}/deputies/checks")).status_code == 404


async def test_directly_elected_outside_their_constituency(app, county, database):
    # elected in 西村, stationed at the 河坝村 station: outside. Elected in 东街社区 and stationed at the
    # 城关镇 home above it: fine (a township home serves its villages). Indirectly elected: not checked.
    far = await add_deputy(database, county, "郑远处", node="西村", station="河坝村人大代表联络站")
    await add_deputy(database, county, "冯镇上", node="东街社区", station="城关镇人大代表之家")
    await add_deputy(database, county, "陈本村", node="东街社区", station="东街社区人大代表联络站")
    await add_deputy(database, county, "褚间接", node="西村", direct=False, station="河坝村人大代表联络站")
    two = await add_deputy(database, county, "卫两级", node="河坝村", station="河坝村人大代表联络站")
    async with signed_in(app, county, "admin") as client:
        # a second, city-level constituency elsewhere does not make the first station wrong
        r = await post(client, f"{client.base}/deputies/{two}/mandates",
                       {"level": "city", "term": "8", "direct": "1", "constituency_node_id": str(county.nodes["西村"])})
        assert r.status_code == 303
        section = (await client.get(f"{client.base}/deputies/checks")).text.split('id="outside"')[1].split("</section>")[0]
        assert "郑远处" in section and "西村" in section and "河坝村人大代表联络站" in section
        for fine in ("冯镇上", "陈本村", "褚间接", "卫两级"):
            assert fine not in section, fine
        assert f"/deputies/{far}#stations" in section
        # the fix: station them in their constituency and end the other assignment
        await post(client, f"{client.base}/deputies/{far}/assign",
                   {"station_id": str(county.stations["城关镇人大代表之家"])})
        section = (await client.get(f"{client.base}/deputies/checks")).text.split('id="outside"')[1].split("</section>")[0]
        assert "郑远处" in section  # still also at the far station

    async with signed_in(app, county, "town") as client:
        section = (await client.get(f"{client.base}/deputies/checks")).text.split('id="outside"')[1].split("</section>")[0]
        assert "郑远处" in section  # elected in their township: theirs to see


async def test_seats_guidance(app, county, database):
    home = "城关镇人大代表之家"
    for i in range(3):
        await add_deputy(database, county, f"市代表{i}", level="city", station=home)
    await add_deputy(database, county, "县代表甲", level="county", station=home)
    await add_deputy(database, county, "县代表乙", level="county", station=home, status="resigned")
    await add_deputy(database, county, "两级代表", level="county", more_levels=("city",), station="东街社区人大代表联络站")
    await add_deputy(database, county, "县代表丙", level="county", station="东街社区人大代表联络站")
    async with signed_in(app, county, "admin") as client:
        page = await client.get(f"{client.base}/deputies/checks")
        rows = [text_of(row) for row in page.text.split('id="seats"')[1].split("<tr>")[2:]]
    found = {tuple(r.split()[:4]) for r in rows}
    # home: 3 city (max 2) too many, 1 serving county (min 2) too few; community station: 1 city, 2 county: fine;
    # the filed 河坝村 station: nobody; the proposed 西村 station: not checked.
    assert ("城关镇人大代表之家", "City", "level", "3") in found
    assert ("城关镇人大代表之家", "County", "level", "1") in found
    assert ("河坝村人大代表联络站", "City", "level", "0") in found
    assert ("河坝村人大代表联络站", "County", "level", "0") in found
    assert not any("东街社区人大代表联络站" in r or "西村人大代表联络站" in r for r in rows)
    assert len(rows) == 4
    assert "too many" in " ".join(rows) and "too few" in " ".join(rows)
    assert f'/stations/{county.stations[home]}"' in page.text


async def test_no_seats_guidance(app, database):
    county = await build(database, slug="beta")
    async with signed_in(app, county, "admin") as client:
        page = await client.get(f"{client.base}/deputies/checks")
    assert page.status_code == 200 and "no guidance" in page.text


async def test_unassigned_count_for_the_home_page(app, county, database):
    from sqlalchemy import text

    from app.deputies.checks import unassigned_count
    from app.tenancy.scope import Scope

    await add_deputy(database, county, "赵河坝", node="河坝村")
    await add_deputy(database, county, "周已进站", node="东街社区", station="东街社区人大代表联络站")
    async with database.transaction(tenant_id=county.tenant.id) as db:
        whole = Scope(role="county_admin", node_path=None, station_id=None, user_id=county.users["admin"].id)
        town_path = (await db.execute(text("SELECT path FROM admin_nodes WHERE name = '城关镇'"))).scalar()
        town = Scope(role="township_staff", node_path=town_path, station_id=None, user_id=county.users["town"].id)
        rep = Scope(role="deputy", node_path=None, station_id=None, user_id=county.users["rep"].id)
        assert await unassigned_count(db, whole) == 2  # 李西村, 赵河坝
        assert await unassigned_count(db, town) == 1  # 李西村
        assert await unassigned_count(db, rep) == 0
    async with signed_in(app, county, "admin") as client:
        home = await client.get(f"{client.base}/")
        assert home.status_code == 200  # the summary shows once the home route passes deputy_unassigned


async def test_station_staff_see_their_own_stations_checks(app, county, database):
    # The outside-constituency query joins station_deputies itself; the scope filter of station staff
    # (an EXISTS on station_deputies) must stay a subquery of its own, not be folded into that join.
    await add_deputy(database, county, "郑东街外", node="西村", station="东街社区人大代表联络站")
    await add_deputy(database, county, "陈河坝外", node="西村", station="河坝村人大代表联络站")
    await add_deputy(database, county, "王未进站", node="东街社区")
    async with signed_in(app, county, "station") as client:
        page = await client.get(f"{client.base}/deputies/checks")
        assert page.status_code == 200
        outside = page.text.split('id="outside"')[1].split("</section>")[0]
        assert "郑东街外" in outside and "东街社区人大代表联络站" in outside
        assert "陈河坝外" not in outside  # another station's deputy
        assert "王未进站" not in page.text  # not stationed with them: not theirs
        seats = text_of(page.text.split('id="seats"')[1].split("</section>")[0])
        assert "东街社区人大代表联络站" in seats and "河坝村人大代表联络站" not in seats
