"""Contact rosters: who sees which roster, masking in the list and the export, audited reveals, changes
and contact notes."""

from __future__ import annotations

import csv
import io
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from app.accounts.models import Membership
from app.deputies.models import Deputy, Mandate, RosterEntry, StationDeputy
from app.stations.models import Station, StationKind
from app.tenancy.models import AdminNode
from tests.factories import add_member, csrf_from, login, make_tenant, make_user

NODES = [("城关镇", "township"), ("城关镇/东街社区", "community"), ("河坝乡", "township"), ("河坝乡/河坝村", "village")]
STATIONS = {"东街社区人大代表联络站": "东街社区", "河坝村人大代表联络站": "河坝村"}
ROLES = {  # username -> (role, scope)
    "admin": ("county_admin", None), "town": ("township_staff", "城关镇"), "heba": ("township_staff", "河坝乡"),
    "viewer": ("viewer", None), "station": ("station_staff", None), "station2": ("station_staff", None),
    "rep": ("deputy", None), "rep2": ("deputy", None), "handler": ("handling_unit", None),
}


@dataclass
class World:
    tenant: object
    nodes: dict = field(default_factory=dict)
    stations: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    deputies: dict = field(default_factory=dict)  # name -> id
    entries: dict = field(default_factory=dict)  # name -> id

    @property
    def slug(self) -> str:
        return self.tenant.slug


async def build(database, slug: str = "alpha") -> World:
    """Deputies: 张三 stationed at 东街 (linked to user rep), 李四 stationed at 河坝村, 王五 not stationed
    but elected in 东街社区, 赵六 neither (only the county sees his roster). 张三 has two constituents."""
    tenant = await make_tenant(database, slug, nodes=NODES)
    w = World(tenant=tenant)
    for username, (role, scope) in ROLES.items():
        user = await make_user(database, f"{slug}-{username}")
        await add_member(database, tenant, user, role, scope=scope)
        w.users[username] = user
    async with database.transaction(tenant_id=tenant.id) as db:
        t = tenant.id
        w.nodes = {n.name: n.id for n in (await db.scalars(select(AdminNode))).all()}
        kind = StationKind(tenant_id=t, code="station", name="代表联络站", node_kinds=["community", "village"])
        db.add(kind)
        await db.flush()
        for name, node in STATIONS.items():
            s = Station(tenant_id=t, kind_id=kind.id, node_id=w.nodes[node], name=name, status="active")
            db.add(s)
            await db.flush()
            w.stations[name] = s.id
        for name, user in (("张三", "rep"), ("李四", "rep2"), ("王五", None), ("赵六", None)):
            d = Deputy(tenant_id=t, name=name, mobile="13900000000" if name == "张三" else None,
                       user_id=w.users[user].id if user else None)
            db.add(d)
            await db.flush()
            w.deputies[name] = d.id
        db.add_all([
            StationDeputy(tenant_id=t, station_id=w.stations["东街社区人大代表联络站"], deputy_id=w.deputies["张三"]),
            StationDeputy(tenant_id=t, station_id=w.stations["河坝村人大代表联络站"], deputy_id=w.deputies["李四"]),
            Mandate(tenant_id=t, deputy_id=w.deputies["张三"], level="county", term=18, direct=True,
                    constituency_node_id=w.nodes["东街社区"]),
            Mandate(tenant_id=t, deputy_id=w.deputies["王五"], level="county", term=18, direct=True,
                    constituency_node_id=w.nodes["东街社区"]),
            Mandate(tenant_id=t, deputy_id=w.deputies["李四"], level="township", term=5, direct=False),
        ])
        for name, mobile, address in (("选民甲", "13812345678", "城关镇东街幸福路12号3单元"),
                                      ("选民乙", "13787654321", "城关镇东街和平路8号")):
            e = RosterEntry(tenant_id=t, deputy_id=w.deputies["张三"], name=name, age=45, education="高中",
                            address=address, work_unit="东街菜市场", mobile=mobile, note="")
            db.add(e)
            await db.flush()
            w.entries[name] = e.id
        e = RosterEntry(tenant_id=t, deputy_id=w.deputies["李四"], name="选民丙", mobile="13611112222",
                        address="河坝乡河坝村一组")
        db.add(e)
        await db.flush()
        w.entries["选民丙"] = e.id
        for username, station in (("station", "东街社区人大代表联络站"), ("station2", "河坝村人大代表联络站")):
            await db.execute(update(Membership).where(Membership.user_id == w.users[username].id)
                             .values(station_id=w.stations[station]))
    return w


@asynccontextmanager
async def as_user(app, w: World, username: str):
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        r = await login(c, f"{w.slug}-{username}")
        assert r.status_code == 303
        yield c


async def token(c, w: World) -> str:
    return csrf_from((await c.get(f"/t/{w.slug}/")).text)


def roster_url(w: World, deputy: str) -> str:
    return f"/t/{w.slug}/deputies/{w.deputies[deputy]}/roster"


# who sees whose roster: username -> deputies visible
VISIBLE = {
    "admin": {"张三", "李四", "王五", "赵六"},
    "town": {"张三", "王五"},  # stationed in the subtree, or elected there
    "heba": {"李四"},
    "station": {"张三"},
    "station2": {"李四"},
    "rep": {"张三"},  # the deputy themself
    "rep2": {"李四"},
    "viewer": set(),
    "handler": set(),
}


async def test_roster_visibility_per_role(app, database):
    w = await build(database)
    for username, visible in VISIBLE.items():
        async with as_user(app, w, username) as c:
            for deputy in w.deputies:
                r = await c.get(roster_url(w, deputy))
                expected = 200 if deputy in visible else 404
                assert r.status_code == expected, (username, deputy, r.status_code)
                for suffix in ("/export.csv", f"/{w.entries['选民甲']}"):
                    if deputy == "张三":
                        r = await c.get(roster_url(w, deputy) + suffix)
                        assert r.status_code == expected, (username, suffix, r.status_code)
    # an entry of another deputy's roster is not reachable through a visible deputy
    async with as_user(app, w, "rep") as c:
        r = await c.get(f"{roster_url(w, '张三')}/{w.entries['选民丙']}")
        assert r.status_code == 404
        r = await c.post(f"{roster_url(w, '张三')}/{w.entries['选民丙']}/reveal",
                         data={"_csrf_token": await token(c, w)})
        assert r.status_code == 404


async def test_list_masks_mobile_and_address(app, database):
    w = await build(database)
    async with as_user(app, w, "station") as c:
        r = await c.get(roster_url(w, "张三"))
    assert r.status_code == 200
    assert "no-store" in r.headers["cache-control"]
    assert "138****5678" in r.text and "13812345678" not in r.text
    assert "城关镇东街幸…" in r.text and "幸福路12号" not in r.text
    assert "选民甲" in r.text and "选民乙" in r.text and "选民丙" not in r.text


async def test_reveal_shows_values_and_is_audited(app, database, owner_sql):
    w = await build(database)
    entry = w.entries["选民甲"]
    async with as_user(app, w, "town") as c:
        # GET never reveals
        page = await c.get(f"{roster_url(w, '张三')}/{entry}")
        assert "13812345678" not in page.text and "幸福路12号" not in page.text
        r = await c.post(f"{roster_url(w, '张三')}/{entry}/reveal", data={"_csrf_token": csrf_from(page.text)})
        assert r.status_code == 200 and "no-store" in r.headers["cache-control"]
        assert "13812345678" in r.text and "城关镇东街幸福路12号3单元" in r.text
        # from the list, with htmx: only the row comes back
        r = await c.post(f"{roster_url(w, '张三')}/{entry}/reveal", data={"_csrf_token": csrf_from(page.text),
                         "from": "list"}, headers={"HX-Request": "true", "HX-Target": f"entry-{entry}"})
        assert r.status_code == 200 and r.text.lstrip().startswith("<tr") and "13812345678" in r.text
        assert "选民乙" not in r.text
        # without JavaScript, from the list: the whole list, this entry shown, the others masked
        r = await c.post(f"{roster_url(w, '张三')}/{entry}/reveal", data={"_csrf_token": csrf_from(page.text),
                         "from": "list"})
        assert "13812345678" in r.text and "137****4321" in r.text and "13787654321" not in r.text
    rows = await owner_sql("SELECT actor_user_id, target, at FROM audit_log WHERE action = 'roster_entry_revealed'")
    assert len(rows) == 3
    assert all(r["actor_user_id"] == w.users["town"].id and r["target"] == f"roster_entry:{entry}" for r in rows)
    # county admins read it in the audit log, in words
    async with as_user(app, w, "admin") as c:
        log = await c.get(f"/t/{w.slug}/audit")
    assert "选民的手机号码和住址被查看" in log.text or "Constituent's mobile and address shown" in log.text
    assert "张三 · 选民甲" in log.text


async def test_add_edit_retire_and_contacts(app, database, owner_sql):
    w = await build(database)
    base = roster_url(w, "张三")
    async with as_user(app, w, "rep") as c:  # the deputy keeps their own roster
        t = await token(c, w)
        # bad input: 400, a clear message, nothing written
        for bad, field_text in (({"name": "", "mobile": ""}, "选民"), ({"name": "选民丁", "mobile": "12345"}, "12345"),
                                ({"name": "选民丁", "age": "200"}, "200")):
            r = await c.post(base, data={"_csrf_token": t, **bad})
            assert r.status_code == 400 and field_text in r.text, bad
        assert len(await owner_sql("SELECT 1 FROM roster_entries")) == 3
        r = await c.post(base, data={"_csrf_token": t, "name": "选民丁", "age": "30", "mobile": "139 0000 1111",
                                     "address": "城关镇东街新村5号", "education": "大学"}, follow_redirects=False)
        assert r.status_code == 303
        row = (await owner_sql("SELECT id, mobile, address FROM roster_entries WHERE name = '选民丁'"))[0]
        assert row["mobile"] == "13900001111"
        entry_url = f"{base}/{row['id']}"
        # editing with empty mobile and address keeps them
        r = await c.post(entry_url, data={"_csrf_token": t, "name": "选民丁", "age": "31", "education": "大学",
                                          "mobile": "", "address": ""}, follow_redirects=False)
        assert r.status_code == 303
        row = (await owner_sql("SELECT age, mobile, address FROM roster_entries WHERE id = $1", row["id"]))[0]
        assert (row["age"], row["mobile"], row["address"]) == (31, "13900001111", "城关镇东街新村5号")
        r = await c.post(entry_url, data={"_csrf_token": t, "name": "选民丁", "clear_mobile": "1"},
                         follow_redirects=False)
        assert r.status_code == 303
        assert (await owner_sql("SELECT mobile FROM roster_entries WHERE name = '选民丁'"))[0]["mobile"] is None
        # contacts: listed newest first; a date in the future is refused
        r = await c.post(f"{entry_url}/contacts", data={"_csrf_token": t, "contacted_on": "2999-01-01", "note": "x"})
        assert r.status_code == 400 and "YYYY-MM-DD" not in r.text or r.status_code == 400
        for day, note in (("2026-01-05", "电话了解低保办理"), ("2026-03-09", "入户走访")):
            r = await c.post(f"{entry_url}/contacts", data={"_csrf_token": t, "contacted_on": day, "note": note},
                             follow_redirects=False)
            assert r.status_code == 303
        page = await c.get(entry_url)
        assert page.text.index("入户走访") < page.text.index("电话了解低保办理")
        # retire: off the list, on the retired list
        r = await c.post(f"{entry_url}/retire", data={"_csrf_token": t}, follow_redirects=False)
        assert r.status_code == 303
        assert "选民丁" not in (await c.get(base)).text
        assert "选民丁" in (await c.get(base + "?retired=1")).text
    assert len(await owner_sql("SELECT 1 FROM roster_contacts")) == 2
    actions = {r["action"] for r in await owner_sql("SELECT action FROM audit_log")}
    assert {"roster_entry_added", "roster_entry_changed", "roster_contact_added", "roster_entry_retired"} <= actions
    # another township's staff cannot change it either
    async with as_user(app, w, "heba") as c:
        r = await c.post(base, data={"_csrf_token": await token(c, w), "name": "闯入者"})
        assert r.status_code == 404
    assert not await owner_sql("SELECT 1 FROM roster_entries WHERE name = '闯入者'")


async def test_roster_export_is_masked_and_audited(app, database, owner_sql):
    w = await build(database)
    async with as_user(app, w, "station") as c:
        r = await c.get(roster_url(w, "张三") + "/export.csv")
        assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0] == ["代表姓名", "选民姓名", "年龄", "文化程度", "住址", "工作单位", "手机号码", "备注"]
        assert ["张三", "选民甲", "45", "高中", "城关镇东街幸…", "东街菜市场", "138****5678", ""] in rows
        assert "13812345678" not in r.text
        x = await c.get(roster_url(w, "张三") + "/export.xlsx")
        assert x.status_code == 200
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(x.content), read_only=True).worksheets[0]
        values = [list(v) for v in sheet.iter_rows(values_only=True)]
        assert values[0][0] == "代表姓名" and len(values) == 3
        assert all("13812345678" not in str(v) for v in values)
    audited = await owner_sql("SELECT actor_user_id, details FROM audit_log WHERE action = 'roster_exported'")
    assert len(audited) == 2 and audited[0]["actor_user_id"] == w.users["station"].id


async def test_deputies_export_in_scope_and_masked(app, database, owner_sql):
    w = await build(database)
    async with as_user(app, w, "town") as c:
        r = await c.get(f"/t/{w.slug}/deputies/export.csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["姓名", "代表层级", "届次", "选举方式", "选区或选举单位", "代表小组", "职业", "工作单位",
                       "手机号码", "所在站点"]
    names = {row[0] for row in rows[1:]}
    assert names == {"张三", "王五"}
    zhang = next(row for row in rows if row[0] == "张三")
    assert zhang[1:4] == ["县", "18", "直接"] and zhang[8] == "139****0000" and zhang[9] == "东街社区人大代表联络站"
    assert "13900000000" not in r.text
    async with as_user(app, w, "admin") as c:
        r = await c.get(f"/t/{w.slug}/deputies/export.xlsx")
        assert r.status_code == 200
    async with as_user(app, w, "rep") as c:
        assert (await c.get(f"/t/{w.slug}/deputies/export.csv")).status_code == 404
    assert len(await owner_sql("SELECT 1 FROM audit_log WHERE action = 'deputies_exported'")) == 2
