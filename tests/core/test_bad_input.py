"""Bad input gets a clear answer in the user's language and changes nothing: unknown and
foreign tenants, suspended tenants, malformed forms, wrong passwords, stale CSRF tokens, big bodies."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import PASSWORD, add_member, csrf_from, login, make_tenant, make_user
from tests.isolation.routes import normalise

FORM = "application/x-www-form-urlencoded"


async def row_counts(owner_sql) -> dict[str, int]:
    tables = await owner_sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'alembic_version' ORDER BY 1"
    )
    out = {}
    for t in tables:
        out[t["relname"]] = (await owner_sql(f'SELECT count(*) AS n FROM "{t["relname"]}"'))[0]["n"]
    return out


def assert_clear_message(r) -> None:
    """A 400 says what is wrong in Chinese: the form again with its error line, or the 400 page."""
    assert '<html lang="zh-Hans">' in r.text
    assert 'class="error" role="alert"' in r.text or "请检查填写的内容后重试" in r.text, r.text
    assert "Traceback" not in r.text


@pytest.fixture
async def people(database):
    alpha = await make_tenant(database, "alpha")
    beta = await make_tenant(database, "beta")
    wang = await make_user(database, "wang", mobile="13812345678")
    li = await make_user(database, "li")
    await add_member(database, alpha, wang)
    await add_member(database, beta, li)
    return {"alpha": alpha, "beta": beta, "wang": wang, "li": li}


async def test_unknown_and_foreign_tenants_look_the_same(client, people):
    await login(client, "wang")
    unknown = await client.get("/t/no-such-county/")
    foreign = await client.get("/t/beta/")
    assert unknown.status_code == foreign.status_code == 404
    assert '<html lang="zh-Hans">' in unknown.text and "页面不存在" in unknown.text
    assert "beta县人大常委会" not in foreign.text
    assert normalise(unknown.text, "/t/no-such-county/") == normalise(foreign.text, "/t/beta/")
    await client.get("/lang/en?next=/")
    unknown = await client.get("/t/no-such-county/")
    foreign = await client.get("/t/beta/")
    assert unknown.status_code == foreign.status_code == 404
    assert '<html lang="en">' in unknown.text and "Page not found" in unknown.text
    assert normalise(unknown.text, "/t/no-such-county/") == normalise(foreign.text, "/t/beta/")


async def test_suspended_tenant_tells_its_members_only(client, people, owner_sql):
    await owner_sql("UPDATE tenants SET status = 'suspended' WHERE slug = 'beta'")
    await login(client, "li")
    r = await client.get("/t/beta/")
    assert r.status_code == 404
    assert "暂停" in r.text
    await client.post("/logout", data={"_csrf_token": csrf_from((await client.get("/login")).text)})
    client.cookies.clear()
    await login(client, "wang")
    stranger = await client.get("/t/beta/")
    unknown = await client.get("/t/no-such-county/")
    assert stranger.status_code == 404 and "暂停" not in stranger.text
    assert normalise(stranger.text, "/t/beta/") == normalise(unknown.text, "/t/no-such-county/")


LOGIN_BODIES = {
    "missing fields": b"",
    "only a login": b"login=wang",
    "not UTF-8": b"login=\xff\xfewang&password=" + PASSWORD.encode(),
    "percent-encoded non-UTF-8": b"login=%FF%FEwang&password=" + PASSWORD.encode(),
    "a huge field": b"login=wang&password=" + b"a" * 200_000,
    "a huge login": b"login=" + b"1" * 200_000 + b"&password=x",
    "broken encoding": b"%%%&&&===&login",
}


@pytest.mark.parametrize("case", list(LOGIN_BODIES))
async def test_malformed_login_forms_are_refused(client, people, owner_sql, case):
    token = csrf_from((await client.get("/login")).text)
    before = await row_counts(owner_sql)
    r = await client.post("/login", content=LOGIN_BODIES[case], headers={"content-type": FORM, "x-csrftoken": token},
                          follow_redirects=False)
    assert r.status_code == 400, case
    assert "lianluo_session" not in r.headers.get("set-cookie", "")
    assert_clear_message(r)
    assert "Traceback" not in r.text
    assert await row_counts(owner_sql) == before


async def test_wrong_types_on_the_login_form_are_refused(client, people, owner_sql):
    token = csrf_from((await client.get("/login")).text)
    before = await row_counts(owner_sql)
    as_files = await client.post("/login", files={"login": ("login.txt", b"wang"), "password": ("p.txt", b"x")},
                                 headers={"x-csrftoken": token}, follow_redirects=False)
    as_json = await client.post("/login", json={"login": ["wang"], "password": 5}, headers={"x-csrftoken": token},
                                follow_redirects=False)
    for r in (as_files, as_json):
        assert r.status_code == 400
        assert_clear_message(r)
    assert await row_counts(owner_sql) == before


PASSWORD_BODIES = {
    "missing fields": b"",
    "not UTF-8": b"current=" + PASSWORD.encode() + b"&new=\xff\xfe\xfd-new-password&confirm=\xff\xfe\xfd-new-password",
    "a huge field": b"current=" + PASSWORD.encode() + b"&new=" + b"n" * 200_000 + b"&confirm=" + b"n" * 200_000,
    "only the current": b"current=" + PASSWORD.encode(),
    "mismatch": b"current=" + PASSWORD.encode() + b"&new=a-good-new-password&confirm=another-password",
}


@pytest.mark.parametrize("case", list(PASSWORD_BODIES))
async def test_malformed_password_changes_are_refused(client, people, owner_sql, case):
    await login(client, "wang")
    token = csrf_from((await client.get("/account/password")).text)
    before = await owner_sql("SELECT password_hash FROM users WHERE username = 'wang'")
    counts = await row_counts(owner_sql)
    r = await client.post("/account/password", content=PASSWORD_BODIES[case],
                          headers={"content-type": FORM, "x-csrftoken": token}, follow_redirects=False)
    assert r.status_code == 400, case
    assert_clear_message(r)
    assert await owner_sql("SELECT password_hash FROM users WHERE username = 'wang'") == before
    assert await row_counts(owner_sql) == counts
    assert (await client.get("/t/alpha/", follow_redirects=False)).status_code == 200  # still signed in


async def test_wrong_password_is_401_and_mobile_login_too(client, people):
    r = await login(client, "wang", "not-the-password")
    assert r.status_code == 401 and "用户名、手机号码或密码错误" in r.text
    r = await login(client, "13812345678", "not-the-password")
    assert r.status_code == 401
    assert (await login(client, "13812345678")).status_code == 303


async def test_csrf_token_of_another_client_is_refused(app, client, people, owner_sql):
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        foreign_token = csrf_from((await other.get("/login")).text)
    await client.get("/login")  # this client has its own CSRF cookie
    before = await row_counts(owner_sql)
    r = await client.post("/login", data={"login": "wang", "password": PASSWORD, "_csrf_token": foreign_token},
                          follow_redirects=False)
    assert r.status_code == 403
    assert "表单已过期" in r.text
    assert "lianluo_session" not in r.headers.get("set-cookie", "")
    r = await client.post("/login", data={"login": "wang", "password": PASSWORD},
                          headers={"x-csrftoken": foreign_token}, follow_redirects=False)
    assert r.status_code == 403
    assert await row_counts(owner_sql) == before


async def test_oversized_body_is_413_in_the_users_language(app, client, people, owner_sql):
    limit = app.state.settings.max_body_bytes
    token = csrf_from((await client.get("/login")).text)
    body = (b"login=wang&password=" + b"x" * limit)[: limit + 1]
    before = await row_counts(owner_sql)
    headers = {"content-type": FORM, "x-csrftoken": token}
    r = await client.post("/login", content=body, headers=headers)
    assert r.status_code == 413
    assert '<html lang="zh-Hans">' in r.text and "提交的内容过大" in r.text
    await client.get("/lang/en?next=/")
    r = await client.post("/login", content=body, headers=headers)
    assert r.status_code == 413
    assert '<html lang="en">' in r.text and "What you sent is too large" in r.text
    # exactly at the limit is not "too large" (the form is merely wrong)
    at_limit = await client.post("/login", content=body[:limit], headers=headers)
    assert at_limit.status_code == 400
    assert await row_counts(owner_sql) == before
