"""The dossier page: the product's own records collected for the year (代签 marked), approved entries
by kind and the others marked, the calendar of months, the reach of each role, the A4 print view,
and a number of queries that does not grow with the records."""

from __future__ import annotations

from datetime import date

import pytest

from app.core.db import query_counter
from app.deputies.models import Deputy
from app.duties import queries
from app.duties.models import DutyEntry
from app.tenancy.scope import Scope
from tests.deputies.deputy_world import signed_in, text_of
from tests.duties.duty_world import SHANGHAI, add_records, county_with_deputies, today

PARTS = ("Basic information", "Activities attended", "Opinions collected", "Suggestions and motions filed",
         "Problems solved for voters", "Duty reports to voters (述职)", "Joint-station activities",
         "Filed duties (approved)", "Entries not counted")


@pytest.fixture
async def county(database):
    c = await county_with_deputies(database)
    year = today().year
    await add_records(database, c, c.zhang, year, month=3)
    await add_records(database, c, c.zhang, year - 1, month=7)  # last year's: not in this year's dossier
    async with database.transaction(tenant_id=c.tenant.id) as db:
        db.add_all([
            DutyEntry(tenant_id=c.tenant.id, deputy_id=c.zhang, day=date(year, 1, 1), kind="speech",
                      text="人代会审议发言", status="approved"),
            DutyEntry(tenant_id=c.tenant.id, deputy_id=c.zhang, day=date(year, 5, 1), kind="training",
                      text="待审的培训"),
            DutyEntry(tenant_id=c.tenant.id, deputy_id=c.zhang, day=date(year, 6, 1), kind="award",
                      text="被退回的表彰", status="rejected", reject_reason="无证明"),
        ])
    return c


async def test_the_dossier_collects_the_year_and_counts_only_approved_entries(app, county):
    year = today().year
    async with signed_in(app, county, "admin") as client:
        page = await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year={year}")
    assert page.status_code == 200
    text = text_of(page.text)
    for part in PARTS:
        assert part in text
    assert "138****8001" in text and "13800138001" not in text
    assert "接待日0" in text and "向选民述职0" in text
    assert "Signed in by staff (代签)" in text and "手机没电，工作人员代签" in text
    assert "群众反映路灯不亮0registered" in text and "Problems solved for voters (1)" in text
    assert "关于修缮村道的建议0" in text and "川陕联合联络站" in text
    assert "Activities attended (2)" in text and "Duty reports to voters (述职) (1)" in text
    filed = text.split("Filed duties (approved)")[1].split("Entries not counted")[0]
    assert "人代会审议发言" in filed and "待审的培训" not in filed and "被退回的表彰" not in filed
    later = text.split("Entries not counted")[1]
    assert "待审的培训" in later and "Waiting for review" in later and "无证明" in later


async def test_the_calendar_marks_the_months_with_duties(app, county):
    year = today().year
    async with signed_in(app, county, "rep") as client:
        page = await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year={year}")
    strip = page.text.split('class="months"')[1].split("</table>")[0]
    marked = [m for m in range(1, 13) if f">{m} ✓<" in strip]
    assert marked == [1, 3]  # the approved speech and the records of March; pending and rejected do not count


async def test_scope_of_the_dossier(app, county):
    year = today().year
    seen = {}
    for who in ("admin", "viewer", "town", "heba", "station", "rep", "rep2", "handler"):
        async with signed_in(app, county, who) as client:
            seen[who] = tuple([(await client.get(f"{client.base}/deputies/{d}/dossier?year={year}")).status_code
                               for d in (county.zhang, county.li)])
    assert seen == {"admin": (200, 200), "viewer": (200, 200), "town": (200, 404), "heba": (404, 200),
                    "station": (200, 404), "rep": (200, 404), "rep2": (404, 404), "handler": (404, 404)}
    async with signed_in(app, county, "rep") as client:  # a deputy's menu link leads to their own dossier
        r = await client.get(f"{client.base}/duties", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith(f"/deputies/{county.zhang}/dossier")


async def test_the_print_view_has_no_menu_and_every_part(app, county):
    year = today().year
    async with signed_in(app, county, "admin") as client:
        normal = await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year={year}")
        printed = await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year={year}&print=1")
    assert 'class="subnav"' in normal.text and "<form" in normal.text
    assert printed.status_code == 200
    assert 'class="subnav"' not in printed.text and 'class="top"' not in printed.text and "<form" not in printed.text
    for part in PARTS:
        assert part in text_of(printed.text)


async def _queries_for_dossier(database, county) -> int:
    counter = [0]
    token = query_counter.set(counter)
    try:
        async with database.session(tenant_id=county.tenant.id) as db:
            deputy = await db.get(Deputy, (county.tenant.id, county.zhang))
            counter[0] = 0
            scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=county.users["admin"].id)
            d = await queries.dossier(db, scope, deputy, today().year, SHANGHAI)
    finally:
        query_counter.reset(token)
    assert d.attended
    return counter[0]


async def test_the_dossier_reads_in_a_fixed_number_of_queries(database, county):
    few = await _queries_for_dossier(database, county)
    for month in (2, 4, 5, 8):
        await add_records(database, county, county.zhang, today().year, month=month, copies=5)
    async with database.transaction(tenant_id=county.tenant.id) as db:
        db.add_all([DutyEntry(tenant_id=county.tenant.id, deputy_id=county.zhang, day=date(today().year, 1, 2),
                              kind=kind, text="登记", status="approved")
                    for kind in ("session", "motion", "inspection", "talk", "other") for _ in range(3)])
    many = await _queries_for_dossier(database, county)
    assert many == few <= 12
