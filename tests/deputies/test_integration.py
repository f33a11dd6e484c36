"""Where the parts of places and people meet: the export lists exactly the deputies of the list page,
an export-shaped file (one row per mandate) imports back as one deputy with several mandates, the
pages link the export, the import and the public pages for the right roles, and the tenant home counts
the deputies not stationed anywhere."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import update

from app.deputies.models import Mandate
from app.stations.models import Station
from tests.deputies.import_pages import preview_problems
from tests.deputies.test_import import DEPUTY_HEAD, csv_bytes, run_worker, upload
from tests.deputies.test_roster import as_user, build, token

NAME_LINK = re.compile(r'<td><a href="/t/alpha/deputies/(\d+)">([^<]+)</a></td>')


async def list_names(c) -> set[str]:
    page = await c.get("/t/alpha/deputies")
    assert page.status_code == 200
    return {name for _, name in NAME_LINK.findall(page.text)}


async def export_names(c) -> list[str]:
    r = await c.get("/t/alpha/deputies/export.csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    return [row[0] for row in rows[1:]]


async def test_the_export_holds_exactly_the_deputies_of_the_list(app, database):
    w = await build(database)
    async with database.transaction(tenant_id=w.tenant.id) as db:  # a second mandate: two export rows
        db.add(Mandate(tenant_id=w.tenant.id, deputy_id=w.deputies["张三"], level="township", term=5, direct=True))
    expected = {"admin": {"张三", "李四", "王五", "赵六"}, "viewer": {"张三", "李四", "王五", "赵六"},
                "town": {"张三", "王五"}, "heba": {"李四"}, "station": {"张三"}, "station2": {"李四"}}
    for username, names in expected.items():
        async with as_user(app, w, username) as c:
            listed = await list_names(c)
            exported = await export_names(c)
        assert listed == names, (username, listed)
        assert set(exported) == listed, (username, exported)
        assert exported.count("张三") == (2 if "张三" in names else 0)  # one row per mandate


async def test_a_two_mandate_deputy_imports_as_one_deputy(app, database, owner_sql, settings, monkeypatch):
    w = await build(database)
    station = "东街社区人大代表联络站"
    rows = [DEPUTY_HEAD,
            ["钱七", "县", 18, "直接", "东街社区", "", "教师", "城关中学", "13712345678", station],
            ["钱七", "乡镇", 5, "直接", "东街社区", "", "教师", "城关中学", "137 1234 5678", station],
            ["孙八", "县", 18, "间接", "", "", "", "", "13700000001", f"{station}、河坝村人大代表联络站"]]
    async with as_user(app, w, "admin") as c:
        r = await upload(c, w, csv_bytes(rows), "代表.csv")
        job_url = r.headers["location"]
        page = await c.get(job_url)
        assert "全部 3 行检查无误" in page.text, page.text
        await c.post(job_url + "/confirm", data={"_csrf_token": await token(c, w)})
        worker = await run_worker(settings, monkeypatch)
        assert worker.jobs_complete == 1 and worker.jobs_failed == 0
        assert "已全部导入" in (await c.get(job_url)).text
    deputies = await owner_sql("SELECT id, mobile, occupation FROM deputies WHERE name = '钱七'")
    assert len(deputies) == 1 and deputies[0]["mobile"] == "13712345678"
    mandates = await owner_sql(f"SELECT level, term FROM deputy_mandates WHERE deputy_id = {deputies[0]['id']} "
                               "ORDER BY level")
    assert [(m["level"], m["term"]) for m in mandates] == [("county", 18), ("township", 5)]
    stationed = await owner_sql(f"SELECT count(*) AS n FROM station_deputies WHERE deputy_id = {deputies[0]['id']}")
    assert stationed[0]["n"] == 1
    # the export's list of stations (、) stations the deputy at each
    sun = await owner_sql("SELECT count(*) AS n FROM station_deputies sd JOIN deputies d ON d.id = sd.deputy_id "
                          "WHERE d.name = '孙八'")
    assert sun[0]["n"] == 2
    job = (await owner_sql("SELECT processed, total FROM import_jobs"))[0]
    assert (job["processed"], job["total"]) == (3, 3)


async def test_same_name_rows_that_cannot_be_one_deputy_and_masked_mobiles(app, database, owner_sql):
    w = await build(database)
    rows = [DEPUTY_HEAD,
            ["钱七", "县", 18, "直接", "", "", "教师", "城关中学", "13712345678", ""],     # 2
            ["钱七", "乡镇", 5, "直接", "", "", "医生", "城关医院", "13712345678", ""],   # 3: conflicting fields
            ["钱七", "县", 18, "直接", "", "", "教师", "城关中学", "13712345678", ""],     # 4: row 2's mandate again
            ["孙八", "县", 18, "直接", "", "", "", "", "", ""],                             # 5
            ["孙八", "乡镇", 5, "直接", "", "", "", "", "", ""],                            # 6: same name, no mobile
            ["周九", "县", 18, "直接", "", "", "", "", "138****1234", ""]]                  # 7: masked mobile
    before = await owner_sql("SELECT count(*) AS n FROM deputies")
    async with as_user(app, w, "admin") as c:
        r = await upload(c, w, csv_bytes(rows), "d.csv")
        page = await c.get(r.headers["location"])
    text = page.text
    problems = preview_problems(text)
    for row, column, message in (("3", "姓名", "与第 2 行姓名和手机号码相同，但职业、工作单位不同"),
                                 ("4", "代表层级", "该代表同一层级、同一届次的职务已在第 2 行出现"),
                                 ("6", "姓名", "第 5 行姓名相同，也没有手机号码：请填写手机号码以区分"),
                                 ("7", "手机号码", "“138****1234”是隐藏了中间位数的手机号码")):
        assert any(p[:2] == (row, column) and p[2].startswith(message) for p in problems), (row, message, problems)
    assert not any(p[0] in ("2", "5") for p in problems)
    assert "导入全部" not in text
    assert await owner_sql("SELECT count(*) AS n FROM deputies") == before
    # an export cannot be imported back as it is (masked numbers), and the upload page says so
    async with as_user(app, w, "admin") as c:
        exported = (await c.get("/t/alpha/deputies/export.csv")).content
        r = await upload(c, w, exported, "export.csv")
        page = await c.get(r.headers["location"])
        assert "“139****0000”是隐藏了中间位数的手机号码" in page.text
        assert "导出的文件不能原样再导入" in (await c.get("/t/alpha/imports")).text
    assert await owner_sql("SELECT count(*) AS n FROM deputies") == before


# who sees which links: username -> (export, import, add a deputy)
LIST_LINKS = {
    "admin": (True, True, True), "town": (True, True, True), "viewer": (True, False, False),
    "station": (True, False, False), "rep": (False, False, False),
}


async def test_links_for_the_right_roles(app, database):
    w = await build(database)
    for username, (export, import_, add) in LIST_LINKS.items():
        async with as_user(app, w, username) as c:
            text = (await c.get("/t/alpha/deputies")).text
            assert ('href="/t/alpha/deputies/export.xlsx"' in text) is export, username
            assert ('href="/t/alpha/deputies/export.csv"' in text) is export, username
            assert ('href="/t/alpha/imports"' in text) is import_, username
            assert ('href="/t/alpha/deputies/new"' in text) is add, username
            if export:  # the links lead somewhere
                assert (await c.get("/t/alpha/deputies/export.xlsx")).status_code == 200
            if import_:
                assert (await c.get("/t/alpha/imports")).status_code == 200
    sid = w.stations["东街社区人大代表联络站"]
    public, poster = f'href="/p/alpha/stations/{sid}"', f'href="/p/alpha/stations/{sid}/poster"'
    for username, import_ in (("admin", True), ("town", True), ("viewer", False), ("station", False)):
        async with as_user(app, w, username) as c:
            text = (await c.get(f"/t/alpha/stations/{sid}")).text
        assert public in text and poster in text, username
        assert ('href="/t/alpha/imports"' in text) is import_, username
    async with as_user(app, w, "admin") as c:  # the links work (the station is in operation)
        assert (await c.get(f"/p/alpha/stations/{sid}")).status_code == 200
        assert (await c.get(f"/p/alpha/stations/{sid}/poster")).status_code == 200
    async with database.transaction(tenant_id=w.tenant.id) as db:  # not in operation: no public page
        await db.execute(update(Station).where(Station.id == sid).values(status="filed"))
    async with as_user(app, w, "admin") as c:
        text = (await c.get(f"/t/alpha/stations/{sid}")).text
    assert public not in text and poster not in text


def unassigned_on_home(text: str) -> str:
    found = re.search(r'<span class="badge warn">(\d+)</span> <a href="/t/alpha/deputies/checks#unassigned">', text)
    if found:
        return found.group(1)
    return "0" if "在任代表均已进站" in text or "Every serving deputy is stationed." in text else ""


async def test_home_counts_deputies_not_stationed(app, database):
    w = await build(database)  # 王五 (elected in 东街社区) and 赵六 are not stationed
    expected = {"admin": "2", "viewer": "2", "town": "1", "heba": "0", "station": "0", "rep": "", "handler": ""}
    for username, count in expected.items():
        async with as_user(app, w, username) as c:
            r = await c.get("/t/alpha/")
        assert r.status_code == 200 and unassigned_on_home(r.text) == count, (username, r.text[-1500:])
    async with as_user(app, w, "town") as c:
        r = await c.post(f"/t/alpha/deputies/{w.deputies['王五']}/assign", follow_redirects=False,
                         data={"_csrf_token": await token(c, w), "station_id": w.stations["东街社区人大代表联络站"]})
        assert r.status_code == 303
        assert unassigned_on_home((await c.get("/t/alpha/")).text) == "0"
    async with as_user(app, w, "admin") as c:
        assert unassigned_on_home((await c.get("/t/alpha/")).text) == "1"
