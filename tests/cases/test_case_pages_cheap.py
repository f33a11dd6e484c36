"""The cases list and a case page read in few statements (issue 20): the list's cached one-statement
page gives what ``queries.list_cases`` gives for every filter and scope (rows, count, page), pages
past the end and the count cap hold, and both pages' query counts stay low and flat."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from app.cases import list_page, queries
from app.cases.models import Case, CaseEvent
from app.tenancy.scope import Scope
from tests.cases.lists_data import many_cases
from tests.cases.world import HOME, build_case_county, put_case
from tests.deputies.deputy_world import signed_in

# Statements of the signed-in guard and the page header (session, membership, inbox count) are not
# these pages' own: the budgets below are the pages' own statements on top of a plain tenant page.
LIST_OWN, LIST_PART_OWN, CASE_OWN = 2, 1, 4


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


def scopes(cc) -> list[Scope]:
    admin = cc.users["admin"].id
    return [Scope(role="county_admin", node_path=None, station_id=None, user_id=admin),
            Scope(role="station_staff", node_path=None, station_id=cc.stations[HOME], user_id=admin),
            Scope(role="handling_unit", node_path=None, station_id=None, user_id=admin,
                  handling_unit_id=cc.units["transport"])]


FILTERS = [{}, {"state": "assigned"}, {"overdue": "1"}, {"open": "1"}, {"page": "2"}, {"page": "99"},
           {"sent_back": "0"}, {"uncategorised": "1"}, {"source": "reception"}, {"from": "2020-01", "to": "2100-12"}]


async def test_list_page_gives_what_the_query_gives(database, cc):
    today = date.today()
    await many_cases(database, cc, 70, reply_due=today - timedelta(days=1), feedback_due=today - timedelta(days=2))
    await many_cases(database, cc, 15, station=HOME)
    await put_case(database, cc, content="镇里饮水", station=HOME, unit="transport", state="assigned",
                   reply_due=today + timedelta(days=2))
    for scope in scopes(cc):
        for params in FILTERS:
            f = queries.Filters.read(params)
            async with database.transaction(tenant_id=cc.tenant.id) as db:
                old = await queries.list_cases(db, scope, f, tz=timezone.utc, today=today)
                new = await list_page.list_cases(db, scope, f, tz=timezone.utc, today=today)
            assert [r.id for r in new.rows] == [r.id for r in old.rows], (scope.role, params)
            assert (new.total, new.page, new.pages) == (old.total, old.page, old.pages), (scope.role, params)


async def test_a_page_past_the_end_shows_the_last_page(database, cc):
    await many_cases(database, cc, 60)
    scope = scopes(cc)[0]
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        result = await list_page.list_cases(db, scope, queries.Filters.read({"page": "7"}), tz=timezone.utc,
                                            today=date.today())
    assert (result.total, result.page, result.pages, len(result.rows)) == (60, 2, 2, 10)


async def test_the_count_stays_capped(database, cc, monkeypatch):
    await many_cases(database, cc, 12)
    monkeypatch.setattr(queries, "COUNT_CAP", 10)
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        result = await list_page.list_cases(db, scopes(cc)[0], queries.Filters(), tz=timezone.utc,
                                            today=date.today())
    assert result.total == 11 and result.capped and len(result.rows) == 12 and result.pages == 1


async def test_the_table_shows_the_same_cells_as_before(app, database, cc):
    """Masked mobile, the excerpt cut at 20 characters, the overdue badge, the due date."""
    today = date.today()
    await put_case(database, cc, content="一二三四五六七八九十一二三四五六七八九十一二三", unit="transport",
                   state="assigned", reply_due=today - timedelta(days=1), person_name="李阿姨",
                   person_mobile="13912345678")
    await put_case(database, cc, content="<b>路灯</b> & 井盖", person_name="<i>王</i>")
    async with signed_in(app, cc.ac.county, "admin") as client:
        html = (await client.get(f"{client.base}/cases")).text
    assert "一二三四五六七八九十一二三四五六七八九…" in html and "李阿姨 139****5678" in html
    assert "&lt;b&gt;路灯&lt;/b&gt; &amp; 井盖" in html and "&lt;i&gt;王&lt;/i&gt;" in html and "<b>" not in html
    assert '<span class="badge warn">Overdue</span>' in html and str(today - timedelta(days=1)) in html
    assert "13912345678" not in html


async def _count(client, path: str, **headers) -> int:
    r = await client.get(client.base + path, headers=headers)
    assert r.status_code == 200, path
    return int(r.headers["x-query-count"])


async def test_query_counts_are_low_and_flat(app, database, cc):
    case_id = (await put_case(database, cc, content="村道坑洼", unit="transport", state="assigned")).id
    async with signed_in(app, cc.ac.county, "admin") as client:
        await client.get(client.base + "/")  # the first entry into the tenant is recorded once
        base = await _count(client, "/inbox") - 1  # the inbox page reads its own messages (+1)
        listed = await _count(client, "/cases")
        part = await _count(client, "/cases?state=assigned", **{"HX-Request": "true", "HX-Target": "case-list"})
        page = await _count(client, f"/cases/{case_id}")
        assert listed - base <= LIST_OWN and part - base <= LIST_PART_OWN, (base, listed, part)
        assert page - base <= CASE_OWN, (base, page)
        # more history, more photos and more cases change nothing
        await many_cases(database, cc, 80)
        async with database.transaction(tenant_id=cc.tenant.id) as db:
            tenant = cc.tenant.id
            await db.execute(insert(CaseEvent), [dict(tenant_id=tenant, case_id=case_id, action="supervise",
                                                      note=f"督办{i}", data={},
                                                      at=datetime.now(timezone.utc) - timedelta(hours=i))
                                                 for i in range(30)])
            assert await db.scalar(select(Case.id).where(Case.id == case_id)) == case_id
        assert await _count(client, f"/cases/{case_id}") == page
        assert await _count(client, "/cases") == listed
