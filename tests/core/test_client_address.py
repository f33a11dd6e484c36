"""The audit log records the real client behind a trusted proxy, and never a forged address."""

import dataclasses

from litestar.testing import AsyncTestClient

from app.main import create_app
from tests.factories import login, make_user


async def _failed_login_address(app, owner_sql, forwarded: str) -> str:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        page = await client.get("/login")
        client.headers["X-Forwarded-For"] = forwarded
        await login(client, "wang", "wrong-password-here")
    rows = await owner_sql("SELECT client_addr FROM platform_audit_log ORDER BY id DESC LIMIT 1")
    assert page.status_code == 200
    return rows[0]["client_addr"]


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(settings, database, owner_sql):
    await make_user(database, "wang")
    app = create_app(dataclasses.replace(settings, trusted_proxies=frozenset()))
    assert await _failed_login_address(app, owner_sql, "203.0.113.9") == "testclient"


async def test_forwarded_for_is_believed_from_a_trusted_proxy(settings, database, owner_sql):
    await make_user(database, "wang")
    app = create_app(dataclasses.replace(settings, trusted_proxies=frozenset({"testclient"})))
    # the proxy appends the address it saw; anything before it came from the client and is not used
    assert await _failed_login_address(app, owner_sql, "10.9.9.9, 203.0.113.9") == "203.0.113.9"


async def test_proxies_by_network_behind_a_cloud_load_balancer(settings, database, owner_sql):
    """nginx (the peer) behind a cloud load balancer whose address is one of 10.0.0.0/8: each client
    keeps its own address instead of every client taking the balancer's."""
    from app.core.settings import AddressList

    await make_user(database, "wang")
    proxies = AddressList.parse("testclient, 10.0.0.0/8")
    app = create_app(dataclasses.replace(settings, trusted_proxies=proxies))
    assert await _failed_login_address(app, owner_sql, "203.0.113.9, 10.20.30.40") == "203.0.113.9"
    # what the client wrote itself, left of the first untrusted address, is still not believed
    assert await _failed_login_address(app, owner_sql, "10.1.1.1, 198.51.100.4, 10.20.30.40") == "198.51.100.4"


def test_trusted_proxies_setting_takes_networks_and_addresses(monkeypatch):
    from app.core.settings import load_settings

    monkeypatch.setenv("LIANLUO_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1, fd00::/8")
    proxies = load_settings().trusted_proxies
    assert {"10.200.3.4", "127.0.0.1", "fd12::1", "::ffff:10.1.2.3"} <= {a for a in
                                                                        ("10.200.3.4", "127.0.0.1", "fd12::1", "::ffff:10.1.2.3")
                                                                        if a in proxies}
    assert not any(a in proxies for a in ("11.0.0.1", "127.0.0.2", "2001:db8::1", "", "not-an-address"))
