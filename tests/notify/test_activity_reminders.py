"""An activity's reminders, written with the change that causes them: scheduled, rescheduled, cancelled,
a deputy uninvited and invited again; due at the right local times, never twice; the liaison officers
told which deputies are due; activities already held and group activities as the rules say."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import Membership
from app.activities import plans, reminders, services
from app.activities.access import get_activity
from app.activities.models import Activity, ActivityPlan, Invitation
from app.activities.plans import PlanRef, Slot
from app.core.db import query_counter
from app.notify.models import Outbox
from app.stations.access import get_station
from app.stations.models import StationStaff
from app.tenancy.models import TenantConfig
from app.tenancy.scope import Scope
from tests.activities.world import EAST, TZ, build_activity_county
from tests.deputies.deputy_world import add_group
from tests.factories import add_member, make_user
from tests.notify.short_link_helpers import code_in, link_of

# Friday 20 November 2026, 08:00 in the county (Asia/Shanghai); the activity is on Monday the 23rd.
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=TZ)
START = datetime(2026, 11, 23, 14, 30, tzinfo=TZ)


@pytest.fixture
async def ac(database):
    ac = await build_activity_county(database)
    liaison = await make_user(database, "alpha-liaison", mobile="13900000009")
    await add_member(database, ac.tenant, liaison, "station_staff")
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await db.execute(Membership.__table__.update().where(Membership.user_id == liaison.id)
                         .values(station_id=ac.stations[EAST]))
        db.add(StationStaff(tenant_id=ac.tenant.id, station_id=ac.stations[EAST], role="liaison", user_id=liaison.id))
    ac.users["liaison"] = liaison
    return ac


def admin(ac) -> Scope:
    return Scope(role="county_admin", node_path=None, station_id=None, user_id=ac.users["admin"].id)


async def rows(database, ac, **where) -> list[Outbox]:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        query = select(Outbox).order_by(Outbox.id)
        for key, value in where.items():
            query = query.where(getattr(Outbox, key) == value)
        return list((await db.scalars(query)).all())


def summary(found: list[Outbox], ac) -> set[tuple]:
    """(kind, channel, who, status, local due time) of each row."""
    deputies, users = {v: k for k, v in ac.deputies.items()}, {u.id: k for k, u in ac.users.items()}
    return {(r.kind, r.channel, deputies.get(r.deputy_id) or users.get(r.user_id), r.status,
             r.due_at.astimezone(TZ).strftime("%m-%d %H:%M")) for r in found}


async def schedule(database, ac, *, start=START, deputies=("张伟", "李娜", "王强"), now=NOW, group=None) -> int:
    station = None
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        if group is None:
            station = await get_station(db, admin(ac), ac.stations[EAST])
        new = services.NewActivity(kind_id=ac.kinds["reception"], starts_at=start, ends_at=start + timedelta(hours=2),
                                   place="东街社区会议室", topic="接待选民",
                                   deputy_ids=tuple(ac.deputies[d] for d in deputies))
        activity = await services.create_activity(db, admin(ac), tenant_id=ac.tenant.id, actor_id=ac.users["admin"].id,
                                                  station=station, group=group, new=new, now=now)
        return activity.id


async def change(database, ac, activity_id: int, verb: str, *args, **kwargs) -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, admin(ac), activity_id, for_update=True)
        await getattr(services, verb)(db, admin(ac), ref, *args, actor_id=ac.users["admin"].id, **kwargs)


async def test_three_days_ahead_each_deputy_gets_one_sms_at_nine_and_a_gentle_reminder(database, ac):
    aid = await schedule(database, ac)
    got = await rows(database, ac, subject=f"activity:{aid}")
    # 张伟 has an account (in-app and SMS), 李娜 only a mobile, 王强 neither; the liaison reminder
    # (7 days before) had passed when the activity was planned.
    assert summary(got, ac) == {
        ("activity_sms", "sms", "张伟", "pending", "11-20 09:00"), ("activity_sms", "inapp", "张伟", "pending", "11-20 09:00"),
        ("activity_sms", "sms", "李娜", "pending", "11-20 09:00"),
        ("activity_eve", "sms", "张伟", "pending", "11-22 09:00"), ("activity_eve", "inapp", "张伟", "pending", "11-22 09:00"),
        ("activity_eve", "sms", "李娜", "pending", "11-22 09:00"),
    }
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        token = await db.scalar(select(Invitation.token).where(Invitation.deputy_id == ac.deputies["李娜"]))
    sms = next(r for r in got if r.kind == "activity_sms" and r.deputy_id == ac.deputies["李娜"])
    assert sms.address == "13800000002"
    # The SMS carries a short link on our own address, leading to the deputy's own sign-in page.
    assert await link_of(database, sms.body) == f"/signin/{ac.slug}/{token}"
    assert sms.params["link"] == code_in(sms.body)
    assert "李娜" in sms.body and "2026-11-23 14:30" in sms.body and "东街社区会议室" in sms.body
    # The same change run again (a retried request) writes nothing new.
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        activity = await db.get(Activity, (ac.tenant.id, aid))
        await reminders.invited(db, activity, list(ac.deputies.values()), now=NOW)
    assert len(await rows(database, ac)) == len(got)


async def test_liaison_officer_is_told_a_week_before_which_deputies_are_due(database, ac):
    aid = await schedule(database, ac, start=START + timedelta(days=10))
    liaison = await rows(database, ac, kind="activity_liaison")
    assert summary(liaison, ac) == {("activity_liaison", "sms", "liaison", "pending", "11-26 09:00"),
                                    ("activity_liaison", "inapp", "liaison", "pending", "11-26 09:00")}
    assert all("张伟、李娜、王强" in r.body for r in liaison)
    # A deputy uninvited: their reminders are withdrawn and the liaison's list no longer names them.
    await change(database, ac, aid, "withdraw", ac.deputies["李娜"], now=NOW)
    got = await rows(database, ac, subject=f"activity:{aid}")
    assert {r.status for r in got if r.deputy_id == ac.deputies["李娜"]} == {"withdrawn"}
    assert {r.status for r in got if r.deputy_id == ac.deputies["张伟"]} == {"pending"}
    liaison = [r for r in got if r.kind == "activity_liaison"]
    assert len(liaison) == 2 and {r.status for r in liaison} == {"pending"}
    assert all("张伟、王强" in r.body and "李娜" not in r.body for r in liaison)
    # Invited again: the same reminders are pending again, with the new sign-in link.
    await change(database, ac, aid, "invite", [ac.deputies["李娜"]], now=NOW)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        token = await db.scalar(select(Invitation.token).where(Invitation.deputy_id == ac.deputies["李娜"]))
    again = [r for r in await rows(database, ac, deputy_id=ac.deputies["李娜"])]
    assert len(again) == 2 and {r.status for r in again} == {"pending"}
    assert await link_of(database, next(r for r in again if r.kind == "activity_sms").body) == f"/signin/{ac.slug}/{token}"
    assert all("李娜" in r.body for r in await rows(database, ac, kind="activity_liaison"))


async def test_without_a_liaison_officer_the_station_staff_are_told(database, ac):
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await db.execute(StationStaff.__table__.delete())
    await schedule(database, ac, start=START + timedelta(days=10))
    who = {r.user_id for r in await rows(database, ac, kind="activity_liaison")}
    assert who == {ac.users["station"].id, ac.users["liaison"].id}  # both are station staff at 东街社区


async def test_reschedule_moves_the_pending_reminders_and_tells_the_invited(database, ac):
    aid = await schedule(database, ac, start=START + timedelta(days=10))
    later = NOW + timedelta(hours=3)
    new_start = START + timedelta(days=14)
    await change(database, ac, aid, "reschedule", starts_at=new_start, ends_at=new_start + timedelta(hours=2),
                 reason="场地冲突", now=later)
    got = await rows(database, ac, subject=f"activity:{aid}")
    old = {r for r in summary(got, ac) if r[3] == "withdrawn"}
    new = {r for r in summary(got, ac) if r[3] != "withdrawn"}
    assert {(k, due) for k, _, _, _, due in old} == {
        ("activity_liaison", "11-26 09:00"), ("activity_sms", "11-30 09:00"), ("activity_eve", "12-02 09:00")}
    assert {(k, due) for k, _, _, status, due in new if status == "pending" and k != "activity_moved"} == {
        ("activity_liaison", "11-30 09:00"), ("activity_sms", "12-04 09:00"), ("activity_eve", "12-06 09:00")}
    moved = [r for r in got if r.kind == "activity_moved"]
    assert summary(moved, ac) == {("activity_moved", "inapp", "张伟", "sent", "11-20 11:00"),
                                  ("activity_moved", "sms", "张伟", "pending", "11-20 11:00"),
                                  ("activity_moved", "sms", "李娜", "pending", "11-20 11:00")}
    assert all("2026-12-07 14:30" in r.body for r in moved)


async def test_reschedule_to_the_same_day_keeps_one_row_per_reminder(database, ac):
    aid = await schedule(database, ac, start=START + timedelta(days=10))
    before = len(await rows(database, ac))
    later = START + timedelta(days=10, hours=1)  # same day, an hour later: same reminder moments
    await change(database, ac, aid, "reschedule", starts_at=later, ends_at=later + timedelta(hours=2),
                 reason="推迟一小时", now=NOW)
    got = await rows(database, ac, subject=f"activity:{aid}")
    assert len([r for r in got if r.kind != "activity_moved"]) == before
    assert {r.status for r in got if r.kind != "activity_moved"} == {"pending"}
    assert all("15:30" in r.body for r in got if r.kind in ("activity_sms", "activity_liaison"))


async def test_cancel_withdraws_everything_pending_and_tells_the_invited(database, ac):
    aid = await schedule(database, ac, start=START + timedelta(days=10))
    await change(database, ac, aid, "cancel", reason="台风预警", now=NOW + timedelta(minutes=5))
    got = await rows(database, ac, subject=f"activity:{aid}")
    assert {r.status for r in got if r.kind != "activity_cancelled"} == {"withdrawn"}
    told = [r for r in got if r.kind == "activity_cancelled"]
    assert summary(told, ac) == {("activity_cancelled", "inapp", "张伟", "sent", "11-20 08:05"),
                                 ("activity_cancelled", "sms", "张伟", "pending", "11-20 08:05"),
                                 ("activity_cancelled", "sms", "李娜", "pending", "11-20 08:05")}
    assert all("台风预警" in r.body for r in told)


async def test_late_planning_sends_the_sms_at_once_and_past_moments_are_skipped(database, ac):
    noon = NOW + timedelta(hours=4)  # after 09:00 on the SMS day; the eve reminder is still ahead
    aid = await schedule(database, ac, now=noon)
    sms = await rows(database, ac, subject=f"activity:{aid}", kind="activity_sms")
    assert sorted((r.channel, r.status) for r in sms) == [("inapp", "sent"), ("sms", "pending"), ("sms", "pending")]
    assert {r.due_at for r in sms} == {noon}
    # Planned the evening before: the gentle reminder's moment has passed, the SMS goes at once.
    eve = START - timedelta(hours=18)
    other = await schedule(database, ac, now=eve)
    kinds = {r.kind for r in await rows(database, ac, subject=f"activity:{other}")}
    assert kinds == {"activity_sms"}


async def test_held_activities_and_switched_off_reminders_write_nothing(database, ac):
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        station = await get_station(db, admin(ac), ac.stations[EAST])
        past = NOW - timedelta(days=2)
        new = services.NewActivity(kind_id=ac.kinds["visit"], starts_at=past, ends_at=past + timedelta(hours=2),
                                   deputy_ids=(ac.deputies["张伟"],), held=True)
        await services.create_activity(db, admin(ac), tenant_id=ac.tenant.id, actor_id=None, station=station,
                                       group=None, new=new, now=NOW)
    assert await rows(database, ac) == []
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        db.add(TenantConfig(tenant_id=ac.tenant.id, remind_sms_days=0, remind_liaison_days=0))
    await schedule(database, ac, start=START + timedelta(days=10))
    assert {r.kind for r in await rows(database, ac)} == {"activity_eve"}


async def test_group_activity_reminds_the_invited_deputies_only(database, ac):
    group_id = await add_group(database, ac.county, "教科文卫代表小组")
    from app.deputies.models import DeputyGroup

    async with database.transaction(tenant_id=ac.tenant.id) as db:
        group = await db.get(DeputyGroup, (ac.tenant.id, group_id))
    aid = await schedule(database, ac, start=START + timedelta(days=10), group=group, deputies=("李娜",))
    got = await rows(database, ac, subject=f"activity:{aid}")
    assert {(r.kind, r.deputy_id) for r in got} == {("activity_sms", ac.deputies["李娜"]),
                                                    ("activity_eve", ac.deputies["李娜"])}
    assert all("教科文卫代表小组" in r.body for r in got)


async def test_a_generated_yearly_plan_writes_every_activitys_reminders_in_bounded_queries(database, ac):
    year = NOW.year + 1
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        plan = ActivityPlan(tenant_id=ac.tenant.id, station_id=ac.stations[EAST], year=year)
        db.add(plan)
        await db.flush()
        ref = PlanRef(plan=plan, station=await get_station(db, admin(ac), ac.stations[EAST]))
        slot = Slot(kind_id=ac.kinds["reception"], start=time(9), end=time(11), topic="接待", invite=True)
        counter = [0]
        token = query_counter.set(counter)
        try:
            made = await plans.generate(db, admin(ac), ref, tenant_id=ac.tenant.id, actor_id=ac.users["admin"].id,
                                        days_text="每周一", slot=slot, tz=TZ, now=NOW)
        finally:
            query_counter.reset(token)
    assert made.created >= 52
    got = await rows(database, ac)
    per_activity = {}
    for r in got:
        per_activity.setdefault(r.subject, set()).add(r.kind)
    assert len(per_activity) == made.created
    assert all(k == {"activity_liaison", "activity_sms", "activity_eve"} for k in per_activity.values())
    # Per activity: the activity, its event, audit, invitations and a handful of reminder statements.
    print(f"{made.created} activities, {counter[0]} statements")
    assert counter[0] / made.created < 20, counter[0]


async def test_a_new_place_is_in_the_reminders_not_yet_due(database, ac):
    aid = await schedule(database, ac, start=START + timedelta(days=10))
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, admin(ac), aid, for_update=True)
        assert await services.edit(db, admin(ac), ref, place="村委会二楼", topic="接待选民",
                                   responsible_user_id=ref.activity.responsible_user_id,
                                   actor_id=ac.users["admin"].id, now=NOW + timedelta(hours=1))
    pending = [r for r in await rows(database, ac, subject=f"activity:{aid}") if r.status == "pending"]
    # the same reminders (one row each, same due times), now naming the new place
    assert {(r.kind, r.due_at.astimezone(TZ).strftime("%m-%d")) for r in pending} == {
        ("activity_liaison", "11-26"), ("activity_sms", "11-30"), ("activity_eve", "12-02")}
    assert all("村委会二楼" in r.body for r in pending if r.kind != "activity_liaison")
    assert not [r for r in await rows(database, ac, subject=f"activity:{aid}") if r.status == "withdrawn"]
