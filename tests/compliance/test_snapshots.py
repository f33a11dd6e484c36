"""The county board from the worker's snapshot (app.compliance.snapshots): the same figures and
cells as the live evaluation, before and after records change (the worker's refresh run directly, as
the worker would), what the page says about its freshness, and a worker tick that costs nothing
where nothing changed."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update

from app.compliance import engine, services, snapshots
from app.compliance.models import VERDICTS
from app.compliance.snapshot_jobs import due_tenants, refresh_due
from app.cases.models import MailboxOpening
from app.deputies.models import DeputyGroup, StationDeputy
from app.stations.models import StationEvent
from app.core.periods import period_of
from tests.activities.world import EAST, HOME, build_activity_county, local, put_activity
from tests.compliance.compliance_world import (DISTRICT, JINZHONG, RULE_NAMES, member_scope, put_opinion, put_rules,
                                               put_station, put_suggestion)
from tests.deputies.deputy_world import add_deputy, signed_in, text_of

TZ = ZoneInfo("Asia/Shanghai")
TODAY = datetime.now(TZ).date()
GROUP_RULE = dict(code="group-four", name="代表小组每年四次活动", subject="group", kind_codes=["meeting", "visit"],
                  period="year", minimum=4)


@pytest.fixture
async def county(database):
    ac = await build_activity_county(database)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        group = DeputyGroup(tenant_id=ac.tenant.id, name="城关镇代表小组")
        db.add(group)
        await db.flush()
        ac.group_id = group.id
    for n in range(35):  # past one page of deputies (services.PER_PAGE)
        ac.deputies[f"代表{n:02d}"] = await add_deputy(database, ac.county, f"代表{n:02d}",
                                                     station=HOME if n % 3 else EAST)
    await add_deputy(database, ac.county, "无站代表")  # stationed nowhere: the county's own row
    ac.rules = await put_rules(database, ac, JINZHONG + DISTRICT + [GROUP_RULE])
    month = TODAY.replace(day=1)
    await put_activity(database, ac, kind="reception", starts_at=local(month.year, month.month, 1),
                       present=("张伟", "代表01"))
    await put_activity(database, ac, kind="visit", starts_at=local(month.year, month.month, 1, 15), station=HOME,
                       present=("代表01", "代表02"))
    await put_activity(database, ac, kind="meeting", starts_at=local(month.year, month.month, 1, 10), station=None,
                       group_id=ac.group_id)
    await put_opinion(database, ac, "李娜", month)
    await put_suggestion(database, ac, "代表03", month)
    # 东街社区 in operation for two months, its mailbox opened once since: the board flags missed weeks
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ago = datetime.now(timezone.utc) - timedelta(days=60)
        db.add(StationEvent(tenant_id=ac.tenant.id, station_id=ac.stations[EAST], action="activated", at=ago))
        db.add(MailboxOpening(tenant_id=ac.tenant.id, station_id=ac.stations[EAST], letters=2,
                              opened_at=datetime.now(timezone.utc) - timedelta(days=21)))
    return ac


def _cell(c) -> tuple | None:
    return None if c is None else (c.rule.id, c.subject.key, c.period.key, c.verdict, c.count, c.minimum,
                                   c.excluded, c.on_behalf, c.why)


def _shown(view: services.View) -> dict:
    """Everything the county level shows, in order."""
    return {
        "summaries": [(r.id, p.key, {v: n[v] for v in VERDICTS}) for r, p, n in view.summaries],
        "townships": [(t.name, t.node_id, {v: t.counts[v] for v in VERDICTS}) for t in view.townships],
        "groups": [(g.name, [_cell(c) for c in g.cells]) for g in view.groups],
        "deputies": [(d.name, d.deputy_id, [_cell(c) for c in d.cells]) for d in view.deputies],
        "total": view.deputies_total, "pages": view.pages,
        "mailbox": sorted((f.station_id, f.name, f.path, f.missed) for f in view.mailbox.flags.values()),
    }


QUERIES = [{}, {"page": 2}, {"page": 99}] + [{"verdict": v} for v in VERDICTS] + [{"verdict": "open", "page": 2}]


async def _compare(database, ac, username: str = "admin", today: date = TODAY, rules=()) -> list:
    """Each query's board from the snapshot and live; returns the snapshot's stamps."""
    scope = await member_scope(database, ac, username)
    stamps = []
    queries = QUERIES + [{"rule": str(rid)} for rid in rules] + [{"rule": str(rid), "verdict": "met"} for rid in rules]
    for params in queries:
        page = params.pop("page", 1)
        q = services.Query.read(page=page, **params)
        async with database.transaction(tenant_id=ac.tenant.id, user_id=ac.users[username].id) as db:
            snap = await services.build_view(db, scope, ac.tenant, q, today=today)
            live = await services.build_view(db, scope, ac.tenant, q, today=today, live=True)
        assert snap.stamp is not None, params  # the snapshot answered
        assert live.stamp is None
        assert _shown(snap) == _shown(live), (params, page)
        stamps.append(snap.stamp)
    return stamps


async def test_snapshot_board_equals_the_live_one_before_and_after_changes(database, county):
    assert county.tenant.id in await due_tenants(database, datetime.now(timezone.utc))  # no snapshot yet
    assert await refresh_due(database) >= 1
    assert county.tenant.id not in await due_tenants(database, datetime.now(timezone.utc))
    stamps = await _compare(database, county, rules=county.rules.values())
    assert not any(s.stale for s in stamps)
    assert await _compare(database, county, "viewer")
    scope = await member_scope(database, county, "admin")
    async with database.transaction(tenant_id=county.tenant.id) as db:
        view = await services.build_view(db, scope, county.tenant, services.Query())
    assert view.mailbox.missed(county.stations[EAST]) > 0  # from the snapshot, as the live board has it
    # the county home's figures come from the same snapshot and agree with the live board
    scope = await member_scope(database, county, "admin")
    async with database.transaction(tenant_id=county.tenant.id) as db:
        home = await snapshots.verdict_counts(db, scope, county.tenant.id, TODAY, 10)
        board = await engine.evaluate(db, scope, tz=TZ, today=TODAY, at_risk_days=10)
    assert home == board.summary() and home["met"] > 0
    # any day of the same periods: verdicts are decided from the stored counts by that day's yardstick
    last = period_of("month", TODAY).last
    if last != TODAY:
        await _compare(database, county, today=last)

    # records change: an activity held, an attendance, an opinion, a deputy moved, a station opened
    month = TODAY.replace(day=1)
    await put_activity(database, county, kind="visit", starts_at=local(month.year, month.month, 1, 16),
                       present=("李娜", "代表04"))
    await put_opinion(database, county, "代表05", month)
    async with database.transaction(tenant_id=county.tenant.id) as db:
        await db.execute(update(StationDeputy).where(StationDeputy.deputy_id == county.deputies["代表06"])
                         .values(ended_at=datetime.now(timezone.utc)))
    await put_station(database, county, "河坝村联络站", "河坝村")
    assert county.tenant.id in await due_tenants(database, datetime.now(timezone.utc))
    scope = await member_scope(database, county, "admin")
    async with database.transaction(tenant_id=county.tenant.id) as db:
        stale = await services.build_view(db, scope, county.tenant, services.Query())
    assert stale.stamp is not None and stale.stamp.stale  # the old figures, said to be updating

    assert await refresh_due(database) >= 1
    stamps = await _compare(database, county, rules=county.rules.values())
    assert not any(s.stale for s in stamps)


async def test_views_the_snapshot_does_not_hold_are_live(database, county):
    await refresh_due(database)
    scope = await member_scope(database, county, "admin")
    last_year = TODAY.replace(year=TODAY.year - 1, day=1)
    town = county.county.nodes["城关镇"]
    for q in (services.Query(day=last_year), services.Query(key=f"{TODAY.year - 1}"), services.Query(node_id=town),
              services.Query(station_id=county.stations[EAST]), services.Query(deputy_id=county.deputies["李娜"])):
        async with database.transaction(tenant_id=county.tenant.id) as db:
            view = await services.build_view(db, scope, county.tenant, q)
        assert view.stamp is None, q
    # township staff see their scope only: always live
    heba = await member_scope(database, county, "heba")
    async with database.transaction(tenant_id=county.tenant.id) as db:
        assert (await services.build_view(db, heba, county.tenant, services.Query())).stamp is None
    # a rule changed in what it counts: the snapshot no longer holds until the worker recomputes it
    async with database.transaction(tenant_id=county.tenant.id) as db:
        await db.execute(text("UPDATE activity_rules SET kind_codes = ARRAY['visit', 'reception'] WHERE id = :r"),
                         {"r": county.rules["deputy-constituency"]})
        view = await services.build_view(db, scope, county.tenant, services.Query())
    assert view.stamp is None
    await refresh_due(database)
    await _compare(database, county)


async def test_board_page_says_when_figures_were_computed(app, database, county):
    await refresh_due(database)
    async with signed_in(app, county.county, "admin") as client:
        page = text_of((await client.get(f"{client.base}/compliance")).text)
        assert "Figures as of" in page and "being recomputed" not in page
        await put_opinion(database, county, "代表07", TODAY.replace(day=1))
        page = text_of((await client.get(f"{client.base}/compliance")).text)
        assert "Figures as of" in page and "being recomputed" in page
        # the export is evaluated as of now: the new opinion is counted in it already
        rows = list(csv.reader(io.StringIO((await client.get(f"{client.base}/compliance/export.csv")).text)))
        assert [r[4] for r in rows if r[3] == "代表07" and r[0] == RULE_NAMES["jz-opinion"]] == ["1"]
        await refresh_due(database)
        page = text_of((await client.get(f"{client.base}/compliance")).text)
        assert "Figures as of" in page and "being recomputed" not in page
        # the township level is live, without the stamp
        town = county.county.nodes["城关镇"]
        assert "Figures as of" not in text_of((await client.get(f"{client.base}/compliance?node={town}")).text)


async def test_a_tick_without_changes_refreshes_nothing(database, county, owner_sql):
    await refresh_due(database)
    before = await owner_sql("SELECT computed_at FROM compliance_snapshots WHERE tenant_id = $1", county.tenant.id)
    assert await refresh_due(database) == 0
    after = await owner_sql("SELECT computed_at FROM compliance_snapshots WHERE tenant_id = $1", county.tenant.id)
    assert before == after
    # a no-op update marks nothing; the end of a rule's period does
    async with database.transaction(tenant_id=county.tenant.id) as db:
        await db.execute(text("UPDATE deputies SET name = name"))
    assert county.tenant.id not in await due_tenants(database, datetime.now(timezone.utc))
    expires = (await owner_sql("SELECT expires_at FROM compliance_snapshots WHERE tenant_id = $1",
                               county.tenant.id))[0]["expires_at"]
    week_end = datetime.combine(TODAY + timedelta(days=7 - TODAY.weekday()), time.min, tzinfo=TZ)
    assert expires == min([period_of(k, TODAY).bounds(TZ)[1] for k in ("month", "quarter", "year")] + [week_end])
    assert county.tenant.id in await due_tenants(database, expires + timedelta(seconds=1))
