"""Ids taken from form fields (not only from the path) must be in the member's scope and tenant:
a staff entry, a mandate to remove, the constituency of an imported row, a station to assign to, a
new parent of a place, a group leader, an account to link, a station kind."""

from __future__ import annotations

import csv
import io

import pytest

from app.deputies import import_checks
from app.tenancy.scope import Scope
from tests.deputies.deputy_world import add_deputy, add_group, build, count, post, signed_in


@pytest.fixture
async def county(database):
    c = await build(database)
    # stationed in 城关镇 (visible to the town's staff), elected in 河坝乡 (another township)
    c.both = await add_deputy(database, c, "两地代表", node="河坝村", station="东街社区人大代表联络站")
    c.heba_only = await add_deputy(database, c, "河坝代表", node="河坝村", station="河坝村人大代表联络站")
    return c


def _csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


# --- stations: staff ---------------------------------------------------------------------------

async def test_station_staff_deputy_must_be_stationed_there(app, county, owner_sql):
    """A township's staff cannot add as staff of their station a deputy of another township (by id):
    that would show the other deputy's name (any id) on their station page."""
    station = county.stations["东街社区人大代表联络站"]
    async with signed_in(app, county, "town") as client:
        r = await post(client, f"{client.base}/stations/{station}/staff",
                       {"role": "liaison", "person": f"d:{county.heba_only}"})
        assert r.status_code == 400
        assert "河坝代表" not in r.text
        ok = await post(client, f"{client.base}/stations/{station}/staff",
                        {"role": "liaison", "person": f"d:{county.both}"})
        assert ok.status_code == 303
    assert await count(owner_sql, "station_staff", "deputy_id = $1", county.heba_only) == 0
    assert await count(owner_sql, "station_staff", "deputy_id = $1", county.both) == 1


async def test_station_staff_user_must_be_a_member_of_this_tenant(app, database, county, owner_sql):
    other = await build(database, "beta")
    station = county.stations["东街社区人大代表联络站"]
    stranger = other.users["admin"].id
    async with signed_in(app, county, "admin") as client:
        r = await post(client, f"{client.base}/stations/{station}/staff",
                       {"role": "liaison", "person": f"u:{stranger}"})
        assert r.status_code == 400
    assert await count(owner_sql, "station_staff") == 0


# --- deputies: mandates, stationing, account, group leader -------------------------------------

async def test_township_staff_cannot_remove_a_mandate_of_another_township(app, county, owner_sql):
    mandate = (await owner_sql("SELECT id FROM deputy_mandates WHERE deputy_id = $1", county.both))[0]["id"]
    async with signed_in(app, county, "town") as client:
        assert (await client.get(f"{client.base}/deputies/{county.both}")).status_code == 200
        r = await post(client, f"{client.base}/deputies/{county.both}/mandates/{mandate}/remove")
        assert r.status_code == 400
    assert await count(owner_sql, "deputy_mandates", "id = $1", mandate) == 1
    async with signed_in(app, county, "admin") as client:
        r = await post(client, f"{client.base}/deputies/{county.both}/mandates/{mandate}/remove")
        assert r.status_code == 303
    assert await count(owner_sql, "deputy_mandates", "id = $1", mandate) == 0


async def test_assign_to_a_station_of_another_township_or_tenant_is_refused(app, database, county, owner_sql):
    other = await build(database, "beta")
    mine = await add_deputy(database, county, "东街代表", node="东街社区")
    async with signed_in(app, county, "town") as client:
        for station in (county.stations["河坝村人大代表联络站"], other.stations["东街社区人大代表联络站"]):
            r = await post(client, f"{client.base}/deputies/{mine}/assign", {"station_id": str(station)})
            assert r.status_code == 400
    assert await count(owner_sql, "station_deputies", "deputy_id = $1", mine) == 0


async def test_link_to_an_account_of_another_tenant_is_refused(app, database, county, owner_sql):
    other = await build(database, "beta")
    async with signed_in(app, county, "admin") as client:
        r = await post(client, f"{client.base}/deputies/{county.both}/account",
                       {"user_id": str(other.users["rep"].id)})
        assert r.status_code == 400
    assert await count(owner_sql, "deputies", "user_id IS NOT NULL") == 0


async def test_group_leader_from_another_group_is_refused(app, database, county, owner_sql):
    first, second = await add_group(database, county, "第一组"), await add_group(database, county, "第二组")
    outsider = await add_deputy(database, county, "二组代表", group=second)
    async with signed_in(app, county, "admin") as client:
        r = await post(client, f"{client.base}/deputies/groups/{first}/leader", {"deputy_id": str(outsider)})
        assert r.status_code == 400
    assert await count(owner_sql, "deputy_groups", "leader_deputy_id IS NOT NULL") == 0


# --- places and stations -----------------------------------------------------------------------

async def test_move_a_place_under_a_node_outside_scope_is_refused(app, database, county, owner_sql):
    other = await build(database, "beta")
    node = county.nodes["西村"]
    async with signed_in(app, county, "town") as client:
        for target in (county.nodes["河坝乡"], other.nodes["城关镇"]):
            r = await post(client, f"{client.base}/places/{node}/move", {"parent": str(target)})
            assert r.status_code == 400
    assert (await owner_sql("SELECT parent_id FROM admin_nodes WHERE id = $1", node))[0]["parent_id"] \
        == county.nodes["城关镇"]


async def test_create_a_station_with_a_kind_or_node_of_another_tenant_is_refused(app, database, county, owner_sql):
    other = await build(database, "beta")
    kind = (await owner_sql("SELECT id FROM station_kinds WHERE tenant_id = $1", other.tenant.id))[0]["id"]
    own_kind = (await owner_sql("SELECT id FROM station_kinds WHERE tenant_id = $1", county.tenant.id))[0]["id"]
    before = await count(owner_sql, "stations")
    async with signed_in(app, county, "town") as client:
        r = await post(client, f"{client.base}/stations",
                       {"kind_id": str(kind), "node_id": str(county.nodes["西村"]), "name": "x"})
        assert r.status_code == 400
        for node in (other.nodes["西村"], county.nodes["河坝村"]):
            r = await post(client, f"{client.base}/stations",
                           {"kind_id": str(own_kind), "node_id": str(node), "name": "x"})
            assert r.status_code == 400
    assert await count(owner_sql, "stations") == before


async def test_score_an_item_of_another_tenant_does_nothing(app, database, county, owner_sql):
    other = await build(database, "beta")
    async with database.transaction(tenant_id=other.tenant.id) as db:
        from app.stations.models import ChecklistItem

        item = ChecklistItem(tenant_id=other.tenant.id, code="x", label="别家", sort=0)
        db.add(item)
        await db.flush()
        item_id = item.id
    station = county.stations["东街社区人大代表联络站"]
    async with signed_in(app, county, "admin") as client:
        r = await post(client, f"{client.base}/stations/{station}/checklist", {f"met_{item_id}": "1"})
        assert r.status_code in (303, 400)
    assert await count(owner_sql, "station_scores") == 0


# --- imports -----------------------------------------------------------------------------------

async def test_import_does_not_link_a_constituency_outside_scope(database, county):
    """A township's import names the constituency in words; a node of another township matched by
    that name is not linked (the form's list offers only the member's subtree)."""
    head = ["姓名", "代表层级", "届次", "选举方式(直接/间接)", "选区或选举单位", "代表小组", "职业", "工作单位",
            "手机号码", "所在站点"]
    rows = [head,
            ["甲", "乡镇", 5, "直接", "河坝村", "", "", "", "", "东街社区人大代表联络站"],
            ["乙", "乡镇", 5, "直接", "西村", "", "", "", "", "东街社区人大代表联络站"]]
    node_path = (await _path(database, county, "城关镇"))
    scope = Scope(role="township_staff", node_path=node_path, station_id=None, user_id=county.users["town"].id)
    async with database.transaction(tenant_id=county.tenant.id) as db:
        checked = await import_checks.check_upload(db, scope, "deputies", _csv(rows), "d.csv")
    assert not checked.problems
    nodes = {r["name"]: r["mandates"][0]["constituency_node_id"] for _, r in checked.rows}
    assert nodes == {"甲": None, "乙": county.nodes["西村"]}


async def _path(database, county, name: str) -> str:
    from sqlalchemy import select

    from app.tenancy.models import AdminNode

    async with database.transaction(tenant_id=county.tenant.id) as db:
        return await db.scalar(select(AdminNode.path).where(AdminNode.id == county.nodes[name]))


async def test_import_job_of_another_township_is_not_confirmed(app, database, county, owner_sql):
    async with database.transaction(tenant_id=county.tenant.id) as db:
        from app.deputies.models import ImportJob

        job = ImportJob(tenant_id=county.tenant.id, kind="deputies", filename="d.csv", status="previewed",
                        total=0, processed=0, created_by=county.users["town"].id, data=b"", problems=[])
        db.add(job)
        await db.flush()
        job_id = job.id
    async with signed_in(app, county, "heba") as client:
        assert (await client.get(f"{client.base}/imports/{job_id}")).status_code == 404
        assert (await post(client, f"{client.base}/imports/{job_id}/confirm")).status_code == 404
    assert (await owner_sql("SELECT status FROM import_jobs WHERE id = $1", job_id))[0]["status"] == "previewed"

