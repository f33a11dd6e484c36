"""Points at county size: computing a quarter and a year, publishing a quarter and drafting the year's
appraisal cost the same number of queries for 4 deputies as for 30 with their records, each deputy's
figures different (bench/duties_bench.py prints the figures for 10,000)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.core.db import query_counter
from app.core.periods import parse_key
from app.deputies.services import Actor
from app.duties import appraisal, point_publishing, points
from app.tenancy.scope import Scope
from tests.activities.world import EAST, TZ, build_activity_county, local, put_activity
from tests.deputies.deputy_world import add_deputy, count
from tests.duties.points_world import put_entry, put_scheme

YEAR = datetime.now(TZ).year - 1  # a year whose quarters have all ended
WRITTEN = ("outbox", "short_links", "points_published", "points_publications", "appraisal_results", "appraisals")


@pytest.fixture
async def ac(database):
    ac = await build_activity_county(database)
    await put_scheme(database, ac)
    for n, name in enumerate(list(ac.deputies)):
        await put_records(database, ac, name, n)
    return ac


async def put_records(database, ac, name: str, n: int) -> None:
    """The deputy's year, different for each ``n``: speeches and an inspection (approved), a speech
    still waiting, a reception attended."""
    for k in range(n % 4 + 1):
        await put_entry(database, ac, name, "speech", date(YEAR, 10, 1 + k))
    await put_entry(database, ac, name, "inspection", date(YEAR, 1 + n % 12, 1 + n % 28))
    await put_entry(database, ac, name, "speech", date(YEAR, 11, 1 + n % 28), status="filed")
    await put_activity(database, ac, kind="reception", starts_at=local(YEAR, 10 + n % 3, 1 + n % 28),
                       present=(name,))


async def grow_to(database, ac, total: int) -> None:
    for n in range(len(ac.deputies), total):
        name = f"代表{n:02d}"
        ac.deputies[name] = await add_deputy(database, ac.county, name, station=EAST, mobile=f"139000000{n:02d}")
        await put_records(database, ac, name, n)


async def counted(database, ac, call) -> int:
    """The queries ``call(db)`` sends in one transaction (its set_config included)."""
    counter = [0]
    token = query_counter.set(counter)
    try:
        async with database.transaction(tenant_id=ac.tenant.id, user_id=ac.users["admin"].id) as db:
            await call(db)
    finally:
        query_counter.reset(token)
    return counter[0]


def admin(ac) -> Actor:
    user_id = ac.users["admin"].id
    return Actor(tenant_id=ac.tenant.id, user_id=user_id,
                 scope=Scope(role="county_admin", node_path=None, station_id=None, user_id=user_id))


async def compute_and_draft(database, ac, owner_sql) -> dict[str, int]:
    for table in WRITTEN:
        await owner_sql(f"DELETE FROM {table}")
    t, today = ac.tenant.id, datetime.now(TZ).date()
    due = (today + timedelta(days=30)).isoformat()
    return {
        "quarter": await counted(database, ac, lambda db: points.compute(db, t, parse_key(f"{YEAR}-Q4"), TZ)),
        "year": await counted(database, ac, lambda db: points.compute(db, t, parse_key(str(YEAR)), TZ)),
        "draft": await counted(database, ac, lambda db: appraisal.create_draft(
            db, admin(ac), year=str(YEAR), excellent="90", pass_="80", report_due=due, today=today, tz=TZ)),
    }


async def publish(database, ac, owner_sql) -> int:
    for table in WRITTEN:
        await owner_sql(f"DELETE FROM {table}")
    return await counted(database, ac, lambda db: point_publishing.publish(
        db, tenant_id=ac.tenant.id, tenant_name=ac.tenant.name, slug=ac.slug, actor_id=ac.users["admin"].id,
        key=f"{YEAR}-Q4", tz=TZ, now=datetime.now(timezone.utc)))


async def test_points_and_the_appraisal_draft_cost_the_same_queries_for_4_or_30_deputies(database, ac, owner_sql):
    few = await compute_and_draft(database, ac, owner_sql)
    assert await count(owner_sql, "appraisal_results") == 4
    await grow_to(database, ac, 30)
    many = await compute_and_draft(database, ac, owner_sql)
    assert await count(owner_sql, "appraisal_results") == 30
    assert few == many, (few, many)


async def test_publishing_a_quarter_costs_the_same_queries_for_4_or_30_deputies(database, ac, owner_sql):
    few = await publish(database, ac, owner_sql)
    await grow_to(database, ac, 30)
    many = await publish(database, ac, owner_sql)
    assert await count(owner_sql, "points_published") == 30
    # every deputy with a mobile or an account is told: 张伟 (inbox), 李娜 and the 26 added (SMS)
    assert await count(owner_sql, "(SELECT DISTINCT deputy_id FROM outbox WHERE subject = $1) AS told", "true",
                       f"points:{YEAR}-Q4") == 28
    assert few == many, (few, many)
