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
