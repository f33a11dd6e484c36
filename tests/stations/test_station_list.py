"""The list of stations: scope, filters, pagination, and a constant number of queries."""

import pytest

from tests.stations.places import add_station, county, person, sign_in, station_deputy


async def test_list_scope_by_role(client, database):
    c = await county(database)
    bei = await add_station(database, c, c.canonical("北坝村"), status="active")
    await add_station(database, c, c.canonical("新村", "河坝乡"), node="新村")
    await station_deputy(database, c, bei, "李四")
    await station_deputy(database, c, bei, "王五")
    await person(database, c, "admin")
    await person(database, c, "tongchuan", "township_staff", scope="潼川镇")
    await person(database, c, "liaison", "station_staff", station_id=bei)
    await person(database, c, "unit", "handling_unit")
    await sign_in(client, "admin")
    r = await client.get(f"{c.base}/stations")
    assert r.status_code == 200
    assert c.canonical("北坝村") in r.text and c.canonical("新村", "河坝乡") in r.text
    row = r.text[r.text.index(c.canonical("北坝村")):]
    row = row[:row.index("</tr>")]
    assert "代表联络站" in row and "潼川镇 › 北坝村" in row and "运行中" in row and "<td>2</td>" in row
    for who in ("tongchuan", "liaison"):
        await sign_in(client, who)
        r = await client.get(f"{c.base}/stations")
        assert c.canonical("北坝村") in r.text and c.canonical("新村", "河坝乡") not in r.text, who
    await sign_in(client, "unit")
    assert (await client.get(f"{c.base}/stations")).status_code == 404


async def test_filters_and_pagination(client, database):
    c = await county(database)
    for n in range(35):
        await add_station(database, c, f"工作室{n:02d}", kind="studio", status="active" if n % 2 else "proposed")
    await add_station(database, c, c.canonical("北坝村"))
    await person(database, c, "admin")
    await sign_in(client, "admin")
    r = await client.get(f"{c.base}/stations?kind={c.kinds['station']}")
    assert c.canonical("北坝村") in r.text and "工作室00" not in r.text
    r = await client.get(f"{c.base}/stations?status=active")
    assert "工作室01" in r.text and "工作室00" not in r.text and "(17)" in r.text
    r = await client.get(f"{c.base}/stations")
    assert "(36)" in r.text and 'href="/t/alpha/stations?page_no=2"' in r.text
    page2 = await client.get(f"{c.base}/stations?page_no=2")
    assert page2.status_code == 200 and "工作室34" in page2.text and "工作室00" not in page2.text
    assert (await client.get(f"{c.base}/stations?status=bogus&kind=x&page_no=99")).status_code == 200


@pytest.mark.parametrize("path", ["/stations", "/stations/ratings"])
async def test_query_count_does_not_grow_with_stations(client, database, path):
    c = await county(database)
    await person(database, c, "admin")
    names = ["北坝村", "东街社区", "新村"]

    async def add(start, n):
        for i in range(start, start + n):
            sid = await add_station(database, c, f"站点{i:03d}-{path}", node=names[i % 3], kind="studio",
                                    status="active")
            await station_deputy(database, c, sid, f"代表{i}")

    await add(0, 3)
    await sign_in(client, "admin")
    await client.get(f"{c.base}{path}")
    few = int((await client.get(f"{c.base}{path}")).headers["x-query-count"])
    await add(3, 27)
    many = int((await client.get(f"{c.base}{path}")).headers["x-query-count"])
    assert many == few


async def test_station_page_query_count_is_constant(client, database):
    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"))
    await person(database, c, "admin")
    await sign_in(client, "admin")
    await client.get(f"{c.base}/stations/{sid}")
    few = int((await client.get(f"{c.base}/stations/{sid}")).headers["x-query-count"])
    for i in range(10):
        await station_deputy(database, c, sid, f"代表{i}")
    many = int((await client.get(f"{c.base}/stations/{sid}")).headers["x-query-count"])
    assert many == few


async def test_pages_fit_the_first_response_budget(client, database):
    import gzip

    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"), status="active")
    for i in range(12):
        await station_deputy(database, c, sid, f"代表{i:02d}")
    for i in range(40):
        await add_station(database, c, f"工作室{i:02d}", kind="studio", status="active")
    await person(database, c, "admin")
    await sign_in(client, "admin")
    for path in ("/stations", "/stations/ratings", f"/stations/{sid}", "/stations/new"):
        r = await client.get(f"{c.base}{path}")
        assert r.status_code == 200
        assert len(gzip.compress(r.content)) <= 14 * 1024, path
