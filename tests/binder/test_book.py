"""The whole station binder: one workbook (contents first, a sheet per register and roster) and one
print-out (every part in order, each on a new page, with a running header and page numbers)."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from app.cases.models import Case
from tests.activities.world import EAST, local, put_activity
from tests.binder.binder_world import HEBA, YEAR, build_binder_world
from tests.deputies.deputy_world import add_deputy, signed_in

SHEETS = ["Table of contents", "Register of deputies' attendance at activities", "Register of deputies receiving voters",
          "Register of the congress receiving deputies", "Register of deputies' duty reports", "Register of opinions and suggestions",
          "Roster of deputies of the three levels", "Roster of the township presidium",
          "Roster of presidium members' contacts with deputies", "Roster of deputies' contacts with voters",
          "Photo album", "Duty dossier"]
NAMES = [title[:31] for title in SHEETS]  # a sheet's name is at most 31 characters (the Chinese ones are shorter)


@pytest.fixture
async def world(database):
    w = await build_binder_world(database)
    county = w.ac.county
    await add_deputy(database, county, "孙丽", station=HEBA, level="township", mobile="13900000009")
    async with database.transaction(tenant_id=county.tenant.id) as db:
        # the case raised at the reception: registered on the reception's day, whatever today is
        await db.execute(update(Case).where(Case.id == w.case).values(created_at=local(YEAR, 4, 15, 10)))
        db.add(Case(tenant_id=county.tenant.id, receipt_code="alph-H1", source="visit", content="河坝的桥要修",
                    station_id=county.stations[HEBA], node_id=county.nodes["河坝村"], state="registered",
                    created_at=local(YEAR, 8, 1)))
    return w


def _url(client, path: str, station=None, year=YEAR) -> str:
    return f"{client.base}/binder/{path}?station={station or ''}&year={year}"


def _rows(book, name: str) -> list[tuple]:
    return list(book[name].iter_rows(values_only=True))


async def test_the_workbook_has_contents_then_every_register_and_roster(app, world, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(_url(client, "book.xlsx", ac.stations[EAST]))
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    book = load_workbook(BytesIO(r.content))
    assert book.sheetnames == NAMES
    contents = _rows(book, NAMES[0])
    assert contents[0] == (f"Binder of {EAST}, {YEAR}", "Lines")
    # 道路调研 and 四月接待日; one reception; no reception of deputies; one 述职评议; the case at the
    # reception; four deputies; no presidium, no voter on a roster, no photo; the four deputies' dossiers
    assert contents[1:] == [(NAMES[1], 2), (NAMES[2], 1), (NAMES[3], 0), (NAMES[4], 1), (NAMES[5], 1),
                            (NAMES[6], 4), (NAMES[7], 0), (NAMES[8], 0), (NAMES[9], 0), (NAMES[10], 0),
                            (NAMES[11], 4)]
    attendance = _rows(book, NAMES[1])
    assert attendance[1][0] == datetime(YEAR, 3, 10) and attendance[1][3] == "道路调研"
    assert book[NAMES[1]].cell(row=2, column=1).number_format == "yyyy-mm-dd"
    cases = _rows(book, NAMES[5])
    assert cases[1][0] == datetime(YEAR, 4, 15) and cases[1][3] == "村口路灯坏了，晚上看不见路"
    roster = {row[0]: row for row in _rows(book, NAMES[6])[1:]}
    assert set(roster) == {"张伟", "李娜", "王强", "赵敏"}
    assert roster["张伟"][1:3] == ("County level", EAST) and roster["张伟"][4] == "138****0001"  # masked
    assert roster["王强"][1] == "City level" and roster["王强"][4] is None  # no mobile
    logged = await owner_sql("SELECT target, details->>'year' FROM audit_log WHERE action = 'binder_exported'")
    assert [tuple(row) for row in logged] == [("binder:book", str(YEAR))]


async def test_a_township_users_binder_holds_only_their_township(app, world):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        everything = load_workbook(BytesIO((await client.get(_url(client, "book.xlsx"))).content))
    assert "河坝的桥要修" in [row[3] for row in _rows(everything, NAMES[5])]
    assert "孙丽" in [row[0] for row in _rows(everything, NAMES[6])]
    async with signed_in(app, ac.county, "town") as client:
        r = await client.get(_url(client, "book.xlsx"))
        assert (await client.get(_url(client, "book.xlsx", ac.stations[HEBA]))).status_code == 404
    book = load_workbook(BytesIO(r.content))
    values = {v for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row}
    assert "道路调研" in values and "张伟" in values
    for other in ("河坝调研", "河坝的桥要修", "孙丽", HEBA):
        assert other not in values


async def test_the_print_out_has_every_part_in_order_on_its_own_page(app, world):
    ac = world.ac
    async with signed_in(app, ac.county, "viewer") as client:
        r = await client.get(_url(client, "print", ac.stations[EAST]))
        css = await client.get(_url(client, "print.css", ac.stations[EAST]))
        index = await client.get(_url(client, "").replace("/binder/?", "/binder?"))
    assert r.status_code == 200
    at = [r.text.index("<h2>" + title.replace("'", "&#39;") + f" ({YEAR})</h2>") for title in SHEETS[1:]]
    assert at == sorted(at)
    # the registers and the contact roster with voters (ten columns) are wide: landscape
    assert r.text.count('class="card binder-part landscape"') == 5
    assert '<article class="card binder-part" id="part-deputies">' in r.text  # five columns: portrait
    assert "<thead>" in r.text and 'class="subnav"' not in r.text
    assert "道路调研" in r.text and "李娜（signed in by staff (代签): 手机没电）" in r.text  # the register's own rows
    assert f'href="{client.base}/cases/{world.case}"' in r.text and "138****0001" in r.text
    assert f'href="{client.base}/binder/print.css?station={ac.stations[EAST]}&amp;year={YEAR}"' in r.text
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".binder-part+.binder-part{break-before:page}" in css.text
    assert "@top-center" in css.text and "counter(page)" in css.text and "counter(pages)" in css.text
    assert "\\" + f"{ord(EAST[0]):06x}" in css.text  # the station's name, escaped, in the running header
    assert f"{client.base}/binder/print?" in index.text
    # every station in reach: the workbook is built by the worker (tests/binder/test_binder_builds.py)
    assert f'action="{client.base}/binder/builds"' in index.text and "/binder/book.xlsx?" not in index.text


async def test_deputies_and_handling_units_get_404_and_a_bad_year_its_message(app, world):
    ac = world.ac
    for username in ("rep", "handler"):
        async with signed_in(app, ac.county, username) as client:
            for path in ("book.xlsx", "print", "print.css"):
                assert (await client.get(_url(client, path))).status_code == 404, (username, path)
    async with signed_in(app, ac.county, "admin") as client:
        for path in ("book.xlsx", "print"):
            r = await client.get(_url(client, path, year="20x6"))
            assert r.status_code == 400
            assert "Please give the year as four digits, from 2000 to 2100." in r.text


async def _queries(client, path: str) -> int:
    r = await client.get(_url(client, path))
    assert r.status_code == 200
    return int(r.headers["x-query-count"])


async def test_queries_do_not_grow_with_the_rows(app, database, world):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        await client.get(f"{client.base}/binder")  # the first entry into the tenant is recorded: not counted here
        before = [await _queries(client, p) for p in ("book.xlsx", "print")]
        for day in range(1, 6):
            await put_activity(database, ac, kind="reception", starts_at=local(YEAR, 7, day), topic=f"接待{day}",
                               invited=("张伟", "李娜"), present=("李娜",))
            await add_deputy(database, ac.county, f"代表{day}", station=EAST, more_levels=("township",))
        after = [await _queries(client, p) for p in ("book.xlsx", "print")]
    assert after == before
