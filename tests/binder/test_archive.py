"""一档案 of the station binder: every deputy stationed at the binder's stations, a row each in the
workbook (the dossier's own figures, typed) and each deputy's dossier on pages of its own in the
print-out, with the dossier's reach, masked mobiles and a number of queries that stays flat as the
deputies grow."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.activities.models import Activity, ActivityKind, Invitation
from app.activities.services import new_token
from app.deputies.models import StationDeputy
from app.duties.models import DutyEntry
from app.duties.point_models import PointsItem
from tests.deputies.deputy_world import add_deputy, signed_in, text_of
from tests.duties.duty_world import SHANGHAI, add_records, county_with_deputies, today
from tests.duties.test_dossier_term import put_grade, put_meeting

EAST = "东街社区人大代表联络站"
HEBA = "河坝村人大代表联络站"
HEAD = ("Deputy", "Station", "Levels", "Activities invited", "Activities attended", "Opinions collected",
        "Suggestions and motions filed", "Filed duties (approved)", "Duty points", "Grade", "Score",
        "Duty reports: share satisfied")


async def _missed(database, county, deputy_id: int, year: int) -> None:
    """A held activity the deputy was invited to and missed."""
    t = county.tenant.id
    async with database.transaction(tenant_id=t) as db:
        kind = await db.scalar(select(ActivityKind).where(ActivityKind.code == "reception"))
        at = datetime(year, 2, 20, 9, tzinfo=SHANGHAI)
        activity = Activity(tenant_id=t, kind_id=kind.id, station_id=county.stations[EAST], starts_at=at,
                            ends_at=at.replace(hour=11), topic="缺席的接待日", status="held")
        db.add(activity)
        await db.flush()
        db.add(Invitation(tenant_id=t, activity_id=activity.id, deputy_id=deputy_id, token=new_token()))


@pytest.fixture
async def county(database):
    """张东街 (东街, the `rep` login): this year two activities attended (one signed in by staff), one
    missed, two opinions, a suggestion, an approved and a waiting entry, a 述职评议 meeting (4 of 5
    satisfied), a published grade and 2 points; last year's records left out. 李河坝 stationed at 河坝
    with twice the records; 王空 at 东街 with nothing."""
    c = await county_with_deputies(database)
    year = today().year
    t = c.tenant.id
    await add_records(database, c, c.zhang, year, month=3)
    await add_records(database, c, c.zhang, year - 1, month=7)
    await _missed(database, c, c.zhang, year)
    await add_records(database, c, c.li, year, month=4, copies=2, staff_signed=False)
    c.wang = await add_deputy(database, c, "王空", level="township", station=EAST, mobile="13800138003")
    await put_meeting(database, c, c.zhang, date(year, 1, 5), ("satisfied", "satisfied", "satisfied", "basic",
                                                               "unsatisfied"))
    await put_grade(database, c, c.zhang, year, "excellent", "92.5")
    async with database.transaction(tenant_id=t) as db:
        db.add(StationDeputy(tenant_id=t, station_id=c.stations[HEBA], deputy_id=c.li))
        db.add_all([
            DutyEntry(tenant_id=t, deputy_id=c.zhang, day=date(year, 1, 1), kind="speech", text="人代会审议发言",
                      status="approved"),
            DutyEntry(tenant_id=t, deputy_id=c.zhang, day=date(year, 1, 2), kind="training", text="待审的培训"),
            PointsItem(tenant_id=t, code="speech", name="审议发言", source="entry", source_code="speech",
                       points=Decimal("2"), deputy_levels=[], sort=1),
        ])
    return c


def _url(client, path: str = "archive", station=None, year=None, **more) -> str:
    extra = "".join(f"&{k}={v}" for k, v in more.items())
    return f"{client.base}/binder/{path}?station={station or ''}&year={year or today().year}{extra}"


async def _sheet(client, station=None):
    """(deputy's name → row, the sheet) of the archive's workbook."""
    r = await client.get(_url(client, "archive.xlsx", station))
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    book = load_workbook(BytesIO(r.content))
    assert book.sheetnames == ["Duty dossier"]
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == HEAD
    return {row[0]: row for row in rows[1:]}, book.worksheets[0]


async def test_a_row_per_deputy_with_the_years_figures_typed(app, county, owner_sql):
    async with signed_in(app, county, "admin") as client:
        rows, sheet = await _sheet(client)
    assert list(rows) == ["张东街", "李河坝", "王空"]  # serving deputies stationed in reach, by name
    # invited 3 (one missed), attended 2 (代签 counted), 2 opinions, 1 suggestion, 1 approved entry,
    # 2 points, the published grade and score, 80% satisfied at the 述职评议
    assert rows["张东街"] == ("张东街", EAST, "County level", 3, 2, 2, 1, 1, 2, "Excellent", 92.5, 0.8)
    assert rows["李河坝"] == ("李河坝", HEBA, "County level", 4, 4, 4, 2, 0, 0, None, None, None)
    assert rows["王空"] == ("王空", EAST, "Township level", 0, 0, 0, 0, 0, 0, None, None, None)
    assert sheet.cell(row=2, column=12).number_format.endswith("%")  # a share, as a percentage
    assert all(isinstance(v, (int, float)) for v in rows["张东街"][3:9])
    logged = await owner_sql("SELECT target, details->>'format' FROM audit_log WHERE action = 'binder_register_exported'")
    assert [tuple(row) for row in logged] == [("binder:archive", "xlsx")]


async def test_the_whole_binder_ends_with_the_same_sheet(app, county):
    async with signed_in(app, county, "town") as client:
        alone, _sheet_ = await _sheet(client, county.stations[EAST])
        r = await client.get(_url(client, "book.xlsx", county.stations[EAST]))
    book = load_workbook(BytesIO(r.content))
    assert book.sheetnames[-1] == "Duty dossier"
    rows = list(book.worksheets[-1].iter_rows(values_only=True))
    assert rows[0] == HEAD and {row[0]: row for row in rows[1:]} == alone
    assert list(alone) == ["张东街", "王空"]


async def test_the_row_says_what_the_deputys_own_dossier_says(app, county):
    year = today().year
    async with signed_in(app, county, "admin") as client:
        rows, _sheet_ = await _sheet(client)
        pages = {name: text_of((await client.get(f"{client.base}/deputies/{deputy}/dossier?year={year}")).text)
                 for name, deputy in (("张东街", county.zhang), ("李河坝", county.li), ("王空", county.wang))}
    for name, page in pages.items():
        row = rows[name]
        assert f"Activities attended ({row[4]})" in page, name
        assert f"Opinions collected ({row[5]})" in page, name
        assert f"Suggestions and motions filed ({row[6]})" in page, name
    assert f"Appraisal of {year}: Excellent · 92.5" in pages["张东街"]
    assert "人代会审议发言" in pages["张东街"].split("Filed duties (approved)")[1].split("Entries not counted")[0]


async def test_the_print_out_has_each_deputys_dossier_on_pages_of_its_own(app, county):
    async with signed_in(app, county, "viewer") as client:
        printed = await client.get(_url(client, print=1))
        screen = await client.get(_url(client))
        book = await client.get(_url(client, "print", county.stations[EAST]))
        index = await client.get(f"{client.base}/binder")
    assert printed.status_code == screen.status_code == book.status_code == 200
    assert printed.text.count('class="binder-dossier dossier"') == 3
    text = text_of(printed.text)
    year = today().year
    for name in ("张东街", "李河坝", "王空"):
        assert f"Duty dossier of {name}, {year}" in text
    assert "138****8001" in text and "13800138001" not in printed.text  # mobiles masked
    assert "Signed in by staff (代签)" in text and "人代会审议发言" in text and "Activities attended (2)" in text
    assert 'class="subnav"' not in printed.text and "<form" not in printed.text
    # on screen: the rows, each linked to the deputy's dossier
    assert f'href="{client.base}/deputies/{county.zhang}/dossier?year={year}"' in screen.text
    # the whole binder ends with the archive of the chosen station: its two deputies
    assert 'id="part-archive"' in book.text and book.text.count('class="binder-dossier dossier"') == 2
    # the last part, on portrait pages (its sheet is wide, its dossiers are not)
    assert book.text.rindex('<article class="card binder-part') == book.text.index(
        '<article class="card binder-part" id="part-archive">')
    assert f"{client.base}/binder/archive?" in index.text and f"{client.base}/binder/archive.xlsx?" in index.text


async def test_each_binder_role_sees_the_deputies_of_its_stations_and_may_open_their_dossiers(app, county):
    seen = {}
    for who in ("admin", "viewer", "town", "heba", "station"):
        async with signed_in(app, county, who) as client:
            rows, _sheet_ = await _sheet(client)
            seen[who] = sorted(rows)
            for deputy in (county.zhang, county.li, county.wang):
                name = {county.zhang: "张东街", county.li: "李河坝", county.wang: "王空"}[deputy]
                status = (await client.get(f"{client.base}/deputies/{deputy}/dossier")).status_code
                assert (status == 200) == (name in rows), (who, name, status)
            if who in ("town", "station"):
                assert (await client.get(_url(client, station=county.stations[HEBA]))).status_code == 404
    assert seen == {"admin": ["张东街", "李河坝", "王空"], "viewer": ["张东街", "李河坝", "王空"],
                    "town": ["张东街", "王空"], "heba": ["李河坝"], "station": ["张东街", "王空"]}


async def test_deputies_and_handling_units_get_404_and_a_bad_year_its_message(app, county):
    for who in ("rep", "handler"):
        async with signed_in(app, county, who) as client:
            for path in ("archive", "archive.xlsx"):
                assert (await client.get(_url(client, path))).status_code == 404, (who, path)
    async with signed_in(app, county, "admin") as client:
        for path in ("archive", "archive.xlsx"):
            r = await client.get(_url(client, path, year="20x6"))
            assert r.status_code == 400 and "Please give the year as four digits, from 2000 to 2100." in r.text


async def _queries(client, path: str, **more) -> int:
    r = await client.get(_url(client, path, **more))
    assert r.status_code == 200
    return int(r.headers["x-query-count"])


async def test_the_queries_stay_flat_when_the_deputies_double(app, database, county):
    async with signed_in(app, county, "admin") as client:
        await client.get(f"{client.base}/binder")  # the first entry into the tenant is recorded: not counted here
        before = [await _queries(client, "archive.xlsx"), await _queries(client, "archive", print=1)]
        for n, name in enumerate(("赵一", "钱二", "孙三")):
            deputy = await add_deputy(database, county, name, station=EAST, more_levels=("township",))
            await add_records(database, county, deputy, today().year, month=5 + n, copies=2)
        after = [await _queries(client, "archive.xlsx"), await _queries(client, "archive", print=1)]
        rows, _sheet_ = await _sheet(client)
    assert len(rows) == 6 and after == before
