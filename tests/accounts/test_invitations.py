"""Inviting people from the members page, and withdrawing invitations."""

import re

import pytest

from tests.accounts.people import admin_of, count, county, csrf, node_id
from tests.factories import add_member, login, make_tenant, make_user


async def _invite(client, data: dict, slug: str = "alpha", token: str | None = None):
    token = token or await csrf(client, f"/t/{slug}/members")
    return await client.post(f"/t/{slug}/invitations", data={"_csrf_token": token, **data}, follow_redirects=False)


async def test_invite_shows_the_link_once_and_lists_it_as_pending(client, database, owner_sql):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    town = await node_id(owner_sql, tenant, "城关镇")
    r = await _invite(client, {"name": "李四", "mobile": "13900139000", "role": "township_staff", "scope": str(town)})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    link = re.search(r'value="(http://testserver\.local/join/alpha/[A-Za-z0-9_-]{40,})"', r.text)
    assert link, r.text
    assert "李四" in r.text and "乡镇（街道）工作人员" in r.text
    assert "短信" in r.text  # says SMS delivery comes later
    rows = await owner_sql("SELECT display_name, mobile, role, scope_node_id, token_hash FROM invitations")
    assert [(x["display_name"], x["mobile"], x["role"], x["scope_node_id"]) for x in rows] == [
        ("李四", "13900139000", "township_staff", town)
    ]
    token = link.group(1).rsplit("/", 1)[1]
    assert token.encode() not in bytes(rows[0]["token_hash"])  # only the digest is stored
    audit = await owner_sql("SELECT action, details->>'role' AS role FROM audit_log WHERE action LIKE 'invitation%'")
    assert [(a["action"], a["role"]) for a in audit] == [("invitation_created", "township_staff")]

    members = await client.get("/t/alpha/members")
    assert "待接受的邀请" in members.text and "李四" in members.text and "城关镇" in members.text
    assert token not in members.text  # the link is not shown again
    assert "/invitations/1/revoke" in members.text


async def test_invite_form_lists_only_townships_and_streets(client, database, owner_sql):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    page = await client.get("/t/alpha/members")
    assert "城关镇" in page.text and "东城街道" in page.text
    assert "新村" not in page.text and "alpha县</option>" not in page.text


BAD_INPUTS = [
    ({"name": "", "role": "viewer"}, "请填写姓名"),
    ({"name": "王" * 61, "role": "viewer"}, "请填写姓名"),
    ({"name": "李四", "mobile": "12345", "role": "viewer"}, "手机号码为以 1 开头的 11 位数字"),
    ({"name": "李四", "role": ""}, "请选择角色"),
    ({"name": "李四", "role": "operator"}, "请选择角色"),
    ({"name": "李四", "role": "township_staff"}, "乡镇（街道）工作人员需要选择所在的乡镇或街道"),
    ({"name": "李四", "role": "township_staff", "scope": "abc"}, "请从列表中选择"),
    ({"name": "李四", "role": "township_staff", "scope": "99999999999999999999999"}, "请从列表中选择"),
    ({"name": "李四", "role": "county_admin", "scope": "TOWN"}, "县级管理员负责全县工作"),
    ({"name": "李四", "role": "township_staff", "scope": "VILLAGE"}, "请从列表中选择"),
    ({"name": "李四", "role": "township_staff", "scope": "OTHER_TENANT"}, "请从列表中选择"),
]


@pytest.mark.parametrize("data, message", BAD_INPUTS)
async def test_bad_invitation_input_is_refused_and_writes_nothing(client, database, owner_sql, data, message):
    tenant = await county(database)
    other = await county(database, "beta")
    await admin_of(client, database, tenant)
    ids = {
        "TOWN": await node_id(owner_sql, tenant, "城关镇"),
        "VILLAGE": await node_id(owner_sql, tenant, "新村"),
        "OTHER_TENANT": await node_id(owner_sql, other, "城关镇"),
    }
    data = {k: str(ids.get(v, v)) for k, v in data.items()}
    token = await csrf(client, "/t/alpha/members")
    before = await count(owner_sql, "SELECT count(*) FROM audit_log")
    r = await _invite(client, data, token=token)
    assert r.status_code == 400
    assert message in r.text
    assert "/join/" not in r.text
    if data.get("name") and len(data["name"]) <= 60:
        assert f'value="{data["name"]}"' in r.text  # the form keeps what was typed
    assert await count(owner_sql, "SELECT count(*) FROM invitations") == 0
    assert await count(owner_sql, "SELECT count(*) FROM audit_log") == before


async def test_invite_without_csrf_token_is_refused(client, database, owner_sql):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    await client.get("/t/alpha/members")
    r = await client.post("/t/alpha/invitations", data={"name": "李四", "role": "viewer"})
    assert r.status_code == 403
    assert "表单已过期" in r.text
    assert await count(owner_sql, "SELECT count(*) FROM invitations") == 0


async def test_revoke_makes_the_link_invalid(client, database, owner_sql):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    r = await _invite(client, {"name": "李四", "role": "viewer"})
    path = re.search(r"/join/alpha/[A-Za-z0-9_-]+", r.text).group(0)
    r = await client.post("/t/alpha/invitations/1/revoke", data={"_csrf_token": await csrf(client, "/t/alpha/members")},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/t/alpha/members?done=revoked"
    page = await client.get(r.headers["location"])
    assert "邀请已撤销" in page.text and "目前没有待接受的邀请" in page.text
    actions = [a["action"] for a in await owner_sql("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-1] == "invitation_revoked"
    joined = await client.get(path)
    assert joined.status_code == 404 and "邀请链接已失效" in joined.text
    again = await client.post("/t/alpha/invitations/1/revoke",
                              data={"_csrf_token": await csrf(client, "/t/alpha/members")})
    assert again.status_code == 404  # nothing left to withdraw


async def test_revoking_another_tenants_invitation_is_404(client, database, owner_sql):
    tenant = await county(database)
    other = await make_tenant(database, "beta")
    await admin_of(client, database, tenant)
    from app.accounts.invitations import invite

    async with database.transaction(tenant_id=other.id) as db:
        issued = await invite(db, tenant_id=other.id, actor_id=None, display_name="外人", role="viewer")
    r = await client.post(f"/t/alpha/invitations/{issued.invitation.id}/revoke",
                          data={"_csrf_token": await csrf(client, "/t/alpha/members")})
    assert r.status_code == 404
    assert (await owner_sql("SELECT revoked_at FROM invitations"))[0]["revoked_at"] is None


@pytest.mark.parametrize("role", ["viewer", "township_staff", "deputy"])
async def test_only_county_admins_may_invite(client, database, owner_sql, role):
    tenant = await county(database)
    user = await make_user(database, "zhang")
    await add_member(database, tenant, user, role, scope="城关镇" if role == "township_staff" else None)
    await login(client, "zhang")
    token = await csrf(client, "/t/alpha/")
    r = await _invite(client, {"name": "李四", "role": "county_admin"}, token=token)
    assert r.status_code == 404
    assert await count(owner_sql, "SELECT count(*) FROM invitations") == 0
