"""The public appraisal board (履职考评公开栏) on a station's public page, as the county chooses: the
grades of the latest PUBLISHED appraisal (its year said; a draft never shows), this year's points so far
(the same figures as the points pages), or nothing; and the link to the station's duty reports where
the county shows them. The page stays a cacheable public page."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from app.core.periods import Period
from app.duties import points
from app.duties.appraisal_models import Appraisal, AppraisalResult
from tests.activities.world import EAST, HOME, TZ, build_activity_county, local, put_activity
from tests.deputies.deputy_world import add_deputy, text_of
from tests.duties.points_world import put_entry, put_scheme


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


@pytest.fixture
async def anyone(app):
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        c.cookies.set("lang", "en")
        yield c


async def choose(database, ac, board: str, reports: bool = False) -> None:
    """The county's choice, saved as its settings page saves it (so the cached public pages follow)."""
    from app.duties.settings import DutySettings, write

    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await write(db, ac.tenant.id, DutySettings(public_board=board, public_duty_reports=reports))


def page_of(ac, station: str = EAST) -> str:
    return f"/p/{ac.slug}/stations/{ac.stations[station]}"


def board_text(html: str) -> str:
    assert 'id="board"' in html, "no board on the page"
    return text_of(html.split('id="board"')[1].split("</section>")[0])


async def put_appraisal(database, ac, year: int, grades: dict[str, str], *, published: bool = True) -> None:
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        a = Appraisal(tenant_id=t, year=year, status="published" if published else "draft",
                      published_at=datetime.now(timezone.utc) if published else None,
                      report_due=date(year + 1, 3, 1) if published else None)
        db.add(a)
        await db.flush()
        for name, grade in grades.items():
            db.add(AppraisalResult(tenant_id=t, appraisal_id=a.id, deputy_id=ac.deputies[name], grade=grade,
                                   computed=Decimal({"excellent": "95", "pass": "85", "fail": "40"}[grade])))


async def test_off_by_default_nothing_shows(anyone, ac, database):
    await put_appraisal(database, ac, 2025, {"张伟": "excellent"})
    r = await anyone.get(page_of(ac))
    assert r.status_code == 200 and 'id="board"' not in r.text and "/reports" not in r.text


async def test_grades_of_the_latest_published_appraisal(anyone, ac, database, owner_sql):
    await choose(database, ac, "grades")
    assert "No yearly duty appraisal has been published yet." in board_text((await anyone.get(page_of(ac))).text)
    # 刘洋 serves at the township home only: his grade is not this station's business
    ac.deputies["刘洋"] = await add_deputy(database, ac.county, "刘洋", station=HOME)
    await put_appraisal(database, ac, 2024, {"张伟": "fail", "李娜": "fail"})
    await put_appraisal(database, ac, 2025, {"张伟": "excellent", "李娜": "pass", "赵敏": "fail", "刘洋": "pass"})
    await put_appraisal(database, ac, 2026, {"张伟": "fail", "李娜": "fail"}, published=False)  # a draft
    r = await anyone.get(page_of(ac))
    assert r.status_code == 200
    board = board_text(r.text)
    assert "Grades of the 2025 duty appraisal" in board
    assert "张伟 Excellent" in board and "李娜 Satisfactory" in board and "赵敏 Unsatisfactory" in board
    assert "王强 —" in board  # not in that appraisal
    assert "刘洋" not in board and "2026" not in board and "40" not in board  # no draft, no scores
    assert r.headers["cache-control"].startswith("public, max-age=") and "set-cookie" not in r.headers


async def test_points_this_year_so_far(anyone, ac, database, owner_sql):
    await choose(database, ac, "points")
    await put_scheme(database, ac)
    year = datetime.now(TZ).year
    for day in (date(year, 1, 1), date(year, 1, 2)):
        await put_entry(database, ac, "张伟", "speech", day)  # 2 × 3, capped at 5 a quarter
    await put_entry(database, ac, "李娜", "inspection", date(year, 1, 3))
    await put_entry(database, ac, "李娜", "inspection", date(year, 1, 4), status="rejected")  # does not count
    await put_entry(database, ac, "王强", "speech", date(year - 1, 6, 1))  # last year: does not count
    await put_activity(database, ac, kind="reception", starts_at=local(year, 1, 5), present=("张伟", "王强"))
    board = board_text((await anyone.get(page_of(ac))).text)
    assert f"Duty points in {year} so far" in board
    # 王强 is a city deputy: the reception item counts county-level deputies only
    assert "张伟 7.0" in board and "李娜 3.0" in board and "王强 0.0" in board and "赵敏 0.0" in board
    # the same figures as the points pages' computation for the whole county
    period = Period("year", date(year, 1, 1), datetime.now(TZ).date())
    async with database.session(tenant_id=ac.tenant.id) as db:
        whole = await points.compute(db, ac.tenant.id, period, TZ)
        some = await points.points_of(db, ac.tenant.id, {did: whole[did].levels for did in whole}, period, TZ)
    assert some == {did: d.points for did, d in whole.items()}


async def test_the_link_to_the_duty_reports_where_the_county_shows_them(anyone, ac, database):
    reports = f"{page_of(ac)}/reports"
    await choose(database, ac, "off", reports=True)
    html = (await anyone.get(page_of(ac))).text
    assert f'href="{reports}"' in html and 'id="board"' not in html
    assert (await anyone.get(reports)).status_code == 200
    await choose(database, ac, "grades", reports=False)
    html = (await anyone.get(page_of(ac))).text
    assert f'href="{reports}"' not in html and 'id="board"' in html
    assert (await anyone.get(reports)).status_code == 404


async def test_the_poster_has_no_board(anyone, ac, database, owner_sql):
    await choose(database, ac, "grades", reports=True)
    await put_appraisal(database, ac, 2025, {"张伟": "excellent"})
    html = (await anyone.get(f"{page_of(ac)}/poster")).text
    assert 'id="board"' not in html and "/reports" not in html
