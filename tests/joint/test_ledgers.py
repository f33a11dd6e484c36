"""The joint station's own ledgers and statistics (in its tenant, for its staff of both sides): the case
register, the quarterly ledger, the statistics and the activities list show its cases — a referred one
with the county it went to — and its activities. The third county's admin reaches none of them."""

from __future__ import annotations

from app.cases import steps
from tests.joint.test_referrals import cases_of, handle, joint_case, refer, run, signed_in, world  # noqa: F401

async def fed_back_case(database, owner_sql, world) -> int:
    """A case raised at the joint station, referred to 封开, answered there and fed back."""
    a, b, _, agreement = world
    admin = a.users["county_admin"]
    referred = await joint_case(database, agreement, admin)
    await refer(database, agreement, admin, referred, [b])
    [theirs] = await cases_of(owner_sql, b.id)
    await handle(database, b, theirs["id"], "排污口已封堵")
    await run(database, agreement.joint_tenant_id, admin, referred, steps.feed_back, channel="phone")
    return referred


PAGES = ("/cases", "/cases/register", "/cases/quarterly", "/cases/stats", "/activities", "/compliance")


async def test_the_joint_stations_ledgers_and_statistics(app, database, owner_sql, world):
    a, b, c, agreement = world
    joint_id, admin = agreement.joint_tenant_id, a.users["county_admin"]
    referred = await fed_back_case(database, owner_sql, world)
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


async def test_the_member_countys_page_shows_the_joint_stations_figures(app, database, owner_sql, world):
    """Ledgers shared: each member county's joint page shows the joint station's year in figures (read
    through the named function, audited in the joint tenant); without the share, nothing."""
    a, b, c, agreement = world
    joint_id, admin = agreement.joint_tenant_id, a.users["county_admin"]
    referred = await fed_back_case(database, owner_sql, world)
    await run(database, joint_id, admin, referred, steps.rate, satisfaction="satisfied")
    await joint_case(database, agreement, admin)
    key = agreement.agreement_key
    async with signed_in(app, "fengkai-county") as client:
        html = (await client.get(f"/t/fengkai/joint/{key}")).text
        figures = html.split('id="joint-figures"')[1].split("</section>")[0]
        assert "Opinions received</dt><dd>2" in figures and "Referred to your county</dt><dd>1" in figures
        assert "Answers fed back</dt><dd>1" in figures and "1 of 1 rated" in figures
    async with signed_in(app, "wuzhou-county") as client:
        figures = (await client.get(f"/t/wuzhou/joint/{key}")).text.split('id="joint-figures"')[1]
        assert "Referred to your county</dt><dd>0" in figures
    reads = await owner_sql("SELECT details->>'county' AS county FROM audit_log WHERE tenant_id = $1 "
                            "AND action = 'joint_ledger_read' ORDER BY id", joint_id)
    assert [r["county"] for r in reads] == [b.tenant.name, a.tenant.name]
    # without the share the page has no figures and reads nothing
    await owner_sql("UPDATE joint_agreements SET shares = '{deputies,activities,cases}' WHERE agreement_key = $1", key)
    async with signed_in(app, "fengkai-county") as client:
        assert 'id="joint-figures"' not in (await client.get(f"/t/fengkai/joint/{key}")).text
    assert len(await owner_sql("SELECT 1 FROM audit_log WHERE tenant_id = $1 AND action = 'joint_ledger_read'",
                               joint_id)) == 2
