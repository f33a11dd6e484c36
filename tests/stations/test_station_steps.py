"""The lifecycle: proposed → approved (township) → filed (county) → active → closed, as the tenant
configures it; every step recorded, refused steps change nothing."""

import pytest

from tests.stations.places import add_station, county, person, post, sign_in, snapshot


async def people(database, c):
    sid = await add_station(database, c, c.canonical("北坝村"))
    await person(database, c, "admin")
    await person(database, c, "tongchuan", "township_staff", scope="潼川镇")
    await person(database, c, "heba", "township_staff", scope="河坝乡")
    await person(database, c, "viewer", "viewer")
    await person(database, c, "liaison", "station_staff", station_id=sid)
    return sid


async def events(owner_sql, c, sid):
    return [(r["action"], r["from_status"], r["to_status"], r["note"]) for r in await owner_sql(
        "SELECT action, from_status, to_status, note FROM station_events WHERE tenant_id = $1 AND station_id = $2 "
        "ORDER BY id", c.tenant.id, sid)]


async def status(owner_sql, sid):
    return (await owner_sql("SELECT status FROM stations WHERE id = $1", sid))[0]["status"]


async def test_full_lifecycle_with_the_right_roles(client, database, owner_sql):
    c = await county(database)
    sid = await people(database, c)
    await sign_in(client, "tongchuan")
    page = await client.get(f"{c.base}/stations/{sid}")
    assert 'value="approve">批准（乡镇）' in page.text and 'value="file"' not in page.text
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "approve", "note": "镇党委会议通过"})
    assert r.status_code == 303
    assert await status(owner_sql, sid) == "approved"

    await sign_in(client, "admin")
    assert (await post(client, c, f"/stations/{sid}/lifecycle", {"step": "file"})).status_code == 303
    assert (await post(client, c, f"/stations/{sid}/lifecycle", {"step": "activate"})).status_code == 303
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "close", "note": "村合并"})
    assert r.status_code == 303
    assert await status(owner_sql, sid) == "closed"
    assert await events(owner_sql, c, sid) == [
        ("created", None, "proposed", ""), ("approved", "proposed", "approved", "镇党委会议通过"),
        ("filed", "approved", "filed", ""), ("activated", "filed", "active", ""), ("closed", "active", "closed", "村合并"),
    ]
    audit = [r["action"] for r in await owner_sql(
        "SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'station_%' ORDER BY id", c.tenant.id)]
    assert audit == ["station_approved", "station_filed", "station_activated", "station_closed"]

    # the history timeline, in order, with who did it and the notes
    page = await client.get(f"{c.base}/stations/{sid}")
    history = page.text[page.text.index('id="history"'):]
    order = [history.index(x) for x in ("已提出", "乡镇已批准", "已报县备案", "投入运行", "已撤销")]
    assert order == sorted(order)
    assert "Tongchuan" in history and "Admin" in history and "镇党委会议通过" in history and "村合并" in history


async def test_wrong_roles_are_refused_and_nothing_changes(client, database, owner_sql):
    c = await county(database)
    sid = await people(database, c)
    before = await snapshot(owner_sql, c.tenant)
    # township staff of another township: the station does not exist for them
    await sign_in(client, "heba")
    assert (await client.get(f"{c.base}/stations/{sid}")).status_code == 404
    assert (await post(client, c, f"/stations/{sid}/lifecycle", {"step": "approve"})).status_code == 404
    # a viewer sees the station but cannot change it
    await sign_in(client, "viewer")
    assert (await client.get(f"{c.base}/stations/{sid}")).status_code == 200
    assert (await post(client, c, f"/stations/{sid}/lifecycle", {"step": "approve"})).status_code == 404
    # the station's own staff cannot approve it
    await sign_in(client, "liaison")
    page = await client.get(f"{c.base}/stations/{sid}")
    assert page.status_code == 200 and 'value="approve"' not in page.text
    assert (await post(client, c, f"/stations/{sid}/lifecycle", {"step": "approve"})).status_code == 404
    # township staff cannot file with the county, nor skip approval
    await sign_in(client, "tongchuan")
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "file"})
    assert r.status_code == 400 and "现在不能进行这一步" in r.text
    assert (await post(client, c, f"/stations/{sid}/lifecycle", {"step": "approve"})).status_code == 303
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "file"})
    assert r.status_code == 403 and "只有县级管理员可以进行这一步" in r.text
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "close", "note": "x"})
    assert r.status_code == 403
    assert await snapshot(owner_sql, c.tenant) == before
    assert await status(owner_sql, sid) == "approved"


async def test_reasons_are_required_to_close_and_send_back(client, database, owner_sql):
    c = await county(database)
    sid = await people(database, c)
    await sign_in(client, "tongchuan")
    await post(client, c, f"/stations/{sid}/lifecycle", {"step": "approve"})
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "send_back", "note": "  "})
    assert r.status_code == 400 and "请填写理由" in r.text
    await sign_in(client, "admin")
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "close"})
    assert r.status_code == 400 and "请填写理由" in r.text
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "bogus"})
    assert r.status_code == 400
    assert await snapshot(owner_sql, c.tenant) == before
    # with a reason, sending back works and is in the history
    await sign_in(client, "tongchuan")
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "send_back", "note": "场所未落实"})
    assert r.status_code == 303
    assert await status(owner_sql, sid) == "proposed"
    page = await client.get(f"{c.base}/stations/{sid}")
    assert "已退回至提议" in page.text and "场所未落实" in page.text


async def test_filed_station_is_sent_back_only_by_the_county(client, database, owner_sql):
    c = await county(database)
    sid = await people(database, c)
    await sign_in(client, "admin")
    await post(client, c, f"/stations/{sid}/lifecycle", {"step": "approve"})
    await post(client, c, f"/stations/{sid}/lifecycle", {"step": "file"})
    await sign_in(client, "tongchuan")
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "send_back", "note": "材料不全"})
    assert r.status_code == 403
    assert await status(owner_sql, sid) == "filed"


@pytest.mark.parametrize("lifecycle, path", [
    (["proposed", "filed", "active", "closed"], ["file", "activate"]),
    (["proposed", "approved", "active", "closed"], ["approve", "activate"]),
    (["proposed", "active", "closed"], ["activate"]),
])
async def test_a_lifecycle_without_a_step_skips_it(client, database, owner_sql, lifecycle, path):
    c = await county(database, lifecycle=lifecycle)
    sid = await people(database, c)
    await sign_in(client, "admin")
    page = await client.get(f"{c.base}/stations/{sid}")
    if "approved" not in lifecycle:
        assert 'value="approve"' not in page.text
    for step in ("approve", "file", "activate"):
        r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": step})
        assert r.status_code == (303 if step in path else 400), step
    assert await status(owner_sql, sid) == "active"
    tos = [e[2] for e in await events(owner_sql, c, sid)]
    assert tos == ["proposed", *[{"approve": "approved", "file": "filed", "activate": "active"}[s] for s in path]]


async def test_without_approval_township_staff_cannot_move_a_proposal(client, database, owner_sql):
    c = await county(database, lifecycle=["proposed", "filed", "active", "closed"])
    sid = await people(database, c)
    await sign_in(client, "tongchuan")
    r = await post(client, c, f"/stations/{sid}/lifecycle", {"step": "file"})
    assert r.status_code == 403
    assert await status(owner_sql, sid) == "proposed"
