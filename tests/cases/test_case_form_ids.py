"""Every id in the body of a case form is checked as the form offers it, whatever a hand-made request
says: a deputy registers at their own stations and as themselves; cases go only to stations in
operation within the member's reach; deputies, categories, activities, units, merge targets and the
deputy of a suggestion are of this county and in the member's reach. Nothing is written on a refusal."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.activities.world import put_activity
from tests.cases.world import EAST, HOME, build_case_county, put_case
from tests.deputies.deputy_world import add_deputy, count, post, signed_in

PROPOSED = "西村人大代表联络站"
HEBA = "河坝村人大代表联络站"


@pytest.fixture
async def cc(database):
    cc = await build_case_county(database)
    cc.home_deputy = await add_deputy(database, cc.county, "钱多", station=HOME)  # not at 东街社区
    cc.heba_deputy = await add_deputy(database, cc.county, "孙河", node="河坝村", station=HEBA)
    return cc


@pytest.fixture
async def other(database):
    return await build_case_county(database, "beta")


async def register(client, **fields):
    data = {"content": "路灯坏了", "source": "reception", **{k: str(v) for k, v in fields.items()}}
    return await post(client, f"{client.base}/cases/new", data)


async def test_a_deputy_registers_only_at_their_stations_and_as_themselves(app, cc, owner_sql):
    rep = cc.deputies["张伟"]
    async with signed_in(app, cc.county, "rep") as client:
        r = await register(client, station_id=cc.stations[HOME])  # a station in operation, not theirs
        assert r.status_code == 400 and "Please choose the station or the place" in r.text
        r = await register(client, station_id=cc.stations[EAST], deputy_id=cc.deputies["李娜"])
        assert r.status_code == 400 and "A deputy registers only the opinions they received themselves." in r.text
        assert await count(owner_sql, "cases") == 0
        assert (await register(client, station_id=cc.stations[EAST], deputy_id=rep)).status_code == 303
        assert (await register(client, station_id=cc.stations[EAST])).status_code == 303
    rows = await owner_sql("SELECT deputy_id, station_id FROM cases ORDER BY id")
    assert [(r["deputy_id"], r["station_id"]) for r in rows] == [(rep, cc.stations[EAST])] * 2


async def test_cases_only_at_stations_in_operation_and_in_reach(app, cc, other, owner_sql):
    async with signed_in(app, cc.county, "admin") as client:
        for station in (cc.stations[PROPOSED], cc.stations[HEBA], other.stations[EAST]):
            r = await register(client, station_id=station)
            assert r.status_code == 400 and "Please choose the station or the place" in r.text, station
    async with signed_in(app, cc.county, "heba") as client:  # 河坝乡's staff: 东街社区 is 城关镇's
        assert (await register(client, station_id=cc.stations[EAST])).status_code == 400
    async with signed_in(app, cc.county, "station") as client:  # station staff of 东街社区 only
        assert (await register(client, station_id=cc.stations[HOME])).status_code == 400
    assert await count(owner_sql, "cases") == 0


async def test_deputy_category_and_activity_must_be_what_the_form_offers(app, database, cc, other, owner_sql):
    at_home = await put_activity(database, cc.ac, kind=next(iter(cc.ac.kinds)), station=HOME,
                                 starts_at=datetime.now(timezone.utc) - timedelta(days=1))
    async with signed_in(app, cc.county, "station") as client:
        east = cc.stations[EAST]
        r = await register(client, station_id=east, deputy_id=cc.home_deputy)  # serving, but at another station
        assert r.status_code == 400 and "The deputy who received it must be" in r.text
        r = await register(client, station_id=east, deputy_id=other.deputies["李娜"])  # another county's
        assert r.status_code == 400 and "The deputy who received it must be" in r.text
        r = await register(client, station_id=east, category_id=other.categories["roads"])
        assert r.status_code == 400 and "Please choose a category of this county." in r.text
        r = await register(client, station_id=east, activity_id=at_home)
        assert r.status_code == 400 and "The activity must be one of this station" in r.text
        assert await count(owner_sql, "cases") == 0
        r = await register(client, station_id=east, deputy_id=cc.deputies["李娜"],
                           category_id=cc.categories["roads"])
        assert r.status_code == 303


async def step(client, case_id: int, name: str, **fields):
    return await post(client, f"{client.base}/cases/{case_id}/steps/{name}", {k: str(v) for k, v in fields.items()})


async def test_ids_in_the_step_forms_are_of_this_county_and_in_reach(app, database, cc, other, owner_sql):
    case = await put_case(database, cc, content="村道坑洼")
    heba_case = await put_case(database, cc, station=HEBA, content="河坝的事")
    theirs = await put_case(database, other)
    async with signed_in(app, cc.county, "town") as client:
        r = await step(client, case.id, "classify", category_id=other.categories["water"], urgency="normal")
        assert r.status_code == 400
        for unit in (cc.units["transport"], other.units["town-agri"]):  # a county department; another county's
            assert (await step(client, case.id, "assign", unit_id=unit)).status_code == 400, unit
        for into in (heba_case.id, heba_case.receipt_code, theirs.id, theirs.receipt_code):
            assert (await step(client, case.id, "merge", into=into)).status_code == 400, into
        r = await step(client, case.id, "to_suggestion", kind="suggestion", title="建议", deputy_id=cc.heba_deputy)
        assert r.status_code == 400 and "Please choose the serving deputy who files the suggestion." in r.text
        r = await step(client, case.id, "to_suggestion", kind="suggestion", title="建议",
                       deputy_id=other.deputies["李娜"])
        assert r.status_code == 400
    rows = await owner_sql("SELECT state, category_id, handling_unit_id, merged_into_id, suggestion_id FROM cases "
                           "WHERE id = $1", case.id)
    assert tuple(rows[0].values()) == ("registered", cc.categories["roads"], None, None, None)
    assert await count(owner_sql, "suggestions") == 0
    async with signed_in(app, cc.county, "town") as client:  # the same forms with what they offer
        r = await step(client, case.id, "to_suggestion", kind="suggestion", title="建议",
                       deputy_id=cc.deputies["李娜"])
        assert r.status_code == 303
    suggestion = (await owner_sql("SELECT id FROM suggestions"))[0]["id"]
    async with signed_in(app, cc.county, "admin") as client:
        r = await post(client, f"{client.base}/suggestions/{suggestion}/assign", {"unit_id": other.units["transport"]})
        assert r.status_code == 400
    assert (await owner_sql("SELECT state FROM suggestions"))[0]["state"] == "filed"
