"""The public pages /p/{slug}/… against two tenants: a tenant's public pages show its own public
records only, and every other record — another tenant's, a proposed station, an image that hangs on
nothing public — is the same 404 as an id that does not exist. Reading them writes nothing.

(test_http_isolation.py attacks these routes too, as "other routes with a tenant in the path": A's
slug with B's ids must answer exactly like missing ids. This file adds the positive side and the
records that are A's own but not public.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.images import store_image
from app.stations.models import Station
from tests.isolation.routes import ID_TABLES, endpoints, normalise
from tests.isolation.world import World, _png, build_world, snapshot

MISSING_ID = 987654321


@pytest.fixture
async def world(database, owner_sql) -> World:
    return await build_world(database, owner_sql)


def public_endpoints(app):
    return [e for e in endpoints(app) if e.path.startswith("/p/") and e.method == "GET"]


async def test_public_routes_are_declared_public_and_name_their_ids(app):
    found = public_endpoints(app)
    assert {e.path for e in found} >= {
        "/p/{tenant_slug:str}", "/p/{tenant_slug:str}/stations/{station_id:int}",
        "/p/{tenant_slug:str}/stations/{station_id:int}/poster", "/p/{tenant_slug:str}/images/{image_id:int}",
    }
    for e in found:
        assert e.opt.get("public"), e
        for name, kind in e.params:
            # a token (the duty report's ballot link) is attacked as a secret by test_http_isolation
            assert name in ("tenant_slug", "token") or name in ID_TABLES, f"{e}: id parameter {name} unknown to the attack"


async def test_other_tenants_records_under_a_slug_are_the_ordinary_404(client, world, owner_sql):
    b_station = world.b.ids["stations"][0]
    b_images = world.b.ids["images"]
    before = await snapshot(owner_sql, world.a.id), await snapshot(owner_sql, world.b.id)
    for path, missing in (
        (f"/p/alpha/stations/{b_station}", f"/p/alpha/stations/{MISSING_ID}"),
        (f"/p/alpha/stations/{b_station}/poster", f"/p/alpha/stations/{MISSING_ID}/poster"),
        *[(f"/p/alpha/images/{i}", f"/p/alpha/images/{MISSING_ID}") for i in b_images],
    ):
        got, baseline = await client.get(path), await client.get(missing)
        assert got.status_code == baseline.status_code == 404, path
        assert normalise(got.text, path) == normalise(baseline.text, missing), path
        assert "beta" not in got.text.replace(path, "")
    # the same records are public under their own tenant's slug
    assert (await client.get(f"/p/beta/stations/{b_station}")).status_code == 200
    for i in b_images:
        assert (await client.get(f"/p/beta/images/{i}")).status_code == 200
    # A's list shows A's station only
    index = (await client.get("/p/alpha/")).text
    assert "alpha东街社区人大代表联络站" in index and "beta" not in index.replace("/p/alpha", "")
    page = (await client.get(f"/p/alpha/stations/{world.a.ids['stations'][0]}")).text
    assert "alpha代表" in page and "beta代表" not in page
    assert (await snapshot(owner_sql, world.a.id), await snapshot(owner_sql, world.b.id)) == before


async def test_own_records_that_are_not_public_are_the_ordinary_404(client, world, database):
    a = world.a
    async with database.transaction(tenant_id=a.id) as db:
        template = await db.scalar(select(Station).where(Station.id == a.ids["stations"][0]))
        orphan = await store_image(db, a.id, _png())
        proposed_photo = await store_image(db, a.id, _png())
        proposed = Station(tenant_id=a.id, kind_id=template.kind_id, node_id=template.node_id, name="alpha拟建联络站",
                           status="proposed", photo_id=proposed_photo.id)
        db.add(proposed)
        await db.flush()
        ids = {"orphan": orphan.id, "proposed_photo": proposed_photo.id, "proposed": proposed.id}
    baseline = await client.get(f"/p/alpha/stations/{MISSING_ID}")
    for path in (f"/p/alpha/stations/{ids['proposed']}", f"/p/alpha/stations/{ids['proposed']}/poster"):
        r = await client.get(path)
        assert r.status_code == 404 and "alpha拟建联络站" not in r.text
        assert normalise(r.text, path) == normalise(baseline.text, f"/p/alpha/stations/{MISSING_ID}")
    for label in ("orphan", "proposed_photo"):
        assert (await client.get(f"/p/alpha/images/{ids[label]}")).status_code == 404, label
    assert "alpha拟建联络站" not in (await client.get("/p/alpha/")).text


async def test_signed_in_staff_of_another_tenant_read_public_pages_like_anyone(client, world, owner_sql):
    """Public pages ignore the session: B's admin signed in sees A's public page as a stranger does,
    and nothing is recorded in either tenant (no 'entered the unit' entry)."""
    from tests.factories import login

    anonymous = (await client.get(f"/p/alpha/stations/{world.a.ids['stations'][0]}")).text
    before = await snapshot(owner_sql, world.a.id), await snapshot(owner_sql, world.b.id)
    assert (await login(client, "beta-county-admin")).status_code == 303
    r = await client.get(f"/p/alpha/stations/{world.a.ids['stations'][0]}")
    assert r.status_code == 200 and "set-cookie" not in r.headers
    assert r.text == anonymous
    assert "Beta-County-Admin" not in r.text
    assert (await snapshot(owner_sql, world.a.id), await snapshot(owner_sql, world.b.id)) == before
