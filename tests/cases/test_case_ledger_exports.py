"""The register of opinions and suggestions and the quarterly list: printable pages and spreadsheets
in the member's scope, no mobile numbers, formulas neutralised, an audit entry for each export."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook

from app.activities.models import Suggestion
from tests.activities.world import local
from tests.cases.world import HOME, build_case_county, put_case
from tests.deputies.deputy_world import count, signed_in, text_of

HEBA = "河坝村人大代表联络站"
MOBILE = re.compile(r"1[3-9]\d{9}")


@pytest.fixture
async def cc(database):
    cc = await build_case_county(database)
    await put_case(database, cc, content="东街路灯不亮", person_name="王大爷", person_mobile="13912345678",
                   deputy_id=cc.deputies["张伟"], state="fed_back", unit="transport", reply_text="已更换灯泡",
                   fed_back_at=local(2026, 5, 9), satisfaction="satisfied", created_at=local(2026, 5, 2))
    await put_case(database, cc, content="=HYPERLINK(\"http://x\")", station=HOME, category="water",
                   created_at=local(2026, 5, 20), urgency="urgent")
    await put_case(database, cc, content="河坝修桥", station=HEBA, category="water", state="closed",
                   person_mobile="13700000000", created_at=local(2026, 6, 3))
    await put_case(database, cc, content="重复的路灯", state="merged", created_at=local(2026, 6, 4))
    await put_case(database, cc, content="去年的老问题", created_at=local(2025, 5, 2))
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        db.add(Suggestion(tenant_id=cc.tenant.id, deputy_id=cc.deputies["张伟"], title="关于完善路灯的建议",
                          filed_on=date(2026, 5, 15), state="assigned", handling_unit_id=cc.units["transport"]))
        db.add(Suggestion(tenant_id=cc.tenant.id, deputy_id=cc.deputies["李娜"], title="去年的建议",
                          filed_on=date(2025, 5, 15)))
    return cc


async def test_register_page(app, database, cc):
    async with signed_in(app, cc.ac.county, "admin") as client:
        r = await client.get(f"{client.base}/cases/register?period=2026-Q2")
        assert r.status_code == 200
        text = text_of(r.text)
        for expected in ("东街路灯不亮", "王大爷", "张伟", "县交通运输局", "已更换灯泡", "2026-05-09", "Satisfied",
                         "河坝修桥", "重复的路灯", "关于完善路灯的建议", "4 cases"):
            assert expected in text, expected
        assert "去年" not in text and not MOBILE.search(text)  # visible text: a CSRF token may hold 11 digits
        assert 'class="noprint"' in r.text
    async with signed_in(app, cc.ac.county, "heba") as client:
        text = text_of((await client.get(f"{client.base}/cases/register?period=2026-Q2")).text)
        assert "河坝修桥" in text and "东街路灯不亮" not in text


async def test_register_xlsx(app, database, owner_sql, cc):
    async with signed_in(app, cc.ac.county, "admin") as client:
        r = await client.get(f"{client.base}/cases/register.xlsx?period=2026-Q2")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    book = load_workbook(io.BytesIO(r.content), read_only=True)
    cases, suggestions = (list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets)
    assert len(cases) == 1 + 4 and cases[0][0] == "Date registered"
    cells = [str(v) for row in cases + suggestions for v in row if v is not None]
    assert not any(MOBILE.search(v) for v in cells)
    assert "'=HYPERLINK(\"http://x\")" in cells and "王大爷" in cells
    assert [row[0] for row in suggestions[1:]] == ["关于完善路灯的建议"]
    assert await count(owner_sql, "audit_log", "action = 'case_register_exported'") == 1


async def test_quarterly_page_and_xlsx(app, database, owner_sql, cc):
    async with signed_in(app, cc.ac.county, "admin") as client:
        r = await client.get(f"{client.base}/cases/quarterly?quarter=2026-Q2")
        assert r.status_code == 200
        cells = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", r.text, re.S)]
        by_name = {c[0]: c for c in cells if c}
        assert [c for c in by_name["农田水利"][1:6]] == ["2", "1", "1", "0", "—"]
        assert [c for c in by_name["道路交通"][1:6]] == ["1", "0", "1", "0", "100%"]  # the merged one not counted
        assert "=HYPERLINK" in by_name["农田水利"][6].split("；")[0]  # the urgent issue first
        assert "重复的路灯" not in r.text
        x = await client.get(f"{client.base}/cases/quarterly.xlsx?quarter=2026-Q2")
        assert x.status_code == 200
    rows = list(load_workbook(io.BytesIO(x.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][0] == "Case category" and rows[-1][:5] == ("Total of the quarter", 3, 1, 2, 0)
    assert rows[1][6].startswith("'=HYPERLINK")
    assert await count(owner_sql, "audit_log", "action = 'case_quarterly_exported'") == 1


async def test_ledger_roles(app, database, cc):
    for who in ("rep", "transport", "handler"):
        async with signed_in(app, cc.ac.county, who) as client:
            for path in ("/cases/register", "/cases/register.xlsx", "/cases/quarterly", "/cases/quarterly.xlsx"):
                assert (await client.get(client.base + path)).status_code == 404, (who, path)
    async with signed_in(app, cc.ac.county, "station") as client:
        text = text_of((await client.get(f"{client.base}/cases/quarterly?quarter=2026-Q2")).text)
        assert "道路交通" in text and "农田水利" not in text
