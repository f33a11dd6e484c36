from tests.factories import PASSWORD, add_member, csrf_from, login, make_tenant, make_user


async def test_login_page_is_chinese_by_default(client):
    r = await client.get("/login")
    assert r.status_code == 200
    assert '<html lang="zh-Hans">' in r.text
    assert "登录" in r.text
    assert r.headers["cache-control"] == "no-store"


async def test_login_lands_member_in_their_only_tenant(client, database):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user)
    r = await login(client, "wang")
    assert r.status_code == 303
    assert "lianluo_session" in r.headers["set-cookie"]
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=lax" in r.headers["set-cookie"]
    home = await client.get("/", follow_redirects=True)
    assert home.url.path == "/t/alpha/"
    assert "alpha县人大常委会" in home.text


async def test_login_by_mobile_number(client, database):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "li", mobile="13800138000")
    await add_member(database, tenant, user)
    r = await login(client, "13800138000")
    assert r.status_code == 303


async def test_wrong_password_is_refused_in_chinese_and_audited(client, database, owner_sql):
    await make_user(database, "wang")
    r = await login(client, "wang", "not-the-password")
    assert r.status_code == 401
    assert "用户名、手机号码或密码错误" in r.text
    assert "lianluo_session" not in r.headers.get("set-cookie", "")
    rows = await owner_sql("SELECT action FROM platform_audit_log")
    assert [r["action"] for r in rows] == ["login_failed"]
    assert (await owner_sql("SELECT count(*) AS n FROM user_sessions"))[0]["n"] == 0


async def test_login_in_english_when_chosen(client):
    await client.get("/lang/en?next=/login")
    r = await client.get("/login")
    assert '<html lang="en">' in r.text and "Sign in" in r.text


async def test_session_id_rotates_at_login(client, database):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user)
    await login(client, "wang")
    first = client.cookies.get("lianluo_session")
    await login(client, "wang")
    second = client.cookies.get("lianluo_session")
    assert first and second and first != second
    client.cookies.set("lianluo_session", first)
    r = await client.get("/t/alpha/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_logout_revokes_the_session_server_side(client, database):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user)
    await login(client, "wang")
    token = client.cookies.get("lianluo_session")
    page = await client.get("/t/alpha/")
    r = await client.post("/logout", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set("lianluo_session", token)  # a stolen copy of the cookie is useless now
    r = await client.get("/t/alpha/", follow_redirects=False)
    assert r.status_code == 303


async def test_idle_session_expires(client, database, owner_sql):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user)
    await login(client, "wang")
    await owner_sql("UPDATE user_sessions SET last_seen_at = now() - interval '31 minutes'")
    r = await client.get("/t/alpha/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_absolute_expiry(client, database, owner_sql):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user)
    await login(client, "wang")
    await owner_sql("UPDATE user_sessions SET expires_at = now() - interval '1 second'")
    r = await client.get("/t/alpha/", follow_redirects=False)
    assert r.status_code == 303


async def test_account_lockout_after_failed_logins(client, database, app, owner_sql):
    user = await make_user(database, "wang")
    limit = app.state.settings.failed_logins_per_hour
    await owner_sql(
        f"INSERT INTO failed_logins (user_id) SELECT $1 FROM generate_series(1, {limit})", user.id
    )
    r = await login(client, "wang", PASSWORD)  # even the right password is refused now
    assert r.status_code == 429
    assert "登录失败次数过多" in r.text
    actions = [r["action"] for r in await owner_sql("SELECT action FROM platform_audit_log")]
    assert actions == ["login_refused_locked"]


async def test_login_without_csrf_token_is_refused(client, database):
    await make_user(database, "wang")
    await client.get("/login")
    r = await client.post("/login", data={"login": "wang", "password": PASSWORD})
    assert r.status_code == 403
    assert "表单已过期" in r.text
    assert "lianluo_session" not in r.headers.get("set-cookie", "")
