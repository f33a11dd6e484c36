"""Arranging an activity: who may, where, and the bad input that writes nothing (an activity in the
past not entered as held, a deputy of another county, a responsible person who is not staff here)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.activities import services
from app.activities.models import Activity
from app.core.errors import Refusal
from app.stations.access import get_station
from app.tenancy.scope import Scope
from tests.activities.test_activity_world import form, section
from tests.activities.world import EAST, HOME, TZ, build_activity_county
from tests.deputies.deputy_world import add_deputy, count, post, signed_in, text_of


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


async def test_station_staff_arranges_an_activity_at_their_station(app, ac, owner_sql):
    async with signed_in(app, ac.county, "station") as client:
        new = await client.get(f"{client.base}/activities/new")
        assert new.status_code == 200
        # their only station is chosen already; its deputies are offered, all ticked
        for name in ("张伟", "李娜", "王强", "赵敏"):
            assert name in new.text
        data = form(ac, responsible=str(ac.users["station"].id),
                    deputy_ids=[str(ac.deputies["张伟"]), str(ac.deputies["李娜"])])
        r = await post(client, f"{client.base}/activities/new", data)
        assert r.status_code == 303, r.text
        page = await client.get(r.headers["location"])
        text = text_of(page.text)
        assert "The activity has been arranged." in text
        assert "东街社区活动室" in text and "听取居民意见" in text and "09:00–11:30" in text
        invited = text_of(section(page.text, "invitations").split('id="invite-found"')[0])
        assert "张伟" in invited and "李娜" in invited and "王强" not in invited
    rows = await owner_sql("SELECT status, station_id, responsible_user_id FROM activities")
    assert [tuple(r) for r in rows] == [("planned", ac.stations[EAST], ac.users["station"].id)]
    assert await count(owner_sql, "activity_invitations") == 2
    assert await count(owner_sql, "activity_events", "action = 'created'") == 1
    assert await count(owner_sql, "audit_log", "action = 'activity_created'") == 1


async def test_station_staff_cannot_arrange_at_another_station(app, ac, owner_sql):
    async with signed_in(app, ac.county, "station") as client:
        assert (await client.get(f"{client.base}/activities/new?station={ac.stations[HOME]}")).status_code == 404
        r = await post(client, f"{client.base}/activities/new", form(ac, station=HOME),
                       page=f"{client.base}/activities/new")
        assert r.status_code == 404
    assert await count(owner_sql, "activities") == 0


@pytest.mark.parametrize("who", ["viewer", "rep", "handler"])
async def test_viewers_and_deputies_cannot_arrange(app, ac, owner_sql, who):
    async with signed_in(app, ac.county, who) as client:
        assert (await client.get(f"{client.base}/activities/new")).status_code == 404
        r = await post(client, f"{client.base}/activities/new", form(ac))
        assert r.status_code == 404
        if who != "handler":
            listing = await client.get(f"{client.base}/activities")
            assert listing.status_code == 200 and "New activity" not in listing.text
    assert await count(owner_sql, "activities") == 0


async def test_township_staff_only_in_their_township(app, ac, owner_sql):
    async with signed_in(app, ac.county, "heba") as client:
        r = await post(client, f"{client.base}/activities/new", form(ac))
        assert r.status_code == 404
    async with signed_in(app, ac.county, "town") as client:
        r = await post(client, f"{client.base}/activities/new", form(ac, station=HOME))
        assert r.status_code == 303
    assert await count(owner_sql, "activities") == 1


async def test_a_station_not_in_operation_is_refused(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        page = await client.get(f"{client.base}/activities/new")
        assert "西村人大代表联络站" not in page.text  # proposed, not in operation
        r = await post(client, f"{client.base}/activities/new", form(ac, station="西村人大代表联络站"))
        assert r.status_code == 400
        assert "Activities are arranged only at stations in operation." in r.text
    assert await count(owner_sql, "activities") == 0


async def test_past_activity_not_held_is_refused_and_nothing_written(app, ac, owner_sql):
    past = datetime.now(TZ) - timedelta(days=2)
    async with signed_in(app, ac.county, "admin") as client:
        r = await post(client, f"{client.base}/activities/new", form(ac, day=past))
        assert r.status_code == 400
        assert "This activity would start in the past" in text_of(r.text)
        assert "东街社区活动室" in r.text  # what was typed is kept
    for table in ("activities", "activity_events", "activity_invitations"):
        assert await count(owner_sql, table) == 0
    assert await count(owner_sql, "audit_log", "action LIKE 'activity%'") == 0


async def test_held_in_the_past_is_accepted(app, ac, owner_sql):
    past = datetime.now(TZ) - timedelta(days=2)
    async with signed_in(app, ac.county, "admin") as client:
        r = await post(client, f"{client.base}/activities/new", form(ac, day=past, held="1"))
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        assert "Held and recorded" in page.text
    rows = await owner_sql("SELECT status, recorded_at IS NOT NULL AS rec FROM activities")
    assert [tuple(r) for r in rows] == [("held", True)]


async def test_held_in_the_future_is_refused(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        r = await post(client, f"{client.base}/activities/new", form(ac, held="1"))
        assert r.status_code == 400 and "has not started yet" in r.text
    assert await count(owner_sql, "activities") == 0


async def test_ends_before_start_and_missing_kind_are_refused(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        r = await post(client, f"{client.base}/activities/new", form(ac, start="11:00", end="10:00"))
        assert r.status_code == 400 and "must end after it starts" in r.text
        r = await post(client, f"{client.base}/activities/new", form(ac, kind_id=""))
        assert r.status_code == 400 and "choose the kind" in r.text
        r = await post(client, f"{client.base}/activities/new", {**form(ac), "day": ""})
        assert r.status_code == 400 and "give the date" in r.text
    assert await count(owner_sql, "activities") == 0


async def test_deputy_of_another_county_is_refused(app, database, ac, owner_sql):
    other = await build_activity_county(database, "beta")
    stranger = other.deputies["张伟"]
    async with signed_in(app, ac.county, "admin") as client:
        r = await post(client, f"{client.base}/activities/new", form(ac, deputy_ids=str(stranger)))
        assert r.status_code == 400
        assert "not a serving deputy of this county" in r.text
    assert await count(owner_sql, "activities") == 0


async def test_deputy_out_of_scope_is_refused(app, database, ac, owner_sql):
    """Station staff cannot invite (and so see the name of) a deputy of another township by id."""
    far = await add_deputy(database, ac.county, "河坝远", node="河坝村", station="河坝村人大代表联络站")
    async with signed_in(app, ac.county, "station") as client:
        r = await post(client, f"{client.base}/activities/new", form(ac, deputy_ids=str(far)))
        assert r.status_code == 400
        assert "河坝远" not in r.text
    assert await count(owner_sql, "activities") == 0


async def test_responsible_must_be_staff_of_this_county(app, database, ac, owner_sql):
    other = await build_activity_county(database, "beta")
    async with signed_in(app, ac.county, "admin") as client:
        for user in (other.users["admin"], ac.users["rep"]):
            r = await post(client, f"{client.base}/activities/new", form(ac, responsible=str(user.id)))
            assert r.status_code == 400 and "staff member of this county" in r.text
    assert await count(owner_sql, "activities") == 0


async def test_group_activity_by_county_admin(app, database, ac, owner_sql):
    from tests.deputies.deputy_world import add_group
    group = await add_group(database, ac.county, "第一代表小组")
    async with signed_in(app, ac.county, "admin") as client:
        page = await client.get(f"{client.base}/activities/new?group={group}")
        assert "第一代表小组" in page.text
        r = await post(client, f"{client.base}/activities/new", form(ac, station=None, group=str(group)))
        assert r.status_code == 303
    async with signed_in(app, ac.county, "town") as client:
        r = await post(client, f"{client.base}/activities/new", form(ac, station=None, group=str(group)))
        assert r.status_code == 400  # township staff do not arrange group activities
    assert await count(owner_sql, "activities", "group_id = $1", group) == 1


async def test_service_refuses_directly(database, ac):
    """The service itself refuses an activity in the past (no route involved)."""
    scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=ac.users["admin"].id)
    async with database.session(tenant_id=ac.tenant.id, user_id=ac.users["admin"].id) as db:
        station = await get_station(db, scope, ac.stations[EAST])
        past = datetime.now(TZ) - timedelta(hours=3)
        with pytest.raises(Refusal) as refused:
            await services.create_activity(
                db, scope, tenant_id=ac.tenant.id, actor_id=ac.users["admin"].id, station=station, group=None,
                new=services.NewActivity(kind_id=ac.kinds["visit"], starts_at=past, ends_at=past + timedelta(hours=1)))
        assert refused.value.message == services.IN_THE_PAST
        assert (await db.scalars(select(Activity))).all() == []
