"""The source scenario as a preset (app/presets/files/joint-hezhou-fengkai.toml, app/joint/presets.py): applied
through the agreement's services it gives a joint tenant with both sides' townships, the co-heads in
every copy of the agreement, the mediation and coordination kinds, the shared-river arrangement on the
station's page, the listed deputies projected and 铺门镇's staff at the joint station; applied again it
writes nothing; a third county sees nothing of it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.core.errors import Refusal
from app.joint.models import JointAgreement, JointDeputy
from app.joint.presets import apply_joint_preset, load_joint_preset, parse_joint_preset
from app.presets.services import PresetError
from tests.factories import login
from tests.joint.preset_world import JOINT, NOT_JOINED, counties, scenario

TABLES = ("tenants", "memberships", "admin_nodes", "stations", "station_kinds", "activity_kinds", "deputies",
          "deputy_mandates", "station_deputies", "joint_agreements", "joint_agreement_events", "joint_deputies",
          "audit_log", "images")


async def counts(owner_sql) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES)
    return {name: n for name, n in await owner_sql(sql)}


async def test_applying_twice_writes_nothing_the_second_time(database, owner_sql):
    s = await scenario(database)
    assert s.applied.created and s.applied.joint_tenant_id
    before = await counts(owner_sql)
    again = await apply_joint_preset(database, JOINT)
    assert (again.created, again.joint_tenant_id, again.agreement_key) == (
        False, s.applied.joint_tenant_id, s.applied.agreement_key)
    assert await counts(owner_sql) == before
    updated = await owner_sql("SELECT max(updated_at) FROM joint_agreements")
    await apply_joint_preset(database, load_joint_preset(JOINT))
    assert await owner_sql("SELECT max(updated_at) FROM joint_agreements") == updated


async def test_the_joint_tenant_holds_the_scenario(database, owner_sql):
    s = await scenario(database)
    joint_id = s.applied.joint_tenant_id
    [tenant] = await owner_sql("SELECT slug, name, kind, status FROM tenants WHERE id = $1", joint_id)
    assert tuple(tenant) == ("pumen-fengkai", "八步区铺门镇—封开县南丰金装长安省际人大代表联络站", "joint", "active")
    towns = {r[0] for r in await owner_sql(
        "SELECT name FROM admin_nodes WHERE tenant_id = $1 AND kind = 'township'", joint_id)}
    assert towns == {"贺州市八步区人大常委会·铺门镇", "封开县人大常委会·南丰镇", "封开县人大常委会·金装镇",
                     "封开县人大常委会·长安镇"}
    kinds = {r[0]: r[1] for r in await owner_sql(
        "SELECT code, name FROM activity_kinds WHERE tenant_id = $1", joint_id)}
    assert kinds["coordination"] == "站长协商会" and kinds["mediation"] == "边界纠纷调解"
    # every copy (both counties' and the joint tenant's) names the co-heads, deputy heads and staff of each side
    copies = await owner_sql("SELECT tenant_id, status, parties, shares FROM joint_agreements ORDER BY tenant_id")
    assert {c["tenant_id"] for c in copies} == {s.babu.id, s.fengkai.id, joint_id}
    for copy in copies:
        parties = {p["tenant_id"]: p for p in json.loads(copy["parties"])}
        assert copy["status"] == "active" and list(copy["shares"]) == ["deputies", "activities", "cases", "ledgers"]
        assert (parties[s.babu.id]["status"], parties[s.fengkai.id]["status"]) == ("proposer", "accepted")
        assert parties[s.babu.id]["co_heads"] == ["铺门镇人大主席 黄志坚"]
        assert parties[s.fengkai.id]["co_heads"] == ["南丰镇人大主席 梁永华", "金装镇人大主席 陈国强", "长安镇人大主席 李振东"]
        assert parties[s.fengkai.id]["towns"] == ["南丰镇", "金装镇", "长安镇"]
        assert len(parties[s.fengkai.id]["deputy_heads"]) == 3
        assert len(parties[s.babu.id]["staff"]) + len(parties[s.fengkai.id]["staff"]) == 3
    # the shared-river arrangement and the mediation platform are on the joint station's page
    [station] = await owner_sql("SELECT id, intro, reception_rule, status FROM stations WHERE tenant_id = $1", joint_id)
    assert "跨界河流联合监督" in station["intro"] and "边界矛盾纠纷联调" in station["intro"]
    assert station["status"] == "active" and station["reception_rule"] == "nth:2:wed"
    # the listed deputies of both sides are projected; the others are not
    names = {r[0]: r[1] for r in await owner_sql(
        "SELECT name, home_tenant_id FROM joint_deputies WHERE tenant_id = $1", joint_id)}
    assert len(names) == 8 and set(names.values()) == {s.babu.id, s.fengkai.id}
    assert not set(NOT_JOINED.values()) & set(names)
    # 铺门镇's township staff is station staff at the joint station, given by 八步区
    [m] = await owner_sql("""SELECT m.role, m.station_id, m.home_tenant_id FROM memberships m JOIN users u
                             ON u.id = m.user_id WHERE m.tenant_id = $1 AND u.username = 'pumen-staff'
                             AND m.revoked_at IS NULL""", joint_id)
    assert tuple(m) == ("station_staff", station["id"], s.babu.id)
    # every step is in the history of every copy
    actions = [r[0] for r in await owner_sql(
        "SELECT action FROM joint_agreement_events WHERE tenant_id = $1 ORDER BY at, id", s.fengkai.id)]
    assert actions[:3] == ["proposed", "accepted", "activated"]
    assert {"granted", "deputies_joined"} <= set(actions)


async def test_the_station_staff_and_the_public_see_both_sides(client, database):
    s = await scenario(database)
    await login(client, "pumen-staff")
    assert (await client.get("/t/pumen-fengkai/")).status_code == 200
    listing = await client.get("/t/pumen-fengkai/stations")
    assert listing.status_code == 200 and "省际人大代表联络站" in listing.text
    client.cookies.clear()
    index = await client.get("/p/pumen-fengkai/")
    assert index.status_code == 200
    async with database.transaction(tenant_id=s.applied.joint_tenant_id) as db:
        from app.joint.agreements import joint_station_id

        station = await joint_station_id(db, s.applied.joint_tenant_id)
    page = await client.get(f"/p/pumen-fengkai/stations/{station}")
    assert page.status_code == 200
    assert "覃海燕" in page.text and "梁桂英" in page.text and "跨界河流联合监督" in page.text


async def test_a_third_county_sees_nothing(client, database, owner_sql):
    s = await scenario(database)
    async with database.transaction(tenant_id=s.third.id) as db:
        assert (await db.scalars(select(JointAgreement))).all() == []
        assert (await db.scalars(select(JointDeputy))).all() == []
    for table in ("joint_agreements", "joint_agreement_events", "joint_deputies", "joint_attendance"):
        assert (await owner_sql(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", s.third.id))[0][0] == 0
    assert (await owner_sql("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action LIKE 'joint%'",
                            s.third.id))[0][0] == 0
    await login(client, "third-admin")
    assert (await client.get("/t/pumen-fengkai/")).status_code == 404
    listing = await client.get("/t/third/joint")  # the county's own list of joint stations: none
    assert listing.status_code == 200 and "铺门镇" not in listing.text and "pumen-fengkai" not in listing.text
    assert "省际" not in (await client.get("/t/third/")).text


async def test_a_bad_or_unready_preset_writes_nothing(database, owner_sql):
    with pytest.raises(PresetError):
        parse_joint_preset('[joint]\nname = "x"\nslug = "y"\n[[sides]]\ncounty = "babu"\n')
    with pytest.raises(PresetError):  # the counties are not there yet
        await apply_joint_preset(database, JOINT)
    await counties(database)
    bad = load_joint_preset(JOINT)
    bad.sides[1].towns = ["不存在镇"]
    before = await counts(owner_sql)

    with pytest.raises(Refusal):
        await apply_joint_preset(database, bad)
    assert await counts(owner_sql) == before


def test_the_command_line_tells_a_joint_preset_from_a_county_preset():
    from app.cli import _is_joint_preset

    assert _is_joint_preset("joint-hezhou-fengkai") and _is_joint_preset("app/presets/files/joint-hezhou-fengkai.toml")
    assert not _is_joint_preset("hezhou-babu") and not _is_joint_preset("standard")
    assert not _is_joint_preset("no-such-preset")
