"""The dossier for the whole term (?year=term): the five years up to this year with subtotals per year,
a calendar row per year, the 述职评议 results and the grades within the term, the A4 print of it, the
same reach as the year's dossier, and a number of queries that does not grow with the records."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from app.core.db import query_counter
from app.deputies.models import Deputy
from app.duties import queries
from app.duties.appraisal_models import Appraisal, AppraisalResult
from app.duties.meeting_models import DutyReportBallot, DutyReportMeeting
from app.duties.models import DutyEntry
from app.tenancy.scope import Scope
from tests.deputies.deputy_world import signed_in, text_of
from tests.duties.duty_world import SHANGHAI, add_records, county_with_deputies, today

PARTS = ("Basic information", "Activities attended", "Opinions collected", "Suggestions and motions filed",
         "Problems solved for voters", "Duty reports to voters (述职)", "Joint-station activities",
         "Filed duties (approved)", "Entries not counted", "The term year by year",
         "Duty reports to the voters and their rating", "Yearly duty appraisal")


async def put_meeting(database, county, deputy_id: int, held_on: date, ratings: tuple[str, ...]) -> None:
    t = county.tenant.id
    at = datetime(held_on.year, held_on.month, held_on.day, 1, tzinfo=timezone.utc)
    async with database.transaction(tenant_id=t) as db:
        meeting = DutyReportMeeting(tenant_id=t, deputy_id=deputy_id, station_id=county.stations["东街社区人大代表联络站"],
                                    held_on=held_on, starts_at=at, ends_at=at.replace(hour=3), place="村委会",
                                    status="closed", ballot_token=f"token-{held_on.isoformat()}", closed_at=at)
        db.add(meeting)
        await db.flush()
        db.add_all([DutyReportBallot(tenant_id=t, meeting_id=meeting.id, rating=r, source="paper") for r in ratings])


async def put_grade(database, county, deputy_id: int, year: int, grade: str, score: str) -> None:
    t = county.tenant.id
    async with database.transaction(tenant_id=t) as db:
        appraisal = Appraisal(tenant_id=t, year=year, status="published", report_due=date(year + 1, 3, 31),
                              published_at=datetime(year + 1, 1, 10, tzinfo=timezone.utc))
        db.add(appraisal)
        await db.flush()
        db.add(AppraisalResult(tenant_id=t, appraisal_id=appraisal.id, deputy_id=deputy_id, computed=Decimal(score),
                               grade=grade))


@pytest.fixture
async def county(database):
    """张东街's term: records in March of this year, July of last year and January four years ago (the
    term's first year), and in May five years ago (the term before); entries, meetings and grades."""
    c = await county_with_deputies(database)
    y = today().year
    await add_records(database, c, c.zhang, y, month=3)
    await add_records(database, c, c.zhang, y - 1, month=7, copies=2)
    await add_records(database, c, c.zhang, y - 4, month=1, staff_signed=False)
    await add_records(database, c, c.zhang, y - 5, month=5)
    async with database.transaction(tenant_id=c.tenant.id) as db:
        db.add_all([
            DutyEntry(tenant_id=c.tenant.id, deputy_id=c.zhang, day=date(y - 2, 4, 2), kind="speech",
                      text="前年人代会审议发言", status="approved"),
            DutyEntry(tenant_id=c.tenant.id, deputy_id=c.zhang, day=date(y - 1, 9, 1), kind="training",
                      text="去年待审的培训"),
            DutyEntry(tenant_id=c.tenant.id, deputy_id=c.zhang, day=date(y - 5, 6, 1), kind="award",
                      text="上一届的表彰", status="approved"),
        ])
    await put_meeting(database, c, c.zhang, date(y - 2, 6, 1), ("satisfied", "satisfied", "basic", "unsatisfied"))
    await put_meeting(database, c, c.zhang, date(y - 5, 6, 1), ("unsatisfied",))
    await put_grade(database, c, c.zhang, y - 1, "excellent", "92.5")
    await put_grade(database, c, c.zhang, y - 5, "fail", "61.0")
    return c


def _subtotal_columns(html: str) -> dict[str, list[str]]:
    """The term's table by column (a year, or "Whole term"): the counts of the parts, top to bottom."""
    import re

    table = html.split('class="subtotals"')[1].split("</table>")[0]
    heads = re.findall(r'<th scope="col">(.*?)</th>', table)
    rows = [re.findall(r"<td>(?:<strong>)?(\d+)", row)
            for row in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table, re.S)]
    return {head: [row[n] for row in rows] for n, head in enumerate(heads)}


async def test_the_term_collects_five_years_with_subtotals(app, county):
    y = today().year
    async with signed_in(app, county, "admin") as client:
        page = await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year=term")
    assert page.status_code == 200
    text = text_of(page.text)
    assert f"Duty dossier of 张东街, this term ({y - 4}–{y})" in text
    assert "five years up to this year" in text  # the page says how the term is taken
    for part in PARTS:
        assert part in text, part
    # the term's years are in, the year before the term is not
    assert f"{y - 4}-01-10" in text and f"{y - 1}-07-11" in text and f"{y}-03-10" in text
    assert f"{y - 5}-05-10" not in text and "上一届的表彰" not in text
    filed = text.split("Filed duties (approved)")[-1].split("Entries not counted")[0]
    assert "前年人代会审议发言" in filed and "去年待审的培训" not in filed
    rows = _subtotal_columns(page.text)
    # attended, 代签, opinions, suggestions, solved, 述职, joint, approved, not counted
    assert rows[str(y - 4)] == ["2", "0", "2", "1", "1", "1", "1", "0", "0"]
    assert rows[str(y - 2)] == ["0", "0", "0", "0", "0", "0", "0", "1", "0"]
    assert rows[str(y - 1)] == ["4", "2", "4", "2", "2", "2", "2", "0", "1"]
    assert rows[str(y)] == ["2", "1", "2", "1", "1", "1", "1", "0", "0"]
    assert rows["Whole term"] == ["8", "3", "8", "4", "4", "4", "4", "1", "1"]
    # the meeting within the term and its result; the grade within the term, not the one before
    reports = text.split("Duty reports to the voters and their rating")[-1].split("Yearly duty appraisal")[0]
    assert f"{y - 2}-06-01" in reports and f"{y - 5}-06-01" not in reports and "75.0%" in reports
    grades = text.split("Yearly duty appraisal")[-1]  # the section (the menu names it first)
    assert f"Appraisal of {y - 1}: Excellent · 92.5" in grades and str(y - 5) not in grades


async def test_the_calendar_has_a_row_per_year_of_the_term(app, county):
    y = today().year
    async with signed_in(app, county, "rep") as client:
        page = await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year=term")
    strip = page.text.split('class="months"')[1].split("</table>")[0]
    marked = {}
    for row in strip.split("<tr>")[1:]:
        year = int(row.split('<th scope="row">')[1].split("<")[0])
        marked[year] = [m for m in range(1, 13) if f">{m} ✓<" in row]
    # pending entries do not mark a month (last September)
    assert marked == {y - 4: [1], y - 3: [], y - 2: [4], y - 1: [7], y: [3]}


async def test_the_year_selector_offers_the_term_and_keeps_the_choice(app, county):
    y = today().year
    async with signed_in(app, county, "admin") as client:
        year_page = (await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year={y - 1}")).text
        term_page = (await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year=term")).text
    assert f'<option value="term">This term ({y - 4}–{y})</option>' in year_page
    assert '<option value="term" selected>' in term_page
    assert "dossier?year=term&amp;print=1" in term_page and f"dossier?year={y - 1}&amp;print=1" in year_page
    assert 'class="subtotals"' not in year_page  # one year needs no table of years


async def test_the_term_prints_on_a4(app, county):
    y = today().year
    async with signed_in(app, county, "admin") as client:
        printed = await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year=term&print=1")
    assert printed.status_code == 200
    assert 'class="subnav"' not in printed.text and 'class="top"' not in printed.text and "<form" not in printed.text
    text = text_of(printed.text)
    assert f"this term ({y - 4}–{y})" in text and "dossier?year=term" in printed.text  # back to the term
    for part in PARTS:
        assert part in text, part


async def test_the_term_has_the_reach_of_the_dossier(app, county):
    seen = {}
    for who in ("admin", "town", "heba", "rep", "rep2", "handler"):
        async with signed_in(app, county, who) as client:
            seen[who] = tuple([(await client.get(f"{client.base}/deputies/{d}/dossier?year=term")).status_code
                               for d in (county.zhang, county.li)])
    assert seen == {"admin": (200, 200), "town": (200, 404), "heba": (404, 200), "rep": (200, 404),
                    "rep2": (404, 404), "handler": (404, 404)}


async def _queries(database, county, years: list[int]) -> int:
    counter = [0]
    token = query_counter.set(counter)
    try:
        async with database.session(tenant_id=county.tenant.id) as db:
            deputy = await db.get(Deputy, (county.tenant.id, county.zhang))
            counter[0] = 0
            scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=county.users["admin"].id)
            d = await queries.span_dossier(db, scope, deputy, years, SHANGHAI)
    finally:
        query_counter.reset(token)
    assert d.attended
    return counter[0]


async def test_the_term_reads_in_as_many_queries_as_a_year(database, county):
    term = queries.term_years(today())
    one_year = await _queries(database, county, [today().year])
    few = await _queries(database, county, term)
    for year, month in zip(term, (8, 9, 10, 11, 12)):  # months the fixture left free (receipt codes)
        await add_records(database, county, county.zhang, year, month=month, copies=3)
    many = await _queries(database, county, term)
    assert many == few == one_year


async def test_the_term_page_costs_the_queries_of_a_year_page(app, county):
    """The 述职评议 meetings of the term are read at once, not a year at a time."""
    async with signed_in(app, county, "admin") as client:
        url = f"{client.base}/deputies/{county.zhang}/dossier"
        year = await client.get(f"{url}?year={today().year}")
        term = await client.get(f"{url}?year=term")
    assert year.status_code == term.status_code == 200
    assert int(term.headers["x-query-count"]) <= int(year.headers["x-query-count"])
