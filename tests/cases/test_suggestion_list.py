"""The list of deputies' suggestions and motions: filters (state, station, deputy, year, text), who
sees which (county all, a township the ones from its cases, a deputy their own, a handling unit those
assigned to it), pages, the spreadsheet (filtered, scoped, audited) and a query count that does not
grow with the suggestions."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from app.activities.models import Suggestion
from tests.cases.world import EAST, HOME, build_case_county, put_case
from tests.deputies.deputy_world import count, signed_in, text_of

HEBA = "河坝村人大代表联络站"
ROAD, WATER, FOOD = "修缮东街道路的建议", "河坝村饮水工程的议案", "加强食品安全监管的建议"


async def _suggestion(database, cc, deputy: str, title: str, filed_on: date, *, kind: str = "suggestion",
                      state: str = "filed", unit: str | None = None, content: str = "") -> int:
    t = cc.tenant.id
    async with database.transaction(tenant_id=t) as db:
        s = Suggestion(tenant_id=t, deputy_id=cc.deputies[deputy], kind=kind, title=title, filed_on=filed_on,
                       content=content, state=state, handling_unit_id=cc.units[unit] if unit else None)
        db.add(s)
        await db.flush()
        return s.id


@pytest.fixture
async def world(database):
    cc = await build_case_county(database)
    # 张伟 (the member "rep") files one from a case at 东街社区 (城关镇)
    road = await _suggestion(database, cc, "张伟", ROAD, date(2026, 3, 1), content="东街路面破损")
    await put_case(database, cc, station=EAST, state="closed", suggestion_id=road)
    # 李娜 files a motion from a case at 河坝村 (河坝乡), assigned to the transport bureau
    water = await _suggestion(database, cc, "李娜", WATER, date(2025, 6, 1), kind="motion", state="assigned",
                              unit="transport", content="村民饮水困难")
    await put_case(database, cc, station=HEBA, state="closed", suggestion_id=water)
    # 王强 (stationed at 东街社区) files one of his own, already answered
    food = await _suggestion(database, cc, "王强", FOOD, date(2026, 2, 1), state="answered", unit="ecology")
    return cc, {"road": road, "water": water, "food": food}


def _titles(html: str) -> set[str]:
    return {t for t in (ROAD, WATER, FOOD) if t in html}


async def test_the_county_sees_all_and_filters(app, world):
    cc, ids = world
    async with signed_in(app, cc.county, "admin") as client:
        url = f"{client.base}/suggestions"
        page = await client.get(url)
        assert page.status_code == 200 and _titles(page.text) == {ROAD, WATER, FOOD}
        text = text_of(page.text)
        assert "3 suggestions and motions" in text and "Deputy motion (议案)" in text
        assert "Suggestion assigned to a unit" in text and "县交通运输局" in text
        checks = {
            "?state=assigned": {WATER}, "?year=2025": {WATER}, "?year=2026": {ROAD, FOOD}, "?q=饮水": {WATER},
            "?q=路面": {ROAD}, f"?deputy={cc.deputies['张伟']}": {ROAD},
            # a case at the station, or a deputy stationed there (all four serve at 东街社区)
            f"?station={cc.stations[EAST]}": {ROAD, WATER, FOOD}, f"?station={cc.stations[HEBA]}": {WATER},
            f"?station={cc.stations[HOME]}": set(),
            "?state=answered&year=2025": set(), "?state=nonsense&year=abc": {ROAD, WATER, FOOD},
        }
        for query, expected in checks.items():
            r = await client.get(url + query)
            assert r.status_code == 200 and _titles(r.text) == expected, query
        # the htmx filter form swaps only the list
        r = await client.get(url + "?state=filed", headers={"HX-Request": "true", "HX-Target": "suggestion-list"})
        assert _titles(r.text) == {ROAD} and "<form" not in r.text and "<html" not in r.text


@pytest.mark.parametrize("username, expected", [
    ("town", {ROAD}), ("heba", {WATER}), ("station", {ROAD}), ("rep", {ROAD}), ("transport", {WATER}),
    ("ecology", {FOOD}), ("townoffice", set()), ("viewer", {ROAD, WATER, FOOD}),
])
async def test_each_member_sees_their_own(app, world, username, expected):
    cc, ids = world
    async with signed_in(app, cc.county, username) as client:
        page = await client.get(f"{client.base}/suggestions")
        assert page.status_code == 200 and _titles(page.text) == expected
        # a filter cannot reach beyond the member's suggestions
        r = await client.get(f"{client.base}/suggestions?station={cc.stations[HEBA]}")
        assert _titles(r.text) == expected & {WATER}


async def test_pages(app, database, world):
    cc, _ = world
    for n in range(55):
        await _suggestion(database, cc, "赵敏", f"第{n:02d}条建议", date(2024, 1, 1))
    async with signed_in(app, cc.county, "admin") as client:
        first = await client.get(f"{client.base}/suggestions")
        assert "Page 1 of 2" in text_of(first.text) and "page=2" in first.text and "第00条建议" not in first.text
        second = await client.get(f"{client.base}/suggestions?page=2")
        assert "Page 2 of 2" in text_of(second.text) and "第00条建议" in second.text


def _rows(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [[c.value for c in row] for row in sheet.iter_rows()]


async def test_the_spreadsheet_is_filtered_scoped_and_audited(app, world, owner_sql):
    cc, ids = world
    async with signed_in(app, cc.county, "admin") as client:
        r = await client.get(f"{client.base}/suggestions/export.xlsx?state=assigned")
        assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
        rows = _rows(r.content)
        assert rows[0][:4] == ["Suggestion number", "Kind of suggestion", "Suggestion title", "Deputy"]
        assert [row[2] for row in rows[1:]] == [WATER]
        assert rows[1][4] == HEBA and rows[1][7] == "县交通运输局" and rows[1][9] == "村民饮水困难"
        page = await client.get(f"{client.base}/suggestions?state=assigned")
        assert "/suggestions/export.xlsx?state=assigned" in page.text
    async with signed_in(app, cc.county, "town") as client:
        rows = _rows((await client.get(f"{client.base}/suggestions/export.xlsx")).content)
        assert [row[2] for row in rows[1:]] == [ROAD]
    assert await count(owner_sql, "audit_log", "action = 'suggestions_exported'") == 2


async def _queries(app, cc) -> int:
    async with signed_in(app, cc.county, "town") as client:
        await client.get(f"{client.base}/suggestions")
        r = await client.get(f"{client.base}/suggestions")
        assert r.status_code == 200
        return int(r.headers["x-query-count"])


async def test_query_count_does_not_grow_with_suggestions(app, database, world):
    cc, _ = world
    before = await _queries(app, cc)
    for n in range(30):
        s = await _suggestion(database, cc, "张伟", f"更多的建议{n}", date(2026, 1, 2))
        await put_case(database, cc, station=EAST, state="closed", suggestion_id=s)
    assert await _queries(app, cc) == before
