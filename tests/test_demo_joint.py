"""The demo's joint station across the Guangxi–Guangdong border (app/demo/joint.py): 八步区 and 封开县
with their deputies, the joint preset applied, a held 站长协商会 with its resolutions and the attendance of
both sides (by link and by 铺门镇's staff with a reason), rolled up into each county; a coming mediation;
a pollution report referred to 封开县 and assigned to its environment unit, whose login sees it."""

from __future__ import annotations

from app.demo import load_demo
from app.demo.joint import MEDIATION_TOPIC, MEETING_TOPIC, POLLUTION
from tests.test_demo import sign_in


async def slug_ids(owner_sql) -> dict[str, int]:
    return {r[0]: r[1] for r in await owner_sql("SELECT slug, id FROM tenants")}


async def test_the_demo_has_the_joint_station(client, database, owner_sql):
    await load_demo(database)
    ids = await slug_ids(owner_sql)
    joint, babu, fengkai = ids["pumen-fengkai"], ids["babu"], ids["fengkai"]
    deputies = {r[0]: r[1] for r in await owner_sql(
        "SELECT t.slug, count(*) FROM deputies d JOIN tenants t ON t.id = d.tenant_id GROUP BY 1")}
    assert (deputies["babu"], deputies["fengkai"], deputies["pumen-fengkai"]) == (6, 6, 8)
    stationed = await owner_sql("""SELECT count(*) FROM station_deputies sd JOIN stations s
                                   ON s.tenant_id = sd.tenant_id AND s.id = sd.station_id
                                   WHERE sd.tenant_id = $1 AND s.kind_id IN (SELECT id FROM station_kinds k
                                   WHERE k.tenant_id = $1 AND k.code = 'home')""", babu)
    assert stationed[0][0] >= 2  # some stationed at a township's home

    [meeting] = await owner_sql("""SELECT a.id, a.status, a.notes, k.code FROM activities a JOIN activity_kinds k
                                   ON k.tenant_id = a.tenant_id AND k.id = a.kind_id
                                   WHERE a.tenant_id = $1 AND a.topic = $2""", joint, MEETING_TOPIC)
    assert (meeting["status"], meeting["code"]) == ("held", "coordination") and "议定" in meeting["notes"]
    methods = {r[0]: r[1] for r in await owner_sql(
        "SELECT method, count(*) FROM attendances WHERE tenant_id = $1 AND activity_id = $2 GROUP BY 1",
        joint, meeting["id"])}
    assert methods == {"link": 5, "staff": 2}
    rolled = {r[0]: (r[1], r[2]) for r in await owner_sql(
        """SELECT tenant_id, count(*), count(*) FILTER (WHERE method = 'staff') FROM joint_attendance
           WHERE joint_activity_id = $1 AND present GROUP BY 1""", meeting["id"])}
    assert rolled == {babu: (4, 1), fengkai: (3, 1)}
    [coming] = await owner_sql("""SELECT a.status, k.code, a.starts_at > now() AS ahead FROM activities a
                                  JOIN activity_kinds k ON k.tenant_id = a.tenant_id AND k.id = a.kind_id
                                  WHERE a.tenant_id = $1 AND a.topic = $2""", joint, MEDIATION_TOPIC)
    assert tuple(coming) == ("planned", "mediation", True)

    [case] = await owner_sql("SELECT id, state, content FROM cases WHERE tenant_id = $1", joint)
    assert (case["state"], case["content"]) == ("referred", POLLUTION)
    [theirs] = await owner_sql("""SELECT c.id, c.state, c.person_mobile, h.code FROM cases c JOIN handling_units h
                                  ON h.tenant_id = c.tenant_id AND h.id = c.handling_unit_id
                                  WHERE c.tenant_id = $1""", fengkai)
    assert (theirs["state"], theirs["person_mobile"], theirs["code"]) == ("assigned", None, "huanbao")
    [referral] = await owner_sql("SELECT state, county_case_id FROM joint_referrals WHERE tenant_id = $1", joint)
    assert tuple(referral) == ("assigned", theirs["id"])
    assert (await owner_sql("SELECT count(*) FROM cases WHERE tenant_id = $1", babu))[0][0] == 0

    # the logins: the unit sees its case, 铺门镇's staff the joint station's, the admins their county
    await sign_in(client, "fengkai-huanbao")
    assert (await client.get(f"/t/fengkai/cases/{theirs['id']}")).status_code == 200
    client.cookies.clear()
    await sign_in(client, "pumen-staff")
    page = await client.get(f"/t/pumen-fengkai/cases/{case['id']}")
    assert page.status_code == 200 and "封开县人大常委会" in page.text
    assert (await client.get(f"/t/pumen-fengkai/activities/{meeting['id']}")).status_code == 200
    for username, slug in (("babu-admin", "babu"), ("fengkai-admin", "fengkai")):
        client.cookies.clear()
        await sign_in(client, username)
        assert (await client.get(f"/t/{slug}/joint")).status_code == 200
        assert (await client.get("/t/pumen-fengkai/")).status_code == 200
