"""Reminders of a joint station's activities reach the deputies of both sides through their home
counties: the joint tenant has no mobile of theirs, so the messages are written into each county's own
outbox (its deputy, its settings, its audit log) and sent by the county's sweep — with the personal
sign-in link of the joint station. Rescheduling, withdrawing an invitation, cancelling, a deputy taken out
and a county withdrawing all take the pending ones back there. A third county gets nothing."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.activities import services
from app.activities.models import Invitation
from app.joint import agreements, deputies
from app.notify.sms import HttpSmsProvider
from app.notify.sweep import Channels, sweep
from tests.joint.test_attendance import in_joint, joint_activity, joint_admin, local_ids, world  # noqa: F401
from tests.joint.world import act
from tests.notify.short_link_helpers import link_of, target_of

TZ = ZoneInfo("Asia/Shanghai")


def nine(start: datetime, days_before: int) -> datetime:
    return datetime.combine(start.astimezone(TZ).date() - timedelta(days=days_before), time(9), tzinfo=TZ)


async def county_rows(owner_sql, county, activity_id: int, joint_id: int, status: str = "pending") -> set[tuple]:
    """(kind, the county's deputy id, due) of the county's relayed rows of the activity."""
    rows = await owner_sql("SELECT kind, deputy_id, due_at FROM outbox WHERE tenant_id = $1 AND subject = $2 "
                           "AND status = $3", county.id, f"joint:{joint_id}:activity:{activity_id}", status)
    return {(k, d, due) for k, d, due in rows}


async def audit_count(owner_sql, county, action: str) -> int:
    return (await owner_sql("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = $2",
                            county.id, action))[0][0]


async def test_each_county_writes_its_own_deputies_reminders(database, owner_sql, world):
    a, b, c, agreement, home = world
    joint = agreement.joint_tenant_id
    start = datetime.now(timezone.utc) + timedelta(days=6)
    activity_id = await joint_activity(database, a, agreement, starts_at=start)
    sms, eve = nine(start, 3), nine(start, 1)
    li, zhou, zhao, qian = (home[n][1] for n in ("李代表", "周代表", "赵代表", "钱代表"))
    assert await county_rows(owner_sql, a, activity_id, joint) == {
        ("activity_sms", li, sms), ("activity_sms", zhou, sms), ("activity_eve", li, eve), ("activity_eve", zhou, eve)}
    assert await county_rows(owner_sql, b, activity_id, joint) == {
        ("activity_sms", zhao, sms), ("activity_sms", qian, sms), ("activity_eve", zhao, eve),
        ("activity_eve", qian, eve)}
    # to the mobile on the county's record, with the joint station's personal sign-in link
    async with database.transaction(tenant_id=joint) as db:
        token = await db.scalar(select(Invitation.token).where(Invitation.deputy_id == (await local_ids(db))["赵代表"]))
    (address, body), = await owner_sql("SELECT address, body FROM outbox WHERE tenant_id = $1 AND kind = 'activity_sms' "
                                       "AND deputy_id = $2", b.id, zhao)
    assert address == "13912340000"
    assert await link_of(database, body) == f"/signin/{agreement.slug}/{token}" and agreement.name in body
    # the joint tenant writes no deputy rows of its own (it has no mobile to send to), the third county nothing
    assert (await owner_sql("SELECT count(*) FROM outbox WHERE tenant_id = $1 AND deputy_id IS NOT NULL", joint))[0][0] == 0
    assert (await owner_sql("SELECT count(*) FROM outbox WHERE tenant_id = $1", c.id))[0][0] == 0
    assert await audit_count(owner_sql, a, "joint_reminders_relayed") == 1
    assert await audit_count(owner_sql, b, "joint_reminders_relayed") == 1
    assert await audit_count(owner_sql, c, "joint_reminders_relayed") == 0


async def test_reschedule_uninvite_and_cancel_take_them_back_in_the_county(database, owner_sql, world):
    a, b, c, agreement, home = world
    joint = agreement.joint_tenant_id
    start = datetime.now(timezone.utc) + timedelta(days=6)
    activity_id = await joint_activity(database, a, agreement, starts_at=start)
    async with database.transaction(tenant_id=joint) as db:
        ids = await local_ids(db)
    zhao, qian = home["赵代表"][1], home["钱代表"][1]
    later = start + timedelta(days=2)
    await in_joint(database, a, agreement, activity_id, lambda db, ref: services.reschedule(
        db, joint_admin(a), ref, starts_at=later, ends_at=later + timedelta(hours=1), reason="汛期推迟",
        actor_id=a.users["county_admin"].id))
    assert ("activity_sms", zhao, nine(start, 3)) in await county_rows(owner_sql, b, activity_id, joint, "withdrawn")
    pending = await county_rows(owner_sql, b, activity_id, joint)
    assert ("activity_sms", zhao, nine(later, 3)) in pending
    assert {k for k, d, _ in pending if d == zhao} == {"activity_sms", "activity_eve", "activity_moved"}

    await in_joint(database, a, agreement, activity_id, lambda db, ref: services.withdraw(
        db, joint_admin(a), ref, ids["钱代表"], actor_id=a.users["county_admin"].id))
    pending = await county_rows(owner_sql, b, activity_id, joint)
    assert {d for _, d, _ in pending} == {zhao}  # 钱代表's gone, 赵代表's stay
    assert len(await county_rows(owner_sql, a, activity_id, joint)) == 6

    await in_joint(database, a, agreement, activity_id, lambda db, ref: services.cancel(
        db, joint_admin(a), ref, reason="台风", actor_id=a.users["county_admin"].id))
    for county in (a, b):
        assert {k for k, _, _ in await county_rows(owner_sql, county, activity_id, joint)} == {"activity_cancelled"}
    assert {d for _, d, _ in await county_rows(owner_sql, b, activity_id, joint)} == {zhao}
    assert await audit_count(owner_sql, b, "joint_reminders_withdrawn") == 3
    assert (await owner_sql("SELECT count(*) FROM outbox WHERE tenant_id = $1", c.id))[0][0] == 0


async def test_a_deputy_taken_out_or_a_county_withdrawing_gets_no_more(database, owner_sql, world):
    a, b, c, agreement, home = world
    joint = agreement.joint_tenant_id
    activity_id = await joint_activity(database, a, agreement, starts_at=datetime.now(timezone.utc) + timedelta(days=6))
    await act(database, a, deputies.leave, key=agreement.agreement_key, deputy_id=home["李代表"][1])
    assert {d for _, d, _ in await county_rows(owner_sql, a, activity_id, joint)} == {home["周代表"][1]}
    await act(database, b, agreements.withdraw, key=agreement.agreement_key)
    assert await county_rows(owner_sql, b, activity_id, joint) == set()
    assert len(await county_rows(owner_sql, b, activity_id, joint, "withdrawn")) == 4


async def test_the_countys_sweep_sends_them_with_the_joint_link(database, owner_sql, world, sms_gateway):
    a, b, c, agreement, home = world
    joint = agreement.joint_tenant_id
    start = datetime.now(timezone.utc) + timedelta(days=6)
    activity_id = await joint_activity(database, a, agreement, starts_at=start)
    channels = Channels(sms=HttpSmsProvider(sms_gateway.url, sms_gateway.key_id, sms_gateway.key_secret, "联络"))
    await sweep(database, now=nine(start, 3) - timedelta(minutes=1), channels=channels)
    assert sms_gateway.messages() == []
    for _ in range(2):  # a second sweep sends nothing again
        await sweep(database, now=nine(start, 3), channels=channels)
    refs = {f"{t}-{i}": t for t, i in await owner_sql(
        "SELECT tenant_id, id FROM outbox WHERE subject = $1", f"joint:{joint}:activity:{activity_id}")}
    sent = [m for m in sms_gateway.messages() if m["out_id"] in refs]
    assert sorted(refs[m["out_id"]] for m in sent) == sorted([a.id, a.id, b.id, b.id])
    # the code leads to the joint station's sign-in page (the link belongs to the joint tenant)
    targets = [await target_of(database, m["params"]["link"]) for m in sent]
    assert all(t.startswith(f"/signin/{agreement.slug}/") for t in targets), targets
