"""Tenant A's county admin attacks tenant B over HTTP through every route the app has.

Routes are discovered from the app (tests/isolation/routes.py), so a route added later is covered
without editing this file. For every route under /t/{tenant_slug}/ and every method:
  (a) B's slug (with B's real ids)  -> the same status and body as (c) an unknown slug;
  (b) A's slug with B's real ids    -> 404, the same as (c) A's slug with ids that do not exist;
and B's rows (and its people's accounts and sessions) are byte-for-byte unchanged afterwards.
Outside /t/: non-public routes require a login, and /ops answers a non-operator with the 404 page.
"""

from __future__ import annotations

import itertools

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import csrf_from, login
from tests.isolation.routes import ID_TABLES, Endpoint, endpoints, is_record_param, neutral, normalise
from tests.isolation.world import World, build_world, snapshot

UNKNOWN_SLUG = "no-such-county"
MISSING_ID = 987654321
MISSING_TOKEN = "no-such-token-0000000000000000000000"


@pytest.fixture
async def world(database, owner_sql) -> World:
    return await build_world(database, owner_sql)


def tenant_endpoints(app) -> list[Endpoint]:
    """Members' routes: B's slug must look exactly like an unknown slug. Public routes (/join, /p/…)
    legitimately answer under B's slug and are attacked below with A's slug only."""
    return [e for e in endpoints(app) if "{tenant_slug" in e.path and e.path.startswith("/t/")]


def plausible_form(side, token: str) -> dict[str, str]:
    """What a form on these pages might carry, pointing at the victim's records."""
    some = lambda table: str((side.ids.get(table) or [MISSING_ID])[-1])  # noqa: E731
    return {
        "_csrf_token": token, "display_name": "闯入者", "name": "闯入者", "mobile": "13700137000",
        "role": "county_admin", "scope_node_id": some("admin_nodes"), "node_id": some("admin_nodes"),
        "member_id": some("memberships"), "invitation_id": some("invitations"), "user_id": str(side.users["viewer"].id),
        "tenant_id": str(side.id), "reason": "test", "note": "test", "confirm": "1", "status": "suspended",
    }


async def send(client, endpoint: Endpoint, url: str, token: str, side) -> object:
    if endpoint.unsafe:
        return await client.request(
            endpoint.method, url, data=plausible_form(side, token), headers={"x-csrftoken": token},
            follow_redirects=False,
        )
    return await client.request(endpoint.method, url, follow_redirects=False)


def id_candidates(side, name: str, kind: str, all_a_ids: set[int]) -> list[object]:
    """The victim's real records that a parameter could name."""
    if kind == "int":
        table = ID_TABLES.get(name)
        if table in side.ids:
            return list(side.ids[table])
        if name == "user_id":
            return [u.id for u in side.users.values()]
        # unknown name: every B id that is not also some A record's id
        return sorted(side.all_ids() - all_a_ids) or [MISSING_ID]
    if "token" in name:
        return list(side.invitation_tokens)
    return [MISSING_TOKEN]


def missing_value(kind: str) -> object:
    return MISSING_ID if kind == "int" else ("00000000-0000-0000-0000-00000000dead" if kind == "uuid" else MISSING_TOKEN)


def fillings(endpoint: Endpoint, side, all_a_ids: set[int]) -> list[dict[str, object]]:
    """Parameter values naming the side's real records (one dict per combination tried)."""
    record = [(n, k) for n, k in endpoint.params if is_record_param(n, k)]
    base = {n: neutral(n, k) for n, k in endpoint.params if n != "tenant_slug"}
    if not record:
        return [base]
    lists = [id_candidates(side, n, k, all_a_ids) for n, k in record]
    longest = max(len(x) for x in lists)
    out = []
    for i in range(longest):
        values = dict(base)
        for (n, _), candidates in zip(record, lists):
            values[n] = candidates[i % len(candidates)]
        out.append(values)
    return out


async def attack(client, endpoint: Endpoint, world: World, token: str, a_ids: set[int], *,
                 same_slug_only: bool) -> list[str]:
    failures = []
    record = [(n, k) for n, k in endpoint.params if is_record_param(n, k)]
    for values in fillings(endpoint, world.b, a_ids):
        if not same_slug_only:
            # (a) B's slug and B's ids vs (c) an unknown slug with the same ids
            url_b = endpoint.url({**values, "tenant_slug": "beta"})
            url_c = endpoint.url({**values, "tenant_slug": UNKNOWN_SLUG})
            got_b = await send(client, endpoint, url_b, token, world.b)
            got_c = await send(client, endpoint, url_c, token, world.b)
            if got_c.status_code != 404:
                failures.append(f"{endpoint}: unknown slug gave {got_c.status_code}, not 404")
            if got_b.status_code != got_c.status_code:
                failures.append(f"{endpoint}: B's slug gave {got_b.status_code}, unknown slug {got_c.status_code}")
            elif normalise(got_b.text, url_b) != normalise(got_c.text, url_c):
                failures.append(f"{endpoint}: B's slug answers differently from an unknown slug")
            if got_b.headers.get("location") != got_c.headers.get("location"):
                failures.append(f"{endpoint}: redirects differ for B's slug and an unknown slug")
        if not record or endpoint.method == "OPTIONS":
            continue
        # (b) A's slug with B's ids vs (c) A's slug with ids that do not exist
        url_ab = endpoint.url({**values, "tenant_slug": "alpha"})
        missing = {**values, "tenant_slug": "alpha", **{n: missing_value(k) for n, k in record}}
        url_am = endpoint.url(missing)
        got_ab = await send(client, endpoint, url_ab, token, world.b)
        got_am = await send(client, endpoint, url_am, token, world.b)
        if not same_slug_only:
            if got_ab.status_code != 404:
                failures.append(f"{endpoint}: A's slug with B's ids {values} gave {got_ab.status_code}, not 404")
            if got_am.status_code != 404:
                failures.append(f"{endpoint}: A's slug with missing ids gave {got_am.status_code}, not 404")
        if got_ab.status_code != got_am.status_code:
            failures.append(f"{endpoint}: A's slug with B's ids gave {got_ab.status_code}, "
                            f"with missing ids {got_am.status_code}")
        elif normalise(got_ab.text, url_ab) != normalise(got_am.text, url_am):
            failures.append(f"{endpoint}: B's ids answer differently from missing ids")
        if got_ab.headers.get("location") != got_am.headers.get("location"):
            failures.append(f"{endpoint}: redirects differ for B's ids and missing ids")
    return failures


async def test_tenant_routes_do_not_cross_tenants(app, client, world, owner_sql, database):
    found = tenant_endpoints(app)
    print("\ntenant routes attacked:\n  " + "\n  ".join(map(str, found)))
    assert found, "no /t/{tenant_slug} routes discovered"
    assert any(e.path.rstrip("/") == "/t/{tenant_slug:str}" and e.method == "GET" for e in found)

    b_people = [u.id for u in world.b.users.values()]
    before = await snapshot(owner_sql, world.b.id, b_people)
    a_ids = world.a.all_ids()

    r = await login(client, "alpha-county-admin")
    assert r.status_code == 303
    home = await client.get("/t/alpha/")
    assert home.status_code == 200 and "alpha县人大常委会" in home.text
    token = csrf_from(home.text)

    failures: list[str] = []
    for endpoint in found:
        failures += await attack(client, endpoint, world, token, a_ids, same_slug_only=False)
    # Other routes that name a tenant in their path (the public invitation link /join/{slug}/{token},
    # the public pages /p/{slug}/…, see also test_public_isolation.py): B's slug may be legitimately
    # reachable there, but A's slug with B's records must answer exactly as A's slug with records
    # that do not exist.
    others = [e for e in endpoints(app) if "{tenant_slug" in e.path and not e.path.startswith("/t/")]
    print("other routes with a tenant in the path:\n  " + "\n  ".join(map(str, others)))
    for endpoint in others:
        failures += await attack(client, endpoint, world, token, a_ids, same_slug_only=True)

    # control: the id parameters are understood (A's own records open for A's admin), so the 404s
    # above come from the isolation, not from a misread parameter
    opened = []
    for endpoint in found:
        record = [(n, k) for n, k in endpoint.params if is_record_param(n, k)]
        if endpoint.method != "GET" or not record:
            continue
        values = fillings(endpoint, world.a, set())[0]
        r = await client.get(endpoint.url({**values, "tenant_slug": "alpha"}))
        print(f"control {endpoint} with A's own ids: {r.status_code}")
        opened.append(r.status_code)
    if opened:
        assert 200 in opened, "no tenant route with an id opened A's own record"

    # still signed in as A's admin (a route that ended the session would make every 404 meaningless)
    assert (await client.get("/t/alpha/")).status_code == 200
    assert failures == [], "\n".join(failures)
    after = await snapshot(owner_sql, world.b.id, b_people)
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert changed == {}, f"B's data changed: {changed}"
    sessions = await owner_sql(
        "SELECT count(*) AS n FROM user_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE u.username = 'alpha-county-admin' AND s.current_tenant_id = $1", world.b.id
    )
    assert sessions[0]["n"] == 0


async def test_every_route_is_public_guarded_or_tenant_scoped(app, world):
    """Outside /t/ and /ops, a route without opt={"public": True} needs a signed-in user."""
    found = [
        e for e in endpoints(app)
        if not e.opt.get("public") and not e.path.startswith(("/t/", "/ops")) and e.method != "OPTIONS"
    ]
    print("\nroutes that must require a login:\n  " + "\n  ".join(map(str, found)))
    assert any(e.path == "/tenants" for e in found)
    failures = []
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as anonymous:
        token = csrf_from((await anonymous.get("/login")).text)
        for endpoint in found:
            url = endpoint.url({n: neutral(n, k) for n, k in endpoint.params})
            if endpoint.unsafe:
                r = await anonymous.request(endpoint.method, url, data={"_csrf_token": token},
                                            headers={"x-csrftoken": token}, follow_redirects=False)
            else:
                r = await anonymous.request(endpoint.method, url, follow_redirects=False)
            to_login = r.status_code in (302, 303) and r.headers.get("location", "").startswith("/login")
            if not (to_login or r.status_code in (404, 405)):
                failures.append(f"{endpoint}: anonymous got {r.status_code}")
        # and the tenant pages send strangers to the login page too
        r = await anonymous.get("/t/beta/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert failures == [], "\n".join(failures)


async def test_operator_console_is_a_404_for_everyone_else(app, client, world):
    found = [e for e in endpoints(app) if e.path.startswith("/ops") and e.method != "OPTIONS"]
    print("\noperator routes:\n  " + "\n  ".join(map(str, found)))
    assert (await login(client, "alpha-county-admin")).status_code == 303
    home = await client.get("/t/alpha/")
    token = csrf_from(home.text)
    baseline = await client.get("/ops/no-such-page")
    assert baseline.status_code == 404
    failures = []
    ids = itertools.cycle(sorted(world.b.all_ids()) or [1])
    for endpoint in found:
        url = endpoint.url({n: (next(ids) if k == "int" else neutral(n, k)) for n, k in endpoint.params})
        r = await send(client, endpoint, url, token, world.b)
        if r.status_code != 404:
            failures.append(f"{endpoint}: a non-operator got {r.status_code}")
        elif endpoint.method == "GET" and normalise(r.text, url) != normalise(baseline.text, "/ops/no-such-page"):
            failures.append(f"{endpoint}: the 404 differs from the ordinary 404 page")
    assert failures == [], "\n".join(failures)
