"""The station binder's three registers (attendance, reception, duty reports): what each lists for a
station and rolled up, who may open them (a township's staff their township, a station's staff their
station, deputies and handling units nothing, another tenant's station 404), a bad year refused
clearly, the A4 print, the XLSX (head, a real date, a real percentage) and a fixed number of queries."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.activities.world import EAST, HOME, local, put_activity
from tests.binder.binder_world import HEBA, YEAR, build_binder_world
from tests.deputies.deputy_world import signed_in, text_of


@pytest.fixture
async def world(database):
    return await build_binder_world(database)


def _url(client, register: str, station=None, year=YEAR, **more) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"station": station or "", "year": year, **more}.items())
    return f"{client.base}/binder/{register}?{query}"


async def test_attendance_register_of_a_station(app, world):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(_url(client, "attendance", ac.stations[EAST]))
    assert r.status_code == 200
    text = text_of(r.text)
    assert "道路调研" in text and "2026-03-10" in text
    assert "李娜（signed in by staff (代签): 手机没电）" in text
    assert "道路调研 张伟、李娜、王强 张伟、李娜（signed in by staff (代签): 手机没电） 王强 " in text  # invited, present, absent
    assert "四月接待日" in text  # a reception is an activity too
    for not_listed in ("取消的会议", "去年的调研", "河坝调研"):  # cancelled, last year, another station
        assert not_listed not in text


async def test_roll_up_follows_the_members_reach(app, world):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        everything = text_of((await client.get(_url(client, "attendance"))).text)
    assert "道路调研" in everything and "河坝调研" in everything
    async with signed_in(app, ac.county, "town") as client:  # 城关镇: not 河坝乡's stations
        town = await client.get(_url(client, "attendance"))
        assert "道路调研" in town.text and "河坝调研" not in town.text
        assert (await client.get(_url(client, "attendance", ac.stations[HEBA]))).status_code == 404
        index = await client.get(f"{client.base}/binder")
        assert EAST in index.text and HEBA not in index.text
    async with signed_in(app, ac.county, "station") as client:  # 东街社区's staff: their station only
        index = await client.get(f"{client.base}/binder")
        assert EAST in index.text and HOME not in index.text
        assert (await client.get(_url(client, "reports", ac.stations[HOME]))).status_code == 404
        assert "道路调研" in (await client.get(_url(client, "attendance"))).text


async def test_deputies_handling_units_and_other_tenants_get_404(app, database, world):
    ac = world.ac
    for username in ("rep", "handler"):
        async with signed_in(app, ac.county, username) as client:
            for path in ("/binder", "/binder/attendance", "/binder/reception.xlsx", "/binder/reports"):
                assert (await client.get(client.base + path)).status_code == 404, (username, path)
    beta = await build_binder_world(database, "beta")
    async with signed_in(app, ac.county, "admin") as client:
        for register in ("attendance", "reception.xlsx", "reports"):
            r = await client.get(_url(client, register, beta.ac.stations[EAST]))
            assert r.status_code == 404
        assert (await client.get(_url(client, "attendance", "abc"))).status_code == 404


async def test_a_bad_year_is_refused_with_a_clear_message(app, world):
    async with signed_in(app, world.ac.county, "admin") as client:
        for year in ("20x6", "1999", "12345"):
            r = await client.get(_url(client, "attendance", year=year))
            assert r.status_code == 400
            assert "Please give the year as four digits, from 2000 to 2100." in r.text
        assert (await client.get(f"{client.base}/binder?year=abc")).status_code == 400
        assert (await client.get(f"{client.base}/binder/reports")).status_code == 200  # no year: this one


async def test_reception_register_links_the_matters_raised(app, world):
    ac = world.ac
    async with signed_in(app, ac.county, "station") as client:
        r = await client.get(_url(client, "reception", ac.stations[EAST]))
    assert r.status_code == 200
    assert f'href="{client.base}/cases/{world.case}"' in r.text
    text = text_of(r.text)
    assert "四月接待日" in text and "村口路灯坏了" in text and "Registered" in text
    assert "道路调研" not in text  # not a reception
    row = text[text.index("四月接待日"):]
    assert "张伟" in row and "赵敏" not in row  # on duty: who signed in
    assert " 1 " in row  # people received: nobody recorded a number, so the one matter raised


async def test_duty_report_register(app, world):
    ac = world.ac
    async with signed_in(app, ac.county, "town") as client:
        r = await client.get(_url(client, "reports"))
    text = text_of(r.text)
    assert "2026-05-20" in text and "张伟" in text and " 40 " in text and "80.0%" in text


async def test_print_layout(app, world):
    async with signed_in(app, world.ac.county, "viewer") as client:
        r = await client.get(_url(client, "attendance", print=1))
    assert r.status_code == 200
    assert 'class="card landscape"' in r.text  # seven columns: landscape A4
    assert "<thead>" in r.text
    assert 'class="subnav"' not in r.text  # no menu on paper


async def test_spreadsheets_have_the_head_and_typed_cells(app, world, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        att = await client.get(_url(client, "attendance.xlsx", ac.stations[EAST]))
        reports = await client.get(_url(client, "reports.xlsx"))
        reception = await client.get(_url(client, "reception.xlsx"))
    assert att.status_code == 200 and "attachment" in att.headers["content-disposition"]
    sheet = load_workbook(BytesIO(att.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Date of the activity", "Station", "Kind of activity", "Topic")
    assert rows[1][0] == datetime(2026, 3, 10) and rows[1][3] == "道路调研"
    assert rows[1][6] == "王强"
    book = load_workbook(BytesIO(reports.content))
    line = list(book.worksheets[0].iter_rows(values_only=True))[1]
    assert line[0] == datetime(2026, 5, 20) and line[3] == 40 and line[4] == 3
    assert line[8] == pytest.approx(0.8)  # a percentage as a number
    assert book.worksheets[0].cell(row=2, column=9).number_format.endswith("%")
    matters = list(load_workbook(BytesIO(reception.content)).worksheets[0].iter_rows(values_only=True))[1]
    assert matters[5] == "村口路灯坏了，晚上看不见路" and matters[6] == "Registered"
    # each copy taken is logged (the registers carry names and the public's matters)
    logged = await owner_sql("SELECT target FROM audit_log WHERE action = 'binder_register_exported' ORDER BY id")
    assert [r[0] for r in logged] == ["binder:attendance", "binder:reports", "binder:reception"]


async def _queries(client, register: str) -> int:
    r = await client.get(_url(client, register))
    assert r.status_code == 200
    return int(r.headers["x-query-count"])


async def test_queries_do_not_grow_with_the_rows(app, database, world):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        await client.get(f"{client.base}/binder")  # the first entry into the tenant is recorded: not counted here
        before = {k: await _queries(client, k) for k in ("attendance", "reception", "reports")}
        for day in range(1, 6):
            await put_activity(database, ac, kind="reception", starts_at=local(YEAR, 7, day), topic=f"接待{day}",
                               invited=("张伟", "李娜"), present=("李娜",))
        after = {k: await _queries(client, k) for k in ("attendance", "reception", "reports")}
    assert after == before
