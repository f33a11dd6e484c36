"""Scoring stations on the tenant's checklist, their stars, and the county-wide view by rating."""

from tests.stations.places import add_station, county, person, post, sign_in, snapshot


def form_for(c, met: set[str], evidence: dict | None = None) -> dict:
    data = {}
    for code, item_id in c.items.items():
        data[f"met_{item_id}"] = "1" if code in met else "0"
        data[f"evidence_{item_id}"] = (evidence or {}).get(code, "")
    return data


async def test_scoring_sets_the_stars_and_is_audited(client, database, owner_sql):
    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"), status="active")
    await person(database, c, "tongchuan", "township_staff", scope="潼川镇")
    await sign_in(client, "tongchuan")
    met = {"place", "sign", "equipment", "rules", "info"}  # 5 of 8 → 3.125 → 3 stars
    r = await post(client, c, f"/stations/{sid}/checklist", form_for(c, met, {"place": "村委会二楼60平方米"}))
    assert r.status_code == 303
    page = await client.get(f"{c.base}/stations/{sid}")
    assert "★★★☆☆" in page.text and "村委会二楼60平方米" in page.text
    rows = await owner_sql("SELECT count(*) FILTER (WHERE met) AS met, count(*) AS n FROM station_scores")
    assert (rows[0]["met"], rows[0]["n"]) == (5, 8)
    audit = await owner_sql("SELECT details FROM audit_log WHERE action = 'station_scored'")
    assert len(audit) == 1 and '"stars": 3' in audit[0]["details"]
    # 7 of 8 → 4.375 → 4 stars; 8 of 8 → 5
    await post(client, c, f"/stations/{sid}/checklist", form_for(c, met | {"records", "manager"}))
    assert "★★★★☆" in (await client.get(f"{c.base}/stations/{sid}")).text
    await post(client, c, f"/stations/{sid}/checklist", form_for(c, set(c.items)))
    assert "★★★★★" in (await client.get(f"{c.base}/stations/{sid}")).text


async def test_incomplete_scoring_is_refused(client, database, owner_sql):
    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"), status="active")
    await person(database, c, "admin")
    await person(database, c, "liaison", "station_staff", station_id=sid)
    await person(database, c, "viewer", "viewer")
    await sign_in(client, "admin")
    await client.get(f"{c.base}/stations")
    before = await snapshot(owner_sql, c.tenant)
    data = form_for(c, {"place"})
    del data[f"met_{c.items['sign']}"]
    r = await post(client, c, f"/stations/{sid}/checklist", data)
    assert r.status_code == 400 and "请为每一项标明达标或未达标" in r.text
    assert await snapshot(owner_sql, c.tenant) == before
    # scoring is for those who can edit: not the station's own staff, not viewers
    for who in ("liaison", "viewer"):
        await sign_in(client, who)
        assert (await post(client, c, f"/stations/{sid}/checklist", form_for(c, set(c.items)))).status_code == 404
    assert (await owner_sql("SELECT count(*) FROM station_scores"))[0][0] == 0


async def test_retired_items_do_not_count(client, database, owner_sql):
    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"), status="active")
    await person(database, c, "admin")
    await sign_in(client, "admin")
    await post(client, c, f"/stations/{sid}/checklist", form_for(c, {"place", "sign", "equipment", "rules"}))
    assert "★★★☆☆" in (await client.get(f"{c.base}/stations/{sid}")).text  # 4/8 → 2.5 → 3
    await owner_sql("UPDATE checklist_items SET retired_at = now() WHERE code IN ('records', 'manager', 'organisation', 'info')")
    assert "★★★★★" in (await client.get(f"{c.base}/stations/{sid}")).text  # 4/4


async def test_ratings_view_groups_stations_by_stars(client, database, owner_sql):
    c = await county(database)
    top = await add_station(database, c, c.canonical("北坝村"), status="active")
    mid = await add_station(database, c, c.canonical("东街社区"), node="东街社区", status="active")
    low = await add_station(database, c, c.canonical("新村", "河坝乡"), node="新村", status="filed")
    closed = await add_station(database, c, "旧站", node="新村", status="closed")
    await person(database, c, "admin")
    await person(database, c, "heba", "township_staff", scope="河坝乡")
    await sign_in(client, "admin")
    await post(client, c, f"/stations/{top}/checklist", form_for(c, set(c.items)))
    await post(client, c, f"/stations/{mid}/checklist", form_for(c, {"place", "sign", "equipment", "rules"}))
    r = await client.get(f"{c.base}/stations/ratings")
    assert r.status_code == 200
    text = r.text

    def section(n):
        start = text.index(f'id="stars-{n}"')
        end = text.find('id="stars-', start + 5)
        return text[start:end if end > 0 else len(text)]

    assert c.canonical("北坝村") in section(5)
    assert c.canonical("东街社区") in section(3)
    assert c.canonical("新村", "河坝乡") in section(0)
    assert "旧站" not in text
    # a township's staff see their own subtree's stations only
    await sign_in(client, "heba")
    r = await client.get(f"{c.base}/stations/ratings")
    assert c.canonical("新村", "河坝乡") in r.text and c.canonical("北坝村") not in r.text
    assert low and closed
