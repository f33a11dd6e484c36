"""Attendance at a joint station rolled up into each member county: a joint activity (at the joint
station) invites deputies of both sides; every change that affects attendance (invitation, withdrawal,
sign-in by link and by staff, removal of a sign-in, record, reschedule, cancel) writes each county's own
`joint_attendance` rows — only its own deputies', with an audit entry there — and the county's
attendance page and yearly report list them in a part of their own. A third county has nothing, and a
county that withdrew gets nothing more."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.activities import records, services, signin
from app.activities.access import get_activity
from app.activities.models import ActivityKind, Invitation
from app.joint import agreements, deputies
from app.joint.agreements import joint_station_id
from app.activities.models import JointAttendance
from app.joint.models import JointDeputy
from app.stations.access import get_station
from app.tenancy.config import get_config
from app.tenancy.scope import Scope
from tests.factories import login
from tests.joint.test_deputies import deputy
from tests.joint.world import accepted, act, three_counties

TOPIC = "西江两岸护河联合巡查"


@pytest.fixture
async def world(database):
    a, b, c = await three_counties(database)
    agreement = await accepted(database, a, b)
    home = {"李代表": (a, await deputy(database, a, "李代表")), "周代表": (a, await deputy(database, a, "周代表")),
            "赵代表": (b, await deputy(database, b, "赵代表")), "钱代表": (b, await deputy(database, b, "钱代表"))}
    await deputy(database, c, "别县代表")
    for county in (a, b):
        await act(database, county, deputies.join, key=agreement.agreement_key,
                  deputy_ids=[d for n, (k, d) in home.items() if k is county])
    return a, b, c, agreement, home


def joint_admin(a) -> Scope:
    """The proposer's admin is a county admin of the joint tenant."""
    return Scope(role="county_admin", node_path=None, station_id=None, user_id=a.users["county_admin"].id)


async def local_ids(db) -> dict[str, int]:
    """The joint tenant's own deputies rows of the projections, by name."""
    rows = await db.execute(select(JointDeputy.name, JointDeputy.deputy_id))
    return {n: d for n, d in rows.all()}


async def joint_activity(database, a, agreement, *, kind: str = "coordination", names=("李代表", "周代表", "赵代表", "钱代表"),
                         starts_at: datetime | None = None, held: bool = False) -> int:
    joint = agreement.joint_tenant_id
    start = starts_at or datetime.now(timezone.utc) + timedelta(days=2)
    async with database.transaction(tenant_id=joint, user_id=a.users["county_admin"].id) as db:
        station = await get_station(db, joint_admin(a), await joint_station_id(db, joint))
        kind_id = await db.scalar(select(ActivityKind.id).where(ActivityKind.code == kind))
        ids = await local_ids(db)
        activity = await services.create_activity(
            db, joint_admin(a), tenant_id=joint, actor_id=a.users["county_admin"].id, station=station, group=None,
            new=services.NewActivity(kind_id=kind_id, starts_at=start, ends_at=start + timedelta(hours=2),
                                     place="龙圩镇会议室", topic=TOPIC, deputy_ids=tuple(ids[n] for n in names),
                                     held=held))
        return activity.id


async def rows_of(database, county) -> dict[int, JointAttendance]:
    """The county's own joint_attendance rows (read bound to the county), by the county's deputy id."""
    async with database.transaction(tenant_id=county.id) as db:
        return {r.deputy_id: r for r in (await db.scalars(select(JointAttendance))).all()}


async def audits(owner_sql, county) -> int:
    return (await owner_sql("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = $2", county.id,
                            "joint_attendance_rolled_up"))[0][0]


async def in_joint(database, a, agreement, activity_id, fn):
    async with database.transaction(tenant_id=agreement.joint_tenant_id, user_id=a.users["county_admin"].id) as db:
        ref = await get_activity(db, joint_admin(a), activity_id, for_update=True)
        result = await fn(db, ref)
        # every roll-up ends bound to the joint tenant it started in
        assert await db.scalar(select(ActivityKind.tenant_id).limit(1)) == agreement.joint_tenant_id
        return result


async def test_each_county_gets_exactly_its_own_deputies_rows(database, owner_sql, world):
    a, b, c, agreement, home = world
    activity_id = await joint_activity(database, a, agreement)
    rows_a, rows_b = await rows_of(database, a), await rows_of(database, b)
    assert set(rows_a) == {home["李代表"][1], home["周代表"][1]}
    assert set(rows_b) == {home["赵代表"][1], home["钱代表"][1]}
    row = rows_a[home["李代表"][1]]
    assert (row.joint_tenant_id, row.joint_activity_id, row.kind_name, row.topic, row.status, row.present) == (
        agreement.joint_tenant_id, activity_id, "站长协商会", TOPIC, "planned", False)
    assert row.joint_name == agreement.name
    assert await audits(owner_sql, a) == 1 and await audits(owner_sql, b) == 1
    # the third county has nothing, and no audit entry
    assert (await owner_sql("SELECT count(*) FROM joint_attendance WHERE tenant_id = $1", c.id))[0][0] == 0
    assert await audits(owner_sql, c) == 0
    assert await rows_of(database, c) == {}
    # every row carries the county's own tenant id and the county's own deputy ids
    for county in (a, b):
        ids = {r["deputy_id"] for r in await owner_sql("SELECT deputy_id FROM joint_attendance WHERE tenant_id = $1",
                                                       county.id)}
        assert ids == {d for k, d in home.values() if k is county}


async def test_sign_ins_removal_and_record_reach_the_home_county(database, owner_sql, world):
    a, b, c, agreement, home = world
    activity_id = await joint_activity(database, a, agreement)
    async with database.transaction(tenant_id=agreement.joint_tenant_id) as db:
        ids = await local_ids(db)
        token = await db.scalar(select(Invitation.token).where(Invitation.deputy_id == ids["李代表"]))
        config = await get_config(db, agreement.joint_tenant_id)
    start = (await rows_of(database, a))[home["李代表"][1]].starts_at
    tz = ZoneInfo("Asia/Shanghai")
    async with database.transaction(tenant_id=agreement.joint_tenant_id) as db:  # the personal link, no account
        view = await signin.link_view(db, token)
        assert await signin.sign_in_by_link(db, view, config, tz, now=start + timedelta(minutes=5)) is not None
    li = (await rows_of(database, a))[home["李代表"][1]]
    assert (li.present, li.method, li.signed_at) == (True, "link", start + timedelta(minutes=5))
    assert not (await rows_of(database, a))[home["周代表"][1]].present
    await in_joint(database, a, agreement, activity_id, lambda db, ref: signin.sign_in_on_behalf(
        db, joint_admin(a), ref, deputy_id=str(ids["赵代表"]), reason="手机没电，站长核实后代签",
        actor_id=a.users["county_admin"].id, config=config, tz=tz, now=start + timedelta(minutes=10)))
    zhao = (await rows_of(database, b))[home["赵代表"][1]]
    assert (zhao.present, zhao.method, zhao.on_behalf_reason) == (True, "staff", "手机没电，站长核实后代签")
    # created, 李代表 signed in (the count present changes on b's rows too), 赵代表 signed in
    assert await audits(owner_sql, b) == 3
    # a wrong sign-in taken back
    await in_joint(database, a, agreement, activity_id, lambda db, ref: signin.remove_attendance(
        db, joint_admin(a), ref, str(ids["赵代表"]), reason="签错了人", actor_id=a.users["county_admin"].id))
    zhao = (await rows_of(database, b))[home["赵代表"][1]]
    assert (zhao.present, zhao.method, zhao.on_behalf_reason) == (False, None, "")
    # recorded as held
    await in_joint(database, a, agreement, activity_id, lambda db, ref: records.record_held(
        db, joint_admin(a), ref, notes="议定联合巡河", people="12", actor_id=a.users["county_admin"].id,
        now=start + timedelta(hours=1)))
    assert {r.status for r in (await rows_of(database, a)).values()} == {"held"}
    assert {r.status for r in (await rows_of(database, b)).values()} == {"held"}
    assert await rows_of(database, c) == {}


async def test_reschedule_uninvite_and_cancel_update_the_rows(database, owner_sql, world):
    a, b, c, agreement, home = world
    activity_id = await joint_activity(database, a, agreement)
    async with database.transaction(tenant_id=agreement.joint_tenant_id) as db:
        ids = await local_ids(db)
    before = (await rows_of(database, a))[home["李代表"][1]].starts_at
    later = before + timedelta(days=3)
    await in_joint(database, a, agreement, activity_id, lambda db, ref: services.reschedule(
        db, joint_admin(a), ref, starts_at=later, ends_at=later + timedelta(hours=1), reason="汛期推迟",
        actor_id=a.users["county_admin"].id))
    assert {r.starts_at for r in (await rows_of(database, a)).values()} == {later}
    assert {r.starts_at for r in (await rows_of(database, b)).values()} == {later}
    await in_joint(database, a, agreement, activity_id, lambda db, ref: services.withdraw(
        db, joint_admin(a), ref, ids["钱代表"], actor_id=a.users["county_admin"].id))
    assert set(await rows_of(database, b)) == {home["赵代表"][1]}
    assert len(await rows_of(database, a)) == 2
    await in_joint(database, a, agreement, activity_id, lambda db, ref: services.invite(
        db, joint_admin(a), ref, [ids["钱代表"]], actor_id=a.users["county_admin"].id))
    assert set(await rows_of(database, b)) == {home["赵代表"][1], home["钱代表"][1]}
    await in_joint(database, a, agreement, activity_id, lambda db, ref: services.edit(
        db, joint_admin(a), ref, place="江川镇", topic="改期后的协商会", responsible_user_id=None,
        actor_id=a.users["county_admin"].id))
    assert {r.topic for r in (await rows_of(database, b)).values()} == {"改期后的协商会"}
    await in_joint(database, a, agreement, activity_id, lambda db, ref: services.cancel(
        db, joint_admin(a), ref, reason="台风", actor_id=a.users["county_admin"].id))
    assert {r.status for r in (await rows_of(database, a)).values()} == {"cancelled"}
    assert {r.status for r in (await rows_of(database, b)).values()} == {"cancelled"}
    # create, reschedule, edit, cancel in both; withdraw and re-invite only in b
    assert await audits(owner_sql, a) == 4 and await audits(owner_sql, b) == 6
    assert await audits(owner_sql, c) == 0


async def test_a_county_that_withdrew_gets_nothing_more(database, owner_sql, world):
    a, b, c, agreement, home = world
    past = await joint_activity(database, a, agreement, starts_at=datetime.now(timezone.utc) - timedelta(days=3),
                                held=True)
    activity_id = await joint_activity(database, a, agreement)
    await act(database, b, agreements.withdraw, key=agreement.agreement_key)
    await in_joint(database, a, agreement, activity_id, lambda db, ref: services.cancel(
        db, joint_admin(a), ref, reason="一方退出", actor_id=a.users["county_admin"].id))
    assert {r.status for r in (await rows_of(database, a)).values() if r.joint_activity_id == activity_id} == {
        "cancelled"}
    # its history stays as it was; the coming activity its deputies no longer attend is gone from its records
    after = await owner_sql("SELECT joint_activity_id, status FROM joint_attendance WHERE tenant_id = $1", b.id)
    assert sorted(tuple(r) for r in after) == [(past, "held"), (past, "held")]


async def test_a_deputy_taken_out_is_uninvited_from_coming_activities(database, owner_sql, world):
    a, b, c, agreement, home = world
    past = await joint_activity(database, a, agreement, starts_at=datetime.now(timezone.utc) - timedelta(days=3),
                                held=True)
    coming = await joint_activity(database, a, agreement)
    zhao = home["赵代表"][1]
    await act(database, b, deputies.leave, key=agreement.agreement_key, deputy_id=zhao)
    rows = await owner_sql("SELECT joint_activity_id FROM joint_attendance WHERE tenant_id = $1 AND deputy_id = $2",
                           b.id, zhao)
    assert [r["joint_activity_id"] for r in rows] == [past]  # the coming one is no longer in b's records
    open_ = await owner_sql("SELECT activity_id, count(*) FILTER (WHERE withdrawn_at IS NULL) AS n FROM activity_invitations "
                            "WHERE tenant_id = $1 GROUP BY activity_id ORDER BY activity_id", agreement.joint_tenant_id)
    assert [(r["activity_id"], r["n"]) for r in open_] == [(past, 4), (coming, 3)]
    events = await owner_sql("SELECT data FROM activity_events WHERE tenant_id = $1 AND activity_id = $2 "
                             "AND action = 'uninvited'", agreement.joint_tenant_id, coming)
    assert len(events) == 1 and json.loads(events[0]["data"])["left_joint_station"] is True


async def test_the_countys_pages_show_the_joint_station_part(client, database, world):
    a, b, c, agreement, home = world
    start = datetime.now(timezone.utc) - timedelta(days=1)
    if start.astimezone(ZoneInfo("Asia/Shanghai")).year != datetime.now(ZoneInfo("Asia/Shanghai")).year:
        start = datetime.now(timezone.utc) - timedelta(hours=1)
    joint = agreement.joint_tenant_id
    async with database.transaction(tenant_id=joint, user_id=a.users["county_admin"].id) as db:
        station = await get_station(db, joint_admin(a), await joint_station_id(db, joint))
        kind_id = await db.scalar(select(ActivityKind.id).where(ActivityKind.code == "mediation"))
        ids = await local_ids(db)
        activity = await services.create_activity(
            db, joint_admin(a), tenant_id=joint, actor_id=a.users["county_admin"].id, station=station, group=None,
            new=services.NewActivity(kind_id=kind_id, starts_at=start, ends_at=start + timedelta(hours=1), topic=TOPIC,
                                     held=True, deputy_ids=(ids["李代表"], ids["赵代表"])))
        ref = await get_activity(db, joint_admin(a), activity.id, for_update=True)
        await signin.sign_in_on_behalf(db, joint_admin(a), ref, deputy_id=str(ids["李代表"]), reason="补录签到",
                                       actor_id=a.users["county_admin"].id, config=await get_config(db, joint),
                                       tz=ZoneInfo("Asia/Shanghai"), now=start + timedelta(hours=2))
    year = start.astimezone(ZoneInfo("Asia/Shanghai")).year
    client.cookies.set("lang", "en")
    assert (await login(client, "wuzhou-county")).status_code == 303
    li = home["李代表"][1]
    page = await client.get(f"/t/wuzhou/deputies/{li}/attendance?year={year}")
    assert page.status_code == 200
    assert "At joint stations" in page.text and agreement.name in page.text and TOPIC in page.text
    assert "补录签到" in page.text and "边界纠纷调解" in page.text
    assert "present at 1 of 1 activities" in page.text
    report = await client.get(f"/t/wuzhou/deputies/{li}/attendance/{year}/report")
    assert report.status_code == 200 and "At joint stations" in report.text and agreement.name in report.text
    csv = await client.get(f"/t/wuzhou/deputies/{li}/attendance/{year}/report.csv")
    assert "在联合联络站的活动" in csv.text and TOPIC in csv.text
    # the county's own deputy without joint activities: no such part
    zhou = home["周代表"][1]
    assert "At joint stations" not in (await client.get(f"/t/wuzhou/deputies/{zhou}/attendance?year={year}")).text
    # the other county's deputy is not reachable from this county
    assert (await client.get(f"/t/wuzhou/deputies/{home['赵代表'][1]}/attendance")).status_code == 404


async def test_the_personal_link_over_http_reaches_the_home_county(client, database, owner_sql, world):
    a, b, c, agreement, home = world
    soon = datetime.now(timezone.utc) + timedelta(minutes=20)  # sign-in is open an hour before the start
    activity_id = await joint_activity(database, a, agreement, names=("赵代表",), starts_at=soon)
    async with database.transaction(tenant_id=agreement.joint_tenant_id) as db:
        token = await db.scalar(select(Invitation.token))
    done = await client.post(f"/signin/liangguang/{token}", follow_redirects=False)
    assert done.status_code == 303 and "set-cookie" not in done.headers
    zhao = (await rows_of(database, b))[home["赵代表"][1]]
    assert (zhao.present, zhao.method) == (True, "link")
    assert await rows_of(database, a) == {} and await rows_of(database, c) == {}
    entries = await owner_sql("SELECT actor_user_id, target FROM audit_log WHERE tenant_id = $1 AND action = $2 "
                              "ORDER BY id", b.id, "joint_attendance_rolled_up")
    assert [e["actor_user_id"] for e in entries] == [a.users["county_admin"].id, None]
    assert {e["target"] for e in entries} == {f"joint_activity:{agreement.joint_tenant_id}:{activity_id}"}
