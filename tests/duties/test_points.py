"""The points scheme's settings page, the computation (approved entries only, caps of either sign,
levels, ranks), the scope of the points page and its query count."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.core.periods import parse_key
from app.duties import points
from tests.activities.world import EAST, build_activity_county, local, put_activity
from tests.compliance.compliance_world import put_station
from tests.deputies.deputy_world import add_deputy, count, post, signed_in, text_of
from tests.duties.points_world import put_entry, put_scheme

Q4 = parse_key("2026-Q4")


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


async def put_year(database, ac) -> None:
    """张伟's 2026: speeches (3 approved in Q4, one filed, one rejected), two leaves in November,
    inspections (2 in Q3, 2 in Q4), a reception in Q4; 王强 (a city deputy) at the same reception."""
    for day in (date(2026, 10, 8), date(2026, 11, 3), date(2026, 12, 1)):
        await put_entry(database, ac, "张伟", "speech", day)
    await put_entry(database, ac, "张伟", "speech", date(2026, 12, 2), status="filed")
    await put_entry(database, ac, "张伟", "speech", date(2026, 12, 3), status="rejected")
    await put_entry(database, ac, "张伟", "leave", date(2026, 11, 4))
    await put_entry(database, ac, "张伟", "leave", date(2026, 11, 5))
    for day in (date(2026, 7, 1), date(2026, 8, 1), date(2026, 10, 1), date(2026, 12, 31)):
        await put_entry(database, ac, "张伟", "inspection", day)
    await put_entry(database, ac, "李娜", "speech", date(2026, 10, 9))
    await put_activity(database, ac, kind="reception", starts_at=local(2026, 12, 31, 23, 30), present=("张伟", "王强"))
    await put_activity(database, ac, kind="reception", starts_at=local(2027, 1, 1, 0, 10), present=("张伟",))


async def test_points_with_caps_deductions_levels_and_ranks(database, ac):
    await put_scheme(database, ac)
    await put_year(database, ac)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        q4 = await points.compute(db, ac.tenant.id, Q4, points.ZoneInfo("Asia/Shanghai"))
        q3 = await points.compute(db, ac.tenant.id, parse_key("2026-Q3"), points.ZoneInfo("Asia/Shanghai"))
        year = await points.compute(db, ac.tenant.id, parse_key("2026"), points.ZoneInfo("Asia/Shanghai"))
        november = await points.compute(db, ac.tenant.id, parse_key("2026-11"), points.ZoneInfo("Asia/Shanghai"))
    zhang, li, wang = (ac.deputies[n] for n in ("张伟", "李娜", "王强"))
    # speeches 9 capped at 5; two leaves −2 capped at −1 a month; inspections: the year's cap of 9
    # leaves 3 after Q3's 6; the reception at 23:30 on 31 December counts (local time), the one on
    # 1 January does not; the filed and the rejected speech count nothing.
    assert q4[zhang].points == Decimal("5") - 1 + 3 + 2, q4[zhang].by_item
    assert q3[zhang].points == 6
    assert year[zhang].points == 5 - 1 + 9 + 2
    assert november[zhang].points == (5 - 3) - 1  # what the quarter's cap left after October, one leave
    assert q4[li].points == 3
    assert q4[wang].points == 0  # a city deputy: the reception item is for county-level deputies
    # all four are at 东街社区 and in no group: ranked among the station's four, ties sharing a rank
    assert (q4[zhang].rank, q4[li].rank, q4[wang].rank, q4[zhang].peers) == (1, 2, 3, 4)
    assert q4[wang].rank == q4[ac.deputies["赵敏"]].rank == 3 and q4[zhang].ranked_in == EAST


async def test_a_group_ranks_its_own(database, ac):
    from tests.deputies.deputy_world import add_group

    await put_scheme(database, ac)
    group = await add_group(database, ac.county, "城关镇代表小组")
    ac.deputies["周平"] = await add_deputy(database, ac.county, "周平", group=group, station=EAST)
    ac.deputies["吴兰"] = await add_deputy(database, ac.county, "吴兰", group=group)
    await put_entry(database, ac, "吴兰", "speech", date(2026, 10, 1))
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        q4 = await points.compute(db, ac.tenant.id, Q4, points.ZoneInfo("Asia/Shanghai"))
    wu, zhou = q4[ac.deputies["吴兰"]], q4[ac.deputies["周平"]]
    assert (wu.rank, zhou.rank, wu.peers, wu.ranked_in) == (1, 2, 2, "城关镇代表小组")
    assert q4[ac.deputies["张伟"]].peers == 4  # the station's four, not the group's


async def test_scheme_settings_add_refuse_change_retire(app, database, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(f"{client.base}/settings/points")
        assert r.status_code == 200 and "Attendance at held activities" not in r.text
        good = {"name": "审议发言", "counts": "entry:speech", "points": "3", "cap_period": "quarter",
                "cap_points": "5", "levels": ["county", "township"], "sort": "1", "code": "speech"}
        for bad, message in (({"points": "abc"}, "The points per item are a number"),
                             ({"points": "0"}, "The points per item are a number"),
                             ({"points": "1.25"}, "The points per item are a number"),
                             ({"counts": "entry:nonsense"}, "what the item counts"),
                             ({"counts": "activity:nonsense"}, "what the item counts"),
                             ({"cap_points": ""}, "A cap needs both"),
                             ({"cap_period": "week"}, "A cap needs both"),
                             ({"cap_points": "-2"}, "A cap needs both"),
                             ({"levels": ["mayor"]}, "deputy levels"),
                             ({"name": ""}, "name of the points item is required")):
            r = await post(client, f"{client.base}/settings/points", {**good, **bad})
            assert r.status_code == 400 and message in text_of(r.text), (bad, text_of(r.text)[:3000])
        assert await count(owner_sql, "points_items") == 0
        assert await count(owner_sql, "audit_log", "action = 'points_item_saved'") == 0
        r = await post(client, f"{client.base}/settings/points", good)
        assert r.status_code == 303
        [row] = await owner_sql("SELECT id, points, cap_period, cap_points, deputy_levels, source, source_code "
                                "FROM points_items")
        assert (row["points"], row["cap_period"], row["cap_points"], row["deputy_levels"], row["source"]) == \
            (Decimal("3.0"), "quarter", Decimal("5.0"), ["county", "township"], "entry")
        item = f"{client.base}/settings/points/{row['id']}"
        r = await client.get(item)
        assert r.status_code == 200 and 'value="entry:speech" selected' in r.text
        r = await post(client, item, {"name": "请假半天", "counts": "entry:leave", "points": "−1",
                                      "cap_period": "", "cap_points": "", "sort": "2"})
        assert r.status_code == 303
        [row] = await owner_sql("SELECT points, cap_period, deputy_levels, code FROM points_items")
        assert (row["points"], row["cap_period"], row["deputy_levels"], row["code"]) == (Decimal("-1.0"), None, [],
                                                                                         "speech")
        r = await post(client, item + "/retire")
        assert r.status_code == 303
        assert await count(owner_sql, "points_items", "retired_at IS NOT NULL") == 1
        assert await count(owner_sql, "audit_log", "action = 'points_item_saved'") == 2
        assert await count(owner_sql, "audit_log", "action = 'points_item_retired'") == 1
    for who in ("town", "handler", "rep", "viewer"):
        async with signed_in(app, ac.county, who) as client:
            assert (await client.get(f"{client.base}/settings/points")).status_code == 404, who


async def test_points_page_in_each_scope(app, database, ac):
    await put_scheme(database, ac)
    await put_station(database, ac, "河坝村第二联络站", "河坝村")
    ac.deputies["陈河"] = await add_deputy(database, ac.county, "陈河", station="河坝村第二联络站")
    await put_entry(database, ac, "陈河", "speech", date(2026, 10, 2))
    await put_entry(database, ac, "张伟", "speech", date(2026, 10, 2))
    seen = {}
    for who in ("admin", "viewer", "town", "heba", "station", "rep"):
        async with signed_in(app, ac.county, who) as client:
            r = await client.get(f"{client.base}/points?period=2026-Q4")
            assert r.status_code == 200, who
            page = text_of(r.text)
            seen[who] = {n for n in ("张伟", "李娜", "王强", "赵敏", "陈河") if n in page}
    assert seen["admin"] == seen["viewer"] == {"张伟", "李娜", "王强", "赵敏", "陈河"}
    assert seen["town"] == seen["station"] == {"张伟", "李娜", "王强", "赵敏"}
    assert seen["heba"] == {"陈河"} and seen["rep"] == {"张伟"}
    async with signed_in(app, ac.county, "heba") as client:
        page = text_of((await client.get(f"{client.base}/points?period=2026-Q4")).text)
        assert "陈河 河坝村第二联络站 3.0 1 / 1" in page
        r = await client.get(f"{client.base}/points?period=2026-H1")
        assert r.status_code == 400 and "Please choose a period" in text_of(r.text)
        xlsx = await client.get(f"{client.base}/points/export.xlsx?period=2026-Q4")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    async with signed_in(app, ac.county, "handler") as client:
        assert (await client.get(f"{client.base}/points?period=2026-Q4")).status_code == 404
        assert (await client.get(f"{client.base}/points/export.xlsx")).status_code == 404
    async with signed_in(app, ac.county, "rep") as client:
        assert (await client.get(f"{client.base}/points/export.xlsx")).status_code == 404


async def _page_queries(app, ac) -> int:
    async with signed_in(app, ac.county, "admin") as client:
        await client.get(f"{client.base}/points?period=2026-Q4")
        r = await client.get(f"{client.base}/points?period=2026-Q4")
        assert r.status_code == 200
        return int(r.headers["x-query-count"])


async def test_query_count_is_flat_when_the_deputies_triple(app, database, ac):
    await put_scheme(database, ac)

    async def grow(start: int, n: int) -> None:
        for i in range(start, start + n):
            ac.deputies[f"代表{i}"] = await add_deputy(database, ac.county, f"代表{i}", station=EAST)
            await put_entry(database, ac, f"代表{i}", "speech", date(2026, 10, 1 + i % 28))
            await put_activity(database, ac, kind="reception", starts_at=local(2026, 11, 1 + i % 28),
                               present=(f"代表{i}", "张伟"))

    await grow(0, 4)
    small = await _page_queries(app, ac)
    await grow(4, 16)
    large = await _page_queries(app, ac)
    assert small == large, (small, large)
