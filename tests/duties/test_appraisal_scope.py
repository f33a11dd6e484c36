"""Who sees which appraisal results (a township its deputies, a deputy only their own notice, handling
units nothing), who may change them, the grade history, and the query counts of the draft, the page and
publishing, flat when the deputies triple."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from jinja2 import Environment, FileSystemLoader

from app.core.i18n import gettext
from app.main import TEMPLATES

from app.duties import appraisal
from tests.activities.world import EAST, TZ, build_activity_county
from tests.compliance.compliance_world import put_station
from tests.deputies.deputy_world import add_deputy, count, post, signed_in, text_of
from tests.duties.points_world import put_scheme

NAMES = ("张伟", "李娜", "王强", "赵敏", "陈河")


@pytest.fixture
async def ac(database):
    ac = await build_activity_county(database)
    await put_scheme(database, ac)
    await put_station(database, ac, "河坝村第二联络站", "河坝村")
    ac.deputies["陈河"] = await add_deputy(database, ac.county, "陈河", station="河坝村第二联络站")
    return ac


def this_year() -> int:
    return datetime.now(TZ).year


async def run_and_publish(client, year: int, *, publish: bool = True):
    due = (datetime.now(TZ).date() + timedelta(days=30)).isoformat()
    r = await post(client, f"{client.base}/appraisals", {"year": str(year), "excellent": "90", "pass": "80",
                                                         "report_due": due}, page=f"{client.base}/appraisals")
    assert r.status_code == 303
    if publish:
        page = f"{client.base}/appraisals/{year}"
        r = await post(client, f"{page}/publish", {}, page=page)
        assert r.status_code == 303
    return r


async def test_each_scope_sees_its_own(app, database, ac, owner_sql):
    year = this_year()
    async with signed_in(app, ac.county, "admin") as client:
        await run_and_publish(client, year)
    seen = {}
    for who in ("admin", "viewer", "town", "heba", "station"):
        async with signed_in(app, ac.county, who) as client:
            r = await client.get(f"{client.base}/appraisals/{year}")
            assert r.status_code == 200, who
            seen[who] = {n for n in NAMES if n in text_of(r.text)}
    assert seen["admin"] == seen["viewer"] == set(NAMES)
    assert seen["town"] == seen["station"] == set(NAMES) - {"陈河"}
    assert seen["heba"] == {"陈河"}
    page = f"/t/{ac.slug}/appraisals/{year}"
    async with signed_in(app, ac.county, "town") as client:
        # a notice out of reach, a talk with a deputy out of reach: not found; running it: refused
        assert (await client.get(f"{page}/notices/{ac.deputies['陈河']}")).status_code == 404
        assert (await client.get(f"{page}/notices/{ac.deputies['李娜']}")).status_code == 200
        r = await post(client, f"{page}/talks", {"deputy_id": ac.deputies["陈河"], "day": datetime.now(TZ).date().isoformat(),
                                                 "talked_by": "主席", "agreed": "约定"}, page=page)
        assert r.status_code == 404
        r = await post(client, f"{page}/adjust", {"deputy_id": ac.deputies["李娜"], "score": "95", "reason": "多"},
                       page=page)
        assert r.status_code == 400 and "Only the county" in text_of(r.text)
    async with signed_in(app, ac.county, "station") as client:
        r = await post(client, f"{page}/talks", {"deputy_id": ac.deputies["李娜"], "day": datetime.now(TZ).date().isoformat(),
                                                 "talked_by": "主席", "agreed": "约定"}, page=page)
        assert r.status_code == 400
    async with signed_in(app, ac.county, "handler") as client:
        for path in ("/appraisals", f"/appraisals/{year}", f"/appraisals/{year}/notices/{ac.deputies['李娜']}"):
            assert (await client.get(f"{client.base}{path}")).status_code == 404, path
    async with signed_in(app, ac.county, "rep") as client:
        own = f"{page}/notices/{ac.deputies['张伟']}"
        assert (await client.get(page, follow_redirects=False)).headers["location"] == f"{page}/mine"
        assert (await client.get(own)).status_code == 200
        other = f"{page}/notices/{ac.deputies['李娜']}"
        assert (await client.get(other)).status_code == 404
        assert (await post(client, f"{other}/report", {"report": "冒名"}, page=own)).status_code == 404
    notice = f"{page}/notices/{ac.deputies['李娜']}"
    for role in ("station", "viewer"):  # they see the notice but do not enter a paper report
        async with signed_in(app, ac.county, role) as client:
            assert (await post(client, f"{notice}/report", {"report": "代写"}, page=notice)).status_code == 404
    async with signed_in(app, ac.county, "town") as client:
        # township staff enter a report handed in on paper, for a deputy in their reach only
        far = f"{page}/notices/{ac.deputies['陈河']}"
        assert (await post(client, f"{far}/report", {"report": "代写"}, page=notice)).status_code == 404
        assert await count(owner_sql, "appraisal_results", "report_at IS NOT NULL") == 0
        r = await post(client, f"{notice}/report", {"report": "纸质整改报告：今后每月走访选民。"}, page=notice)
        assert r.status_code == 303
        shown = text_of((await client.get(notice)).text)
        assert "on paper, entered by staff" in shown and "每月走访选民" in shown
    assert await count(owner_sql, "appraisal_talks") == 0
    assert await count(owner_sql, "appraisal_results", "report_at IS NOT NULL") == 1
    assert await count(owner_sql, "audit_log", "action = 'appraisal_report_filed' AND details->>'on_paper' = 'true'") == 1


async def test_grade_history_of_published_years_only(database, ac, owner_sql):
    year = this_year()
    await owner_sql("INSERT INTO appraisals (tenant_id, year, status, report_due, published_at) VALUES "
                    "($1, $2, 'published', '2030-01-01', now()), ($1, $3, 'draft', NULL, NULL)",
                    ac.tenant.id, year - 1, year)
    await owner_sql("INSERT INTO appraisal_results (tenant_id, appraisal_id, deputy_id, computed, adjusted, reason, grade) "
                    "SELECT a.tenant_id, a.id, $2, 70, CASE WHEN a.status = 'published' THEN 85 END, "
                    "CASE WHEN a.status = 'published' THEN '补记' ELSE '' END, 'pass' FROM appraisals a "
                    "WHERE a.tenant_id = $1", ac.tenant.id, ac.deputies["张伟"])
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        history = await appraisal.grades_of(db, ac.tenant.id, ac.deputies["张伟"])
    assert [(y, g, str(s)) for y, g, s in history] == [(year - 1, "pass", "85.0")]
    # the dossier's include shows it (the dossier route passes `grades`)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    env.globals["_"] = gettext
    shown = text_of(env.get_template("duties/_appraisal_grades.html").render(grades=history))
    assert f"{year - 1}年度履职测评: 合格 · 85.0" in shown  # the default language


async def _queries(client, method: str, path: str, **data) -> int:
    if method == "get":
        r = await client.get(path)
        assert r.status_code == 200
    else:
        r = await post(client, path, data, page=f"{client.base}/appraisals")
        assert r.status_code == 303, text_of(r.text)[-300:]
    return int(r.headers["x-query-count"])


async def _measure(app, ac, owner_sql) -> tuple[int, int, int]:
    for table in ("outbox", "short_links", "appraisals"):
        await owner_sql(f"DELETE FROM {table}")
    year = this_year()
    due = (datetime.now(TZ).date() + timedelta(days=30)).isoformat()
    async with signed_in(app, ac.county, "admin") as client:
        drafted = await _queries(client, "post", f"{client.base}/appraisals", year=str(year), excellent="90",
                                 report_due=due, **{"pass": "80"})
        shown = await _queries(client, "get", f"{client.base}/appraisals/{year}")
        published = await _queries(client, "post", f"{client.base}/appraisals/{year}/publish")
    return drafted, shown, published


async def test_query_counts_are_flat_when_the_deputies_triple(app, database, ac, owner_sql):
    await owner_sql("UPDATE deputies SET mobile = '13900000000' WHERE mobile IS NULL")
    small = await _measure(app, ac, owner_sql)
    for i in range(10):
        await add_deputy(database, ac.county, f"代表{i}", station=EAST, mobile=f"139000001{i:02d}")
    large = await _measure(app, ac, owner_sql)
    assert small == large, (small, large)
    assert await count(owner_sql, "appraisal_results") == 15
