"""A home's page lists the stations under it (the "1+N" pattern): those set up in the places below its
own, not closed, that no nearer station stands over; a station at a place with nothing below has no
such list; the names are shown to whoever sees the home, links only to stations the member may open."""

from __future__ import annotations

from tests.stations.places import add_station, county, person, station_deputy
from tests.stations.places import sign_in as sign_in_as

COUNTY_HOME, TOWN_HOME = "alpha县人大代表之家", "alpha县潼川镇人大代表之家"


async def sign_in(client, username: str) -> None:
    """Signed in, reading the English texts."""
    await sign_in_as(client, username)
    client.cookies.set("lang", "en")


def _under(html: str) -> str:
    return html.split('id="under"')[1].split("</section>")[0] if 'id="under"' in html else ""


async def _world(database, owner_sql):
    c = await county(database)
    st = {
        "county": await add_station(database, c, COUNTY_HOME, node="alpha县", kind="home", status="active"),
        "town": await add_station(database, c, TOWN_HOME, node="潼川镇", kind="home", status="active"),
        "beiba": await add_station(database, c, c.canonical("北坝村"), status="active"),
        "east": await add_station(database, c, c.canonical("东街社区"), node="东街社区", status="proposed"),
        "old": await add_station(database, c, "北坝村旧联络站", status="closed"),
        "xin": await add_station(database, c, c.canonical("新村", "河坝乡"), node="新村", status="active"),
    }
    await person(database, c, "admin")
    await person(database, c, "tongchuan", "township_staff", scope="潼川镇")
    await person(database, c, "rep", "deputy")
    deputy = await station_deputy(database, c, st["town"], "李代表")
    await owner_sql("UPDATE deputies SET user_id = $1 WHERE id = $2", c.users["rep"].id, deputy)
    return c, st


async def test_a_township_home_lists_its_village_stations(client, database, owner_sql):
    c, st = await _world(database, owner_sql)
    await sign_in(client, "admin")
    under = _under((await client.get(f"{c.base}/stations/{st['town']}")).text)
    assert "Stations under this home" in under and '<span class="muted">(2)</span>' in under
    assert c.canonical("北坝村") in under and c.canonical("东街社区") in under and "Proposed" in under
    assert "北坝村旧联络站" not in under and c.canonical("新村", "河坝乡") not in under and COUNTY_HOME not in under
    assert f'href="{c.base}/stations/{st["beiba"]}"' in under and f'href="{c.base}/stations/{st["east"]}"' in under


async def test_the_county_home_lists_the_nearest_stations(client, database, owner_sql):
    c, st = await _world(database, owner_sql)
    await sign_in(client, "admin")
    under = _under((await client.get(f"{c.base}/stations/{st['county']}")).text)
    # 潼川镇's home stands over its villages; 河坝乡 has no home, so 新村's station is the county home's
    assert TOWN_HOME in under and c.canonical("新村", "河坝乡") in under and '<span class="muted">(2)</span>' in under
    assert c.canonical("北坝村") not in under and c.canonical("东街社区") not in under
    # a station at a place with nothing below has no list
    assert 'id="under"' not in (await client.get(f"{c.base}/stations/{st['beiba']}")).text


async def test_names_for_all_links_where_the_member_may_open(client, database, owner_sql):
    c, st = await _world(database, owner_sql)
    await sign_in(client, "tongchuan")
    under = _under((await client.get(f"{c.base}/stations/{st['town']}")).text)
    assert f'href="{c.base}/stations/{st["beiba"]}"' in under
    # a deputy stationed at the home sees the home, not the village stations: names without links
    await sign_in(client, "rep")
    page = await client.get(f"{c.base}/stations/{st['town']}")
    assert page.status_code == 200
    under = _under(page.text)
    assert c.canonical("北坝村") in under and f'/stations/{st["beiba"]}"' not in under
    assert (await client.get(f"{c.base}/stations/{st['beiba']}")).status_code == 404
