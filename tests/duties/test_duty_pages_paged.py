"""The points page and the appraisal page at county size: a name search and pages (here two deputies a
page for the test county's four), the counts of the whole county kept, the adjust form offering the
deputies of the page shown; a page number out of range or not a number shows a page, never an error."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from app.duties import appraisal_routes, point_routes
from tests.activities.world import TZ, build_activity_county
from tests.deputies.deputy_world import post, signed_in, text_of
from tests.duties.points_world import put_entry, put_scheme


@pytest.fixture
async def ac(database, monkeypatch):
    monkeypatch.setattr(point_routes, "PER_PAGE", 2)
    monkeypatch.setattr(appraisal_routes, "PER_PAGE", 2)
    ac = await build_activity_county(database)
    await put_scheme(database, ac)
    return ac


def _names(html: str) -> list[str]:
    return [n for n in ("张伟", "李娜", "王强", "赵敏") if re.search(rf"<td>(<a [^>]*>)?{n}<", html)]


async def test_the_points_page_in_pages_with_a_name_search(app, database, ac):
    await put_entry(database, ac, "张伟", "speech", date(2026, 10, 8))
    async with signed_in(app, ac.county, "admin") as client:
        url = f"{client.base}/points?period=2026-Q4"
        first, second = (await client.get(url)).text, (await client.get(f"{url}&page=2")).text
        assert len(_names(first)) == 2 and len(_names(second)) == 2
        assert set(_names(first)) | set(_names(second)) == {"张伟", "李娜", "王强", "赵敏"}
        assert "Page 1 of 2" in text_of(first) and "4 deputies" in text_of(first)
        assert 'page=2"' in first
        for bad in ("99", "0", "x", "-1", "9" * 40):  # kept within range: a page, not an error
            r = await client.get(f"{url}&page={bad}")
            assert r.status_code == 200 and len(_names(r.text)) == 2, bad
        found = await client.get(f"{url}&q=张")
        assert _names(found.text) == ["张伟"] and "1 deputies" in text_of(found.text)
        assert "Page 1 of" not in text_of(found.text)
        none = await client.get(f"{url}&q=欧阳")
        assert _names(none.text) == [], none.text
        assert "name contains “欧阳”" in text_of(none.text)


async def test_the_appraisal_page_in_pages_and_the_adjust_form_offers_the_page_shown(app, database, ac, owner_sql):
    year = datetime.now(TZ).year
    await put_entry(database, ac, "张伟", "speech", date(year, 1, 15))
    async with signed_in(app, ac.county, "admin") as client:
        r = await post(client, f"{client.base}/appraisals", {"year": str(year), "excellent": "90", "pass": "80",
                                                           "report_due": ""}, page=f"{client.base}/appraisals")
        assert r.status_code == 303, r.text
        page = f"{client.base}/appraisals/{year}"
        first = (await client.get(page)).text
        assert "Results (4)" in text_of(first) and "Page 1 of 2" in text_of(first)
        shown = _names(first)
        assert len(shown) == 2
        adjust = first[first.index("/adjust"):]
        offered = re.findall(r'<option value="\d+"[^>]*>([^ <]+) \(', adjust[:adjust.index("</select>")])
        assert offered == shown
        found = (await client.get(f"{page}?q=李")).text
        assert _names(found) == ["李娜"] and "Unsatisfactory: 4" in text_of(found)  # the counts stay the county's
        # a deputy on another page is still adjusted by their id (the form is only what is offered)
        other = next(n for n in ("张伟", "李娜", "王强", "赵敏") if n not in shown)
        r = await post(client, f"{page}/adjust", {"deputy_id": ac.deputies[other], "score": "81", "reason": "核实"},
                       page=page)
        assert r.status_code == 303
    [(score,)] = await owner_sql("SELECT adjusted FROM appraisal_results WHERE deputy_id = $1", ac.deputies[other])
    assert float(score) == 81
