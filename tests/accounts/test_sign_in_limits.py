"""Sign-in limits (issue 14, item 9): a limit per client address that trips long before the
account's lockout, and unknown usernames answered exactly like known ones."""

from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD, csrf_from, make_user

ATTACKER = "203.0.113.9"


@pytest.fixture
def forwarded(app, monkeypatch):
    """The test client's peer is a trusted proxy, so each request can say which address it comes from."""
    monkeypatch.setattr(app.state.settings, "trusted_proxies", frozenset({"testclient"}))


async def attempt(client, login: str, password: str, addr: str):
    page = await client.get("/login", headers={"X-Forwarded-For": addr})
    return await client.post(
        "/login", data={"login": login, "password": password, "_csrf_token": csrf_from(page.text)},
        headers={"X-Forwarded-For": addr}, follow_redirects=False,
    )


def seen(response, login: str) -> tuple[int, str]:
    """What a person sees, with what differs per request (tokens, the typed name) taken out."""
    body = re.sub(r'value="[A-Za-z0-9_\-.=]{20,}"', 'value="TOKEN"', response.text)
    body = re.sub(r'"x-csrftoken": "[^"]*"', '"x-csrftoken": "TOKEN"', body)
    body = re.sub(r'nonce="[^"]*"', 'nonce="N"', body)
    return response.status_code, body.replace(login, "NAME")


async def test_a_hundred_wrong_passwords_from_one_address_do_not_lock_the_owner_out(client, database, forwarded):
    await make_user(database, "wang")
    answers = [(await attempt(client, "wang", "wrong-password", ATTACKER)).status_code for _ in range(100)]
    assert answers[0] == 401 and answers[-1] == 429  # the address is stopped long before the account
    limited = await attempt(client, "wang", "wrong-password", ATTACKER)
    assert "此地址" in limited.text and "分钟后再试" in limited.text
    r = await attempt(client, "wang", PASSWORD, "198.51.100.7")  # the owner, at their own desk
    assert r.status_code == 303, r.text
    assert "lianluo_session" in r.headers["set-cookie"]


async def test_the_attacking_address_is_refused_even_the_right_password(client, database, forwarded, app):
    await make_user(database, "wang")
    limit = app.state.settings.failed_logins_per_address
    for _ in range(limit):
        await attempt(client, "nobody-here", "wrong-password", ATTACKER)
    r = await attempt(client, "wang", PASSWORD, ATTACKER)
    assert r.status_code == 429
    assert "lianluo_session" not in r.headers.get("set-cookie", "")


async def test_unknown_and_known_usernames_answer_alike_up_to_the_address_limit(client, database, forwarded, app):
    await make_user(database, "wang", mobile="13800138000")
    limit = app.state.settings.failed_logins_per_address
    for i in range(limit + 2):
        known = seen(await attempt(client, "wang", "wrong-password", "198.51.100.1"), "wang")
        unknown = seen(await attempt(client, "zhangsan", "wrong-password", "198.51.100.2"), "zhangsan")
        assert known == unknown, f"attempt {i + 1}"
        assert known[0] == (401 if i < limit else 429)


async def test_unknown_and_known_usernames_lock_alike_under_a_distributed_attack(
    client, database, forwarded, app, monkeypatch
):
    """Spread over many addresses, both names reach the account lockout at the same count, with the
    same page: the 429 does not tell which usernames exist. (Small limits keep the test short.)"""
    monkeypatch.setattr(app.state.settings, "failed_logins_per_address", 4)
    monkeypatch.setattr(app.state.settings, "failed_logins_per_hour", 10)
    await make_user(database, "wang")
    answers = {"wang": [], "zhangsan": []}
    for i in range(11):
        for n, name in enumerate(answers):
            addr = f"10.{n}.{i // 3}.1"  # three tries per address: never the address limit
            answers[name].append(seen(await attempt(client, name, "wrong-password", addr), name))
    assert answers["wang"] == answers["zhangsan"]
    assert answers["wang"][-1][0] == 429 and "登录失败次数过多" in answers["wang"][-1][1]
    assert {status for status, _ in answers["wang"][:-1]} == {401}


async def test_an_unknown_name_counts_whatever_its_case_and_spaces(client, database, forwarded, app, monkeypatch):
    monkeypatch.setattr(app.state.settings, "failed_logins_per_hour", 3)
    for n, typed in enumerate(("  ZhangSan ", "zhangsan", "ZHANGSAN")):
        assert (await attempt(client, typed, "wrong-password", f"10.0.0.{n}")).status_code == 401
    assert (await attempt(client, "zhangsan", "wrong-password", "10.0.0.9")).status_code == 429


async def test_one_ipv6_subscriber_is_one_address(client, database, forwarded, app):
    """A client with a whole IPv6 /64 cannot walk through its addresses to escape the limit."""
    await make_user(database, "wang")
    for n in range(app.state.settings.failed_logins_per_address):
        assert (await attempt(client, "wang", "wrong-password", f"2001:db8:5:7::{n + 1:x}")).status_code == 401
    assert (await attempt(client, "wang", PASSWORD, "2001:db8:5:7:abcd::1")).status_code == 429
    assert (await attempt(client, "wang", PASSWORD, "2001:db8:5:8::1")).status_code == 303
