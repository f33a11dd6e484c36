"""Deputies in a joint station: each county chooses which of its deputies join; the joint tenant holds
only the agreed public fields (never the mobile or the work unit), kept in step by the job when the
county changes the deputy, removed when the deputy stops serving or the county withdraws — and the
county's own records are never touched."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.core.errors import Refusal
from app.core.images import StoredImage
from app.deputies.models import Deputy, Mandate
from app.joint import agreements, attendance, deputies
from app.joint.models import JointDeputy
from tests.joint.world import accepted, act, three_counties


async def deputy(database, county, name: str, *, levels=("county",), contact: str = "", photo: bool = False) -> int:
    async with database.transaction(tenant_id=county.id) as db:
        image = None
        if photo:
            image = StoredImage(tenant_id=county.id, media_type="image/webp", data=b"RIFF-photo", width=3, height=4)
            db.add(image)
            await db.flush()
        d = Deputy(tenant_id=county.id, name=name, mobile="13912340000", work_unit="某某公司", public_contact=contact,
                   photo_id=image.id if image else None)
        db.add(d)
        await db.flush()
        for level in levels:
            db.add(Mandate(tenant_id=county.id, deputy_id=d.id, level=level, term=18, direct=True))
        return d.id


async def projections(database, joint_id: int) -> dict[str, JointDeputy]:
    async with database.transaction(tenant_id=joint_id) as db:
        return {d.name: d for d in (await db.scalars(select(JointDeputy))).all()}


async def sync(database, county) -> int:
    async with database.transaction(tenant_id=county.id) as db:
        return await deputies.sync_county(db, county.id)


@pytest.fixture
async def world(database):
    a, b, c = await three_counties(database)
    agreement = await accepted(database, a, b)
    return a, b, c, agreement


async def test_a_county_joins_its_deputies_with_their_public_fields_only(database, owner_sql, world):
    a, b, c, agreement = world
    li = await deputy(database, a, "李代表", levels=("county", "township"), contact="龙圩镇人大办 0774-1234567",
                      photo=True)
    await deputy(database, a, "没加入的代表")
    await act(database, a, deputies.join, key=agreement.agreement_key, deputy_ids=[li])
    joined = await projections(database, agreement.joint_tenant_id)
    assert list(joined) == ["李代表"]
    row = joined["李代表"]
    assert (row.home_tenant_id, row.home_deputy_id, row.levels) == (a.id, li, ["county", "township"])
    assert row.public_contact == "龙圩镇人大办 0774-1234567" and row.photo_id is not None
    # the photo is the joint tenant's own copy; no mobile or work unit anywhere in the joint tenant
    assert await owner_sql("SELECT tenant_id FROM images WHERE id = $1 AND tenant_id = $2", row.photo_id,
                           agreement.joint_tenant_id)
    dumped = str(await owner_sql("SELECT * FROM joint_deputies"))
    assert "13912340000" not in dumped and "某某公司" not in dumped
    # the other member county sees the move in its history; a third county has nothing
    assert "deputies_joined" in [r[0] for r in await owner_sql(
        "SELECT action FROM joint_agreement_events WHERE tenant_id = $1", b.id)]
    assert await owner_sql("SELECT count(*) FROM joint_deputies WHERE tenant_id = $1", c.id) == [(0,)]


async def test_only_the_countys_own_serving_deputies_can_join(database, world):
    a, b, _, agreement = world
    theirs = await deputy(database, b, "对方代表")
    gone = await deputy(database, a, "已终止代表")
    async with database.transaction(tenant_id=a.id) as db:
        await db.execute(update(Deputy).where(Deputy.id == gone).values(status="resigned"))
    for ids in ([theirs], [gone], []):
        with pytest.raises(Refusal) as refused:
            await act(database, a, deputies.join, key=agreement.agreement_key, deputy_ids=ids)
        assert refused.value.message == deputies.DEPUTY_UNKNOWN
    assert await projections(database, agreement.joint_tenant_id) == {}


async def test_the_job_follows_the_countys_changes(database, world):
    a, _, _, agreement = world
    li = await deputy(database, a, "李代表")
    wang = await deputy(database, a, "王代表")
    await act(database, a, deputies.join, key=agreement.agreement_key, deputy_ids=[li, wang])
    assert await sync(database, a) == 0  # nothing changed, nothing written
    async with database.transaction(tenant_id=a.id) as db:
        await db.execute(update(Deputy).where(Deputy.id == li).values(name="李新代表", public_contact="站长电话"))
        await db.execute(update(Deputy).where(Deputy.id == wang).values(status="resigned"))
        db.add(Mandate(tenant_id=a.id, deputy_id=li, level="city", term=5, direct=False))
    assert await sync(database, a) == 2
    joined = await projections(database, agreement.joint_tenant_id)
    assert list(joined) == ["李新代表"]
    assert joined["李新代表"].levels == ["city", "county"] and joined["李新代表"].public_contact == "站长电话"
    # the county's own records are as the county left them
    async with database.transaction(tenant_id=a.id) as db:
        assert (await db.get(Deputy, (a.id, wang))).status == "resigned"


async def test_leaving_and_withdrawing_remove_the_projections(database, world):
    a, b, _, agreement = world
    li = await deputy(database, a, "李代表")
    zhao = await deputy(database, b, "赵代表")
    await act(database, a, deputies.join, key=agreement.agreement_key, deputy_ids=[li])
    await act(database, b, deputies.join, key=agreement.agreement_key, deputy_ids=[zhao])
    with pytest.raises(Refusal):  # a county cannot take out the other county's deputy
        await act(database, a, deputies.leave, key=agreement.agreement_key, deputy_id=zhao)
    await act(database, b, agreements.withdraw, key=agreement.agreement_key)
    assert list(await projections(database, agreement.joint_tenant_id)) == ["李代表"]
    async with database.transaction(tenant_id=b.id) as db:  # b's deputy is still b's
        assert (await db.get(Deputy, (b.id, zhao))).status == "active"


async def test_the_worker_job_syncs_every_member_county(database, world):
    a, b, _, agreement = world
    li, zhao = await deputy(database, a, "李代表"), await deputy(database, b, "赵代表")
    await act(database, a, deputies.join, key=agreement.agreement_key, deputy_ids=[li])
    await act(database, b, deputies.join, key=agreement.agreement_key, deputy_ids=[zhao])
    for county, d in ((a, li), (b, zhao)):
        async with database.transaction(tenant_id=county.id) as db:
            await db.execute(update(Deputy).where(Deputy.id == d).values(public_contact="新电话"))
    assert await deputies.sync_all(database) == 2
    assert {d.public_contact for d in (await projections(database, agreement.joint_tenant_id)).values()} == {"新电话"}
    assert await deputies.sync_all(database) == 0


async def test_only_counties_with_a_joint_station_are_synced(database, world):
    """The sync visits the counties holding an active agreement (one call, not a transaction per
    county): c, which has none, is not among them; the runtime role learns ids only."""
    from sqlalchemy import text

    a, b, c, _ = world
    async with database.transaction() as db:
        counties = set((await db.scalars(text("SELECT county_id FROM joint_syncing_counties()"))).all())
    assert counties == {a.id, b.id}


async def test_projected_deputies_are_deputies_of_the_joint_station(database, owner_sql, world):
    from app.deputies.models import StationDeputy
    from app.joint.agreements import joint_station_id

    a, _, _, agreement = world
    joint = agreement.joint_tenant_id
    li = await deputy(database, a, "李代表", levels=("county", "township"), contact="站里电话")
    await act(database, a, deputies.join, key=agreement.agreement_key, deputy_ids=[li])
    async with database.transaction(tenant_id=joint) as db:
        station = await joint_station_id(db, joint)
        local = await db.scalar(select(Deputy).where(Deputy.name == "李代表"))
        assert (local.status, local.public_contact, local.mobile) == ("active", "站里电话", None)
        assert sorted((await db.scalars(select(Mandate.level).where(Mandate.deputy_id == local.id))).all()) == [
            "county", "township"]
        assert (await db.scalar(select(StationDeputy.station_id).where(StationDeputy.deputy_id == local.id,
                                                                       StationDeputy.ended_at.is_(None)))) == station
        assert await attendance.home_counties(db, joint, [local.id]) == {local.id: (a.id, li)}
    # the joint station is in operation and its public page lists the deputy
    assert (await owner_sql("SELECT status FROM stations WHERE id = $1", station))[0][0] == "active"
    await act(database, a, deputies.leave, key=agreement.agreement_key, deputy_id=li)
    async with database.transaction(tenant_id=joint) as db:
        local = await db.scalar(select(Deputy).where(Deputy.name == "李代表"))
        assert local.status == "removed"  # kept for past attendance, out of the station
        assert await db.scalar(select(StationDeputy.id).where(StationDeputy.deputy_id == local.id,
                                                              StationDeputy.ended_at.is_(None))) is None


async def test_the_joint_stations_public_page_shows_both_sides_deputies(client, database, world):
    from app.joint.agreements import joint_station_id

    a, b, _, agreement = world
    await act(database, a, deputies.join, key=agreement.agreement_key,
              deputy_ids=[await deputy(database, a, "李代表", contact="龙圩镇人大办")])
    await act(database, b, deputies.join, key=agreement.agreement_key, deputy_ids=[await deputy(database, b, "赵代表")])
    async with database.transaction(tenant_id=agreement.joint_tenant_id) as db:
        station = await joint_station_id(db, agreement.joint_tenant_id)
    page = await client.get(f"/p/liangguang/stations/{station}")
    assert page.status_code == 200
    assert "李代表" in page.text and "赵代表" in page.text and "龙圩镇人大办" in page.text
    assert "13912340000" not in page.text
    assert (await client.get(f"/p/liangguang/stations/{station}/opinion")).status_code == 200
