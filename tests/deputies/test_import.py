"""Spreadsheet import: templates, a preview naming every problem by row and column (nothing written),
a clean file imported by the real arq worker, all-or-nothing, encodings, scope, Redis being away."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from arq import create_pool
from arq.worker import Worker
from litestar.testing import AsyncTestClient
from openpyxl import Workbook, load_workbook

from app.core.redis import arq_settings
from app.deputies import import_checks, imports, roster
from app.jobs.worker import worker_settings
from tests.deputies.import_pages import preview_problems, preview_rows
from tests.core.bombs import SHEET_HEAD, SHEET_TAIL, header_row, xlsx_empty_rows, xlsx_with_sheet
from tests.deputies.test_roster import as_user, build, token
from tests.factories import csrf_from, login

DEPUTY_HEAD = ["姓名", "代表层级", "届次", "选举方式(直接/间接)", "选区或选举单位", "代表小组", "职业", "工作单位",
               "手机号码", "所在站点"]
ROSTER_HEAD = ["代表姓名", "选民姓名", "年龄", "文化程度", "住址", "工作单位", "手机号码", "备注"]


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def deputy_rows(n: int, start: int = 0) -> list[list]:
    return [[f"代表{chr(0x4e00 + i)}{chr(0x4e00 + i // 50)}", "县", 18, "直接", "东街社区", "", "农民", "东街村委会",
             f"135{i:08d}", "东街社区人大代表联络站"] for i in range(start, start + n)]


@pytest.fixture(autouse=True)
async def empty_queue(settings):
    """Job ids repeat between tests (the tables restart their identities): start from an empty queue."""
    redis = await create_pool(arq_settings(settings.redis_url))
    await redis.flushdb()
    await redis.aclose()


async def run_worker(settings, monkeypatch) -> Worker:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATABASE_APP_URL", settings.app_database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    options = worker_settings()
    options.pop("cron_jobs")
    worker = Worker(**options, burst=True, poll_delay=0.05, keep_result=0)
    await worker.main()
    await worker.close()
    return worker


async def upload(c, w, data: bytes, filename: str, kind: str = "deputies"):
    t = await token(c, w)
    return await c.post(f"/t/{w.slug}/imports", data={"_csrf_token": t, "kind": kind},
                        files={"file": (filename, data, "application/octet-stream")}, follow_redirects=False)


async def count(owner_sql, table: str) -> int:
    return (await owner_sql(f"SELECT count(*) AS n FROM {table}"))[0]["n"]


async def test_templates_download_and_read_back(app, database):
    w = await build(database)
    async with as_user(app, w, "admin") as c:
        r = await c.get(f"/t/{w.slug}/imports/template/deputies.xlsx")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        head = next(load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0].iter_rows(values_only=True))
        assert list(head) == DEPUTY_HEAD
        r = await c.get(f"/t/{w.slug}/imports/template/roster.csv")
        assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
        assert next(csv.reader(io.StringIO(r.content.decode("utf-8-sig")))) == ROSTER_HEAD
        assert (await c.get(f"/t/{w.slug}/imports/template/other.xlsx")).status_code == 404
        page = await c.get(f"/t/{w.slug}/imports")
        assert page.status_code == 200 and "template/deputies.xlsx" in page.text
    async with as_user(app, w, "station") as c:  # station staff do not import
        assert (await c.get(f"/t/{w.slug}/imports")).status_code == 404
        assert (await c.get(f"/t/{w.slug}/imports/template/deputies.xlsx")).status_code == 404


async def test_preview_lists_every_problem_by_row_and_column(app, database, owner_sql):
    w = await build(database)
    rows = [
        [" 姓 名 ", "代表层级*", "届次", "选举方式（直接/间接）", "选区或选举单位", "代表小组", "职业", "工作单位",
         "手机号码", "所在站点", "籍贯"],
        ["", "县", 18, "直接", "", "", "", "", "", ""],                                  # 2: missing name
        ["钱一", "县", 18, "直接", "", "", "", "", "1381234", ""],                          # 3: bad mobile
        ["孙二", "县", 18, "直接", "", "", "", "", "", "不存在的联络站"],                    # 4: unknown station
        ["周三", "县", 18, "直接", "", "", "", "", "13511112222", ""],                      # 5: fine
        ["周三", "县", 18, "直接", "", "", "", "", "13511112222", ""],                      # 6: row 5's mandate again
        ["张三", "县", 18, "直接", "", "", "", "", "13900000000", ""],                      # 7: already a deputy
        ["吴四", "部级", "第十八届", "直接", "", "", "", "", "", ""],                        # 8: bad level
        ["郑五", "县", "一百", "也许", "", "", "", "", "", ""],                              # 9: bad term, bad direct
        ["冯六", "县", 18, "直接", "", "没有的小组", "", "", "", ""],                        # 10: unknown group
    ]
    async with as_user(app, w, "admin") as c:
        r = await upload(c, w, xlsx(rows), "代表.xlsx")
        assert r.status_code == 303
        page = await c.get(r.headers["location"])
    text = page.text
    expected = [
        ("1", "籍贯", "无法识别的列“籍贯”"),
        ("2", "姓 名", "必填项为空"),
        ("3", "手机号码", "“1381234”"),  # (the message is rules.py's)
        ("4", "所在站点", "本县没有名为“不存在的联络站”的站点"),
        ("6", "代表层级*", "同一届次的职务已在第 5 行出现"),  # the same person's same mandate twice
        ("7", "姓 名", "代表名单中已有此人"),
        ("8", "代表层级*", "“部级”"),
        ("9", "届次", "“一百”"),
        ("9", "选举方式（直接/间接）", "“也许”"),
        ("10", "代表小组", "没有名为“没有的小组”的代表小组"),
    ]
    problems = preview_problems(text)
    for row, column, message in expected:
        assert any(p[0] == row and p[1].strip() == column.strip() and message in p[2] for p in problems), (
            row, column, message, problems)
    assert not any(p[0] == "5" for p in problems)
    # every row of the file is shown, in order, the fine ones too, each with its cells as read
    rows = preview_rows(text)
    assert sorted(rows) == list(range(2, 11))
    assert rows[5] == ["周三", "县", "18", "直接", "", "", "", "", "135****2222", ""]
    assert rows[3][8] == "1381234"  # not a mobile number: shown as written, beside its problem
    assert "导入全部" not in text  # no confirm button
    job = (await owner_sql("SELECT id, status, total, data IS NOT NULL AS kept FROM import_jobs"))[0]
    assert (job["status"], job["total"], job["kept"]) == ("previewed", 9, True)
    # nothing written, and confirming is refused
    async with as_user(app, w, "admin") as c:
        r = await c.post(f"/t/{w.slug}/imports/{job['id']}/confirm", data={"_csrf_token": await token(c, w)},
                         follow_redirects=False)
    assert (await owner_sql("SELECT status FROM import_jobs"))[0]["status"] == "previewed"
    assert await count(owner_sql, "deputies") == 4 and await count(owner_sql, "deputy_mandates") == 3


async def test_unreadable_files_are_refused_with_nothing_written(app, database, owner_sql):
    w = await build(database)
    async with as_user(app, w, "admin") as c:
        r = await upload(c, w, b"\x00\x01\x02garbage" * 10, "x.xlsx")
        assert r.status_code == 400 and "无法读取该文件" in r.text
        r = await upload(c, w, b"PK\x03\x04broken zip", "x.xlsx")
        assert r.status_code == 400 and "无法读取该文件" in r.text
        r = await upload(c, w, "姓名,代表层级\n".encode(), "empty.csv")
        assert r.status_code == 400 and "没有数据行" in r.text
        t = await token(c, w)
        r = await c.post(f"/t/{w.slug}/imports", data={"_csrf_token": t, "kind": "deputies"})
        assert r.status_code == 400 and "请选择要上传的文件" in r.text
    assert await count(owner_sql, "import_jobs") == 0


async def test_empty_rows_count_toward_the_row_limit(app, database, owner_sql):
    """Empty rows cost as much to read as full ones: a sheet of a header and 25,000 empty rows, or a CSV of
    as many empty lines, is refused for its rows, not read to the end to find nothing."""
    w = await build(database)
    async with as_user(app, w, "admin") as c:
        r = await upload(c, w, xlsx_empty_rows(DEPUTY_HEAD, 25_000), "空行.xlsx")
        assert r.status_code == 400 and "文件超过 20000 行（空行也计算在内）" in r.text
        r = await upload(c, w, ",".join(DEPUTY_HEAD).encode() + b"\n" * 25_000, "空行.csv")
        assert r.status_code == 400 and "文件超过 20000 行（空行也计算在内）" in r.text
        # the bomb of the report: two million empty rows, 22 KB on the wire, 12 MB unpacked
        bomb = xlsx_with_sheet(SHEET_HEAD + header_row(DEPUTY_HEAD) + "<row/>" * 2_000_000 + SHEET_TAIL)
        assert len(bomb) < 60_000
        r = await upload(c, w, bomb, "两百万空行.xlsx")
        assert r.status_code == 400 and "文件超过 20000 行（空行也计算在内）" in r.text
    assert await count(owner_sql, "import_jobs") == 0


async def test_a_workbook_that_unpacks_too_large_is_refused_before_parsing(app, database, owner_sql):
    """A few KB on the wire, 30 MB of XML once unpacked, or a row of a million cells: refused before
    the workbook is parsed."""
    bomb = xlsx_empty_rows(DEPUTY_HEAD, 10, padding=30 * 1024 * 1024)
    cells = xlsx_with_sheet(SHEET_HEAD + header_row(DEPUTY_HEAD) + "<row>" + "<c/>" * 1_000_000 + "</row>" + SHEET_TAIL)
    assert len(bomb) < 100_000 and len(cells) < 100_000
    w = await build(database)
    async with as_user(app, w, "admin") as c:
        for data in (bomb, cells):
            r = await upload(c, w, data, "炸弹.xlsx")
            assert r.status_code == 400 and "文件解压后过大" in r.text
    assert await count(owner_sql, "import_jobs") == 0


async def test_clean_file_of_1000_rows_imported_by_the_worker(app, database, owner_sql, settings, monkeypatch):
    w = await build(database)
    data = xlsx([DEPUTY_HEAD, *deputy_rows(1000)])
    async with as_user(app, w, "admin") as c:
        r = await upload(c, w, data, "全县代表.xlsx")
        job_url = r.headers["location"]
        page = await c.get(job_url)
        assert "全部 1000 行检查无误" in page.text
        r = await c.post(job_url + "/confirm", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
        assert r.status_code == 303
        job = (await owner_sql("SELECT status FROM import_jobs"))[0]
        assert job["status"] == "queued"
        assert await count(owner_sql, "deputies") == 4  # nothing before the worker
        # the progress partial polls while the job waits, and is small
        partial = await c.get(job_url + "/progress", headers={"HX-Request": "true"})
        assert 'hx-trigger="every 2s"' in partial.text and len(partial.content) <= 5 * 1024
        worker = await run_worker(settings, monkeypatch)
        assert worker.jobs_complete == 1 and worker.jobs_failed == 0
        page = await c.get(job_url)
        assert "已全部导入" in page.text and "every 2s" not in page.text
    job = (await owner_sql("SELECT status, processed, total, data FROM import_jobs"))[0]
    assert (job["status"], job["processed"], job["total"], job["data"]) == ("done", 1000, 1000, None)
    assert await count(owner_sql, "deputies") == 1004
    assert await count(owner_sql, "deputy_mandates") == 1003
    stationed = await owner_sql(
        "SELECT count(*) AS n FROM station_deputies sd JOIN stations s ON s.id = sd.station_id "
        "WHERE s.name = '东街社区人大代表联络站'")
    assert stationed[0]["n"] == 1001
    nodes = await owner_sql("SELECT count(*) AS n FROM deputy_mandates m JOIN admin_nodes a "
                            "ON a.id = m.constituency_node_id WHERE a.name = '东街社区'")
    assert nodes[0]["n"] == 1002  # the two of the world and the thousand imported
    actions = [r["action"] for r in await owner_sql("SELECT action FROM audit_log WHERE action LIKE 'import%' ORDER BY id")]
    assert actions == ["import_previewed", "import_confirmed", "import_completed"]
    # running the job again changes nothing (at-least-once delivery)
    from app.core.db import Database

    again = Database(settings)
    try:
        assert await imports.run_import(again, w.tenant.id, 1) == "skipped"
    finally:
        await again.dispose()
    assert await count(owner_sql, "deputies") == 1004


async def test_a_row_refused_by_the_database_leaves_no_rows(app, database, owner_sql, settings, monkeypatch):
    """A roster of 1,000 rows where row 801 breaks a database constraint that the checks let through
    (here: the age check is switched off): the first batch went in before it, and yet nothing stays."""
    w = await build(database)
    monkeypatch.setattr(roster, "check_age", lambda value: int(value) if value not in (None, "") else None)
    rows = [ROSTER_HEAD] + [["张三", f"选民{i}", 40, "初中", f"东街{i}号", "", f"136{i:08d}", ""] for i in range(1000)]
    rows[800][2] = 200  # spreadsheet row 801
    async with as_user(app, w, "admin") as c:
        r = await upload(c, w, csv_bytes(rows), "roster.csv", kind="roster")
        job_url = r.headers["location"]
        page = await c.get(job_url)
        assert "全部 1000 行检查无误" in page.text
        await c.post(job_url + "/confirm", data={"_csrf_token": csrf_from(page.text)})
        worker = await run_worker(settings, monkeypatch)
        assert worker.jobs_complete == 1
        page = await c.get(job_url)
    assert "失败，未导入任何数据" in page.text and "第 801 行无法保存" in page.text
    job = (await owner_sql("SELECT status, processed, problems FROM import_jobs"))[0]
    assert job["status"] == "failed" and job["processed"] == 0
    assert await count(owner_sql, "roster_entries") == 3  # the world's, nothing imported
    assert not await owner_sql("SELECT 1 FROM audit_log WHERE action = 'import_completed'")


async def test_roster_csv_in_gb18030_and_utf8_bom(app, database, owner_sql):
    w = await build(database)
    rows = [ROSTER_HEAD, ["张三", "选民戊", "33", "大专", "城关镇东街七号院", "供销社", "13700001111", "低保户"],
            ["张三", "选民己", "", "", "", "", "", ""]]
    async with as_user(app, w, "admin") as c:
        for data, name in ((csv_bytes(rows, "gb18030"), "gbk.csv"), (b"\xef\xbb\xbf" + csv_bytes(rows), "bom.csv")):
            r = await upload(c, w, data, name, kind="roster")
            assert r.status_code == 303, r.text
            page = await c.get(r.headers["location"])
            assert "全部 2 行检查无误" in page.text, name
    # the decoded values are right (the checked rows, as they would be inserted)
    lookup = import_checks.Lookup(scope=None, deputies={"张三": [1]})
    checked = import_checks.check_file("roster", csv_bytes(rows, "gb18030"), "x.csv", lookup)
    assert checked.problems == [] and checked.rows[0][1]["address"] == "城关镇东街七号院"
    assert checked.rows[0][1]["age"] == 33 and checked.rows[0][1]["note"] == "低保户"


async def test_roster_preview_problems_and_scope(app, database, owner_sql):
    w = await build(database)
    rows = [ROSTER_HEAD,
            ["李四", "选民庚", "", "", "", "", "", ""],                      # 2: 李四 is not the town's
            ["张三", "选民甲", "", "", "", "", "13812345678", ""],           # 3: already on the roster
            ["不存在", "选民辛", "", "", "", "", "", ""],                    # 4: unknown deputy
            ["张三", "", "abc", "", "", "", "", ""]]                         # 5: no name, bad age
    async with as_user(app, w, "town") as c:
        r = await upload(c, w, xlsx(rows), "r.xlsx", kind="roster")
        page = await c.get(r.headers["location"])
    problems = preview_problems(page.text)
    for row, column, message in (("2", "代表姓名", "您管理的代表中没有“李四”"), ("3", "选民姓名", "花名册中已有此人"),
                                 ("4", "代表姓名", "没有“不存在”"), ("5", "选民姓名", "必填项为空"),
                                 ("5", "年龄", "“abc”不是有效年龄")):
        assert any(p[:2] == (row, column) and message in p[2] for p in problems), (row, message, problems)
    assert await count(owner_sql, "roster_entries") == 3


async def test_township_staff_import_only_into_their_township(app, database, owner_sql):
    w = await build(database)
    rows = [DEPUTY_HEAD,
            ["陈七", "乡镇", 5, "直接", "", "", "", "", "", "河坝村人大代表联络站"],  # another township's station
            ["褚八", "乡镇", 5, "直接", "", "", "", "", "", ""]]                     # no station: invisible afterwards
    async with as_user(app, w, "town") as c:
        r = await upload(c, w, csv_bytes(rows), "d.csv")
        page = await c.get(r.headers["location"])
        problems = preview_problems(page.text)
        assert any(p[:2] == ("2", "所在站点") and p[2].startswith("站点“河坝村人大代表联络站”不在您所辖") for p in problems)
        assert any(p[:2] == ("3", "所在站点") and p[2].startswith("请填写代表所在的本乡镇") for p in problems)
        job_url = r.headers["location"]
    # another township's staff do not see this job
    async with as_user(app, w, "heba") as c:
        assert (await c.get(job_url)).status_code == 404
        assert (await c.get(job_url + "/progress")).status_code == 404
    assert await count(owner_sql, "deputies") == 4


async def test_confirm_while_redis_is_down_then_the_sweep_catches_up(app, database, owner_sql, settings,
                                                                     monkeypatch):
    from app.core.db import Database
    from app.main import create_app

    w = await build(database)
    no_redis = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=create_app(no_redis), base_url="http://testserver.local") as c:
        await login(c, f"{w.slug}-admin")
        r = await upload(c, w, csv_bytes([DEPUTY_HEAD, *deputy_rows(3)]), "d.csv")
        job_url = r.headers["location"]
        page = await c.get(job_url)
        r = await c.post(job_url + "/confirm", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
        assert r.status_code == 303  # the web action succeeds
        page = await c.get(job_url)
        assert "等待导入" in page.text
    assert (await owner_sql("SELECT status FROM import_jobs"))[0]["status"] == "queued"
    # Redis is back: the worker's sweep finds the job in Postgres and enqueues it
    db = Database(settings)
    try:
        assert await imports.sweep(db, settings.redis_url) == 1
    finally:
        await db.dispose()
    await run_worker(settings, monkeypatch)
    assert (await owner_sql("SELECT status FROM import_jobs"))[0]["status"] == "done"
    assert await count(owner_sql, "deputies") == 7
