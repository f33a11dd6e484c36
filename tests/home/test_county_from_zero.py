"""Issue 17's check, end to end over HTTP: approve a new county with the Mianyang preset, import its
tree and stations from spreadsheets after a row-by-row preview, and follow the set-up checklist to a
first station in operation, and on until the checklist is done."""

from __future__ import annotations

import re

import pytest
from arq import create_pool
from litestar.testing import AsyncTestClient

from app.core.redis import arq_settings
from tests.deputies.import_pages import preview_problems, preview_rows
from tests.deputies.test_import import run_worker, xlsx
from tests.factories import csrf_from
from tests.home.test_setup_checklist import form_values, states
from tests.platform.conftest import enrolled_operator, sign_in_operator

TREE = [["乡镇", "村", "类型"], ["古陶镇", "", ""], ["古陶镇", "南关村", ""], ["古陶镇", "西关社区", ""],
        ["洪善镇", "", ""], ["洪善镇", "洪善村", ""]]
STATIONS = [["名称", "类型", "所在地", "地址", "开放时间", "接待日", "联系人", "联系电话"],
            ["", "代表之家", "古陶镇", "古陶镇政府二楼", "工作日 9:00–17:00", "每月15日", "李娟", "0354-5621234"],
            ["", "代表联络站", "古陶镇/南关村", "南关村委会", "", "", "", ""],
            ["", "代表联络站", "洪善镇洪善村", "", "", "", "", ""]]


@pytest.fixture(autouse=True)
async def empty_queue(settings):
    redis = await create_pool(arq_settings(settings.redis_url))
    await redis.flushdb()
    await redis.aclose()


async def _import(c, base: str, kind: str, rows: list[list], settings, monkeypatch) -> str:
    """Upload, read the preview (every row, no problem), confirm, let the worker run; the job page."""
    page = await c.get(f"{base}/imports?kind={kind}")
    assert f'<option value="{kind}" selected>' in page.text
    r = await c.post(f"{base}/imports", data={"_csrf_token": csrf_from(page.text), "kind": kind},
                     files={"file": (f"{kind}.xlsx", xlsx(rows), "application/octet-stream")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    job_url = r.headers["location"]
    page = await c.get(job_url)
    assert sorted(preview_rows(page.text)) == list(range(2, len(rows) + 1)) and not preview_problems(page.text)
    r = await c.post(job_url + "/confirm", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    worker = await run_worker(settings, monkeypatch)
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    page = await c.get(job_url)
    assert "已全部导入" in page.text
    return page.text


async def test_a_county_from_zero_to_a_first_station_in_operation(app, database, owner_sql, settings, monkeypatch):
    # the operator approves 平遥县's sign-up with the Mianyang-style preset
    _, secret = await enrolled_operator(database, owner_sql)
    application = (await owner_sql(
        "INSERT INTO signup_applications (division_code, county_name, contact_name, contact_phone, client_addr) "
        "VALUES ('140728', '山西省 晋中市 平遥县', '王红', '13800138000', '10.0.0.1') RETURNING id"))[0]["id"]
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as ops:
        await sign_in_operator(ops, "ops", secret)
        page = await ops.get(f"/ops/applications/{application}")
        assert "绵阳模式（参照三台县）" in page.text
        r = await ops.post(f"/ops/applications/{application}/approve", data={
            "preset": "mianyang-santai", "slug": "pingyao", "name": "平遥县人大常委会", "admin_name": "王红",
            "admin_mobile": "13800138000", "_csrf_token": csrf_from(page.text)})
        assert r.status_code == 200, r.text
        join = re.search(r"/join/pingyao/[A-Za-z0-9_-]+", r.text).group(0)
    assert not await owner_sql("SELECT 1 FROM admin_nodes WHERE name IN ('潼川镇', '北坝村', '芦溪镇')")

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        # the county admin joins with the one-time link and lands on the home with its set-up steps
        page = await c.get(join)
        r = await c.post(join, data={"_csrf_token": csrf_from(page.text), "username": "pingyao-admin",
                                     "password": "a-long-enough-password", "confirm": "a-long-enough-password"},
                         follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/t/pingyao/"
        base = "/t/pingyao"
        home = await c.get(f"{base}/")
        assert states(home.text) == {"tree": "no", "kinds": "yes", "stations": "no", "deputies": "no",
                                     "rules": "yes", "cases": "yes", "reminders": "no"}
        assert "在任代表均已进站" not in home.text

        # the tree, from a spreadsheet
        assert f'href="{base}/imports?kind=tree"' in home.text
        await _import(c, base, "tree", TREE, settings, monkeypatch)
        home = await c.get(f"{base}/")
        assert states(home.text)["tree"] == "yes" and states(home.text)["stations"] == "no"

        # the stations, named by the Mianyang naming rule with the new county's own city
        await _import(c, base, "stations", STATIONS, settings, monkeypatch)
        stations = {s["name"]: s for s in await owner_sql(
            "SELECT id, name, status FROM stations ORDER BY id")}
        assert list(stations) == ["晋中市平遥县古陶镇人大代表之家", "晋中市平遥县古陶镇南关村人大代表联络站",
                                  "晋中市平遥县洪善镇洪善村人大代表联络站"]
        assert {s["status"] for s in stations.values()} == {"proposed"}
        assert states((await c.get(f"{base}/")).text)["stations"] == "no"

        # the checklist's link leads to the stations; one is taken through the Mianyang lifecycle
        listing = await c.get(f"{base}/stations")
        station = stations["晋中市平遥县古陶镇南关村人大代表联络站"]
        assert f'{base}/stations/{station["id"]}' in listing.text
        for step in ("approve", "file", "activate"):
            page = await c.get(f"{base}/stations/{station['id']}")
            r = await c.post(f"{base}/stations/{station['id']}/lifecycle",
                             data={"_csrf_token": csrf_from(page.text), "step": step, "note": ""},
                             follow_redirects=False)
            assert r.status_code == 303, (step, r.text)
        status = await owner_sql("SELECT status FROM stations WHERE id = $1", station["id"])
        assert status[0]["status"] == "active"
        home = await c.get(f"{base}/")
        assert states(home.text) == {"tree": "yes", "kinds": "yes", "stations": "yes", "deputies": "no",
                                     "rules": "yes", "cases": "yes", "reminders": "no"}

        # deputies and reminder settings finish the list
        await _import(c, base, "deputies", [
            ["姓名", "代表层级", "届次", "选举方式", "手机号码", "所在站点"],
            ["赵文", "县", 18, "直接", "13912345678", "晋中市平遥县古陶镇南关村人大代表联络站"]], settings, monkeypatch)
        page = await c.get(f"{base}/settings/notifications")
        r = await c.post(f"{base}/settings/notifications", data=form_values(page.text, "/settings/notifications"),
                         follow_redirects=False)
        assert r.status_code == 303
        home = await c.get(f"{base}/")
        assert 'id="setup"' not in home.text and "在任代表均已进站" in home.text
