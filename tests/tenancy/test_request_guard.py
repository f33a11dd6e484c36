"""A tenant page's guard signs in with two statements (session, user and tenant; then the membership)
and binds the transaction as it goes: the user with the first, the tenant with the second only when
the membership is found. Every refusal still holds at once: revoked, idle or expired sessions,
disabled users, removed memberships, suspended and unknown tenants (issue 20)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import text

from app.core.logs import timestamp
from app.tenancy.access import _MEMBERSHIP
from tests.factories import add_member, login, make_tenant, make_user

BOUND = text("SELECT current_setting('app.tenant_id', true), current_setting('app.user_id', true)")


async def _signed_in(client, database, role: str = "county_admin"):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user, role)
    assert (await login(client, "wang")).status_code == 303
    return tenant, user


async def test_a_tenant_page_signs_in_with_two_statements_the_count_in_the_second(client, database):
    """The guard's fixed cost: the session with its user and tenant (1), the membership with the
    header's unread count (1); the settings page reads its own rows besides."""
    await _signed_in(client, database)
    await client.get("/t/alpha/")  # the first entry writes its audit row: not counted here
    r = await client.get("/t/alpha/settings")
    assert r.status_code == 200
    bare = await client.get("/account/password")  # a signed-in page outside tenants: the sign-in alone
    assert bare.status_code == 200 and int(bare.headers["x-query-count"]) == 1
    # the settings page's one read of its own comes on top of the two
    assert int(r.headers["x-query-count"]) <= 2 + 1, r.headers["x-query-count"]


async def test_revoked_session_and_disabled_user_stop_at_once(client, database, owner_sql):
    await _signed_in(client, database)
    assert (await client.get("/t/alpha/")).status_code == 200
    await owner_sql("UPDATE users SET disabled_at = now() WHERE username = 'wang'")
    r = await client.get("/t/alpha/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    await owner_sql("UPDATE users SET disabled_at = NULL WHERE username = 'wang'")
    assert (await client.get("/t/alpha/")).status_code == 200
    await owner_sql("UPDATE user_sessions SET revoked_at = now()")
    r = await client.get("/t/alpha/settings", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_removed_membership_and_suspended_tenant_stop_at_once(client, database, owner_sql):
    await _signed_in(client, database)
    assert (await client.get("/t/alpha/")).status_code == 200
    await owner_sql("UPDATE tenants SET status = 'suspended' WHERE slug = 'alpha'")
    suspended = await client.get("/t/alpha/")
    assert suspended.status_code == 404 and "暂停" in suspended.text
    await owner_sql("UPDATE tenants SET status = 'active' WHERE slug = 'alpha'")
    await owner_sql("UPDATE memberships SET revoked_at = now()")
    removed = await client.get("/t/alpha/")
    assert removed.status_code == 404 and "暂停" not in removed.text
    assert (await client.get("/t/no-such-county/")).status_code == 404


async def test_pending_tenant_is_not_found_even_for_its_member(client, database, owner_sql):
    await _signed_in(client, database)
    await owner_sql("UPDATE tenants SET status = 'pending' WHERE slug = 'alpha'")
    r = await client.get("/t/alpha/")
    assert r.status_code == 404 and "暂停" not in r.text


async def test_last_seen_moves_at_most_once_a_minute(client, database, owner_sql):
    await _signed_in(client, database)
    await owner_sql("UPDATE user_sessions SET last_seen_at = now() - interval '30 seconds'")
    [before] = await owner_sql("SELECT last_seen_at FROM user_sessions")
    await client.get("/t/alpha/")
    await client.get("/account/password")
    [same] = await owner_sql("SELECT last_seen_at FROM user_sessions")
    assert same["last_seen_at"] == before["last_seen_at"]
    await owner_sql("UPDATE user_sessions SET last_seen_at = now() - interval '2 minutes'")
    await client.get("/t/alpha/")
    [moved] = await owner_sql("SELECT last_seen_at FROM user_sessions")
    assert (datetime.now(timezone.utc) - moved["last_seen_at"]).total_seconds() < 60


async def test_entering_a_tenant_is_recorded_once(client, database, owner_sql):
    await _signed_in(client, database)
    for _ in range(3):
        assert (await client.get("/t/alpha/")).status_code == 200
    rows = await owner_sql("SELECT count(*) AS n FROM audit_log WHERE action = 'tenant_entered'")
    assert rows[0]["n"] == 1


async def test_the_membership_statement_binds_the_tenant_only_for_a_member(database):
    """Nothing is bound to a tenant before the membership is seen: for a stranger the statement finds
    nothing and leaves the tenant unbound; for a suspended tenant (``bind`` false) it binds nothing."""
    alpha = await make_tenant(database, "alpha")
    beta = await make_tenant(database, "beta")
    wang = await make_user(database, "wang")
    await add_member(database, alpha, wang)
    async with database.transaction(user_id=wang.id) as db:
        found = (await db.execute(_MEMBERSHIP, {"tenant_id": beta.id, "user_id": wang.id, "bind": True})).first()
        assert found is None
        assert (await db.execute(BOUND)).first()[0] == ""
        kept = (await db.execute(_MEMBERSHIP, {"tenant_id": alpha.id, "user_id": wang.id, "bind": False})).first()
        assert kept is not None and (await db.execute(BOUND)).first()[0] == ""
        member = (await db.execute(_MEMBERSHIP, {"tenant_id": alpha.id, "user_id": wang.id, "bind": True})).first()
        assert member is not None and (await db.execute(BOUND)).first() == (str(alpha.id), str(wang.id))


def test_the_plain_records_carry_every_column_and_show_no_secret():
    from sqlalchemy import inspect

    from app.accounts.access import UserRow
    from app.accounts.models import User

    keys = [a.key for a in inspect(User).column_attrs]
    user = UserRow(*range(len(keys)))
    assert [getattr(user, k) for k in keys] == list(range(len(keys)))
    user.totp_secret = "v1:sealed"  # the TOTP check updates the record it was given, as it did the object
    assert "sealed" not in repr(user) and repr(user) == f"<UserRecord id={keys.index('id')}>"


def test_log_timestamps_are_the_zone_aware_iso_form():
    for created in (time.time(), 1700000000.0009, 1700000000.9999996, 1.5):
        expected = datetime.fromtimestamp(created, timezone.utc).astimezone().isoformat(timespec="milliseconds")
        assert timestamp(created) == expected
