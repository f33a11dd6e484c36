import re

import pyotp

from tests.factories import csrf_from, login, make_user
from tests.platform.conftest import enrolled_operator, sign_in_operator


def _wrong(code: str) -> str:
    return f"{(int(code) + 500000) % 1000000:06d}"


async def test_operator_without_totp_is_sent_to_enrol_and_cannot_reach_console(client, database, owner_sql):
    user = await make_user(database, "ops", operator=True)
    r = await login(client, "ops")
    assert r.headers["location"] == "/ops/totp"
    r = await client.get("/ops/totp", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ops/totp/enrol"
    for path in ("/ops/", "/ops/audit"):
        r = await client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/ops/totp/enrol", path
    page = await client.get("/ops/totp/enrol")
    assert page.status_code == 200
    assert "<svg" in page.text
    row = (await owner_sql("SELECT totp_secret, totp_enabled_at FROM users WHERE id = $1", user.id))[0]
    assert row["totp_secret"] and row["totp_enabled_at"] is None
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page.text).group(1).replace(" ", "")
    uri = pyotp.TOTP(secret).provisioning_uri(name="ops", issuer_name="Lianluo")
    assert uri.startswith("otpauth://totp/Lianluo:ops?")
    # reloading keeps the same secret (a scanned code stays valid)
    again = await client.get("/ops/totp/enrol")
    assert re.search(r"<code>([A-Z2-7 ]+)</code>", again.text).group(1).replace(" ", "") == secret
    totp = pyotp.TOTP(secret)
    r = await client.post("/ops/totp/enrol", data={"code": _wrong(totp.now()), "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 400 and "验证码错误" in r.text
    assert (await owner_sql("SELECT totp_enabled_at FROM users"))[0]["totp_enabled_at"] is None
    r = await client.post("/ops/totp/enrol", data={"code": totp.now(), "_csrf_token": csrf_from(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ops/"
    assert (await owner_sql("SELECT totp_enabled_at FROM users"))[0]["totp_enabled_at"] is not None
    assert (await owner_sql("SELECT totp_verified FROM user_sessions WHERE revoked_at IS NULL"))[0]["totp_verified"]
    assert (await client.get("/ops/")).status_code == 200
    actions = [a["action"] for a in await owner_sql("SELECT action FROM platform_audit_log ORDER BY id")]
    assert actions[-2:] == ["totp_failed", "totp_enrolled"]
    # once enrolled, the enrol page no longer shows a secret
    r = await client.get("/ops/totp/enrol", follow_redirects=False)
    assert r.status_code == 303


async def test_verify_with_code_marks_only_this_session(client, database, owner_sql):
    user, secret = await enrolled_operator(database, owner_sql)
    await login(client, "ops")
    token_before = client.cookies.get("lianluo_session")
    r = await client.get("/ops/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ops/totp"
    page = await client.get("/ops/totp")
    assert page.status_code == 200 and "验证码" in page.text
    r = await client.post("/ops/totp", data={"code": pyotp.TOTP(secret).now(), "_csrf_token": csrf_from(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ops/"
    assert client.cookies.get("lianluo_session") == token_before  # nothing else rotated
    assert (await client.get("/ops/")).status_code == 200
    assert "totp_verified" in [a["action"] for a in await owner_sql("SELECT action FROM platform_audit_log")]
    # a second sign-in starts unverified again
    await login(client, "ops")
    assert (await client.get("/ops/", follow_redirects=False)).status_code == 303


async def test_wrong_codes_count_as_failed_logins_and_lock(client, app, database, owner_sql):
    user, secret = await enrolled_operator(database, owner_sql)
    await login(client, "ops")
    page = await client.get("/ops/totp")
    code = pyotp.TOTP(secret).now()
    for bad in (_wrong(code), "12345", "abcdef"):
        r = await client.post("/ops/totp", data={"code": bad, "_csrf_token": csrf_from(page.text)})
        assert r.status_code == 400
    assert (await owner_sql("SELECT count(*) AS n FROM failed_logins WHERE user_id = $1", user.id))[0]["n"] == 3
    actions = [a["action"] for a in await owner_sql("SELECT action FROM platform_audit_log")]
    assert actions.count("totp_failed") == 3
    assert (await client.get("/ops/", follow_redirects=False)).status_code == 303
    limit = app.state.settings.failed_logins_per_hour
    await owner_sql(f"INSERT INTO failed_logins (user_id) SELECT $1 FROM generate_series(1, {limit})", user.id)
    r = await client.post("/ops/totp", data={"code": pyotp.TOTP(secret).now(), "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 429  # even the right code is refused now
    assert not (await owner_sql("SELECT totp_verified FROM user_sessions WHERE revoked_at IS NULL"))[0]["totp_verified"]


async def test_signed_in_operator_fixture_flow(client, database, owner_sql):
    user, secret = await enrolled_operator(database, owner_sql, "ops2")
    await sign_in_operator(client, "ops2", secret)
    assert (await client.get("/ops/")).status_code == 200


async def test_a_code_cannot_be_used_twice(client, database, owner_sql):
    """Someone who watched the operator type a code cannot reuse it in their own session."""
    user, secret = await enrolled_operator(database, owner_sql)
    code = pyotp.TOTP(secret).now()
    await login(client, "ops")
    page = await client.get("/ops/totp")
    r = await client.post("/ops/totp", data={"code": code, "_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    await login(client, "ops")  # a second session
    page = await client.get("/ops/totp")
    r = await client.post("/ops/totp", data={"code": code, "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 400 and "验证码错误" in r.text
    assert not (await owner_sql(
        "SELECT totp_verified FROM user_sessions WHERE revoked_at IS NULL"))[0]["totp_verified"]
    assert (await owner_sql("SELECT count(*) AS n FROM failed_logins"))[0]["n"] == 1
