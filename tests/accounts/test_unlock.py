"""A county admin unlocks the sign-in of a member whose account was locked by failed sign-ins."""

import pytest

from tests.accounts.people import admin_of, county, csrf, session_of, use_session
from tests.factories import add_member, csrf_from, login, make_user


async def lock(owner_sql, app, user) -> None:
    """The account's lockout, as a distributed attack leaves it."""
    limit = app.state.settings.failed_logins_per_hour
    await owner_sql(
        f"INSERT INTO failed_logins (user_id, client_addr, client_net) "
        f"SELECT $1, '10.0.' || i || '.1', '10.0.' || i || '.1' FROM generate_series(1, {limit}) AS i", user.id
    )


async def signs_in(client, username: str) -> int:
    """The member tries from their own browser; the admin's browser is left as it was."""
    admin_cookie = session_of(client)
    use_session(client, None)
    status = (await login(client, username)).status_code
    use_session(client, admin_cookie)
    return status


async def test_county_admin_unlocks_a_locked_member_and_it_is_audited(client, database, owner_sql, app):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    zhao = await make_user(database, "zhao")
    m = await add_member(database, tenant, zhao, "township_staff", scope="城关镇")
    await lock(owner_sql, app, zhao)
    assert await signs_in(client, "zhao") == 429
    page = await client.get(f"/t/alpha/members/{m.id}")
    assert "登录已被锁定" in page.text and "解除锁定" in page.text
    r = await client.post(f"/t/alpha/members/{m.id}/unlock", data={"_csrf_token": await csrf(client, "/t/alpha/")},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/t/alpha/members?done=unlocked"
    assert "已解除" in (await client.get(r.headers["location"])).text
    assert "登录已被锁定" not in (await client.get(f"/t/alpha/members/{m.id}")).text
    audit = await owner_sql("SELECT tenant_id, target, details->>'member' AS member FROM audit_log "
                            "WHERE action = 'account_unlocked'")
    assert [(a["tenant_id"], a["target"], a["member"]) for a in audit] == [(tenant.id, f"membership:{m.id}", "Zhao")]
    assert "解除登录锁定" in (await client.get("/t/alpha/audit")).text
    assert await signs_in(client, "zhao") == 303


async def test_unlocking_does_not_lift_the_attackers_address_limit(client, database, app, monkeypatch):
    monkeypatch.setattr(app.state.settings, "trusted_proxies", frozenset({"testclient"}))
    tenant = await county(database)
    await admin_of(client, database, tenant)
    zhao = await make_user(database, "zhao")
    m = await add_member(database, tenant, zhao, "viewer")
    admin_cookie = session_of(client)
    use_session(client, None)
    token = csrf_from((await client.get("/login")).text)

    async def guess(n: int):
        return await client.post("/login", data={"login": "zhao", "password": f"guess-{n}", "_csrf_token": token},
                                 headers={"X-Forwarded-For": "203.0.113.9"})

    for n in range(app.state.settings.failed_logins_per_address):
        assert (await guess(n)).status_code == 401
    use_session(client, admin_cookie)
    await client.post(f"/t/alpha/members/{m.id}/unlock", data={"_csrf_token": await csrf(client, "/t/alpha/")})
    use_session(client, None)
    r = await guess(99)
    assert r.status_code == 429 and "此地址" in r.text


async def test_admin_of_another_county_cannot_unlock(client, database, owner_sql, app):
    alpha = await county(database)
    beta = await county(database, "beta")
    zhao = await make_user(database, "zhao")
    m = await add_member(database, alpha, zhao, "viewer")
    await admin_of(client, database, beta, "beta-admin")
    await lock(owner_sql, app, zhao)
    token = await csrf(client, "/t/beta/")
    for slug in ("beta", "alpha"):
        r = await client.post(f"/t/{slug}/members/{m.id}/unlock", data={"_csrf_token": token})
        assert r.status_code == 404, slug
    assert await signs_in(client, "zhao") == 429
    assert not await owner_sql("SELECT 1 FROM audit_log WHERE action = 'account_unlocked'")


@pytest.mark.parametrize("role", ["township_staff", "viewer", "station_staff"])
async def test_only_county_admins_unlock(client, database, owner_sql, app, role):
    tenant = await county(database)
    zhao = await make_user(database, "zhao")
    m = await add_member(database, tenant, zhao, "viewer")
    other = await make_user(database, "li")
    await add_member(database, tenant, other, role, scope="城关镇" if role == "township_staff" else None)
    await login(client, "li")
    await lock(owner_sql, app, zhao)
    r = await client.post(f"/t/alpha/members/{m.id}/unlock", data={"_csrf_token": await csrf(client, "/t/alpha/")})
    assert r.status_code == 404
    assert await signs_in(client, "zhao") == 429
