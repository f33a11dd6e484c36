"""The verdicts of the rules, computed by the engine for a year of a station's history (the
acceptance test of issue 4: each of Jinzhong's ten rules met, at risk, missed, under way or not
started, with the edges of the periods)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from app.core.periods import parse_key, period_of, verdict
from app.stations.models import Station, StationKind
from tests.activities.world import EAST, HOME, build_activity_county, local, put_activity
from tests.compliance.compliance_world import (
    BEIJING, DISTRICT, JINZHONG, JINZHONG_EXPECTED, YIXING, board_as, put_opinion, put_rules, put_station, put_suggestion, verdicts,
)
from tests.deputies.deputy_world import add_group


@pytest.fixture
async def county(database):
    return await build_activity_county(database)


async def jinzhong_year(database, ac) -> None:
    """東街社区 in the first half of 2025, as of 25 June (10 days to the end of June and of Q2)."""
    put = lambda kind, when, **kw: put_activity(database, ac, kind=kind, starts_at=when, **kw)  # noqa: E731
    await put("reception", local(2025, 1, 31, 23, 30))   # last day of January, late: January's
    await put("reception", local(2025, 3, 1, 0, 10))     # first minutes of March: not February's
    for month in (4, 5):
        await put("reception", local(2025, month, 12))
    await put("visit", local(2025, 6, 3), present=("张伟",))
    await put("training", local(2025, 4, 10))
    await put("meeting", local(2025, 5, 20))
    await put("briefing", local(2025, 3, 5), present=("张伟", "李娜"))
    await put("survey", local(2025, 6, 10), status="planned")  # not held: not counted
    await put("exchange", local(2025, 6, 12), status="cancelled")
    await put_opinion(database, ac, "张伟", date(2025, 6, 2))
    await put_opinion(database, ac, "李娜", date(2025, 5, 31))
    await put_suggestion(database, ac, "李娜", date(2025, 3, 1))


async def test_the_ten_jinzhong_rules_as_of_late_june(database, county):
    await put_rules(database, county, JINZHONG)
    await jinzhong_year(database, county)
    board = await board_as(database, county, "admin", today=date(2025, 6, 25))
    east = verdicts(board, f"station:{county.stations[EAST]}")
    assert east == {
        "jz-reception": ("at_risk", 0),   # none yet in June, 5 days left
        "jz-visit": ("met", 1),
        "jz-survey": ("at_risk", 0),      # only a planned survey in Q2
        "jz-training": ("met", 1),
        "jz-meeting": ("met", 1),
        "jz-exchange": ("open", 0),       # the year is under way; the cancelled one does not count
        "jz-duty-report": ("open", 0),
    }
    zhang = verdicts(board, f"deputy:{county.deputies['张伟']}")
    assert zhang == {"jz-opinion": ("met", 1), "jz-suggestion": ("open", 0), "jz-briefing": ("met", 1)}
    li = verdicts(board, f"deputy:{county.deputies['李娜']}")
    assert li == {"jz-opinion": ("at_risk", 0), "jz-suggestion": ("met", 1), "jz-briefing": ("met", 1)}
    wang = verdicts(board, f"deputy:{county.deputies['王强']}")
    assert wang["jz-briefing"] == ("open", 0)
    cell = next(c for c in board.cells.values() if c.rule.code == "jz-reception" and c.subject.kind == "station"
                and c.subject.id == county.stations[EAST])
    assert (cell.minimum, cell.missing, cell.period.key) == (1, 1, "2025-06")
    # 城关镇's home is active too; 西村 (proposed) and 河坝村 (filed) are not in operation
    assert set(board.stations) == {county.stations[EAST], county.stations[HOME]}


async def test_month_edges_missed_and_not_started(database, county):
    await put_rules(database, county, JINZHONG)
    await jinzhong_year(database, county)
    today = date(2025, 6, 25)
    east = f"station:{county.stations[EAST]}"
    by_month = {}
    for key in ("2025-01", "2025-02", "2025-03", "2025-07"):
        board = await board_as(database, county, "admin", today=today, key=key)
        by_month[key] = verdicts(board, east)["jz-reception"]
        assert {c.rule.period for c in board.cells.values()} == {"month"}  # a month key: the monthly rules
    assert by_month == {"2025-01": ("met", 1), "2025-02": ("missed", 0), "2025-03": ("met", 1),
                        "2025-07": ("not_started", 0)}
    q1 = verdicts(await board_as(database, county, "admin", today=today, key="2025-Q1"), east)
    assert q1["jz-survey"] == ("missed", 0) and q1["jz-meeting"] == ("missed", 0)
    # a date chooses each rule's own period that contains it
    march = verdicts(await board_as(database, county, "admin", today=today, day=date(2025, 3, 15)), east)
    assert march["jz-reception"] == ("met", 1) and march["jz-training"] == ("missed", 0)
    assert march["jz-exchange"] == ("open", 0)


async def test_at_risk_edge_is_inclusive(database, county):
    await put_rules(database, county, JINZHONG[:1])
    east = f"station:{county.stations[EAST]}"
    ten_days = await board_as(database, county, "admin", today=date(2025, 6, 20), at_risk_days=10)
    eleven = await board_as(database, county, "admin", today=date(2025, 6, 19), at_risk_days=10)
    assert verdicts(ten_days, east)["jz-reception"] == ("at_risk", 0)
    assert verdicts(eleven, east)["jz-reception"] == ("open", 0)


async def test_min_deputies_excludes_an_activity_with_one_deputy(database, county):
    await put_rules(database, county, BEIJING)
    await put_activity(database, county, kind="reception", starts_at=local(2025, 2, 1), present=("张伟",))
    await put_activity(database, county, kind="visit", starts_at=local(2025, 5, 1), present=("张伟", "李娜"))
    await put_activity(database, county, kind="survey", starts_at=local(2025, 8, 1), present=("张伟", "李娜", "王强"))
    east = f"station:{county.stations[EAST]}"
    q1 = await board_as(database, county, "admin", today=date(2026, 1, 5), key="2025-Q1")
    cell = next(c for c in q1.cells.values() if c.subject.key == east)
    assert (cell.verdict, cell.count, cell.excluded, cell.missing) == ("missed", 0, 1, 1)
    year = await board_as(database, county, "admin", today=date(2026, 1, 5), key="2025")
    cell = next(c for c in year.cells.values() if c.subject.key == east)
    assert (cell.verdict, cell.count, cell.excluded, cell.missing) == ("missed", 2, 1, 2)


async def test_station_kinds_and_deputy_levels_limit_the_subjects(database, county):
    async with database.transaction(tenant_id=county.tenant.id) as db:
        home_kind = StationKind(tenant_id=county.tenant.id, code="home", name="代表之家", node_kinds=["township"])
        db.add(home_kind)
        await db.flush()
        await db.execute(update(Station).where(Station.id == county.stations[HOME]).values(kind_id=home_kind.id))
        assert await db.scalar(select(Station.kind_id).where(Station.id == county.stations[HOME])) == home_kind.id
    await put_rules(database, county, [
        dict(code="home-monthly", name="代表之家每月活动", subject="station", kind_codes=["reception"], period="month",
             minimum=1, station_kind_codes=["home"]),
        dict(code="city-visits", name="市代表每年走访", subject="deputy", kind_codes=["visit"], period="year",
             minimum=2, deputy_levels=["city"]),
    ], station_kinds={"station", "home"})
    board = await board_as(database, county, "admin", today=date(2025, 6, 1))
    subjects = {(c.rule.code, c.subject.key) for c in board.cells.values()}
    assert subjects == {("home-monthly", f"station:{county.stations[HOME]}"),
                        ("city-visits", f"deputy:{county.deputies['王强']}")}


async def test_group_and_district_rules(database, county):
    group = await add_group(database, county.county, "城关代表小组")
    await put_rules(database, county, YIXING + DISTRICT)
    for month in (2, 5, 8):
        await put_activity(database, county, kind="meeting", starts_at=local(2025, month, 3), station=None,
                           group_id=group, present=("王强",))
    await put_activity(database, county, kind="visit", starts_at=local(2025, 3, 3), present=("赵敏",))
    await put_activity(database, county, kind="visit", starts_at=local(2025, 9, 3), present=("赵敏", "张伟"))
    board = await board_as(database, county, "admin", today=date(2025, 10, 1))
    assert verdicts(board, f"group:{group}") == {"yx-group": ("open", 3)}
    assert verdicts(board, f"deputy:{county.deputies['赵敏']}") == {"deputy-constituency": ("met", 2)}
    assert verdicts(board, f"deputy:{county.deputies['张伟']}") == {"deputy-constituency": ("open", 1)}
    east = verdicts(board, f"station:{county.stations[EAST]}")
    # nothing yet in October: a month of 1 is under way; two studies a year expect 1 by now (pace, issue 17)
    assert east == {"yx-monthly": ("open", 0), "yx-study": ("at_risk", 0)}
    september = await board_as(database, county, "admin", today=date(2025, 10, 1), key="2025-09")
    assert verdicts(september, f"station:{county.stations[EAST]}") == {"yx-monthly": ("met", 1)}
    assert (await board_as(database, county, "admin", today=date(2026, 1, 2), key="2025")).summary()["missed"] >= 1


async def test_scope_of_the_board(database, county):
    await put_rules(database, county, JINZHONG)
    heba_station = await put_station(database, county, "河坝村第二联络站", "河坝村")
    today = date(2025, 6, 25)
    heba = await board_as(database, county, "heba", today=today)
    assert set(heba.stations) == {heba_station} and heba.groups == {}
    town = await board_as(database, county, "town", today=today)
    assert set(town.stations) == {county.stations[EAST], county.stations[HOME]}
    station = await board_as(database, county, "station", today=today)
    assert set(station.stations) == {county.stations[EAST]}
    rep = await board_as(database, county, "rep", today=today)
    assert set(rep.deputies) == {county.deputies["张伟"]} and rep.stations == {}
    assert {c.subject.key for c in rep.cells.values()} == {f"deputy:{county.deputies['张伟']}"}


def test_the_preset_ships_the_ten_rules():
    shipped = {r["code"]: (r["subject"], r.get("counts", "activities"), list(r.get("kind_codes") or []), r["period"],
                           int(r["minimum"])) for r in JINZHONG}
    expected = {r["code"]: (r["subject"], r["counts"], r["kind_codes"], r["period"], r["minimum"])
                for r in JINZHONG_EXPECTED}
    assert shipped == expected


def test_periods_and_verdicts():
    assert period_of("quarter", date(2026, 5, 9)).key == "2026-Q2"
    assert period_of("half", date(2026, 7, 1)).key == "2026-H2"
    assert parse_key("2026-02").last == date(2026, 2, 28)
    assert parse_key("2028-02").last == date(2028, 2, 29)
    assert parse_key("2026-13") is None and parse_key("2026-Q5") is None and parse_key("week") is None
    march = parse_key("2026-03")
    assert verdict(2, 1, march, date(2026, 1, 1), 10) == "met"
    assert verdict(0, 1, march, date(2026, 2, 28), 10) == "not_started"
    assert verdict(0, 1, march, date(2026, 4, 1), 10) == "missed"
