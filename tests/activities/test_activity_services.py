"""The activity verbs called directly (as jobs and other domains will): each refuses with nothing
written, and each change leaves its event."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.activities import records, services
from app.activities.access import get_activity
from app.activities.models import ActivityEvent, ActivityPlan, Attendance, Invitation
from app.core.errors import Refusal
from app.tenancy.scope import Scope
from tests.activities.world import EAST, TZ, build_activity_county, put_activity


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


def admin(ac) -> Scope:
    return Scope(role="county_admin", node_path=None, station_id=None, user_id=ac.users["admin"].id)


async def test_reschedule_marks_a_published_plan_and_refuses_the_past(database, ac):
    start = datetime.now(TZ) + timedelta(days=2)
    aid = await put_activity(database, ac, kind="visit", starts_at=start, status="planned", invited=("张伟",))
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        plan = ActivityPlan(tenant_id=ac.tenant.id, station_id=ac.stations[EAST], year=start.year, status="published")
        db.add(plan)
        await db.flush()
        ref = await get_activity(db, admin(ac), aid, for_update=True)
        ref.activity.plan_id = plan.id
        with pytest.raises(Refusal) as refused:
            await services.reschedule(db, admin(ac), ref, starts_at=start - timedelta(days=5),
                                      ends_at=start - timedelta(days=5, hours=-1), reason="改", actor_id=None)
        assert refused.value.message == services.IN_THE_PAST
        await services.reschedule(db, admin(ac), ref, starts_at=start + timedelta(days=1),
                                  ends_at=start + timedelta(days=1, hours=2), reason="场地冲突", actor_id=None)
        event = await db.scalar(select(ActivityEvent).where(ActivityEvent.action == "rescheduled"))
        assert event.plan_change and event.note == "场地冲突"
        assert [datetime.fromisoformat(t) for t in event.data["from"]] == [start, start + timedelta(hours=2)]
        assert datetime.fromisoformat(event.data["to"][0]) == start + timedelta(days=1)


async def test_station_staff_cannot_change_another_stations_activity(database, ac):
    aid = await put_activity(database, ac, kind="visit", starts_at=datetime.now(TZ) + timedelta(days=2),
                             status="planned", station="城关镇人大代表之家")
    staff = Scope(role="station_staff", node_path=None, station_id=ac.stations[EAST], user_id=ac.users["station"].id)
    async with database.session(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, admin(ac), aid)
        from app.core.errors import NotFound
        with pytest.raises(NotFound):
            await services.cancel(db, staff, ref, reason="x", actor_id=None)


async def test_withdraw_after_sign_in_and_record_before_start_are_refused(database, ac):
    soon = datetime.now(TZ) + timedelta(hours=1)
    aid = await put_activity(database, ac, kind="reception", starts_at=soon, status="planned", present=("张伟",))
    async with database.session(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, admin(ac), aid, for_update=True)
        with pytest.raises(Refusal) as refused:
            await services.withdraw(db, admin(ac), ref, ac.deputies["张伟"], actor_id=None)
        assert refused.value.message == services.ALREADY_SIGNED_IN
        with pytest.raises(Refusal) as refused:
            await records.record_held(db, admin(ac), ref, notes="x", people="1", actor_id=None)
        assert refused.value.message == records.NOT_STARTED
        invitation = await db.scalar(select(Invitation))
        assert invitation.withdrawn_at is None and ref.activity.status == "planned"
        assert (await db.scalars(select(Attendance))).all()


async def test_record_after_start_then_again(database, ac):
    aid = await put_activity(database, ac, kind="reception", starts_at=datetime.now(TZ) - timedelta(hours=1),
                             status="planned")
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, admin(ac), aid, for_update=True)
        await records.record_held(db, admin(ac), ref, notes="接待8人", people="8", actor_id=ac.users["admin"].id,
                                  now=datetime.now(timezone.utc))
        await records.record_held(db, admin(ac), ref, notes="接待9人", people="9", actor_id=ac.users["admin"].id)
        actions = list(await db.scalars(select(ActivityEvent.action).order_by(ActivityEvent.id)))
        assert actions == ["recorded", "record_edited"]
        assert (ref.activity.status, ref.activity.people_received) == ("held", 9)
