"""The worker's hourly per-tenant jobs visit only the tenants with work due (issue 20): the reminder
producers (`run_scheduled`), the purge of expired county exports and of binder workbooks. Counties
that have nothing to do cost no transaction and no query of their own: a run costs the same number
of queries among 5 idle counties as among 305."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import text

from app.binder.builds import purge_expired as purge_binders
from app.core.db import query_counter
from app.data.exports import purge_expired as purge_exports
from app.jobs.scheduled import run_scheduled
from tests.activities.world import TZ
from tests.cases.world import build_case_county, put_case
from tests.notify.test_scheduled import configure, rows

WEDNESDAY = datetime(2026, 11, 18, 10, 0, tzinfo=TZ)


async def idle_counties(owner_sql, n: int, start: int) -> None:
    """Counties that signed up and entered nothing yet (cheap rows: the jobs need no more)."""
    await owner_sql(
        "INSERT INTO tenants (slug, name, division_code, kind, status) "
        "SELECT 'idle' || n, '空闲' || n || '县', '510722', 'county', 'active' FROM generate_series($1::int, $2::int) n",
        start, start + n - 1)


async def counted(job) -> tuple[object, int]:
    counter = [0]
    token = query_counter.set(counter)
    try:
        return await job, counter[0]
    finally:
        query_counter.reset(token)


async def due(database, at: datetime) -> list[int]:
    async with database.transaction() as db:
        return list((await db.scalars(text("SELECT tenant_id FROM scheduled_due_tenants(:at)"), {"at": at})).all())


async def test_hourly_jobs_cost_the_same_among_few_and_many_idle_counties(database, owner_sql):
    cc = await build_case_county(database)
    t = cc.tenant.id
    await configure(database, t, mailbox_weekday=0, yearly_report_day=0)
    await put_case(database, cc, state="assigned", unit="transport", level="county", reply_due=date(2026, 11, 10))
    await idle_counties(owner_sql, 5, 1)
    # the county with an overdue case is visited, and its notice written once
    assert await due(database, WEDNESDAY) == [t]
    assert await run_scheduled(database, now=WEDNESDAY) == len(await rows(database, t)) > 0
    assert await due(database, WEDNESDAY + timedelta(hours=1)) == []

    async def hour(n: int) -> tuple[int, int, int]:
        at = WEDNESDAY + timedelta(hours=n)
        written, scheduled = await counted(run_scheduled(database, now=at))
        dropped, exports = await counted(purge_exports(database, now=at))
        touched, binders = await counted(purge_binders(database, now=at))
        assert (written, dropped, touched) == (0, 0, 0)
        return scheduled, exports, binders

    few = await hour(1)
    await idle_counties(owner_sql, 300, 6)
    many = await hour(2)
    assert few == many
    # one transaction each: the due tenants (none), and for exports the operator's own table too
    assert many[0] <= 2 and many[1] <= 3 and many[2] <= 2


async def test_a_county_is_visited_while_it_has_work_and_left_alone_after(database, owner_sql):
    """Each kind of due work names the county; done (rows written, case closed), it is not named."""
    cc = await build_case_county(database)
    t = cc.tenant.id
    await idle_counties(owner_sql, 3, 1)
    await configure(database, t, mailbox_weekday=0, yearly_report_day=0, case_rating_days=5)
    assert await due(database, WEDNESDAY) == []
    # an answer fed back a week ago, never rated: the rating period is over, the case closes unrated
    await put_case(database, cc, state="fed_back", unit="transport", fed_back_at=WEDNESDAY - timedelta(days=7))
    assert await due(database, WEDNESDAY) == [t]
    assert await run_scheduled(database, now=WEDNESDAY) == 1
    assert await due(database, WEDNESDAY) == []
    # a reply due tomorrow: the unit is told once (the county's window is two days)
    await put_case(database, cc, state="accepted", unit="transport", reply_due=date(2026, 11, 19))
    assert await due(database, WEDNESDAY) == [t]
    await run_scheduled(database, now=WEDNESDAY)
    assert await due(database, WEDNESDAY + timedelta(hours=1)) == []
    # the weekly mailbox reminder, on Wednesdays: due from Wednesday until the station is reminded
    await configure(database, t, mailbox_weekday=3)
    assert await due(database, WEDNESDAY - timedelta(days=1)) == []
    assert await due(database, WEDNESDAY) == [t]
    await run_scheduled(database, now=WEDNESDAY)
    assert await due(database, WEDNESDAY + timedelta(hours=1)) == []
    # a suspended county is not visited
    await put_case(database, cc, state="assigned", unit="transport", level="county", reply_due=date(2026, 11, 10))
    assert await due(database, WEDNESDAY) == [t]
    await owner_sql("UPDATE tenants SET status = 'suspended' WHERE id = $1", t)
    assert await due(database, WEDNESDAY) == []


async def test_expired_exports_and_workbooks_are_purged_in_their_county_only(database, owner_sql):
    cc = await build_case_county(database)
    t = cc.tenant.id
    await idle_counties(owner_sql, 3, 1)
    now = datetime.now(TZ)
    user = cc.users["admin"].id
    await owner_sql("INSERT INTO data_exports (tenant_id, status, requested_by, data, expires_at) "
                    "VALUES ($1, 'done', $2, 'zip', $3), ($1, 'done', $2, 'zip', $4)",
                    t, user, now - timedelta(hours=1), now + timedelta(days=1))
    await owner_sql("INSERT INTO binder_builds (tenant_id, requested_by, role, locale, year, status, data, expires_at, "
                    "created_at) VALUES ($1, $2, 'county_admin', 'zh_Hans', 2026, 'done', 'xlsx', $3, $4)",
                    t, user, now - timedelta(hours=1), now - timedelta(days=8))
    async with database.transaction() as db:
        assert list(await db.scalars(text("SELECT tenant_id FROM data_exports_expired_tenants(now())"))) == [t]
        assert list(await db.scalars(text(
            "SELECT tenant_id FROM binder_builds_purge_tenants(now(), now() - interval '30 days')"))) == [t]
    assert await purge_exports(database) == 1
    assert await purge_binders(database) == 1
    left = await owner_sql("SELECT count(*) AS n FROM data_exports WHERE data IS NOT NULL")
    assert left[0]["n"] == 1  # the one not yet expired
    async with database.transaction() as db:
        assert list(await db.scalars(text("SELECT tenant_id FROM data_exports_expired_tenants(now())"))) == []
        assert list(await db.scalars(text(
            "SELECT tenant_id FROM binder_builds_purge_tenants(now(), now() - interval '30 days')"))) == []
