"""Accepting an invitation link: a new account, or an existing one joining a second unit."""

import pytest

from app.accounts.invitations import invite
from app.core.errors import Refusal
from tests.accounts.people import admin_of, count, county, csrf, session_of, use_session
from tests.factories import PASSWORD, add_member, csrf_from, login, make_tenant, make_user


async def _issue(database, tenant, *, role="viewer", name="李四", actor=None, mobile=None, scope=None) -> str:
    async with database.transaction(tenant_id=tenant.id) as db:
        issued = await invite(db, tenant_id=tenant.id, actor_id=actor.id if actor else None, display_name=name,
                              role=role, mobile=mobile, scope_node_id=scope)
    return issued.path(tenant.slug)


async def _state(owner_sql) -> tuple:
    """Everything a refused join must leave alone."""
    return (
        await count(owner_sql, "SELECT count(*) FROM users"),
        await count(owner_sql, "SELECT count(*) FROM memberships"),
        await count(owner_sql, "SELECT count(*) FROM user_sessions"),
        await count(owner_sql, "SELECT count(*) FROM invitations WHERE accepted_at IS NOT NULL"),
        await count(owner_sql, "SELECT count(*) FROM audit_log"),
    )


async def test_new_person_creates_an_account_and_is_signed_in(client, database, owner_sql):
    tenant = await county(database)
    inviter = await make_user(database, "admin")
    await add_member(database, tenant, inviter)
    town = (await owner_sql("SELECT id FROM admin_nodes WHERE name = '城关镇'"))[0]["id"]
    path = await _issue(database, tenant, role="township_staff", actor=inviter, mobile="13700137000", scope=town)
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "Admin邀请李四加入alpha县人大常委会" in page.text
    assert "乡镇（街道）工作人员" in page.text and "城关镇" in page.text
    assert 'name="username"' in page.text and "用我的账号加入" not in page.text
    r = await client.post(path, data={"_csrf_token": csrf_from(page.text), "username": "Lisi",
                                      "password": "a-long-password", "confirm": "a-long-password"},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/t/alpha/"
    assert "lianluo_session" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    home = await client.get("/t/alpha/")
    assert home.status_code == 200 and "李四" in home.text and "乡镇（街道）工作人员" in home.text
    user = (await owner_sql("SELECT id, username, display_name, mobile FROM users WHERE username = 'lisi'"))[0]
    assert (user["display_name"], user["mobile"]) == ("李四", "13700137000")
    m = (await owner_sql("SELECT role, scope_node_id FROM memberships WHERE user_id = $1", user["id"]))[0]
    assert (m["role"], m["scope_node_id"]) == ("township_staff", town)
    actions = [a["action"] for a in await owner_sql("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["invitation_created", "invitation_accepted", "tenant_entered"]
    # the link is used up
    again = await client.get(path)
    assert again.status_code == 404 and "邀请链接已失效" in again.text
    # and the new person can sign in with the password they chose
    use_session(client, None)
    assert (await login(client, "lisi", "a-long-password")).status_code == 303


async def test_signed_in_person_joins_a_second_unit_and_sees_both_in_the_switcher(client, database, owner_sql):
    beta = await county(database, "beta")
    alpha = await county(database)
    user = await make_user(database, "wang")
    await add_member(database, beta, user, "county_admin")
    await login(client, "wang")
    path = await _issue(database, alpha, role="deputy", name="王五")
    page = await client.get(path)
    assert "用我的账号加入" in page.text and 'name="username"' not in page.text
    assert "Wang" in page.text
    r = await client.post(path, data={"_csrf_token": csrf_from(page.text), "existing_user": "1"},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/t/alpha/"
    assert (await client.get("/t/alpha/")).status_code == 200
    switcher = await client.get("/tenants")
    assert "alpha县人大常委会" in switcher.text and "beta县人大常委会" in switcher.text
    assert "人大代表" in switcher.text and "县级管理员" in switcher.text
    assert await count(owner_sql, "SELECT count(*) FROM users") == 1


async def test_existing_member_cannot_join_twice(client, database, owner_sql):
    alpha = await county(database)
    user = await make_user(database, "wang")
    await add_member(database, alpha, user, "viewer")
    await login(client, "wang")
    path = await _issue(database, alpha, role="deputy")
    page = await client.get(path)
    before = await _state(owner_sql)
    r = await client.post(path, data={"_csrf_token": csrf_from(page.text), "existing_user": "1"})
    assert r.status_code == 400 and "您的账号已是该单位的成员" in r.text
    assert await _state(owner_sql) == before


async def test_join_with_existing_account_after_signing_out_is_refused(client, database, owner_sql):
    alpha = await county(database)
    path = await _issue(database, alpha)
    page = await client.get(path)
    before = await _state(owner_sql)
    r = await client.post(path, data={"_csrf_token": csrf_from(page.text), "existing_user": "1"})
    assert r.status_code == 400 and "您已退出登录" in r.text
    assert await _state(owner_sql) == before


@pytest.mark.parametrize("form, message", [
    ({"username": "ab", "password": "a-long-password", "confirm": "a-long-password"}, "用户名为 3 至 40 个字符"),
    ({"username": "李四", "password": "a-long-password", "confirm": "a-long-password"}, "用户名为 3 至 40 个字符"),
    ({"username": "li si", "password": "a-long-password", "confirm": "a-long-password"}, "用户名为 3 至 40 个字符"),
    ({"username": "13800138000", "password": "a-long-password", "confirm": "a-long-password"}, "用户名不能是手机号码"),
    ({"username": "TAKEN", "password": "a-long-password", "confirm": "a-long-password"}, "该用户名已被使用"),
    ({"username": "lisi", "password": "short", "confirm": "short"}, "密码至少需要 10 个字符"),
    ({"username": "lisi", "password": "a-long-password", "confirm": "another-password"}, "两次输入的密码不一致"),
])
async def test_bad_account_input_is_refused_and_writes_nothing(client, database, owner_sql, form, message):
    alpha = await county(database)
    await make_user(database, "taken")
    path = await _issue(database, alpha)
    page = await client.get(path)
    before = await _state(owner_sql)
    r = await client.post(path, data={"_csrf_token": csrf_from(page.text), **form})
    assert r.status_code == 400
    assert message in r.text
    assert f'value="{form["username"]}"' in r.text  # keeps the username, never the password
    assert "a-long-password" not in r.text
    assert "lianluo_session" not in r.headers.get("set-cookie", "")
    assert await _state(owner_sql) == before
    # the link still works afterwards
    assert (await client.get(path)).status_code == 200


async def test_join_without_csrf_token_is_refused(client, database, owner_sql):
    alpha = await county(database)
    path = await _issue(database, alpha)
    await client.get(path)
    before = await _state(owner_sql)
    r = await client.post(path, data={"username": "lisi", "password": "a-long-password", "confirm": "a-long-password"})
    assert r.status_code == 403
    assert await _state(owner_sql) == before


async def test_expired_used_withdrawn_and_unknown_links_are_not_valid(client, database, owner_sql):
    alpha = await county(database)
    expired = await _issue(database, alpha, name="过期")
    await owner_sql("UPDATE invitations SET expires_at = now() - interval '1 minute'")
    withdrawn = await _issue(database, alpha, name="撤销")
    await owner_sql("UPDATE invitations SET revoked_at = now() WHERE display_name = '撤销'")
    used = await _issue(database, alpha, name="已用")
    await owner_sql("UPDATE invitations SET accepted_at = now() WHERE display_name = '已用'")
    token = await csrf(client, "/login")
    for path in (expired, withdrawn, used, "/join/alpha/not-a-real-token"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "此邀请链接已失效" in r.text and "请向邀请您的人索取新的链接" in r.text
        r = await client.post(path, data={"_csrf_token": token, "username": "lisi", "password": PASSWORD,
                                          "confirm": PASSWORD})
        assert r.status_code == 404 and "此邀请链接已失效" in r.text
    assert await count(owner_sql, "SELECT count(*) FROM users") == 0
    assert await count(owner_sql, "SELECT count(*) FROM memberships") == 0


async def test_link_of_one_tenant_does_not_work_under_another_slug(client, database):
    alpha = await county(database)
    await county(database, "beta")
    path = await _issue(database, alpha)
    r = await client.get(path.replace("/alpha/", "/beta/"))
    assert r.status_code == 404 and "此邀请链接已失效" in r.text


@pytest.mark.parametrize("status", ["pending", "suspended"])
async def test_links_of_inactive_or_unknown_tenants_are_the_ordinary_404(client, database, status):
    tenant = await make_tenant(database, "gamma", status=status)
    path = await _issue(database, tenant)
    r = await client.get(path)
    assert r.status_code == 404 and "页面不存在" in r.text
    r = await client.get(path.replace("/gamma/", "/nowhere/"))
    assert r.status_code == 404 and "页面不存在" in r.text


async def test_admin_invites_and_the_person_joins_end_to_end(client, database, owner_sql):
    """The whole round: the admin's form, the link, the new member on the members page."""
    tenant = await county(database)
    await admin_of(client, database, tenant)
    admin = session_of(client)
    r = await client.post("/t/alpha/invitations", data={"_csrf_token": await csrf(client, "/t/alpha/members"),
                                                        "name": "赵六", "role": "station_staff"})
    import re

    path = re.search(r"/join/alpha/[A-Za-z0-9_-]+", r.text).group(0)
    use_session(client, None)
    page = await client.get(path)
    r = await client.post(path, data={"_csrf_token": csrf_from(page.text), "username": "zhaoliu",
                                      "password": "a-long-password", "confirm": "a-long-password"})
    assert r.status_code == 200 and r.url.path == "/t/alpha/"
    use_session(client, admin)
    members = await client.get("/t/alpha/members")
    assert "赵六" in members.text and "zhaoliu" in members.text and "联络站工作人员" in members.text
    assert "目前没有待接受的邀请" in members.text


async def test_a_link_accepted_twice_at_the_same_moment_makes_one_account(database, owner_sql):
    """Two tabs (or a double click) both opened the link before either accepted it."""
    from app.accounts.invitations import accept, open_invitation

    alpha = await county(database)
    token = (await _issue(database, alpha)).rsplit("/", 1)[1]
    async with database.session(tenant_id=alpha.id) as first, database.session(tenant_id=alpha.id) as second:
        one = await open_invitation(first, alpha.id, token)
        two = await open_invitation(second, alpha.id, token)
        await second.commit()
        await accept(first, one, username="lisi", password=PASSWORD, confirm=PASSWORD)
        with pytest.raises(Refusal) as refused:
            await accept(second, two, username="lisi2", password=PASSWORD, confirm=PASSWORD)
        assert "just been used" in refused.value.message
        await second.rollback()
    assert [u["username"] for u in await owner_sql("SELECT username FROM users")] == ["lisi"]
    assert await count(owner_sql, "SELECT count(*) FROM memberships") == 1


def test_invitation_tokens_are_kept_out_of_the_access_log():
    import json
    import logging

    from app.core.logs import JsonFormatter

    record = logging.LogRecord("lianluo.web", logging.INFO, __file__, 1, "request", None, None)
    record.path = "/join/alpha/secret-token-value"
    line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/join/alpha/…"
