"""/metrics: Prometheus figures for the operator, from allowed addresses or with the token only; requests
by route template (no slugs or ids in the labels), the database pool, and the outbox backlog."""

from __future__ import annotations

import dataclasses
import re

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from app.core.settings import AddressList
from app.main import create_app
from tests.factories import make_tenant

TOKEN = "metrics-token-for-the-test-0123456789"


@pytest.fixture
def metrics_app(settings):
    return create_app(dataclasses.replace(settings, metrics_token=TOKEN,
                                          metrics_allow=AddressList.parse("10.0.0.0/8, 192.0.2.7"),
                                          trusted_proxies=AddressList.parse("testclient")))


@pytest.fixture
async def metrics_client(metrics_app):
    async with AsyncTestClient(app=metrics_app, base_url="http://testserver.local") as c:
        yield c


def _value(body: str, name: str, **labels) -> float:
    """The sample `name{labels}` of an exposition text (labels in any order)."""
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match[1] != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2] or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(match[3])
    raise AssertionError(f"no sample {name}{labels} in:\n{body}")


async def _scrape(client, **headers):
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}", **headers})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_metrics_are_a_404_without_the_token_or_an_allowed_address(client, metrics_client):
    # nothing configured (the default): nobody
    assert (await client.get("/metrics")).status_code == 404
    assert (await client.get("/metrics", headers={"Authorization": "Bearer "})).status_code == 404
    # configured: a wrong token, or an address outside the allowed ones, is the same 404 as no page
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                    {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "11.0.0.1"}):
        r = await metrics_client.get("/metrics", headers=headers)
        assert r.status_code == 404, headers
        assert "lianluo_http" not in r.text


async def test_metrics_are_served_to_an_allowed_address_without_the_token(metrics_client):
    # behind the trusted proxy the client's own address counts: a network (CIDR) or an address
    for forwarded in ("10.20.30.40", "192.0.2.7"):
        r = await metrics_client.get("/metrics", headers={"X-Forwarded-For": forwarded})
        assert r.status_code == 200, forwarded
        assert "lianluo_http_requests_total" in r.text


async def test_requests_count_by_route_template_and_status(metrics_client, database):
    await make_tenant(database, "alpha")
    before = await _scrape(metrics_client)
    try:
        start = _value(before, "lianluo_http_requests_total", route="/p/{tenant_slug}", status="200", method="GET")
    except AssertionError:
        start = 0
    for _ in range(3):
        assert (await metrics_client.get("/p/alpha")).status_code == 200
    assert (await metrics_client.get("/p/alpha/no-such-page/123")).status_code == 404
    body = await _scrape(metrics_client)
    assert _value(body, "lianluo_http_requests_total", route="/p/{tenant_slug}", status="200", method="GET") == start + 3
    assert _value(body, "lianluo_http_request_duration_seconds_count", route="/p/{tenant_slug}", status="200") == start + 3
    assert _value(body, "lianluo_http_requests_total", route="unmatched", status="404") >= 1
    # no raw path reaches a label: one series per route, not per county or record
    # (the label sets only: a count of 123 in the value is no leak)
    labels = [line.rpartition("}")[0] for line in body.splitlines() if line.startswith("lianluo_http")]
    assert labels and not any("alpha" in line or "123" in line for line in labels)


async def test_the_database_pool_in_use(metrics_client, metrics_app):
    database = metrics_app.state.db
    async with database.session() as held:
        await held.execute(text("SELECT 1"))  # a connection checked out until the block ends
        body = await _scrape(metrics_client)
        assert _value(body, "lianluo_db_pool_checked_out") == 1
        assert _value(body, "lianluo_db_pool_size") == database.engine.sync_engine.pool.size() > 0
    assert _value(await _scrape(metrics_client), "lianluo_db_pool_checked_out") == 0


async def _outbox_row(owner_sql, tenant_id: int, key: str, status: str, next_attempt: str, claimed: str | None = None):
    await owner_sql(
        "INSERT INTO outbox (tenant_id, dedupe_key, kind, channel, subject, address, body, due_at, status, "
        "next_attempt_at, claimed_at) VALUES ($1, $2, 'activity_sms', 'sms', 'activity:1', '13800000000', 'text', "
        f"now(), $3, now() + interval '{next_attempt}', " + (f"now() + interval '{claimed}'" if claimed else "NULL")
        + ")", tenant_id, key, status)


async def test_the_outbox_backlog_and_the_age_of_the_oldest_due_message(metrics_client, database, owner_sql):
    body = await _scrape(metrics_client)
    assert _value(body, "lianluo_outbox_due_messages", state="pending") == 0
    assert _value(body, "lianluo_outbox_oldest_due_seconds") == 0
    alpha, beta = await make_tenant(database, "alpha"), await make_tenant(database, "beta")
    await _outbox_row(owner_sql, alpha.id, "a1", "pending", "-10 minutes")  # due ten minutes ago
    await _outbox_row(owner_sql, alpha.id, "a2", "pending", "-1 minute")
    await _outbox_row(owner_sql, alpha.id, "a3", "pending", "+1 hour")  # not due yet
    await _outbox_row(owner_sql, beta.id, "b1", "pending", "-2 minutes")
    await _outbox_row(owner_sql, beta.id, "b2", "sending", "-3 minutes", claimed="-1 hour")  # its worker died
    await _outbox_row(owner_sql, beta.id, "b3", "sent", "-1 day")
    body = await _scrape(metrics_client)
    assert _value(body, "lianluo_outbox_due_messages", state="pending") == 3
    assert _value(body, "lianluo_outbox_due_messages", state="stalled") == 1
    assert _value(body, "lianluo_outbox_due_tenants") == 2
    assert 600 <= _value(body, "lianluo_outbox_oldest_due_seconds") < 3600
    assert _value(body, "lianluo_scrape_source_up", source="outbox") == 1


async def test_a_source_that_fails_does_not_fail_the_scrape(settings):
    app = create_app(dataclasses.replace(settings, metrics_token=TOKEN, redis_url="redis://127.0.0.1:1/0"))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        body = await _scrape(c)
    assert _value(body, "lianluo_scrape_source_up", source="worker") == 0
    assert _value(body, "lianluo_scrape_source_up", source="outbox") == 1
