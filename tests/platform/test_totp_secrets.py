"""Operators' TOTP secrets are kept sealed (issue 14, item 10): the runtime role reads ciphertext only,
with a key from the settings; the key can be rotated."""

from __future__ import annotations

import asyncio
import re

import pyotp
import pytest

from tests.factories import csrf_from, login, make_user, totp_code
from tests.platform.conftest import enrolled_operator, sign_in_operator


async def stored(owner_sql, user) -> str:
    return (await owner_sql("SELECT totp_secret FROM users WHERE id = $1", user.id))[0]["totp_secret"]


async def test_enrolment_keeps_only_a_sealed_secret_and_the_code_works(client, database, owner_sql):
    user = await make_user(database, "ops", operator=True)
    await login(client, "ops")
    page = await client.get("/ops/totp/enrol")
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page.text).group(1).replace(" ", "")
    column = await stored(owner_sql, user)
    assert secret not in column and column.startswith("v1:")
    assert (await client.get("/ops/totp/enrol")).text.count(" ".join(re.findall(".{1,4}", secret))) == 1
    code = pyotp.TOTP(secret).now()
    r = await client.post("/ops/totp/enrol", data={"code": code, "_csrf_token": csrf_from(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ops/"
    assert (await client.get("/ops/")).status_code == 200
    assert secret not in await stored(owner_sql, user)


async def test_a_clear_secret_from_before_is_sealed_at_its_next_use(client, database, owner_sql):
    user, secret = await enrolled_operator(database, owner_sql)
    assert await stored(owner_sql, user) == secret
    await sign_in_operator(client, "ops", secret)
    column = await stored(owner_sql, user)
    assert column.startswith("v1:") and secret not in column
    await sign_in_operator(client, "ops", secret)  # and it still works sealed


async def test_migrate_seals_every_clear_secret(client, database, owner_sql, settings, monkeypatch):
    from app import cli

    first, first_secret = await enrolled_operator(database, owner_sql, "ops1")
    second, second_secret = await enrolled_operator(database, owner_sql, "ops2")
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    await asyncio.to_thread(cli.main, ["migrate"])  # the command run at every deployment
    for user, secret in ((first, first_secret), (second, second_secret)):
        column = await stored(owner_sql, user)
        assert column.startswith("v1:") and secret not in column
    await sign_in_operator(client, "ops2", second_secret)


async def test_migrate_without_the_key_leaves_sealing_to_the_app(client, database, owner_sql, settings, monkeypatch,
                                                                 tmp_path):
    """The deploy's migrate step may run with the owner's URL alone: sealing with a key made up there
    would lock the operators out, so it leaves the secrets to the web app (which seals at next use)."""
    from app import cli

    user, secret = await enrolled_operator(database, owner_sql)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.delenv("LIANLUO_SECRET_KEY")
    monkeypatch.setenv("LIANLUO_DATA_DIR", str(tmp_path))
    await asyncio.to_thread(cli.main, ["migrate"])
    assert await stored(owner_sql, user) == secret
    await sign_in_operator(client, "ops", secret)
    assert secret not in await stored(owner_sql, user)


async def test_rotating_the_key_keeps_operators_signing_in(client, database, owner_sql, app, monkeypatch):
    from app.core.sealing import Sealer

    user, secret = await enrolled_operator(database, owner_sql)
    old_key, new_key = "the-key-before-rotation-0123456789", "the-key-after-rotation-0123456789"
    before = Sealer([old_key]).seal(secret, context=f"user:{user.id}")
    await owner_sql("UPDATE users SET totp_secret = $1 WHERE id = $2", before, user.id)
    monkeypatch.setattr(app.state.settings, "totp_key", new_key)
    monkeypatch.setattr(app.state.settings, "totp_old_keys", (old_key,))
    await sign_in_operator(client, "ops", secret)
    after = await stored(owner_sql, user)
    assert after.split(":")[1] != before.split(":")[1]  # sealed again, under the new key's id
    monkeypatch.setattr(app.state.settings, "totp_old_keys", ())  # the old key retired
    await sign_in_operator(client, "ops", secret)


async def test_a_secret_sealed_under_an_unknown_key_does_not_verify(client, database, owner_sql, app, monkeypatch):
    user, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, "ops", secret)
    monkeypatch.setattr(app.state.settings, "totp_key", "another-key-nobody-kept-0123456789")
    await login(client, "ops")
    page = await client.get("/ops/totp")
    r = await client.post("/ops/totp", data={"code": totp_code(secret), "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 400
    assert (await client.get("/ops/", follow_redirects=False)).status_code == 303


def test_sealed_values_are_authenticated():
    from app.core.sealing import Sealer, Unsealable

    sealer = Sealer(["k" * 40])
    token = sealer.seal("JBSWY3DPEHPK3PXP", context="user:1")
    assert "JBSWY3DPEHPK3PXP" not in token
    assert sealer.open(token, context="user:1") == ("JBSWY3DPEHPK3PXP", False)
    assert sealer.seal("JBSWY3DPEHPK3PXP", context="user:1") != token  # a fresh nonce each time
    version, kid, nonce, body = token.split(":")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"{version}:{kid}:{nonce}:{flipped}", f"{version}:{kid}:{nonce[::-1]}:{body}"):
        with pytest.raises(Unsealable):
            sealer.open(bad, context="user:1")
    with pytest.raises(Unsealable):  # another operator's sealed secret copied into this row
        sealer.open(token, context="user:2")
    with pytest.raises(Unsealable):  # a key nobody kept
        Sealer(["m" * 40]).open(token, context="user:1")
