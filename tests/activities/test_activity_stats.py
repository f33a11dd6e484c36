"""Activity statistics for a year: activities held by kind and month (months in the county's zone),
people received, deputies present and opinions registered per station, planned and cancelled ones
beside; scoped to the member's places (a township its subtree, a station its own; deputies and
handling units have none); the SVG charts; a query count that does not grow with the activities."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import update

from app.activities import stats
from app.activities.models import Activity, Opinion
from app.tenancy.scope import Scope
from tests.activities.world import EAST, HOME, build_activity_county, local, put_activity
from tests.deputies.deputy_world import add_group, signed_in, text_of

HEBA = "河坝村人大代表联络站"


async def _held(database, ac, *, people: int | None, opinions: int = 0, **kwargs) -> int:
    activity_id = await put_activity(database, ac, **kwargs)
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        await db.execute(update(Activity).where(Activity.id == activity_id).values(people_received=people))
        for n in range(opinions):
            db.add(Opinion(tenant_id=t, activity_id=activity_id, station_id=ac.stations[EAST],
                           received_on=kwargs["starts_at"].date(), content=f"意见{n}"))
    return activity_id


@pytest.fixture
async def ac(database):
    ac = await build_activity_county(database)
    group = await add_group(database, ac.county, "第一代表小组")
    await _held(database, ac, kind="reception", starts_at=local(2025, 1, 10), people=12, present=("张伟", "李娜"),
                opinions=2)
    await _held(database, ac, kind="reception", starts_at=local(2025, 1, 31, 23, 30), people=3)
    await _held(database, ac, kind="visit", starts_at=local(2025, 3, 5), people=None, present=("王强",))
    # half past midnight on New Year's Day in Beijing is still 2024 in UTC: it counts for January 2025
    await _held(database, ac, kind="survey", starts_at=local(2025, 1, 1, 0, 30), people=5)
    await _held(database, ac, kind="reception", starts_at=local(2024, 12, 31, 20), people=100)  # the year before
    await put_activity(database, ac, kind="reception", starts_at=local(2025, 11, 1), status="planned")
    await put_activity(database, ac, kind="reception", starts_at=local(2025, 5, 1), status="cancelled")
    await _held(database, ac, kind="reception", station=HEBA, starts_at=local(2025, 2, 2), people=7)
    await _held(database, ac, kind="training", station=HOME, starts_at=local(2025, 4, 4), people=20)
    await _held(database, ac, kind="meeting", station=None, group_id=group, starts_at=local(2025, 6, 6), people=0)
    return ac


def _scope(ac, role: str, username: str, **kw) -> Scope:
    return Scope(role=role, node_path=kw.get("node_path"), station_id=kw.get("station_id"),
                 user_id=ac.users[username].id)


async def test_county_figures(database, ac):
    async with database.session(tenant_id=ac.tenant.id) as db:
        s = await stats.build_stats(db, _scope(ac, "county_admin", "admin"), stats.Filters(2025), "Asia/Shanghai")
    assert (s.held, s.people, s.present, s.opinions, s.planned, s.cancelled) == (7, 47, 3, 2, 1, 1)
    assert {line.name: (line.held, line.people) for line in s.by_kind} == {
        "接待选民": (3, 22), "走访选区": (1, 0), "调研视察": (1, 5), "学习培训": (1, 20), "代表会议": (1, 0)}
    assert s.kinds[0][1] == "接待选民"  # the most held first
    reception = ac.kinds["reception"]
    assert s.matrix[reception] == {1: 2, 2: 1} and s.matrix[ac.kinds["survey"]] == {1: 1}
    assert s.people_by_month == {1: 20, 2: 7, 3: 0, 4: 20, 6: 0}
    lines = {line.key: (line.held, line.people, line.present, line.opinions) for line in s.by_station}
    assert lines == {ac.stations[EAST]: (4, 20, 3, 2), ac.stations[HOME]: (1, 20, 0, 0),
                     ac.stations[HEBA]: (1, 7, 0, 0), None: (1, 0, 0, 0)}
    assert s.by_station[-1].key is None  # deputy groups' activities last
    async with database.session(tenant_id=ac.tenant.id) as db:
        only = await stats.build_stats(db, _scope(ac, "county_admin", "admin"),
                                       stats.Filters(2025, kind=reception), "Asia/Shanghai")
        assert (only.held, only.people, only.planned, only.cancelled) == (3, 22, 1, 1)
        home = await stats.build_stats(db, _scope(ac, "county_admin", "admin"),
                                       stats.Filters(2025, station=ac.stations[HOME]), "Asia/Shanghai")
        assert (home.held, home.people) == (1, 20)
        before = await stats.build_stats(db, _scope(ac, "county_admin", "admin"), stats.Filters(2024), "Asia/Shanghai")
        assert (before.held, before.people) == (1, 100)


@pytest.mark.parametrize("username, held, people, stations", [
    ("admin", 7, 47, {EAST, HOME, HEBA, "Deputy group activities"}),
    ("viewer", 7, 47, {EAST, HOME, HEBA, "Deputy group activities"}),
    ("town", 5, 40, {EAST, HOME}),
    ("heba", 1, 7, {HEBA}),
    ("station", 4, 20, {EAST}),
])
async def test_the_page_in_each_members_scope(app, ac, username, held, people, stations):
    async with signed_in(app, ac.county, username) as client:
        r = await client.get(f"{client.base}/activities/stats?year=2025")
        assert r.status_code == 200
        text = text_of(r.text)
        assert f"Activities held {held} People received {people} " in text
        shown = {name for name in (EAST, HOME, HEBA, "Deputy group activities") if name in text.split("By station")[1]}
        assert shown == stations


@pytest.mark.parametrize("username", ["rep", "handler"])
async def test_deputies_and_handling_units_have_no_statistics(app, ac, username):
    async with signed_in(app, ac.county, username) as client:
        assert (await client.get(f"{client.base}/activities/stats")).status_code == 404


async def test_the_charts(app, ac):
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(f"{client.base}/activities/stats?year=2025")
    svgs = re.findall(r"<svg .*?</svg>", r.text, re.S)
    assert len(svgs) == 2
    kinds, people = (ET.fromstring(svg) for svg in svgs)
    ns = "{http://www.w3.org/2000/svg}"
    assert kinds.find(f"{ns}title").text == "Activities held by kind and month, 2025"
    assert "7 activities held" in kinds.find(f"{ns}desc").text
    assert "47 people received" in people.find(f"{ns}desc").text
    assert len(kinds.findall(f"{ns}rect")) == 6 + 5  # bars (kind × month with activities) and legend
    async with signed_in(app, ac.county, "admin") as client:
        empty = await client.get(f"{client.base}/activities/stats?year=2023")
    assert "<svg" not in empty.text and "No activity was held in this year." in empty.text


async def _queries(app, ac) -> int:
    async with signed_in(app, ac.county, "admin") as client:
        await client.get(f"{client.base}/activities/stats?year=2025")
        r = await client.get(f"{client.base}/activities/stats?year=2025")
        return int(r.headers["x-query-count"])


async def test_query_count_does_not_grow_with_activities(app, database, ac):
    before = await _queries(app, ac)
    for day in range(1, 29):
        await _held(database, ac, kind="aid", station=HOME if day % 2 else EAST, starts_at=local(2025, 9, day),
                    people=day, present=("赵敏",), opinions=1)
    assert await _queries(app, ac) == before
