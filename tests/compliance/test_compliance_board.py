"""The compliance board through HTTP: levels and drill-down, scope, the detail behind a verdict,
the export, and a query count that does not grow with the data."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.core.periods import period_of
from tests.activities.world import EAST, HOME, build_activity_county, local, put_activity
from tests.compliance.compliance_world import BEIJING, JINZHONG, RULE_NAMES, put_opinion, put_rules, put_station
from tests.deputies.deputy_world import add_deputy, signed_in, text_of

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the county's today, as the board sees it


@pytest.fixture
async def county(database):
    ac = await build_activity_county(database)
    await put_rules(database, ac, JINZHONG)
    return ac


def this_month_at(day: int, hour: int = 9):
    return local(TODAY.year, TODAY.month, day, hour)


async def test_county_township_and_station_levels(app, database, county):
    await put_activity(database, county, kind="reception", starts_at=this_month_at(1), present=("张伟",))
    async with signed_in(app, county.county, "admin") as client:
        r = await client.get(f"{client.base}/compliance")
        assert r.status_code == 200
        page = text_of(r.text)
        assert RULE_NAMES["jz-reception"] in page and "By township" in page and "城关镇" in page
        assert f"/settings/rules" in r.text  # the admin's link to the rules
        town = county.county.nodes["城关镇"]
        assert f"node={town}" in r.text
        r = await client.get(f"{client.base}/compliance?node={town}")
        assert r.status_code == 200
        assert EAST in r.text and HOME in r.text
        assert "Met 1/1" in text_of(r.text)  # 东街社区's reception this month
        r = await client.get(f"{client.base}/compliance?station={county.stations[EAST]}")
        assert r.status_code == 200
        page = text_of(r.text)
        assert EAST in page and HOME not in page and "张伟" in page and "李娜" in page
        # htmx swaps only the board
        r = await client.get(f"{client.base}/compliance?verdict=met&node={town}",
                             headers={"HX-Request": "true", "HX-Target": "board"})
        assert r.status_code == 200 and "<html" not in r.text and EAST in r.text and HOME not in r.text


async def test_scope_of_township_staff_deputy_and_handler(app, database, county):
    heba_station = await put_station(database, county, "河坝村第二联络站", "河坝村")
    async with signed_in(app, county.county, "heba") as client:
        r = await client.get(f"{client.base}/compliance")
        assert r.status_code == 200
        assert "河坝村第二联络站" in r.text and EAST not in r.text and HOME not in r.text
        for path in (f"/compliance?station={county.stations[EAST]}", f"/compliance?node={county.county.nodes['城关镇']}",
                     f"/compliance/detail?rule=1&subject=station:{county.stations[EAST]}&period="):
            assert (await client.get(client.base + path)).status_code == 404, path
        rows = (await client.get(f"{client.base}/compliance/export.csv")).text
        assert "河坝村第二联络站" in rows and EAST not in rows
    async with signed_in(app, county.county, "rep") as client:
        r = await client.get(f"{client.base}/compliance")
        assert r.status_code == 200
        assert "张伟" in r.text and "李娜" not in r.text and EAST not in r.text
        assert (await client.get(f"{client.base}/compliance?station={heba_station}")).status_code == 200
        assert "河坝村第二联络站" not in (await client.get(f"{client.base}/compliance?station={heba_station}")).text
    async with signed_in(app, county.county, "handler") as client:
        for path in ("/compliance", "/compliance/export.csv", "/compliance/detail?rule=1&subject=station:1"):
            assert (await client.get(client.base + path)).status_code == 404


async def test_detail_lists_counted_and_not_counted(app, database, county):
    rules = await put_rules(database, county, BEIJING)
    quarter = period_of("quarter", TODAY)
    first = quarter.first
    one = await put_activity(database, county, kind="reception", starts_at=local(first.year, first.month, 2),
                             present=("张伟",), topic="一人接待")
    two = await put_activity(database, county, kind="visit", starts_at=local(first.year, first.month, 3),
                             present=("张伟", "李娜"), topic="两人走访")
    east = county.stations[EAST]
    async with signed_in(app, county.county, "station") as client:
        r = await client.get(f"{client.base}/compliance/detail?rule={rules['bj-every-quarter']}"
                             f"&subject=station:{east}&period={quarter.key}")
        assert r.status_code == 200
        page = text_of(r.text)
        assert f"/activities/{two}" in r.text and f"/activities/{one}" in r.text
        assert "Met" in page and "1 deputies present, the rule asks for at least 2" in page
        # another station's cell, or a deputy rule for a station: not found
        other = county.stations[HOME]
        assert (await client.get(f"{client.base}/compliance/detail?rule={rules['bj-every-quarter']}"
                                 f"&subject=station:{other}")).status_code == 404


async def test_deputy_opinion_detail(app, database, county):
    await put_opinion(database, county, "张伟", TODAY)
    async with signed_in(app, county.county, "rep") as client:
        r = await client.get(f"{client.base}/compliance")
        cell = next(part for part in r.text.split('href="') if "subject=deputy:" in part)
        r = await client.get(cell.split('"')[0].replace("&amp;", "&"))
        assert r.status_code == 200 and "路灯坏了" in r.text


async def test_deputy_activity_detail_lists_the_deputys_attendances(app, database, owner_sql, county):
    """A deputy rule's drill-down (attendances joined twice: the deputy's own and the count present)."""
    aid = await put_activity(database, county, kind="briefing", starts_at=this_month_at(1), present=("张伟", "李娜"),
                             topic="政情通报会")
    [(rule,)] = await owner_sql("SELECT id FROM activity_rules WHERE tenant_id = $1 AND code = 'jz-briefing'",
                                county.tenant.id)
    async with signed_in(app, county.county, "admin") as client:
        r = await client.get(f"{client.base}/compliance/detail?rule={rule}&subject=deputy:{county.deputies['张伟']}")
        assert r.status_code == 200
        page = text_of(r.text)
        assert f"/activities/{aid}" in r.text and "政情通报会" in page and "2 deputies present" in page
        r = await client.get(f"{client.base}/compliance/detail?rule={rule}&subject=deputy:{county.deputies['赵敏']}")
        assert r.status_code == 200 and "政情通报会" not in r.text


async def test_export_csv(app, database, county):
    await put_activity(database, county, kind="visit", starts_at=this_month_at(1))
    async with signed_in(app, county.county, "admin") as client:
        r = await client.get(f"{client.base}/compliance/export.csv?verdict=met")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][:4] == ["Activity rule", "Compliance period", "Applies to", "Station, deputy or group"]
        assert len(rows) == 2 and rows[1][1]  # the period's label
        assert rows[1][0] == RULE_NAMES["jz-visit"] and rows[1][2:] == ["Station", EAST, "1", "1", "0", "0", "Met"]
        everything = (await client.get(f"{client.base}/compliance/export.csv")).content.decode("utf-8-sig")
        assert everything.count("\n") == 1 + 7 * 2 + 3 * 4  # 7 station rules × 2 stations, 3 deputy rules × 4
        xlsx = await client.get(f"{client.base}/compliance/export.xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


async def _board_queries(app, county) -> int:
    async with signed_in(app, county.county, "admin") as client:
        await client.get(f"{client.base}/compliance")  # the first entry into the tenant writes its own rows
        r = await client.get(f"{client.base}/compliance")
        assert r.status_code == 200
        return int(r.headers["x-query-count"])


async def test_query_count_does_not_grow_with_the_data(app, database, county):
    async def grow(n: int, start: int):
        for i in range(start, start + n):
            name = f"东街第{i}联络站"
            await put_station(database, county, name, "东街社区")
            deputy = await add_deputy(database, county.county, f"代表{i}", station=name)
            county.deputies[f"代表{i}"] = deputy
            await put_activity(database, county, kind="reception", station=name, starts_at=this_month_at(1),
                               present=(f"代表{i}",))
            await put_opinion(database, county, f"代表{i}", TODAY)

    await grow(3, 0)
    small = await _board_queries(app, county)
    await grow(45, 3)
    large = await _board_queries(app, county)
    assert large == small, (small, large)
    # session and membership (4), the transaction's set_config, the config, rules, stations, deputies
    # (3: themselves, levels and stations, the stations' places), activity kinds, the three
    # aggregates, the townships; the header's unread count and the mailbox openings of the stations
    assert small <= 18, small


async def test_staff_look_at_one_deputy(app, database, county, owner_sql):
    """The deputy's page links to their compliance: only the deputy rules, only that deputy, within the
    member's scope (another township's staff get the ordinary 404); the export follows the filter."""
    await put_opinion(database, county, "张伟", this_month_at(2).date())
    zhang, li = county.deputies["张伟"], county.deputies["李娜"]
    async with signed_in(app, county.county, "admin") as client:
        detail = await client.get(f"{client.base}/deputies/{zhang}")
        assert f"/compliance?deputy={zhang}" in detail.text
        r = await client.get(f"{client.base}/compliance?deputy={zhang}")
        assert r.status_code == 200
        page = text_of(r.text)
        assert "张伟" in page and "李娜" not in page
        assert RULE_NAMES["jz-opinion"] in page and RULE_NAMES["jz-reception"] not in page
        export = await client.get(f"{client.base}/compliance/export.csv?deputy={zhang}")
        rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
        assert any("张伟" in row for row in rows) and not any("李娜" in row for row in rows)
    async with signed_in(app, county.county, "heba") as client:
        assert (await client.get(f"{client.base}/compliance?deputy={li}")).status_code == 404
