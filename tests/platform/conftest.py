"""Helpers for the operator console tests: a signed-in, TOTP-verified operator."""

from __future__ import annotations

import pyotp
import pytest

from tests.factories import csrf_from, login, make_user, totp_code


async def enrolled_operator(database, owner_sql, username: str = "ops"):
    user = await make_user(database, username, operator=True)
    secret = pyotp.random_base32()
    await owner_sql("UPDATE users SET totp_secret = $1, totp_enabled_at = now() WHERE id = $2", secret, user.id)
    return user, secret


async def sign_in_operator(client, username: str, secret: str):
    r = await login(client, username)
    assert r.headers["location"] == "/ops/totp"
    page = await client.get("/ops/totp")
    r = await client.post("/ops/totp", data={"code": totp_code(secret), "_csrf_token": csrf_from(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ops/", r.text
    return r


@pytest.fixture
async def operator(client, database, owner_sql):
    """An operator signed in on ``client`` with TOTP verified."""
    user, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, "ops", secret)
    return user
