"""A handling unit's users: invited from the unit's page with their unit, which the membership gets
when the link is used; an existing member moved to a unit; a unit is never given to another role."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from app.accounts.invitations import invite
from app.core.errors import Refusal
from tests.cases.world import build_case_county
from tests.deputies.deputy_world import count, post, signed_in, text_of
from tests.factories import csrf_from

UNITS = "/settings/handling-units"


async def test_invite_a_unit_user_who_joins_with_the_unit(app, database, owner_sql):
    cc = await build_case_county(database)
    ecology = cc.units["ecology"]
    async with signed_in(app, cc.county, "admin") as client:
        page = await client.get(f"{client.base}{UNITS}/{ecology}")
        assert "Invite a user for this unit" in page.text
        r = await post(client, f"{client.base}{UNITS}/{ecology}/invitations", {"name": "", "mobile": ""})
        assert r.status_code == 400 and "Please enter the person" in text_of(r.text)
        r = await post(client, f"{client.base}{UNITS}/{ecology}/invitations", {"name": "周科长", "mobile": ""})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        path = re.search(r"/join/alpha/[A-Za-z0-9_-]+", r.text).group(0)
    rows = await owner_sql("SELECT role, handling_unit_id FROM invitations")
    assert [tuple(x) for x in rows] == [("handling_unit", ecology)]
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        page = await client.get(path)
        r = await client.post(path, data={"_csrf_token": csrf_from(page.text), "username": "zhoukz",
                                          "password": "a-long-password", "confirm": "a-long-password"},
                              follow_redirects=False)
        assert r.status_code == 303
    m = await owner_sql("""SELECT m.role, m.handling_unit_id FROM memberships m JOIN users u ON u.id = m.user_id
                           WHERE u.username = 'zhoukz'""")
    assert [tuple(x) for x in m] == [("handling_unit", ecology)]
    async with signed_in(app, cc.county, "admin") as client:
        page = await client.get(f"{client.base}{UNITS}/{ecology}")
        assert "周科长" in page.text
    details = await owner_sql("SELECT details FROM audit_log WHERE action = 'invitation_created'")
    assert '"handling_unit_id"' in str(details[0][0]) or details[0][0].get("handling_unit_id") == ecology


async def test_the_unit_is_required_for_unit_users_and_refused_for_others(app, database, owner_sql):
    cc = await build_case_county(database)
    t = cc.tenant.id
    async with database.transaction(tenant_id=t) as db:
        for role, unit in (("handling_unit", None), ("handling_unit", 999999), ("viewer", cc.units["ecology"])):
            with pytest.raises(Refusal):
                await invite(db, tenant_id=t, actor_id=None, display_name="某人", role=role, handling_unit_id=unit)
    # the members page cannot invite a unit user without a unit either
    async with signed_in(app, cc.county, "admin") as client:
        r = await post(client, client.base + "/invitations", {"name": "某人", "role": "handling_unit", "scope": ""},
                       page=client.base + "/members")
        assert r.status_code == 400 and "is invited from their unit" in text_of(r.text)
        # a retired unit gets no new users
        await post(client, f"{client.base}{UNITS}/{cc.units['ecology']}/retire")
        r = await post(client, f"{client.base}{UNITS}/{cc.units['ecology']}/invitations", {"name": "某人"})
        assert r.status_code == 400
    assert await count(owner_sql, "invitations") == 0


async def test_move_an_existing_member_to_a_unit(app, database, owner_sql):
    cc = await build_case_county(database)
    handler = cc.users["handler"]  # role handling_unit, no unit yet
    membership = (await owner_sql("SELECT id FROM memberships WHERE user_id = $1", handler.id))[0][0]
    viewer = (await owner_sql("SELECT id FROM memberships WHERE user_id = $1", cc.users["viewer"].id))[0][0]
    transport = cc.units["transport"]
    async with signed_in(app, cc.county, "admin") as client:
        page = await client.get(f"{client.base}{UNITS}/{transport}")
        choices = page.text.split('name="membership"')[1].split("</select>")[0]
        assert f'value="{membership}"' in choices and f'value="{viewer}"' not in choices
        member_page = await client.get(f"{client.base}/members/{membership}")
        assert "No handling unit yet" in member_page.text
        r = await post(client, f"{client.base}{UNITS}/{transport}/users", {"membership": str(viewer)})
        assert r.status_code == 400 and "from the list" in text_of(r.text)
        r = await post(client, f"{client.base}{UNITS}/{transport}/users", {"membership": str(membership)})
        assert r.status_code == 303
        member_page = await client.get(f"{client.base}/members/{membership}")
        assert f'{UNITS}/{transport}"' in member_page.text
    rows = await owner_sql("SELECT handling_unit_id FROM memberships WHERE id = $1", membership)
    assert rows[0][0] == transport
    assert (await owner_sql("SELECT handling_unit_id FROM memberships WHERE id = $1", viewer))[0][0] is None
    assert await count(owner_sql, "audit_log", "action = 'member_unit_set'") == 1
