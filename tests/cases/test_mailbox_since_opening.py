"""The mailbox check counts only the weeks since the station opened (its activation; a station set up
in operation from the start: its creation; an earlier logged opening: from then): a station put into
operation today has no missed week, one put into operation three weeks ago at most two."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.cases import mailbox
from app.cases.models import MailboxOpening
from app.stations.models import StationEvent
from tests.cases.world import EAST, HOME, build_case_county
from tests.deputies.deputy_world import signed_in, text_of

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 3, 18)  # a Wednesday; this week began on 16 March
LONG_AGO = datetime(2024, 6, 1, tzinfo=TZ)


async def _station_history(owner_sql, database, t: int, station_id: int, *, created: datetime,
                           activated: datetime | None) -> None:
    await owner_sql("UPDATE stations SET created_at = $1 WHERE id = $2", created, station_id)
    if activated is not None:
        async with database.transaction(tenant_id=t) as db:
            db.add(StationEvent(tenant_id=t, station_id=station_id, action="activated", from_status="filed",
                                to_status="active", at=activated))


async def test_weeks_before_the_activation_are_not_missed(database, owner_sql):
    cc = await build_case_county(database)
    t, east, home = cc.tenant.id, cc.stations[EAST], cc.stations[HOME]
    # 东街社区: proposed long ago, put into operation on the Wednesday three weeks back
    await _station_history(owner_sql, database, t, east, created=LONG_AGO,
                           activated=datetime(2026, 2, 25, 15, 0, tzinfo=TZ))
    # the home: in operation for years
    await _station_history(owner_sql, database, t, home, created=LONG_AGO, activated=LONG_AGO)
    async with database.session(tenant_id=t) as db:
        weeks = await mailbox.weekly_check(db, east, 12, TODAY, TZ)
        assert [w.status for w in weeks] == ["open", "missed", "missed"] + ["before"] * 9
        assert await mailbox.missed_weeks(db, east, 12, TODAY, TZ) == [date(2026, 3, 2), date(2026, 3, 9)]
        both = await mailbox.missed_weeks_by_station(db, [east, home], 12, TODAY, TZ)
        assert len(both[east]) == 2 and len(both[home]) == 11


async def test_activated_today_misses_no_week(database, owner_sql):
    cc = await build_case_county(database)
    t, east = cc.tenant.id, cc.stations[EAST]
    await _station_history(owner_sql, database, t, east, created=LONG_AGO,
                           activated=datetime(2026, 3, 18, 10, 0, tzinfo=TZ))
    async with database.session(tenant_id=t) as db:
        assert await mailbox.missed_weeks(db, east, 12, TODAY, TZ) == []
        assert await mailbox.missed_weeks_by_station(db, [east], 12, TODAY, TZ) == {}


async def test_an_opening_before_the_recorded_activation_counts_from_then(database, owner_sql):
    """The box opened five weeks ago shows the station was running already: the weeks since count."""
    cc = await build_case_county(database)
    t, east = cc.tenant.id, cc.stations[EAST]
    await _station_history(owner_sql, database, t, east, created=LONG_AGO,
                           activated=datetime(2026, 3, 17, 10, 0, tzinfo=TZ))
    async with database.transaction(tenant_id=t) as db:
        db.add(MailboxOpening(tenant_id=t, station_id=east, opened_at=datetime(2026, 2, 10, 9, 0, tzinfo=TZ), letters=0))
    async with database.session(tenant_id=t) as db:
        weeks = await mailbox.weekly_check(db, east, 12, TODAY, TZ)
    assert [w.status for w in weeks] == ["open", "missed", "missed", "missed", "missed", "opened"] + ["before"] * 6


async def test_a_station_set_up_in_operation_counts_from_its_creation(database, owner_sql):
    """No activation step (set up in operation, as a joint station is): its creation is the start."""
    cc = await build_case_county(database)
    t, east = cc.tenant.id, cc.stations[EAST]
    await _station_history(owner_sql, database, t, east, created=datetime(2026, 3, 9, 8, 0, tzinfo=TZ), activated=None)
    async with database.session(tenant_id=t) as db:
        weeks = await mailbox.weekly_check(db, east, 12, TODAY, TZ)
    assert [w.status for w in weeks] == ["open", "missed"] + ["before"] * 10


async def test_the_page_of_a_station_activated_today(app, database, owner_sql):
    cc = await build_case_county(database)
    t, east = cc.tenant.id, cc.stations[EAST]
    now = datetime.now(timezone.utc)
    await _station_history(owner_sql, database, t, east, created=now - timedelta(days=400), activated=now)
    async with signed_in(app, cc.county, "station") as client:
        page = await client.get(f"{client.base}/stations/{east}/mailbox")
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Mailbox not opened" not in text and "Weeks without an opening" not in text
        assert text.count("Before the station opened") == 11 and "Counted from the week of" in text
