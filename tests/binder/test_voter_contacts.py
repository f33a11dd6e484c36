"""人大代表联系选民花名册 in the station binder: the contact rosters of the deputies stationed at the
binder's stations, masked by default; unmasked (?reveal=1) only for the roles that may reveal a roster
entry, each unmasked copy one audit entry; viewers are refused the reveal."""

from __future__ import annotations

import json
from datetime import date, datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.deputies.models import RosterContact, RosterEntry
from tests.activities.world import EAST, HOME, build_activity_county, local
from tests.binder.binder_world import HEBA, YEAR
from tests.deputies.deputy_world import add_deputy, signed_in

TITLE = "Roster of deputies' contacts with voters"
SHEET = TITLE[:31]  # a sheet's name is at most 31 characters
ADDRESS = "东街社区幸福路12号3单元"
MOBILE = "13911112222"


async def _entry(db, t: int, deputy: int, name: str, *, contacts=(), **values) -> int:
    entry = RosterEntry(tenant_id=t, deputy_id=deputy, name=name, **values)
    db.add(entry)
    await db.flush()
    for day in contacts:
        db.add(RosterContact(tenant_id=t, entry_id=entry.id, contacted_on=day, note="走访"))
    await db.flush()
    return entry.id


@pytest.fixture
async def world(database):
    return await build_contacts_world(database)


async def build_contacts_world(database):
    """On tests/activities/world.py's county, at 东街社区: 张伟's 选民甲 (everything, two contacts this year and one the year before), 选民乙
    (a name only) and 选民丙 (taken off last year); 李娜's 选民丁. 周杰 at the township's home (城关镇)
    keeps 选民戊, 孙丽 at 河坝村 (another township) 选民己."""
    ac = await build_activity_county(database)
    county, t = ac.county, ac.tenant.id
    zhou = await add_deputy(database, county, "周杰", station=HOME, mobile="13000000003")
    sun = await add_deputy(database, county, "孙丽", station=HEBA, mobile="13000000004")
    async with database.transaction(tenant_id=t) as db:
        await _entry(db, t, ac.deputies["张伟"], "选民甲", age=50, education="高中", work_unit="东街小学",
                     address=ADDRESS, mobile=MOBILE,
                     contacts=(date(YEAR - 1, 12, 30), date(YEAR, 3, 1), date(YEAR, 6, 15)))
        await _entry(db, t, ac.deputies["张伟"], "选民乙")
        await _entry(db, t, ac.deputies["张伟"], "选民丙", mobile="13900000009", retired_at=local(YEAR - 1, 6, 1))
        await _entry(db, t, ac.deputies["李娜"], "选民丁", address="东街社区和平路8号", mobile="13722223333",
                     contacts=(date(YEAR, 2, 2),))
        await _entry(db, t, zhou, "选民戊", address="城关镇南街100号", mobile="13633334444")
        await _entry(db, t, sun, "选民己", address="河坝乡河坝村一组", mobile="13544445555")
    return ac


def _url(client, path: str, station=None, year=YEAR, reveal: bool = False) -> str:
    return f"{client.base}/binder/{path}?station={station or ''}&year={year}" + ("&reveal=1" if reveal else "")


def _sheet(content: bytes, name: str = SHEET):
    return load_workbook(BytesIO(content))[name]


def _lines(content: bytes, name: str = SHEET) -> dict[str, tuple]:
    rows = list(_sheet(content, name).iter_rows(values_only=True))
    return {row[2]: row for row in rows[1:]}


async def _reveals(owner_sql) -> list[tuple]:
    rows = await owner_sql("SELECT target, details::text AS details FROM audit_log "
                           "WHERE action = 'binder_contacts_revealed' ORDER BY id")
    return [(row["target"], json.loads(row["details"])) for row in rows]


async def test_the_binder_holds_the_roster_masked_by_default(app, world, owner_sql):
    ac = world
    async with signed_in(app, ac.county, "admin") as client:
        workbook = await client.get(_url(client, "book.xlsx", ac.stations[EAST]))
        printed = await client.get(_url(client, "print", ac.stations[EAST]))
        own = await client.get(_url(client, "voter-contacts.xlsx", ac.stations[EAST]))
    assert workbook.status_code == printed.status_code == own.status_code == 200
    lines = _lines(workbook.content)
    assert list(lines) == ["选民乙", "选民甲", "选民丁"]  # by deputy (张伟, 李娜), then constituent; 选民丙 was taken off
    assert lines["选民甲"] == ("张伟", EAST, "选民甲", 50, "高中", "东街小学", "东街社区幸福…", "139****2222", 2,
                             datetime(YEAR, 6, 15))  # the contact of last December is not this year's
    assert lines["选民乙"] == ("张伟", EAST, "选民乙", None, None, None, None, None, 0, None)
    assert _lines(own.content) == lines  # the part's own workbook says the same
    assert f"<h2>{TITLE.replace(chr(39), '&#39;')} ({YEAR})</h2>" in printed.text
    assert "139****2222" in printed.text and "东街社区幸福…" in printed.text
    cells = [str(v) for sheet in load_workbook(BytesIO(workbook.content)).worksheets
             for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
    for full in (MOBILE, ADDRESS, "13722223333"):
        assert full not in printed.text and not any(full in v for v in cells)
    assert await _reveals(owner_sql) == []  # masked: no reveal logged


async def test_cell_types_count_and_date_are_numbers_and_dates(app, world):
    ac = world
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(_url(client, "voter-contacts.xlsx", ac.stations[EAST]))
    sheet = _sheet(r.content)
    head = [c.value for c in sheet[1]]
    assert head == ["Deputy", "Station", "Constituent's name", "Age", "Education", "Work unit", "Home address",
                    "Mobile", "Contacts in the year", "Last contact in the year"]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[2].value == "选民甲")
    assert row[3].data_type == "n" and row[8].data_type == "n" and row[8].value == 2
    assert row[9].is_date and row[9].number_format == "yyyy-mm-dd"


async def test_the_county_admin_reveals_with_one_audit_entry_per_copy(app, world, owner_sql):
    ac = world
    east = ac.stations[EAST]
    async with signed_in(app, ac.county, "admin") as client:
        index = await client.get(_url(client, "").replace("/binder/?", "/binder?"))
        workbook = await client.get(_url(client, "book.xlsx", east, reveal=True))
        printed = await client.get(_url(client, "print", east, reveal=True))
    assert f'href="{client.base}/binder/print?station=&amp;year={YEAR}&amp;reveal=1"' in index.text
    assert "recorded in the audit log" in index.text
    assert workbook.status_code == printed.status_code == 200
    lines = _lines(workbook.content)
    assert lines["选民甲"][6:8] == (ADDRESS, MOBILE) and lines["选民丁"][7] == "13722223333"
    assert ADDRESS in printed.text and MOBILE in printed.text and "shown in full" in printed.text
    # print.css keeps its own address: the query without the reveal
    assert f'href="{client.base}/binder/print.css?station={east}&amp;year={YEAR}"' in printed.text
    assert await _reveals(owner_sql) == [
        ("binder:book", {"station_id": east, "year": YEAR, "entries": 3, "format": "xlsx"}),
        ("binder:book", {"station_id": east, "year": YEAR, "entries": 3, "format": "print"})]
    exported = await owner_sql("SELECT count(*) AS n FROM audit_log WHERE action = 'binder_exported'")
    assert exported[0]["n"] == 1  # the workbook, as before


async def test_township_staff_reveal_their_township_only(app, world, owner_sql):
    ac = world
    async with signed_in(app, ac.county, "town") as client:
        r = await client.get(_url(client, "book.xlsx", reveal=True))
        assert (await client.get(_url(client, "voter-contacts", ac.stations[HEBA], reveal=True))).status_code == 404
    assert r.status_code == 200
    lines = _lines(r.content)
    assert set(lines) == {"选民甲", "选民乙", "选民丁", "选民戊"}  # 城关镇's stations; not 河坝村's 选民己
    assert lines["选民戊"][:2] == ("周杰", HOME) and lines["选民戊"][7] == "13633334444"
    assert [d["entries"] for _t, d in await _reveals(owner_sql)] == [4]


async def test_station_staff_see_their_station_only(app, world, owner_sql):
    ac = world
    async with signed_in(app, ac.county, "station") as client:
        page = await client.get(_url(client, "voter-contacts", reveal=True))
    assert page.status_code == 200
    assert MOBILE in page.text and "13722223333" in page.text
    for other in ("选民戊", "选民己", "13633334444", "13544445555"):
        assert other not in page.text
    assert await _reveals(owner_sql) == [
        ("binder:voter-contacts", {"station_id": None, "year": YEAR, "entries": 3, "format": "page"})]


async def test_a_viewer_reads_the_roster_masked_and_is_refused_the_reveal(app, world, owner_sql):
    ac = world
    east = ac.stations[EAST]
    async with signed_in(app, ac.county, "viewer") as client:
        index = await client.get(_url(client, "").replace("/binder/?", "/binder?"))
        masked = await client.get(_url(client, "voter-contacts", east))
        refused = [await client.get(_url(client, path, east, reveal=True))
                   for path in ("book.xlsx", "print", "voter-contacts", "voter-contacts.xlsx")]
    assert "reveal=1" not in index.text and "recorded in the audit log" not in index.text
    assert masked.status_code == 200 and "139****2222" in masked.text and MOBILE not in masked.text
    assert "Show them (logged)" not in masked.text
    for r in refused:
        assert r.status_code == 403 and "text/html" in r.headers["content-type"]
        assert "Your role may not show voters&#39; mobile numbers and addresses" in r.text
        assert MOBILE not in r.text and ADDRESS not in r.text
    logged = await owner_sql("SELECT count(*) AS n FROM audit_log WHERE action LIKE 'binder_%'")
    assert logged[0]["n"] == 0  # nothing exported, nothing revealed


async def test_the_parts_own_page_masks_then_reveals_and_logs(app, world, owner_sql):
    ac = world
    east = ac.stations[EAST]
    async with signed_in(app, ac.county, "admin") as client:
        masked = await client.get(_url(client, "voter-contacts", east))
        shown = await client.get(_url(client, "voter-contacts", east, reveal=True))
        printed = await client.get(_url(client, "voter-contacts", east, reveal=True) + "&print=1")
        workbook = await client.get(_url(client, "voter-contacts.xlsx", east, reveal=True))
    assert "139****2222" in masked.text and MOBILE not in masked.text and "Show them (logged)" in masked.text
    assert MOBILE in shown.text and "Mask them again" in shown.text
    # revealed, the page's print and Excel links stay unmasked
    assert f"voter-contacts.xlsx?station={east}&amp;year={YEAR}&amp;reveal=1" in shown.text
    assert MOBILE in printed.text and 'class="subnav"' not in printed.text
    assert _lines(workbook.content)["选民甲"][7] == MOBILE
    assert [(t, d["format"]) for t, d in await _reveals(owner_sql)] == [
        ("binder:voter-contacts", "page"), ("binder:voter-contacts", "print"), ("binder:voter-contacts", "xlsx")]


async def test_the_page_reads_in_a_fixed_number_of_queries(app, database, world):
    ac = world
    async with signed_in(app, ac.county, "admin") as client:
        await client.get(f"{client.base}/binder")  # the first entry into the tenant is recorded: not counted
        before = int((await client.get(_url(client, "voter-contacts"))).headers["x-query-count"])
        async with database.transaction(tenant_id=ac.tenant.id) as db:
            for n in range(5):
                await _entry(db, ac.tenant.id, ac.deputies["王强"], f"选民{n}", contacts=(date(YEAR, 5, n + 1),))
        after = int((await client.get(_url(client, "voter-contacts"))).headers["x-query-count"])
    assert after == before


async def test_deputies_and_handling_units_get_404(app, world, owner_sql):
    ac = world
    for username in ("rep", "handler"):
        async with signed_in(app, ac.county, username) as client:
            for path in ("voter-contacts", "voter-contacts.xlsx"):
                for reveal in (False, True):
                    r = await client.get(_url(client, path, reveal=reveal))
                    assert r.status_code == 404, (username, path, reveal)
    assert await _reveals(owner_sql) == []
