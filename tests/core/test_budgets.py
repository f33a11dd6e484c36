"""DESIGN.md's low-bandwidth budgets, asserted on bytes and queries (never on time):
first HTML response ≤ 14 KB compressed; CSS ≤ 10 KB; first visit ≤ 50 KB in ≤ 5 requests; a repeat
navigation ≤ 15 KB in 1 request. Sizes are what goes over the wire with `Accept-Encoding: br`.
`bench/bench.py` prints the same figures for a running server."""

from __future__ import annotations

import re

import pytest

from app.compliance import snapshot_jobs

from tests.factories import add_member, login, make_tenant, make_user

KB = 1024
HTML_BUDGET = 14 * KB
CSS_BUDGET = 10 * KB
FIRST_VISIT_BUDGET = 50 * KB
FIRST_VISIT_REQUESTS = 5
REPEAT_BUDGET = 15 * KB
# Database statements per request, counted by the app (X-Query-Count; each transaction's set_config
# counts as one). Tight on purpose: raise one only with a reason in the commit message.
# Signed in: the session with its user, binding the user in the same statement (1; on a tenant page it
# reads the tenant too), then for a tenant page the membership, binding the tenant (+1); the guard and
# the page share one transaction (issue 20: was 2 + 2 + the page's own set_config). The first entry
# into a tenant also records it in the session and the tenant's audit log (+2). The tenant home counts
# the unassigned deputies in the member's scope (+1; township staff also load their subtree's path
# for the scope, +1), and lists the coming
# activities in scope (+1). Every tenant page shows the unread count of the member's inbox in its
# header, read in the membership statement; the home reads there too the county admin's messages that
# need attention (+0).
# A county admin's home also reads the set-up checklist's steps in one statement (+1, app.home.setup).
# The member's workbench (app.home.workbench) reads all its counts, and the county settings they need,
# in one statement (+1), and the compliance board's summary (+1 here, where the county has no rules: a
# county with rules pays the board's own few queries, one per source, never one per station or deputy).
# A station's public page (ten deputies) with the public appraisal board on: the page's own reads (10,
# the county's board choice read in its first statement), then the grades of the latest published
# appraisal (+1), or this year's points (+3: the scheme and one aggregate per source it counts).
# The binder's photo album (forty photos): the tenant page's own (session, user and tenant 1,
# membership 1, the inbox count 1), the stations in reach (1) and every photo with
# its activity, station, kind and thumbnail's size in one statement (1).
QUERY_BUDGETS = {
    "/login": 0, "/": 0,
    "/t/alpha/": 8, "/t/alpha/ (first entry)": 10, "/t/alpha/ (township staff)": 7,  # county: + its snapshot
    "/tenants": 3, "/account/password": 1,
    "/p/…/stations/… (board: grades)": 11, "/p/…/stations/… (board: points)": 13,
    "/t/…/binder/album": 5,
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


async def test_tenant_home_within_budget(signed_in, database):
    await snapshot_jobs.refresh_due(database)  # the worker keeps the county's compliance snapshot
    for label in ("/t/alpha/ (first entry)", "/t/alpha/"):
        r, raw = await fetch(signed_in, "/t/alpha/")
        assert r.status_code == 200
        assert r.headers.get("content-encoding") == "br"
        assert len(raw) <= HTML_BUDGET, f"{len(raw)} B compressed"
        assert int(r.headers["x-query-count"]) <= QUERY_BUDGETS[label], (label, r.headers["x-query-count"])
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


@pytest.mark.parametrize("board", ["grades", "points"])
async def test_public_station_page_with_the_appraisal_board_within_budget(client, database, owner_sql, board):
    """Ten deputies on the board, each with a grade or points; the page stays a cacheable public page."""
    from datetime import date, datetime, timezone
    from decimal import Decimal

    from sqlalchemy import select

    from app.deputies.models import Deputy
    from app.duties.appraisal_models import Appraisal, AppraisalResult
    from app.duties.models import DutyEntry
    from app.duties.point_models import PointsItem
    from tests.public.conftest import build_county

    county = await build_county(database, "delta", extra_deputies=8)
    t = county.tenant.id
    await owner_sql("INSERT INTO tenant_config (tenant_id, public_board, public_duty_reports) VALUES ($1, $2, true) "
                    "ON CONFLICT (tenant_id) DO UPDATE SET public_board = $2, public_duty_reports = true", t, board)
    year = datetime.now(timezone.utc).year
    async with database.transaction(tenant_id=t) as db:
        deputies = list(await db.scalars(select(Deputy.id).where(Deputy.status == "active")))
        appraisal = Appraisal(tenant_id=t, year=year - 1, status="published", published_at=datetime.now(timezone.utc),
                              report_due=date(year, 3, 1))
        db.add(appraisal)
        db.add_all([PointsItem(tenant_id=t, code="speech", name="审议发言", source="entry", source_code="speech",
                               points=Decimal("3"), deputy_levels=[], sort=1),
                    PointsItem(tenant_id=t, code="visit", name="走访选区", source="activity", source_code="visit",
                               points=Decimal("2"), deputy_levels=[], sort=2)])
        await db.flush()
        for deputy_id in deputies:
            db.add(AppraisalResult(tenant_id=t, appraisal_id=appraisal.id, deputy_id=deputy_id, grade="pass",
                                   computed=Decimal("85")))
            db.add(DutyEntry(tenant_id=t, deputy_id=deputy_id, day=date(year, 1, 1), kind="speech", text="发言",
                             status="approved"))
    r, raw = await fetch(client, f"/p/delta/stations/{county.stations['active'].id}")
    assert r.status_code == 200 and r.headers["content-encoding"] == "br"
    assert r.headers["cache-control"].startswith("public, max-age=")
    assert len(raw) <= HTML_BUDGET, f"{len(raw)} B compressed"
    label = f"/p/…/stations/… (board: {board})"
    assert int(r.headers["x-query-count"]) <= QUERY_BUDGETS[label], r.headers["x-query-count"]
    html = (await client.get(f"/p/delta/stations/{county.stations['active'].id}")).text
    assert 'id="board"' in html and html.split('id="board"')[1].count("<tr>") == 10


async def test_the_binders_photo_album_within_budget(client, database):
    """Forty photos in a station's album: the page stays within the HTML budget (the images are
    separate requests, each a thumbnail of at most 40 KB, loaded lazily on screen) and its statements
    do not grow with the photos."""
    from tests.activities.world import EAST, build_activity_county, local, put_activity
    from tests.binder.album_world import put_photo

    ac = await build_activity_county(database, "alpha")
    for n in range(40):
        activity = await put_activity(database, ac, kind="visit", starts_at=local(2026, n % 12 + 1, n // 12 + 1),
                                      topic=f"走访选民第{n}次")
        await put_photo(database, ac, activity, f"代表在村委会听取群众意见{n}" if n % 2 else "")
    assert (await login(client, "alpha-admin")).status_code == 303
    path = f"/t/alpha/binder/album?station={ac.stations[EAST]}&year=2026"
    await client.get("/t/alpha/binder")  # the first entry into the tenant is recorded: not counted here
    r, raw = await fetch(client, path)
    assert r.status_code == 200 and r.headers["content-encoding"] == "br"
    html = (await client.get(path)).text
    assert html.count('loading="lazy"') == 40
    assert len(raw) <= HTML_BUDGET, f"{len(raw)} B compressed"
    assert int(r.headers["x-query-count"]) <= QUERY_BUDGETS["/t/…/binder/album"], r.headers["x-query-count"]
