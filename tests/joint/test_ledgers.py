"""The joint station's own ledgers and statistics (in its tenant, for its staff of both sides): the case
register, the quarterly ledger, the statistics and the activities list show its cases — a referred one
with the county it went to — and its activities. The third county's admin reaches none of them."""

from __future__ import annotations

from app.cases import steps
from tests.joint.test_referrals import cases_of, handle, joint_case, refer, run, signed_in, world  # noqa: F401

PAGES = ("/cases", "/cases/register", "/cases/quarterly", "/cases/stats", "/activities", "/compliance")


async def test_the_joint_stations_ledgers_and_statistics(app, database, owner_sql, world):
    a, b, c, agreement = world
    joint_id, admin = agreement.joint_tenant_id, a.users["county_admin"]
    referred = await joint_case(database, agreement, admin)
    await refer(database, agreement, admin, referred, [b])
    [theirs] = await cases_of(owner_sql, b.id)
    await handle(database, b, theirs["id"], "排污口已封堵")
    await run(database, joint_id, admin, referred, steps.feed_back, channel="phone")
    await joint_case(database, agreement, admin)  # a second one, not yet referred
    base = f"/t/{agreement.slug}"
    async with signed_in(app, "fengkai-county") as client:  # the other side's admin, a county admin there too
        for path in PAGES:
            r = await client.get(base + path)
            assert r.status_code == 200, (path, r.text[:300])
        register = (await client.get(f"{base}/cases/register")).text
        rows = [row for row in register.split("<tr") if "造纸厂" in row]
        assert len(rows) == 2  # both cases raised at the joint station this month
        fed_back = next(row for row in rows if "Answer fed back" in row)
        assert b.tenant.name in fed_back and "排污口已封堵" in fed_back  # referred to, and its answer
        assert any("Registered" in row for row in rows)
        xlsx = await client.get(f"{base}/cases/register.xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    async with signed_in(app, "third-county") as client:
        for path in PAGES:
            assert (await client.get(base + path)).status_code in (403, 404), path
