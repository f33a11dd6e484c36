"""The members page: who belongs to the tenant, changing roles and scopes, removing members."""

import pytest

from tests.accounts.people import admin_of, count, county, csrf, node_id, session_of, use_session
from tests.factories import add_member, login, make_user


async def test_members_page_lists_members_masked_with_roles_and_scopes(client, database, owner_sql):
    tenant = await county(database)
    await admin_of(client, database, tenant, mobile="13800138000")
    staff = await make_user(database, "zhao", mobile="13912345678")
    await add_member(database, tenant, staff, "township_staff", scope="城关镇")
    r = await client.get("/t/alpha/members")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert "成员与邀请" in r.text
    assert "Zhao" in r.text and "zhao" in r.text and "乡镇（街道）工作人员" in r.text and "城关镇" in r.text
    assert "139****5678" in r.text and "13912345678" not in r.text
    assert "138****8000" in r.text and "县级管理员" in r.text


async def test_members_of_another_tenant_are_not_listed(client, database):
    tenant = await county(database)
    other = await county(database, "beta")
    await admin_of(client, database, tenant)
    stranger = await make_user(database, "stranger")
    await add_member(database, other, stranger, "viewer")
    r = await client.get("/t/alpha/members")
    assert "stranger" not in r.text


async def test_members_page_uses_a_constant_number_of_queries(client, database):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    await client.get("/t/alpha/members")  # first visit writes the tenant_entered entry
    few = int((await client.get("/t/alpha/members")).headers["x-query-count"])
    for i in range(6):
        user = await make_user(database, f"user{i}", mobile=f"1390000000{i}")
        await add_member(database, tenant, user, "township_staff" if i % 2 else "viewer",
                         scope="城关镇" if i % 2 else None)
    from app.accounts.invitations import invite

    async with database.transaction(tenant_id=tenant.id) as db:
        for i in range(4):
            await invite(db, tenant_id=tenant.id, actor_id=None, display_name=f"被邀请{i}", role="viewer")
    many = int((await client.get("/t/alpha/members")).headers["x-query-count"])
    assert many == few


@pytest.mark.parametrize("role", ["township_staff", "viewer", "deputy", "station_staff"])
async def test_other_roles_get_404_on_member_pages(client, database, owner_sql, role):
    tenant = await county(database)
    admin = await make_user(database, "admin")
    admin_m = await add_member(database, tenant, admin, "county_admin")
    user = await make_user(database, "zhang")
    await add_member(database, tenant, user, role, scope="城关镇" if role == "township_staff" else None)
    await login(client, "zhang")
    home = await client.get("/t/alpha/")
    assert "成员与邀请" not in home.text and "审计日志" not in home.text
    for path in ("/t/alpha/members", f"/t/alpha/members/{admin_m.id}"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "页面不存在" in r.text
    token = await csrf(client, "/t/alpha/")
    for action, data in (("role", {"role": "viewer"}), ("remove", {})):
        r = await client.post(f"/t/alpha/members/{admin_m.id}/{action}", data={"_csrf_token": token, **data})
        assert r.status_code == 404
    rows = await owner_sql("SELECT role, revoked_at FROM memberships WHERE id = $1", admin_m.id)
    assert rows[0]["role"] == "county_admin" and rows[0]["revoked_at"] is None


async def test_home_shows_role_and_admin_links(client, database):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    r = await client.get("/t/alpha/")
    assert "您的角色：县级管理员" in r.text
    assert 'href="/t/alpha/members"' in r.text and 'href="/t/alpha/audit"' in r.text


async def test_change_role_and_scope_is_audited_with_old_and_new_role(client, database, owner_sql):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    user = await make_user(database, "zhao")
    m = await add_member(database, tenant, user, "viewer")
    town = await node_id(owner_sql, tenant, "东城街道")
    page = await client.get(f"/t/alpha/members/{m.id}")
    assert page.status_code == 200 and "更改角色" in page.text
    r = await client.post(f"/t/alpha/members/{m.id}/role",
                          data={"_csrf_token": await csrf(client, "/t/alpha/members"), "role": "township_staff",
                                "scope": str(town)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/t/alpha/members?done=role"
    assert "角色已更改" in (await client.get(r.headers["location"])).text
    row = (await owner_sql("SELECT role, scope_node_id FROM memberships WHERE id = $1", m.id))[0]
    assert (row["role"], row["scope_node_id"]) == ("township_staff", town)
    audit = await owner_sql(
        "SELECT target, details->>'old_role' AS old, details->>'new_role' AS new FROM audit_log "
        "WHERE action = 'membership_role_changed'"
    )
    assert [(a["target"], a["old"], a["new"]) for a in audit] == [(f"membership:{m.id}", "viewer", "township_staff")]


@pytest.mark.parametrize("data, message", [
    ({"role": "township_staff", "scope": ""}, "乡镇（街道）工作人员需要选择所在的乡镇或街道"),
    ({"role": "township_staff", "scope": "OTHER_TENANT"}, "请从列表中选择"),
    ({"role": "township_staff", "scope": "x1"}, "请从列表中选择"),
    ({"role": "superuser", "scope": ""}, "请选择角色"),
])
async def test_bad_role_change_is_refused_and_writes_nothing(client, database, owner_sql, data, message):
    tenant = await county(database)
    other = await county(database, "beta")
    await admin_of(client, database, tenant)
    user = await make_user(database, "zhao")
    m = await add_member(database, tenant, user, "viewer")
    if data["scope"] == "OTHER_TENANT":
        data = {**data, "scope": str(await node_id(owner_sql, other, "城关镇"))}
    token = await csrf(client, "/t/alpha/members")
    before = await count(owner_sql, "SELECT count(*) FROM audit_log")
    r = await client.post(f"/t/alpha/members/{m.id}/role", data={"_csrf_token": token, **data})
    assert r.status_code == 400
    assert message in r.text and "Zhao" in r.text
    row = (await owner_sql("SELECT role, scope_node_id FROM memberships WHERE id = $1", m.id))[0]
    assert (row["role"], row["scope_node_id"]) == ("viewer", None)
    assert await count(owner_sql, "SELECT count(*) FROM audit_log") == before


async def test_the_last_county_admin_cannot_demote_or_remove_themself(client, database, owner_sql):
    tenant = await county(database)
    _, me = await admin_of(client, database, tenant)
    token = await csrf(client, "/t/alpha/members")
    before = await count(owner_sql, "SELECT count(*) FROM audit_log")
    r = await client.post(f"/t/alpha/members/{me.id}/role", data={"_csrf_token": token, "role": "viewer"})
    assert r.status_code == 400 and "您是本单位唯一的县级管理员" in r.text
    r = await client.post(f"/t/alpha/members/{me.id}/remove", data={"_csrf_token": token, "confirm": "1"})
    assert r.status_code == 400 and "您是本单位唯一的县级管理员" in r.text
    row = (await owner_sql("SELECT role, revoked_at FROM memberships WHERE id = $1", me.id))[0]
    assert row["role"] == "county_admin" and row["revoked_at"] is None
    assert await count(owner_sql, "SELECT count(*) FROM audit_log") == before
    assert (await client.get("/t/alpha/members")).status_code == 200  # still signed in, still admin


async def test_an_admin_may_step_down_when_another_admin_remains(client, database, owner_sql):
    tenant = await county(database)
    _, me = await admin_of(client, database, tenant)
    other = await make_user(database, "second")
    await add_member(database, tenant, other, "county_admin")
    r = await client.post(f"/t/alpha/members/{me.id}/role",
                          data={"_csrf_token": await csrf(client, "/t/alpha/members"), "role": "viewer"},
                          follow_redirects=False)
    assert r.status_code == 303
    assert (await client.get("/t/alpha/members")).status_code == 404  # no longer an admin


async def test_remove_member_ends_their_sessions_in_this_tenant_only(client, database, owner_sql):
    tenant = await county(database)
    beta = await county(database, "beta")
    await admin_of(client, database, tenant)
    admin = session_of(client)
    user = await make_user(database, "zhao")
    m = await add_member(database, tenant, user, "viewer")
    await add_member(database, beta, user, "viewer")
    use_session(client, None)
    await login(client, "zhao")
    zhao_alpha = session_of(client)
    assert (await client.get("/t/alpha/")).status_code == 200
    use_session(client, None)
    await login(client, "zhao")
    zhao_beta = session_of(client)
    assert (await client.get("/t/beta/")).status_code == 200

    use_session(client, admin)
    token = await csrf(client, "/t/alpha/members")
    r = await client.post(f"/t/alpha/members/{m.id}/remove", data={"_csrf_token": token}, follow_redirects=False)
    assert r.status_code == 400 and "请勾选" in r.text  # not confirmed: nothing changes
    assert (await owner_sql("SELECT revoked_at FROM memberships WHERE id = $1", m.id))[0]["revoked_at"] is None
    r = await client.post(f"/t/alpha/members/{m.id}/remove", data={"_csrf_token": token, "confirm": "1"},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/t/alpha/members?done=removed"
    page = await client.get(r.headers["location"])
    assert "该成员已被移除" in page.text and "zhao" not in page.text
    # signed out of the session that was in alpha; the one in beta carries on
    use_session(client, zhao_alpha)
    r = await client.get("/t/alpha/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    use_session(client, zhao_beta)
    assert (await client.get("/t/beta/")).status_code == 200
    assert (await client.get("/t/alpha/")).status_code == 404
    audit = await owner_sql("SELECT details->>'old_role' AS role FROM audit_log WHERE action = 'membership_removed'")
    assert [a["role"] for a in audit] == ["viewer"]
    assert (await owner_sql("SELECT revoked_at FROM memberships WHERE id = $1", m.id))[0]["revoked_at"] is not None


async def test_admin_removing_themself_is_signed_out(client, database, owner_sql):
    tenant = await county(database)
    _, me = await admin_of(client, database, tenant)
    other = await make_user(database, "second")
    await add_member(database, tenant, other, "county_admin")
    r = await client.post(f"/t/alpha/members/{me.id}/remove",
                          data={"_csrf_token": await csrf(client, "/t/alpha/members"), "confirm": "1"},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = await client.get("/t/alpha/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_member_of_another_tenant_is_404(client, database, owner_sql):
    tenant = await county(database)
    beta = await county(database, "beta")
    await admin_of(client, database, tenant)
    stranger = await make_user(database, "stranger")
    m = await add_member(database, beta, stranger, "viewer")
    token = await csrf(client, "/t/alpha/members")
    assert (await client.get(f"/t/alpha/members/{m.id}")).status_code == 404
    assert (await client.post(f"/t/alpha/members/{m.id}/role", data={"_csrf_token": token, "role": "deputy"})).status_code == 404
    assert (await client.post(f"/t/alpha/members/{m.id}/remove", data={"_csrf_token": token})).status_code == 404
    row = (await owner_sql("SELECT role, revoked_at FROM memberships WHERE id = $1", m.id))[0]
    assert row["role"] == "viewer" and row["revoked_at"] is None


async def test_role_change_without_csrf_token_is_refused(client, database, owner_sql):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    user = await make_user(database, "zhao")
    m = await add_member(database, tenant, user, "viewer")
    await client.get("/t/alpha/members")
    r = await client.post(f"/t/alpha/members/{m.id}/role", data={"role": "county_admin"})
    assert r.status_code == 403
    r = await client.post(f"/t/alpha/members/{m.id}/remove", data={})
    assert r.status_code == 403
    row = (await owner_sql("SELECT role, revoked_at FROM memberships WHERE id = $1", m.id))[0]
    assert row["role"] == "viewer" and row["revoked_at"] is None


async def test_members_page_of_a_busy_county_stays_within_the_page_budget(client, database, owner_sql):
    import gzip

    tenant = await county(database)
    await admin_of(client, database, tenant)
    await owner_sql(
        "INSERT INTO users (username, display_name, password_hash, mobile) "
        "SELECT 'member' || n, '成员' || n, 'x', '139' || lpad(n::text, 8, '0') FROM generate_series(1, 150) AS n"
    )
    await owner_sql(
        "INSERT INTO memberships (tenant_id, user_id, role) SELECT $1, id, 'deputy' FROM users WHERE username LIKE 'member%'",
        tenant.id,
    )
    await owner_sql(
        "INSERT INTO invitations (tenant_id, token_hash, display_name, role, expires_at) "
        "SELECT $1, sha256(n::text::bytea), '被邀请' || n, 'viewer', now() + interval '1 day' FROM generate_series(1, 20) AS n",
        tenant.id,
    )
    r = await client.get("/t/alpha/members")
    assert r.text.count("<td>人大代表</td>") == 150
    size = len(gzip.compress(r.content, 6))
    print("members page, 151 members and 20 invitations:", len(r.content), "bytes,", size, "gzipped")
    assert size <= 14 * 1024
