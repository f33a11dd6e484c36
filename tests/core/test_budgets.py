"""DESIGN.md's low-bandwidth budgets, asserted on bytes and queries (never on time):
first HTML response ≤ 14 KB compressed; CSS ≤ 10 KB; first visit ≤ 50 KB in ≤ 5 requests; a repeat
navigation ≤ 15 KB in 1 request. Sizes are what goes over the wire with `Accept-Encoding: br`.
`bench/bench.py` prints the same figures for a running server."""

from __future__ import annotations

import re

import pytest

from tests.factories import add_member, login, make_tenant, make_user

KB = 1024
HTML_BUDGET = 14 * KB
CSS_BUDGET = 10 * KB
FIRST_VISIT_BUDGET = 50 * KB
FIRST_VISIT_REQUESTS = 5
REPEAT_BUDGET = 15 * KB
# Database statements per request, counted by the app (X-Query-Count; each transaction's set_config
# counts as one). Tight on purpose: raise one only with a reason in the commit message.
# Signed in: the session lookup (2), then for a tenant page the tenant + membership lookup (2). The
# first entry into a tenant also records it in the session and the tenant's audit log (+3). The tenant
# home counts the unassigned deputies in the member's scope: its transaction's set_config and the count
# (+2; township staff also load their subtree's path for the scope, +1), and lists the coming
# activities in scope (+1). Every tenant page shows the unread count of the member's inbox in its
# header; the home counts it together with the county admin's failed messages of the last days (+1).
# A county admin's home also reads the set-up checklist's steps in one statement (+1, app.home.setup).
# The member's workbench (app.home.workbench) reads all its counts, and the county settings they need,
# in one statement (+1), and the compliance board's summary (+1 here, where the county has no rules: a
# county with rules pays the board's own few queries, one per source, never one per station or deputy).
QUERY_BUDGETS = {
    "/login": 0, "/": 0,
    "/t/alpha/": 11, "/t/alpha/ (first entry)": 14, "/t/alpha/ (township staff)": 11,
    "/tenants": 4, "/account/password": 2,
}

BR = {"Accept-Encoding": "br"}
ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')


async def fetch(client, path: str, **headers) -> tuple[object, bytes]:
    """The response and its body exactly as sent (still compressed)."""
    async with client.stream("GET", path, headers={**BR, **headers}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    return r, raw


@pytest.fixture
async def signed_in(client, database):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user)
    assert (await login(client, "wang")).status_code == 303
    return client


@pytest.mark.parametrize("path", ["/login", "/"])
async def test_public_pages_within_budget(client, path):
    r, raw = await fetch(client, path)
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == "br"
    assert len(raw) <= HTML_BUDGET, f"{path}: {len(raw)} B compressed"
    assert int(r.headers["x-query-count"]) <= QUERY_BUDGETS[path]


async def test_tenant_home_within_budget(signed_in):
    for label in ("/t/alpha/ (first entry)", "/t/alpha/"):
        r, raw = await fetch(signed_in, "/t/alpha/")
        assert r.status_code == 200
        assert r.headers.get("content-encoding") == "br"
        assert len(raw) <= HTML_BUDGET, f"{len(raw)} B compressed"
        assert int(r.headers["x-query-count"]) <= QUERY_BUDGETS[label], label
        assert r.headers["cache-control"] == "no-store"


async def test_tenant_home_of_township_staff_within_budget(client, database):
    tenant = await make_tenant(database, "alpha", nodes=[("城关镇", "township")])
    user = await make_user(database, "li")
    await add_member(database, tenant, user, "township_staff", scope="城关镇")
    assert (await login(client, "li")).status_code == 303
    await client.get("/t/alpha/")  # the first entry
    r, raw = await fetch(client, "/t/alpha/")
    assert r.status_code == 200 and len(raw) <= HTML_BUDGET
    assert int(r.headers["x-query-count"]) <= QUERY_BUDGETS["/t/alpha/ (township staff)"], r.headers["x-query-count"]


@pytest.mark.parametrize("path", ["/tenants", "/account/password"])
async def test_signed_in_pages_within_budget(signed_in, path):
    r, raw = await fetch(signed_in, path)
    assert r.status_code == 200
    assert len(raw) <= HTML_BUDGET, f"{path}: {len(raw)} B compressed"
    assert int(r.headers["x-query-count"]) <= QUERY_BUDGETS[path]


async def test_static_assets_precompressed_and_immutable(client):
    html = (await client.get("/login")).text
    assets = ASSET.findall(html)
    css = [a for a in assets if a.endswith(".css")]
    htmx = [a for a in assets if "/htmx-" in a]
    assert css and htmx, assets
    for path in assets:
        r, raw = await fetch(client, path)
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "br", path
        assert "immutable" in r.headers["cache-control"]
        if path in css:
            assert len(raw) <= CSS_BUDGET, f"{path}: {len(raw)} B"
    # A revalidation of a hashed asset costs no body.
    etag = (await client.get(css[0], headers=BR)).headers["etag"]
    r, raw = await fetch(client, css[0], **{"If-None-Match": etag})
    assert r.status_code == 304 and raw == b""


async def test_first_and_repeat_visit_of_tenant_home(signed_in):
    r, html = await fetch(signed_in, "/t/alpha/")
    text = (await signed_in.get("/t/alpha/")).text
    assets = ASSET.findall(text)
    total, requests = len(html), 1
    for path in assets:
        _, raw = await fetch(signed_in, path)
        total += len(raw)
        requests += 1
    assert requests <= FIRST_VISIT_REQUESTS, assets
    assert total <= FIRST_VISIT_BUDGET, f"first visit {total} B in {requests} requests"
    # Repeat navigation: the hashed assets are cached as immutable, so only the HTML travels.
    assert len(html) <= REPEAT_BUDGET
