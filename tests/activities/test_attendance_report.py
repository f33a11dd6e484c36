"""The yearly attendance report (年度出勤情况报告): built without a web request, the same station's other
deputies and no one else, the staff sign-in's reason in HTML and CSV, exports without mobile numbers,
and who may read it."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from app.activities.attendance import yearly_report
from tests.activities.test_attendance_world import EAST, HOME, REASON, attendance_year
from tests.deputies.deputy_world import signed_in, text_of

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


async def test_yearly_report_without_a_request(database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        r = await yearly_report(db, ac.tenant.id, ac.deputies["李娜"], 2024, now=NOW)
        sun = await yearly_report(db, ac.tenant.id, ac.deputies["孙丽"], 2024, now=NOW)
    assert r.county == ac.tenant.name and r.deputy == "李娜" and r.year == 2024
    assert [s.name for s in r.stations] == [EAST]
    assert (r.total.invited, r.total.present, r.total.staff, r.total.rate) == (3, 1, 1, 33)
    staff_line = next(line for line in r.lines if line.method == "staff")
    assert staff_line.reason == REASON and staff_line.topic == "一月接待日"
    peers = {p.name: p.counts for p in r.stations[0].peers}
    assert set(peers) == {"张伟", "王强", "赵敏"}  # the others of 东街社区; not 李娜 herself, not 孙丽
    assert (peers["张伟"].invited, peers["张伟"].present, peers["张伟"].rate) == (5, 3, 60)
    # 孙丽 is alone at the township home: 张伟, invited to one of its activities, is stationed elsewhere
    assert [s.name for s in sun.stations] == [HOME] and sun.stations[0].peers == []
    assert (sun.total.invited, sun.total.present) == (1, 1)


async def test_report_page_lists_reason_and_peers(app, database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(f"{client.base}/deputies/{ac.deputies['李娜']}/attendance/2024/report")
        assert r.status_code == 200
        text = text_of(r.text)
        assert f"Signed in by staff: {REASON}" in text
        assert "Yearly attendance report of 李娜, 2024" in text and ac.tenant.name in text and EAST in text
        peers = text[text.index("Attendance of the other deputies"):]
        assert "张伟 5 3 60%" in peers and "王强 0 0 —" in peers and "孙丽" not in peers
        assert 'class="noprint"' in r.text and "Print" in text
        assert "1380000" not in r.text


async def test_report_exports_csv_and_xlsx(app, database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    base = f"/deputies/{ac.deputies['李娜']}/attendance/2024/report"
    async with signed_in(app, ac.county, "station") as client:
        r = await client.get(f"{client.base}{base}.csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.content.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese
        body = r.content.decode("utf-8-sig")
        assert f"代签：{REASON}" in body and "同站代表出勤情况" in body
        assert f"{EAST},张伟,5,3,60%" in body and "孙丽" not in body
        assert "1月,2,1,1,0,0,50%" in body and "全年合计,3,1,1,0,0,33.3%" in body
        assert "1380000" not in body and "138****" not in body
        x = await client.get(f"{client.base}{base}.xlsx")
        assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook

    cells = [c for row in load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True) for c in row if c]
    assert "李娜" in cells and any(REASON in str(c) for c in cells) and not any("1380000" in str(c) for c in cells)
    rows = await owner_sql("SELECT action, target FROM audit_log WHERE action = 'attendance_report_exported'")
    assert len(rows) == 2 and rows[0]["target"] == f"deputy:{ac.deputies['李娜']}"


async def test_who_may_read_the_report(app, database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    zhang, li = ac.deputies["张伟"], ac.deputies["李娜"]
    async with signed_in(app, ac.county, "rep") as client:  # the deputy 张伟
        r = await client.get(f"{client.base}/deputies/{zhang}/attendance/2024/report")
        assert r.status_code == 200 and "李娜" in text_of(r.text)  # the others' attendance is part of it
        assert (await client.get(f"{client.base}/deputies/{li}/attendance/2024/report")).status_code == 404
        assert (await client.get(f"{client.base}/deputies/{li}/attendance/2024/report.csv")).status_code == 404
        assert (await client.get(f"{client.base}/deputies/{zhang}/attendance/1999/report")).status_code == 404
        r = await client.get(f"{client.base}/deputies/{zhang}/attendance/report", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("/report")
        assert (await client.get(f"{client.base}/deputies/{li}/attendance/report")).status_code == 404
    async with signed_in(app, ac.county, "heba") as client:
        assert (await client.get(f"{client.base}/deputies/{zhang}/attendance/2024/report")).status_code == 404
        assert (await client.get(f"{client.base}/deputies/{zhang}/attendance/2024/report.xlsx")).status_code == 404
    async with signed_in(app, ac.county, "viewer") as client:
        assert (await client.get(f"{client.base}/deputies/{zhang}/attendance/2024/report")).status_code == 200
    async with signed_in(app, ac.county, "handler") as client:
        assert (await client.get(f"{client.base}/deputies/{zhang}/attendance/2024/report")).status_code == 404


async def test_peers_are_those_stationed_during_the_year(database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    await owner_sql("UPDATE station_deputies SET ended_at = '2023-06-30T00:00:00Z' WHERE deputy_id = $1",
                    ac.deputies["王强"])
    await owner_sql("UPDATE station_deputies SET assigned_at = '2024-09-01T00:00:00Z' WHERE deputy_id = $1",
                    ac.deputies["赵敏"])
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        r = await yearly_report(db, ac.tenant.id, ac.deputies["张伟"], 2024, now=NOW)
        earlier = await yearly_report(db, ac.tenant.id, ac.deputies["张伟"], 2023, now=NOW)
    assert [p.name for p in r.stations[0].peers] == sorted(["李娜", "赵敏"])  # 王强 left in 2023
    names_2023 = [p.name for p in earlier.stations[0].peers]
    assert "王强" in names_2023 and "赵敏" not in names_2023
