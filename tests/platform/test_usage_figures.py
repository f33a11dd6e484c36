"""The operator console's usage figures: the right counts per tenant, read in a number of queries that
does not grow with the number of tenants."""

from __future__ import annotations

from sqlalchemy import select

from app.core.db import query_counter
from app.platform import services
from tests.factories import make_tenant

OPEN, FINISHED = ("registered", "assigned", "replied"), ("closed", "merged", "forwarded", "suggestion")


async def _county(database, slug: str, *, stations: dict[str, int], deputies: dict[str, int],
                  cases: dict[str, int]):
    """A tenant with this many stations, deputies and cases in each status or state."""
    from app.cases.models import Case
    from app.deputies.models import Deputy
    from app.stations.models import Station, StationKind
    from app.tenancy.models import AdminNode

    tenant = await make_tenant(database, slug)
    async with database.transaction(tenant_id=tenant.id) as db:
        node_id = await db.scalar(select(AdminNode.id).limit(1))
        kind = StationKind(tenant_id=tenant.id, code="station", name="代表联络站", node_kinds=["county"])
        db.add(kind)
        await db.flush()
        db.add_all([Station(tenant_id=tenant.id, kind_id=kind.id, node_id=node_id, name=f"{slug}站{status}{i}",
                            status=status) for status, n in stations.items() for i in range(n)])
        db.add_all([Deputy(tenant_id=tenant.id, name=f"代表{status}{i}", status=status)
                    for status, n in deputies.items() for i in range(n)])
        db.add_all([Case(tenant_id=tenant.id, receipt_code=f"{slug[:3].upper()}{state[:3].upper()}{i}", source="phone",
                         content="路灯坏了", node_id=node_id, state=state)
                    for state, n in cases.items() for i in range(n)])
    return tenant


async def test_stations_deputies_and_open_cases_are_counted_per_tenant(database):
    await _county(database, "alpha", stations={"active": 3, "proposed": 1, "closed": 2},
                  deputies={"active": 4, "resigned": 1, "deceased": 1},
                  cases={**{s: 1 for s in OPEN}, **{s: 1 for s in FINISHED}})
    await _county(database, "beta", stations={"active": 1}, deputies={"active": 2}, cases={"clarifying": 5})
    async with database.session() as db:
        usage = {u.tenant.slug: u.figures for u in await services.tenants_with_usage(db)}
    quiet = {"sms_month": 0, "msg_unknown": 0, "msg_stuck": 0, "msg_failing": 0}
    assert usage["alpha"] == {"members": 0, "stations": 4, "deputies": 4, "open_cases": 3, **quiet}
    assert usage["beta"] == {"members": 0, "stations": 1, "deputies": 2, "open_cases": 5, **quiet}


async def _queries_for_usage(database) -> tuple[int, int]:
    counter = [0]
    token = query_counter.set(counter)
    try:
        async with database.session() as db:
            tenants = len(await services.tenants_with_usage(db))
    finally:
        query_counter.reset(token)
    return tenants, counter[0]


async def test_the_console_reads_usage_in_a_fixed_number_of_queries(database, owner_sql):
    await _county(database, "alpha", stations={"active": 1}, deputies={"active": 1}, cases={"registered": 1})
    few, queries_for_few = await _queries_for_usage(database)
    await owner_sql(
        "INSERT INTO tenants (slug, name, division_code, kind, status) "
        "SELECT 'bulk' || n, '县' || n, '510722', 'county', 'active' FROM generate_series(1, 60) n")
    many, queries_for_many = await _queries_for_usage(database)
    assert (few, many) == (1, 61)
    # The tenant list, one call for members/stations/deputies/open cases, one for SMS and messages
    # that need attention (+ the binding).
    assert queries_for_many == queries_for_few <= 4
