"""Spreadsheet import of the administrative tree, stations and handling units, through the real pages:
upload → the preview shows every row with its problems (nothing written) → confirm → the arq worker
writes every row or none. Who may import what, and the templates."""

from __future__ import annotations

import io

import pytest
from arq import create_pool
from openpyxl import load_workbook

from app.core.redis import arq_settings

from app.stations.models import StationKind
from tests.deputies.import_pages import preview_problems, preview_rows
from tests.deputies.test_import import count, csv_bytes, run_worker, upload, xlsx
from tests.deputies.test_roster import as_user, build
from tests.factories import csrf_from

TREE_HEAD = ["乡镇(或街道)", "村(或社区)", "类型(乡/镇/街道/村/社区/单位/功能区)", "区划代码"]
STATION_HEAD = ["名称", "类型", "所在地", "状态", "地址", "开放时间", "接待日", "联系人", "联系电话", "简介"]
UNIT_HEAD = ["名称", "代码", "类型", "所在乡镇", "联系人", "电话"]


@pytest.fixture(autouse=True)
async def empty_queue(settings):
    """Job ids repeat between tests (the tables restart their identities): start from an empty queue."""
    redis = await create_pool(arq_settings(settings.redis_url))
    await redis.flushdb()
    await redis.aclose()


async def preview_of(c, w, data: bytes, name: str, kind: str):
    r = await upload(c, w, data, name, kind=kind)
    assert r.status_code == 303, r.text
    return r.headers["location"], await c.get(r.headers["location"])


async def confirm_and_run(c, job_url: str, page, settings, monkeypatch):
    r = await c.post(job_url + "/confirm", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    worker = await run_worker(settings, monkeypatch)
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    return await c.get(job_url)


async def with_home_kind(database, w) -> None:
    """A kind with a naming rule, for canonical names: 代表之家 at townships."""
    async with database.transaction(tenant_id=w.tenant.id) as db:
        db.add(StationKind(tenant_id=w.tenant.id, code="home", name="代表之家", node_kinds=["township", "street"],
                           name_pattern="{county}{township}人大代表之家"))


# --- the tree --------------------------------------------------------------------------------------

async def test_tree_preview_shows_every_row_with_its_problems_and_writes_nothing(app, database, owner_sql):
    w = await build(database)
    nodes_before = await count(owner_sql, "admin_nodes")
    rows = [TREE_HEAD,
            ["新华镇", "", "", "140728100"],       # 2: fine (kind from the name)
            ["新华镇", "南关村", "", ""],            # 3: fine, its township is row 2
            ["城关镇", "", "", ""],                 # 4: the county has it already
            ["城关镇", "东街社区", "", ""],          # 5: the county has it already
            ["城关镇", "西街社区", "", ""],          # 6: fine, under an existing township
            ["古陶镇", "北关村", "", ""],            # 7: no such township here or in the file
            ["新华镇", "南关村", "", ""],            # 8: row 3 again
            ["开发区", "", "", ""],                 # 9: kind not told by the name
            ["新华镇", "东村", "乡镇", "12a"],       # 10: a township under a township; bad code
            ["工业园", "", "功能区", ""]]            # 11: fine
    async with as_user(app, w, "admin") as c:
        _, page = await preview_of(c, w, xlsx(rows), "区划.xlsx", "tree")
    problems = preview_problems(page.text)
    expected = [("4", "乡镇(或街道)", "本县行政区划中已有这个地方"), ("5", "村(或社区)", "本县行政区划中已有这个地方"),
                ("7", "乡镇(或街道)", "都没有名为“古陶镇”的乡镇或街道"), ("8", "村(或社区)", "同一地方已在第 3 行出现"),
                ("9", TREE_HEAD[2], "无法从名称判断类型"), ("10", TREE_HEAD[2], "不能设在“新华镇”之下"),
                ("10", "区划代码", "统计用区划代码只能是数字")]
    for row, column, message in expected:
        assert any(p[:2] == (row, column) and message in p[2] for p in problems), (row, column, message, problems)
    assert {p[0] for p in problems} == {"4", "5", "7", "8", "9", "10"}
    shown = preview_rows(page.text)
    assert sorted(shown) == list(range(2, 12)) and shown[3] == ["新华镇", "南关村", "", ""]
    assert "导入全部" not in page.text
    assert await count(owner_sql, "admin_nodes") == nodes_before


async def test_clean_tree_imported_townships_before_villages(app, database, owner_sql, settings, monkeypatch):
    w = await build(database)
    # villages before their township in the file; one village under an existing township
    rows = [TREE_HEAD, ["新华镇", "南关村", "", ""], ["新华镇", "北关社区", "", ""], ["新华镇", "", "镇", "140728100"],
            ["城关镇", "西街社区", "", ""], ["崇文街道", "", "", ""], ["崇文街道", "文庙社区", "社区", ""]]
    async with as_user(app, w, "admin") as c:
        job_url, page = await preview_of(c, w, csv_bytes(rows), "区划.csv", "tree")
        assert "全部 6 行检查无误" in page.text and len(preview_rows(page.text)) == 6
        page = await confirm_and_run(c, job_url, page, settings, monkeypatch)
        assert "已全部导入" in page.text
    tree = {r["name"]: r for r in await owner_sql(
        "SELECT c.name, c.kind, c.division_code, c.path, p.name AS parent, p.path AS parent_path "
        "FROM admin_nodes c LEFT JOIN admin_nodes p ON p.id = c.parent_id")}
    assert (tree["新华镇"]["parent"], tree["新华镇"]["kind"], tree["新华镇"]["division_code"]) == ("alpha县", "township",
                                                                                                "140728100")
    assert tree["崇文街道"]["kind"] == "street" and tree["文庙社区"]["parent"] == "崇文街道"
    for name, parent in (("南关村", "新华镇"), ("北关社区", "新华镇"), ("西街社区", "城关镇"), ("文庙社区", "崇文街道")):
        node = tree[name]
        assert node["parent"] == parent and node["path"].startswith(node["parent_path"]), name
        assert node["path"].count("/") == 4  # /root/township/village/
    assert tree["南关村"]["kind"] == "village" and tree["北关社区"]["kind"] == "community"
    job = (await owner_sql("SELECT status, processed, data, preview FROM import_jobs"))[0]
    assert (job["status"], job["processed"], job["data"], job["preview"]) == ("done", 6, None, None)


async def test_tree_and_units_are_for_county_admins_only(app, database, owner_sql):
    w = await build(database)
    async with as_user(app, w, "town") as c:
        page = await c.get(f"/t/{w.slug}/imports")
        assert 'value="stations"' in page.text and 'value="tree"' not in page.text and 'value="units"' not in page.text
        for kind in ("tree", "units"):
            r = await upload(c, w, csv_bytes([TREE_HEAD, ["新华镇", "", "", ""]]), "x.csv", kind=kind)
            assert r.status_code == 400, kind
            assert (await c.get(f"/t/{w.slug}/imports/template/{kind}.xlsx")).status_code == 404
    assert await count(owner_sql, "import_jobs") == 0


async def test_templates_of_the_new_kinds(app, database):
    w = await build(database)
    async with as_user(app, w, "admin") as c:
        page = await c.get(f"/t/{w.slug}/imports?kind=tree")
        assert '<option value="tree" selected>' in page.text
        for kind, head in (("tree", TREE_HEAD), ("units", ["名称", "代码(英文小写字母或数字，可留空)",
                                                           "类型(乡镇政府/县级部门/村居委会/其他)",
                                                           "所在乡镇(乡镇单位填写)", "联系人", "电话"])):
            assert f"template/{kind}.xlsx" in page.text
            r = await c.get(f"/t/{w.slug}/imports/template/{kind}.xlsx")
            assert r.status_code == 200
            book = load_workbook(io.BytesIO(r.content), read_only=True)
            assert list(next(book.worksheets[0].iter_rows(values_only=True))) == head
        r = await c.get(f"/t/{w.slug}/imports/template/stations.xlsx")
        assert list(next(load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0]
                         .iter_rows(values_only=True)))[:3] == ["名称(可留空，按命名规则)", "类型", "所在地(乡镇/村)"]


# --- stations --------------------------------------------------------------------------------------

async def test_stations_preview_then_import(app, database, owner_sql, settings, monkeypatch):
    w = await build(database)
    await with_home_kind(database, w)
    before = await count(owner_sql, "stations")
    bad = [STATION_HEAD,
           ["", "代表之家", "城关镇", "运行", "城关镇政府二楼", "工作日", "每月15日", "李娟", "0816-1234567", ""],  # 2: fine
           ["西街社区站", "代表联络站", "城关镇/东街社区", "", "", "", "", "", "", ""],           # 3: fine
           ["", "代表联络站", "河坝乡/河坝村", "", "", "", "", "", "", ""],                    # 4: no pattern: name needed
           ["张三联络站", "代表联络站", "城关镇/东街社区", "", "", "", "", "", "", ""],          # 5: a deputy's name
           ["北站", "联络点", "城关镇/东街社区", "", "", "", "", "", "", ""],                   # 6: unknown kind
           ["南站", "代表联络站", "城关镇/南关村", "", "", "", "", "", "", ""],                 # 7: unknown place
           ["东街社区人大代表联络站", "代表联络站", "东街社区", "", "", "", "", "", "", ""],       # 8: name taken
           ["西街社区站", "代表联络站", "河坝村", "", "", "", "", "", "", ""],                  # 9: row 3's name
           ["城关镇站", "代表联络站", "城关镇", "", "", "", "", "", "", ""],                    # 10: not at a township
           ["乙站", "代表联络站", "河坝村", "关闭", "", "", "", "", "12ab", ""]]                # 11: state, phone
    async with as_user(app, w, "admin") as c:
        _, page = await preview_of(c, w, xlsx(bad), "站点.xlsx", "stations")
        problems = preview_problems(page.text)
        for row, column, message in (
                ("4", "名称", "请填写站点名称"), ("5", "名称", "张三"), ("6", "类型", "没有名为“联络点”的站点类型"),
                ("7", "所在地", "本县行政区划中没有“城关镇/南关村”"), ("8", "名称", "“东街社区人大代表联络站”"),
                ("9", "名称", "第 3 行已有同名站点"), ("10", "所在地", "代表联络站"), ("11", "状态", "“关闭”"),
                ("11", "联系电话", "")):
            assert any(p[:2] == (row, column) and message in p[2] for p in problems), (row, column, message, problems)
        assert {p[0] for p in problems} == {"4", "5", "6", "7", "8", "9", "10", "11"}
        assert await count(owner_sql, "stations") == before
        good = [STATION_HEAD, bad[1], bad[2], ["河坝村西站", "代表联络站", "alpha县/河坝乡/河坝村", "运行", "", "", "", "", "", ""]]
        job_url, page = await preview_of(c, w, xlsx(good), "站点.xlsx", "stations")
        assert "全部 3 行检查无误" in page.text
        page = await confirm_and_run(c, job_url, page, settings, monkeypatch)
        assert "已全部导入" in page.text
    stations = {r["name"]: r for r in await owner_sql(
        "SELECT s.id, s.name, s.status, s.address, s.reception_rule, s.contact_phone, k.code, n.name AS place "
        "FROM stations s JOIN station_kinds k ON k.id = s.kind_id JOIN admin_nodes n ON n.id = s.node_id")}
    home = stations["alpha县城关镇人大代表之家"]  # the canonical name of an empty name cell
    assert (home["status"], home["code"], home["place"], home["address"]) == ("active", "home", "城关镇", "城关镇政府二楼")
    assert home["reception_rule"] == "day:15" and home["contact_phone"] == "0816-1234567"
    assert (stations["西街社区站"]["status"], stations["西街社区站"]["place"]) == ("proposed", "东街社区")
    assert stations["河坝村西站"]["status"] == "active"
    events = await owner_sql("SELECT station_id, action, to_status FROM station_events ORDER BY id")
    assert [(e["action"], e["to_status"]) for e in events if e["station_id"] == home["id"]] == [
        ("created", "proposed"), ("activated", "active")]
    assert [e["action"] for e in events if e["station_id"] == stations["西街社区站"]["id"]] == ["created"]


async def test_township_staff_import_stations_in_their_township_only(app, database, owner_sql):
    w = await build(database)
    rows = [STATION_HEAD, ["东街二站", "代表联络站", "城关镇/东街社区", "", "", "", "", "", "", ""],
            ["河坝二站", "代表联络站", "河坝乡/河坝村", "", "", "", "", "", "", ""],
            ["东街三站", "代表联络站", "东街社区", "运行", "", "", "", "", "", ""]]
    async with as_user(app, w, "town") as c:
        _, page = await preview_of(c, w, csv_bytes(rows), "s.csv", "stations")
    problems = preview_problems(page.text)
    assert [p[:2] for p in problems] == [("3", "所在地"), ("4", "状态")]
    assert "不在您所辖乡镇内" in problems[0][2] and "只有县级管理员可以导入已在运行的站点" in problems[1][2]


# --- handling units --------------------------------------------------------------------------------

async def test_units_preview_then_import_and_one_bad_row_writes_nothing(app, database, owner_sql, settings,
                                                                       monkeypatch):
    w = await build(database)
    rows = [UNIT_HEAD,
            ["alpha县交通运输局", "jiaotong", "县级部门", "", "王明", "0816-5550001"],  # 2
            ["城关镇人民政府", "", "乡镇政府", "城关镇", "", ""],                     # 3
            ["东街社区居民委员会", "", "村居委会", "城关镇/东街社区", "", "13800001111"],  # 4
            ["县信访局", "", "其他", "", "", ""]]                                     # 5: other, county level
    broken = rows + [["河坝乡人民政府", "JT", "乡镇政府", "", "", ""],               # 6: bad code, no place
                     ["alpha县交通运输局", "jiaotong", "县直部门", "城关镇", "", ""],  # 7: name and code twice, place
                     ["某单位", "", "事业单位", "", "", ""]]                         # 8: unknown kind
    async with as_user(app, w, "admin") as c:
        _, page = await preview_of(c, w, xlsx(broken), "承办单位.xlsx", "units")
        problems = preview_problems(page.text)
        for row, column, message in (("6", "代码", "代码只能使用小写字母"), ("6", "所在乡镇", "须填写所在乡镇或村"),
                                     ("7", "名称", "第 2 行已有同名承办单位"), ("7", "代码", "第 2 行的代码相同"),
                                     ("7", "所在乡镇", ""), ("8", "类型", "“事业单位”不是承办单位类型")):
            assert any(p[:2] == (row, column) and message in p[2] for p in problems), (row, column, message, problems)
        assert {p[0] for p in problems} == {"6", "7", "8"}
        assert await count(owner_sql, "handling_units") == 0
        job_url, page = await preview_of(c, w, xlsx(rows), "承办单位.xlsx", "units")
        page = await confirm_and_run(c, job_url, page, settings, monkeypatch)
        assert "已全部导入" in page.text
    units = {r["name"]: r for r in await owner_sql(
        "SELECT u.name, u.code, u.kind, u.level, u.contact_name, u.contact_phone, u.sort, n.name AS place "
        "FROM handling_units u LEFT JOIN admin_nodes n ON n.id = u.node_id")}
    assert (units["alpha县交通运输局"]["code"], units["alpha县交通运输局"]["level"],
            units["alpha县交通运输局"]["contact_name"]) == ("jiaotong", "county", "王明")
    assert (units["城关镇人民政府"]["kind"], units["城关镇人民政府"]["level"], units["城关镇人民政府"]["place"]) == (
        "township_office", "township", "城关镇")
    assert units["东街社区居民委员会"]["place"] == "东街社区" and units["县信访局"]["level"] == "county"
    assert sorted(u["code"] for u in units.values()) == ["jiaotong", "unit-1", "unit-2", "unit-3"]
    assert sorted(u["sort"] for u in units.values()) == [10, 20, 30, 40]
    # the same file again: every row is a duplicate now, nothing more is written
    async with as_user(app, w, "admin") as c:
        _, page = await preview_of(c, w, xlsx(rows), "again.xlsx", "units")
    assert {p[0] for p in preview_problems(page.text)} == {"2", "3", "4", "5"}
    assert await count(owner_sql, "handling_units") == 4


@pytest.mark.parametrize("kind", ["tree", "stations", "units"])
async def test_a_change_after_the_preview_fails_the_whole_import(app, database, owner_sql, settings, monkeypatch,
                                                                kind):
    """The worker checks the file again in its transaction: a row that became a duplicate since the
    preview fails the job, and none of the file's rows is written."""
    w = await build(database)
    files = {
        "tree": [TREE_HEAD, ["新华镇", "", "", ""], ["新华镇", "南关村", "", ""]],
        "stations": [STATION_HEAD, ["东街二站", "代表联络站", "东街社区", "", "", "", "", "", "", ""],
                     ["河坝二站", "代表联络站", "河坝村", "", "", "", "", "", "", ""]],
        "units": [UNIT_HEAD, ["交通局", "", "县级部门", "", "", ""], ["水利局", "", "县级部门", "", "", ""]],
    }
    sneaked = {
        "tree": "INSERT INTO admin_nodes (tenant_id, parent_id, name, kind, path) SELECT tenant_id, id, '新华镇', "
                "'township', '' FROM admin_nodes WHERE parent_id IS NULL",
        "stations": "INSERT INTO stations (tenant_id, kind_id, node_id, name) SELECT s.tenant_id, s.kind_id, "
                    "s.node_id, '河坝二站' FROM stations s LIMIT 1",
        "units": "INSERT INTO handling_units (tenant_id, code, name, kind, level) SELECT id, 'sl', '水利局', "
                 "'county_department', 'county' FROM tenants",
    }
    table = {"tree": "admin_nodes", "stations": "stations", "units": "handling_units"}[kind]
    async with as_user(app, w, "admin") as c:
        job_url, page = await preview_of(c, w, csv_bytes(files[kind]), "f.csv", kind)
        assert "全部 2 行检查无误" in page.text
        await owner_sql(sneaked[kind])
        before = await count(owner_sql, table)
        r = await c.post(job_url + "/confirm", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
        assert r.status_code == 303
        await run_worker(settings, monkeypatch)
        page = await c.get(job_url)
    assert "失败，未导入任何数据" in page.text
    assert (await owner_sql("SELECT status FROM import_jobs"))[0]["status"] == "failed"
    assert await count(owner_sql, table) == before
