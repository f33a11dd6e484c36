"""Deputy groups (代表小组): add, rename, leader (a serving member), members; county admins change them."""

from __future__ import annotations

import pytest

from tests.deputies.deputy_world import add_deputy, add_group, build, count, post, signed_in, text_of


@pytest.fixture
async def county(database):
    return await build(database)


async def test_add_rename_and_lead_a_group(app, county, database, owner_sql):
    async with signed_in(app, county, "admin") as client:
        r = await post(client, f"{client.base}/deputies/groups", {"name": " 城关镇  代表小组 "})
        assert r.status_code == 303
        group = (await owner_sql("SELECT id, name FROM deputy_groups"))[0]
        assert group["name"] == "城关镇 代表小组"
        for bad, message in (("", "enter the group"), ("城关镇 代表小组", "already a group"), ("组" * 61, "at most 60")):
            refused = await post(client, f"{client.base}/deputies/groups", {"name": bad})
            assert refused.status_code == 400 and message in refused.text
        assert await count(owner_sql, "deputy_groups") == 1

        gid = group["id"]
        member = await add_deputy(database, county, "张组员", group=gid, station="东街社区人大代表联络站")
        outsider = await add_deputy(database, county, "李外人")
        resigned = await add_deputy(database, county, "王辞职", group=gid, status="resigned")
        base = f"{client.base}/deputies/groups/{gid}"
        for bad in (str(outsider), str(resigned), "999999", "x"):
            refused = await post(client, base + "/leader", {"deputy_id": bad})
            assert refused.status_code == 400 and "must be a member" in refused.text, bad
        assert (await owner_sql("SELECT leader_deputy_id FROM deputy_groups"))[0]["leader_deputy_id"] is None
        assert (await post(client, base + "/leader", {"deputy_id": str(member)})).status_code == 303
        other = await add_group(database, county, "河坝乡代表小组")
        clash = await post(client, base + "/rename", {"name": "河坝乡代表小组"})
        assert clash.status_code == 400
        assert (await post(client, base + "/rename", {"name": "城关镇第一代表小组"})).status_code == 303
        page = text_of((await client.get(base)).text)
        assert "城关镇第一代表小组" in page and "张组员" in page and "王辞职" in page and "李外人" not in page
        listing = text_of((await client.get(f"{client.base}/deputies/groups")).text)
        assert "城关镇第一代表小组 张组员 1" in listing and "河坝乡代表小组" in listing
        assert (await client.get(f"{client.base}/deputies/groups/{other + 1000}")).status_code == 404
    actions = [r["action"] for r in await owner_sql(
        "SELECT action FROM audit_log WHERE action LIKE 'deputy_group%' ORDER BY id")]
    assert actions == ["deputy_group_created", "deputy_group_leader_set", "deputy_group_renamed"]


async def test_scoped_staff_see_their_members_only_and_change_nothing(app, county, database, owner_sql):
    gid = await add_group(database, county, "联合小组")
    await add_deputy(database, county, "张城关", group=gid, node="西村")
    await add_deputy(database, county, "赵河坝", group=gid, node="河坝村")
    async with signed_in(app, county, "town") as client:
        page = await client.get(f"{client.base}/deputies/groups/{gid}")
        assert "张城关" in page.text and "赵河坝" not in page.text
        assert "/rename" not in page.text
        for path, data in (("/deputies/groups", {"name": "新组"}), (f"/deputies/groups/{gid}/rename", {"name": "x"}),
                           (f"/deputies/groups/{gid}/leader", {"deputy_id": ""})):
            assert (await post(client, client.base + path, data)).status_code == 403
    async with signed_in(app, county, "rep") as client:
        assert (await client.get(f"{client.base}/deputies/groups")).status_code == 404
    assert await count(owner_sql, "deputy_groups") == 1
    assert await count(owner_sql, "audit_log", "action LIKE 'deputy_group%'") == 0
