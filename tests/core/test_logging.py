"""Logs are JSON lines that tie a request to its tenant and user, and never carry passwords or
full mobile numbers."""

from __future__ import annotations

import json
import logging

import pytest

from app.core.logs import JsonFormatter
from tests.factories import PASSWORD, add_member, csrf_from, login, make_tenant, make_user

MOBILE = "13812345678"


class Capture(logging.Handler):
    """Formats each record as it is emitted (the request's context variables are live then)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def access(self) -> list[dict]:
        return [e for e in map(json.loads, self.lines) if e["msg"] == "request" and e["logger"] == "lianluo.web"]


@pytest.fixture
def captured():
    handler = Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.fixture
async def wang(database):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang", mobile=MOBILE)
    await add_member(database, tenant, user)
    return user


async def test_access_line_carries_request_tenant_and_user(client, wang, captured):
    await login(client, "wang")
    captured.lines.clear()
    r = await client.get("/t/alpha/")
    assert r.status_code == 200
    [line] = captured.access()
    assert line["request_id"] == r.headers["x-request-id"]
    assert line["tenant"] == "alpha"
    assert line["user"] == wang.id
    assert line["method"] == "GET" and line["path"].rstrip("/") == "/t/alpha" and line["status"] == 200
    assert isinstance(line["ms"], (int, float))


async def test_every_request_gets_its_own_id_and_an_access_line(client, wang, captured):
    responses = [await client.get("/login"), await client.get("/no-such-page"), await client.get("/healthz"),
                 await client.post("/login", data={"login": "x", "password": "y"})]  # no CSRF token: 403
    lines = captured.access()
    assert [(e["path"], e["status"]) for e in lines] == [
        ("/login", 200), ("/no-such-page", 404), ("/healthz", 200), ("/login", 403)
    ]
    assert [e["request_id"] for e in lines] == [r.headers["x-request-id"] for r in responses]
    assert len({e["request_id"] for e in lines}) == 4
    assert all(e["tenant"] is None and e["user"] is None for e in lines)


async def test_failed_login_by_mobile_leaks_neither_password_nor_number(client, wang, captured):
    secret = "Wrong-but-close-" + PASSWORD
    token = csrf_from((await client.get("/login")).text)
    r = await client.post("/login", data={"login": MOBILE, "password": secret, "_csrf_token": token},
                          follow_redirects=False)
    assert r.status_code == 401
    r = await client.post(f"/login?next=/t/alpha/%3Fm%3D{MOBILE}",
                          data={"login": MOBILE, "password": PASSWORD, "_csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert captured.lines, "nothing was logged"
    for line in captured.lines:
        assert secret not in line and PASSWORD not in line
        assert MOBILE not in line, line
    assert any(e["status"] == 401 for e in captured.access())


async def test_scrub_masks_mobile_numbers_in_messages(captured):
    logging.getLogger("lianluo.test").warning("could not reach %s or +86%s", MOBILE, "13912345678")
    [line] = captured.lines
    entry = json.loads(line)
    assert MOBILE not in line and "13912345678" not in line
    assert "138****5678" in entry["msg"] and "139****5678" in entry["msg"]


async def test_the_proxy_request_id_is_kept_in_the_response_and_the_log_line(client, captured):
    rid = "7f3c2a9e1b4d4c0a9e8f6d5c4b3a2910"  # nginx's $request_id
    r = await client.get("/login", headers={"X-Request-Id": rid})
    assert r.headers["x-request-id"] == rid
    [line] = captured.access()
    assert line["request_id"] == rid


@pytest.mark.parametrize("given", ["a" * 129, "id with spaces", 'x"}, "user": 1', "", "ab\tcd"])
async def test_a_request_id_that_is_not_a_plain_token_is_replaced(client, captured, given):
    r = await client.get("/login", headers={"X-Request-Id": given})
    rid = r.headers["x-request-id"]
    assert rid != given and len(rid) == 16
    assert [line["request_id"] for line in captured.access()] == [rid]


def test_timestamps_carry_milliseconds_and_the_zone(captured):
    import re
    import time
    from datetime import datetime

    before = time.time()
    logging.getLogger("lianluo.test").warning("tick")
    [line] = captured.lines
    ts = json.loads(line)["ts"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", ts), ts
    assert abs(datetime.fromisoformat(ts).timestamp() - before) < 60
