"""Notices of new work (issue 17), counted as a phone and an inbox receive them: the step queues a
notice, one sweep writes the inbox rows, and the SMS digest goes through the fake gateway at the end of
its half hour, saying how many items wait. The clock is moved by passing `now=`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.accounts.models import Membership, User
from app.cases import services, steps
from app.cases.codes import group_code
from app.cases.models import Case
from app.notify.models import Outbox, WorkNotice
from app.notify.sweep import sweep
from app.notify.work import case_kind
from app.stations import lifecycle
from app.stations.access import get_station
from app.stations.models import StationKind, StationStaff
from app.stations.services import create_station
from tests.activities.world import TZ
from tests.cases.wf_helpers import scope_for, step
from tests.cases.world import EAST, build_case_county, put_case
from tests.deputies.deputy_world import post, signed_in
from tests.factories import add_member, login, make_user
from tests.notify.reliability_helpers import set_config
from tests.notify.short_link_helpers import link_of
from tests.notify.test_pages_settings import GOOD, SETTINGS, settings_of
from tests.notify.test_sweep import channels

# Wednesday 18 November 2026, 10:05 in the county: the half hour ends at 10:30
NOW = datetime(2026, 11, 18, 10, 5, tzinfo=TZ)
WINDOW_END = datetime(2026, 11, 18, 10, 30, tzinfo=TZ)
UNIT_MOBILE = "13900000101"


@pytest.fixture
async def cc(database):
    cc = await build_case_county(database)
    await set_mobile(database, cc.users["transport"], UNIT_MOBILE)
    return cc


async def set_mobile(database, user, mobile: str) -> None:
    async with database.transaction() as db:
        await db.execute(update(User).where(User.id == user.id).values(mobile=mobile))


async def member(database, cc, username: str, role: str, scope: str | None = None):
    user = await make_user(database, f"{cc.slug}-{username}")
    await add_member(database, cc.tenant, user, role, scope=scope)
    cc.users[username] = user
    return user


async def liaison_officer(database, cc):
    """东街's liaison officer: a station_staff member of the station and its liaison on the station page."""
    user = await member(database, cc, "liaison", "station_staff")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        await db.execute(update(Membership).where(Membership.tenant_id == cc.tenant.id, Membership.user_id == user.id)
                         .values(station_id=cc.stations[EAST]))
        db.add(StationStaff(tenant_id=cc.tenant.id, station_id=cc.stations[EAST], role="liaison", user_id=user.id))
    return user


async def rows(database, cc, **where) -> list[Outbox]:
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        query = select(Outbox).order_by(Outbox.id)
        for key, value in where.items():
            query = query.where(getattr(Outbox, key) == value)
        return list((await db.scalars(query)).all())


async def told(database, cc, username: str) -> list[tuple[str, str]]:
    """(kind, channel) of every row written for one member."""
    return [(r.kind, r.channel) for r in await rows(database, cc, user_id=cc.users[username].id)]


async def run_sweep(database, gateway, at: datetime) -> dict:
    ch = channels(gateway)
    try:
        return await sweep(database, now=at, channels=ch)
    finally:
        await ch.aclose()


async def assign(database, cc, case_id: int, unit: str = "transport", by: str = "admin") -> None:
    await step(database, cc, by, case_id, steps.assign, unit_id=cc.units[unit], today=NOW.date())


async def county_cases(database, cc, n: int) -> list[int]:
    return [(await put_case(database, cc, level="county", content=f"第{i}件：村道坑洼")).id for i in range(n)]


async def test_a_public_opinion_reaches_the_liaison_officer_within_one_sweep(client, database, cc, sms_gateway):
    await liaison_officer(database, cc)
    r = await client.post(f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion",
                          data={"content": "东街路灯坏了，晚上很黑", "website": ""})
    assert r.status_code == 200
    assert await told(database, cc, "liaison") == []  # queued with the opinion, written by the sweep
    await run_sweep(database, sms_gateway, NOW)
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        case = await db.scalar(select(Case))
        assert await db.scalar(select(WorkNotice.id)) is None  # the queue is emptied
    [row] = await rows(database, cc, user_id=cc.users["liaison"].id)
    assert (row.kind, row.channel, row.status, row.subject) == ("work_new_case", "inapp", "sent", f"case:{case.id}")
    # the code as the person's receipt shows it (grouped, to read out on the phone)
    assert group_code(case.receipt_code) in row.body and "东街路灯坏了" in row.body and EAST in row.body
    assert await link_of(database, row.body) == f"/t/{cc.slug}/cases/{case.id}"
    # the station's other staff member too; the township and the county are not bothered
    assert await told(database, cc, "station") == [("work_new_case", "inapp")]
    assert await told(database, cc, "town") == [] and await told(database, cc, "admin") == []
    client.cookies.set("lang", "en")
    assert (await login(client, f"{cc.slug}-liaison")).status_code == 303
    page = (await client.get(f"/t/{cc.slug}/inbox")).text
    assert "New opinion" in page and group_code(case.receipt_code) in page


async def test_a_station_without_staff_leaves_it_to_the_township_and_the_actor_is_not_told(database, cc, sms_gateway):
    await liaison_officer(database, cc)
    scope = await scope_for(database, cc, "liaison")
    async with database.transaction(tenant_id=cc.tenant.id, user_id=cc.users["liaison"].id) as db:
        await services.register_case(db, scope, tenant_id=cc.tenant.id, actor_id=cc.users["liaison"].id,
                                     new=services.NewCase(content="村口路灯坏了", source="reception",
                                                          station_id=cc.stations[EAST]))
    await run_sweep(database, sms_gateway, NOW)
    assert await told(database, cc, "liaison") == []  # their own registration
    assert await told(database, cc, "station") == [("work_new_case", "inapp")]
    # 城关镇人大代表之家 has no staff: its opinions go to 城关镇's township staff
    await put_case(database, cc, station="城关镇人大代表之家")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        case = await db.scalar(select(Case).order_by(Case.id.desc()).limit(1))
        services.add_event(db, case, "registered", None, to_state="registered")
    await run_sweep(database, sms_gateway, NOW + timedelta(minutes=1))
    assert await told(database, cc, "town") == [("work_new_case", "inapp")]
    assert await told(database, cc, "heba") == [] and await told(database, cc, "admin") == []


async def test_five_assignments_in_a_window_make_five_inbox_rows_and_one_sms_saying_five(database, cc, sms_gateway):
    ids = await county_cases(database, cc, 6)
    for case_id in ids[:3]:
        await assign(database, cc, case_id)
    await run_sweep(database, sms_gateway, NOW)
    for case_id in ids[3:5]:
        await assign(database, cc, case_id)
    await run_sweep(database, sms_gateway, NOW + timedelta(minutes=5))
    inbox = await rows(database, cc, user_id=cc.users["transport"].id, channel="inapp")
    assert [r.kind for r in inbox] == ["work_assigned"] * 5
    assert {r.subject for r in inbox} == {f"case:{i}" for i in ids[:5]}
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        codes = set(await db.scalars(select(Case.receipt_code)))
    assert all(f"#{r.subject.split(':')[1]}" in r.body and not any(c in r.body for c in codes) for r in inbox)
    [digest] = await rows(database, cc, channel="sms")
    assert (digest.kind, digest.status, digest.address, digest.params["count"]) == (
        "digest_assigned", "pending", UNIT_MOBILE, "5")
    assert digest.due_at == WINDOW_END and "您有5件新交办的群众意见待接收" in digest.body
    assert await link_of(database, digest.body) == f"/t/{cc.slug}/cases?state=assigned"
    assert sms_gateway.messages() == []  # nothing before the half hour ends
    await run_sweep(database, sms_gateway, WINDOW_END)
    [sms] = sms_gateway.messages()
    assert (sms["mobile"], sms["template"], sms["params"]["count"]) == (UNIT_MOBILE, "LIANLUO_DIGEST_ASSIGNED", "5")
    # the admin who assigned them is told nothing
    assert await told(database, cc, "admin") == []
    # the next assignment starts the next half hour's digest
    await assign(database, cc, ids[5])
    await run_sweep(database, sms_gateway, WINDOW_END + timedelta(minutes=1))
    later = [r for r in await rows(database, cc, channel="sms") if r.status == "pending"]
    assert [(r.params["count"], r.due_at) for r in later] == [("1", WINDOW_END + timedelta(minutes=30))]
    assert len(sms_gateway.messages()) == 1


async def test_a_revoked_member_gets_nothing_and_the_county_switch_leaves_the_inbox_only(database, cc, sms_gateway):
    second = await member(database, cc, "transport2", "handling_unit")
    await set_mobile(database, second, "13900000102")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        await db.execute(update(Membership).where(Membership.tenant_id == cc.tenant.id, Membership.user_id == second.id)
                         .values(handling_unit_id=cc.units["transport"], revoked_at=NOW))
    await set_config(database, cc.tenant.id, notify_work=False)
    [case_id] = await county_cases(database, cc, 1)
    await assign(database, cc, case_id)
    await run_sweep(database, sms_gateway, NOW)
    assert await told(database, cc, "transport2") == []
    assert await told(database, cc, "transport") == [("work_assigned", "inapp")]
    await run_sweep(database, sms_gateway, WINDOW_END)
    assert await rows(database, cc, channel="sms") == [] and sms_gateway.messages() == []


async def test_the_evening_and_the_night_make_one_sms_in_the_morning(database, cc, sms_gateway):
    evening = datetime(2026, 11, 18, 21, 10, tzinfo=TZ)
    morning = datetime(2026, 11, 19, 8, 0, tzinfo=TZ)
    ids = await county_cases(database, cc, 2)
    await assign(database, cc, ids[0])
    await run_sweep(database, sms_gateway, evening)
    await assign(database, cc, ids[1])
    await run_sweep(database, sms_gateway, evening + timedelta(hours=2, minutes=30))
    [digest] = await rows(database, cc, channel="sms")
    assert (digest.params["count"], digest.due_at) == ("2", morning)
    await run_sweep(database, sms_gateway, morning - timedelta(minutes=1))
    assert sms_gateway.messages() == []
    await run_sweep(database, sms_gateway, morning)
    [sms] = sms_gateway.messages()
    assert sms["params"]["count"] == "2" and sms["template"] == "LIANLUO_DIGEST_ASSIGNED"


async def test_sent_back_and_supervised_reach_the_unit_whatever_the_step_is_called(database, cc, sms_gateway):
    assert case_kind("send_back", "closed", "assigned") == "case_sent_back"
    assert case_kind("rated_not_satisfied", "fed_back", "assigned") == "case_sent_back"
    assert case_kind("accept", "assigned", "accepted") is None
    assert case_kind("clarify", "clarifying", "accepted") is None
    back = await put_case(database, cc, level="county", state="fed_back", unit="transport")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        case = await db.get(Case, (cc.tenant.id, back.id))
        case.state = "assigned"
        services.add_event(db, case, "public_not_satisfied", None, from_state="fed_back", to_state="assigned")
    late = await put_case(database, cc, level="county", state="accepted", unit="transport",
                          reply_due=NOW.date() - timedelta(days=3))
    await step(database, cc, "admin", late.id, steps.supervise, note="请尽快答复", today=NOW.date())
    await run_sweep(database, sms_gateway, NOW)
    assert await told(database, cc, "transport") == [("work_sent_back", "inapp"), ("work_supervised", "inapp"),
                                                     ("digest_sent_back", "sms"), ("digest_supervised", "sms")]
    assert await told(database, cc, "ecology") == []


async def test_a_station_waiting_for_approval_tells_the_township_then_the_county(database, cc, sms_gateway):
    admin2 = await member(database, cc, "admin2", "county_admin")
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        kind_id = await db.scalar(select(StationKind.id))
    scope = await scope_for(database, cc, "admin")
    async with database.transaction(tenant_id=cc.tenant.id, user_id=cc.users["admin"].id) as db:
        station = await create_station(db, scope, tenant_id=cc.tenant.id, actor_id=cc.users["admin"].id,
                                       kind_id=kind_id, node_id=cc.ac.county.nodes["西村"], name="西村第二联络站")
        station_id = station.id
    await run_sweep(database, sms_gateway, NOW)
    [row] = await rows(database, cc, user_id=cc.users["town"].id)
    assert (row.kind, row.subject) == ("work_station", f"station:{station_id}") and "西村第二联络站" in row.body
    assert await link_of(database, row.body) == f"/t/{cc.slug}/stations/{station_id}"
    assert await told(database, cc, "heba") == [] and await told(database, cc, "admin") == []
    assert await rows(database, cc, user_id=admin2.id) == []
    # approved by the township: now the county files it
    town = await scope_for(database, cc, "town")
    async with database.transaction(tenant_id=cc.tenant.id, user_id=cc.users["town"].id) as db:
        ref = await get_station(db, town, station_id, for_update=True)
        await lifecycle.take_step(db, town, ref, step="approve", note="", actor_id=cc.users["town"].id)
    await run_sweep(database, sms_gateway, NOW + timedelta(minutes=1))
    assert await told(database, cc, "admin") == [("work_station", "inapp")]
    assert [r.kind for r in await rows(database, cc, user_id=admin2.id)] == ["work_station"]
    assert [r.kind for r in await rows(database, cc, user_id=cc.users["town"].id)] == ["work_station"]


async def test_the_county_switches_the_digests_off_on_its_notification_settings(app, database, cc):
    assert (await settings_of(database, cc.tenant.id)).notify_work is True  # on until the county says otherwise
    async with signed_in(app, cc.ac.county, "admin") as admin:
        page = (await admin.get(admin.base + SETTINGS)).text
        assert 'name="notify_work" value="1" checked' in page
        r = await post(admin, admin.base + SETTINGS, GOOD, page=admin.base + SETTINGS)  # the box left unticked
        assert r.status_code == 303
        assert 'name="notify_work" value="1">' in (await admin.get(r.headers["location"])).text
    assert (await settings_of(database, cc.tenant.id)).notify_work is False
