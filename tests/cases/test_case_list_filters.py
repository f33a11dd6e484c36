"""The case list: who sees which cases, each filter, the search by text and by receipt code, the
htmx partial against the full page, masked mobile numbers, paging, and the budgets (bytes, and a
query count that does not grow with the number of cases)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.cases import queries
from app.tenancy.scope import Scope
from tests.activities.world import local
from tests.cases.lists_data import many_cases
from tests.cases.world import EAST, HOME, build_case_county, put_case
from tests.deputies.deputy_world import signed_in, text_of

KB = 1024
HEBA = "河坝村人大代表联络站"
BR = {"Accept-Encoding": "br"}


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def listed(client, query: str = "", names=("东街路灯", "镇里饮水", "河坝修桥", "交通局占道")) -> set[str]:
    r = await client.get(f"{client.base}/cases{'?' + query if query else ''}")
    assert r.status_code == 200, r.status_code
    return {n for n in names if n in r.text}


async def test_each_role_sees_its_cases(app, database, cc):
    await put_case(database, cc, content="东街路灯", deputy_id=cc.deputies["张伟"])
    await put_case(database, cc, content="镇里饮水", station=HOME, unit="town-agri", state="assigned")
    await put_case(database, cc, content="河坝修桥", station=HEBA)
    await put_case(database, cc, content="交通局占道", station=HEBA, unit="transport", state="assigned")
    everything = {"东街路灯", "镇里饮水", "河坝修桥", "交通局占道"}
    seen = {"admin": everything, "viewer": everything, "town": {"东街路灯", "镇里饮水"},
            "heba": {"河坝修桥", "交通局占道"}, "station": {"东街路灯"}, "rep": {"东街路灯"}, "rep2": set(),
            "transport": {"交通局占道"}, "townoffice": {"镇里饮水"}, "ecology": set(), "handler": set()}
    for who, expected in seen.items():
        async with signed_in(app, cc.ac.county, who) as client:
            assert await listed(client) == expected, who
            # a filter cannot widen the scope
            assert await listed(client, f"station={cc.stations[HEBA]}") <= expected, who


async def test_each_filter_narrows(app, database, cc):
    today = date.today()
    await put_case(database, cc, content="东街路灯", state="assigned", unit="transport", reply_due=today - timedelta(days=3),
                   created_at=local(2026, 2, 10))
    await put_case(database, cc, content="镇里饮水", station=HOME, category="water", state="replied",
                   unit="town-agri", feedback_due=today + timedelta(days=3), source="phone", created_at=local(2026, 5, 3))
    await put_case(database, cc, content="河坝修桥", station=HEBA, category="water", state="replied",
                   feedback_due=today - timedelta(days=1), unit="ecology", created_at=local(2026, 7, 1))
    await put_case(database, cc, content="交通局占道", state="closed", unit="transport", source="online",
                   created_at=local(2026, 7, 20))
    async with signed_in(app, cc.ac.county, "admin") as client:
        assert await listed(client, "state=replied") == {"镇里饮水", "河坝修桥"}
        assert await listed(client, f"category={cc.categories['water']}") == {"镇里饮水", "河坝修桥"}
        assert await listed(client, f"station={cc.stations[EAST]}") == {"东街路灯", "交通局占道"}
        assert await listed(client, f"unit={cc.units['transport']}") == {"东街路灯", "交通局占道"}
        assert await listed(client, "source=online") == {"交通局占道"}
        assert await listed(client, "overdue=1") == {"东街路灯", "河坝修桥"}
        assert await listed(client, "period=2026-Q3") == {"河坝修桥", "交通局占道"}
        assert await listed(client, "period=2026-05") == {"镇里饮水"}
        assert await listed(client, "from=2026-02&to=2026-05") == {"东街路灯", "镇里饮水"}
        assert await listed(client, "from=2026-07") == {"河坝修桥", "交通局占道"}
        assert await listed(client, f"category={cc.categories['water']}&station={cc.stations[HOME]}") == {"镇里饮水"}
        # malformed values are ignored, not errors
        assert len(await listed(client, "state=nope&category=x&period=2026-Q9&from=2026-13&page=-1")) == 4
        # the overdue case is marked in the list
        html = (await client.get(f"{client.base}/cases?station={cc.stations[EAST]}")).text
        assert html.count('class="badge warn"') == 1


def test_overdue_rule_in_python_and_sql_agree():
    today = date(2026, 7, 10)
    assert queries.is_overdue("assigned", date(2026, 7, 9), None, today)
    assert not queries.is_overdue("accepted", date(2026, 7, 10), None, today)
    assert queries.is_overdue("replied", None, date(2026, 7, 1), today)
    assert not queries.is_overdue("fed_back", date(2026, 7, 1), date(2026, 7, 1), today)
    assert "reply_due" in str(queries.overdue_condition(today)) and "feedback_due" in str(queries.overdue_condition(today))


async def test_search_by_text_and_by_code(app, database, cc):
    lamp = await put_case(database, cc, content="东街路灯不亮")
    await put_case(database, cc, content="镇里饮水有异味", station=HOME)
    async with signed_in(app, cc.ac.county, "admin") as client:
        assert await listed(client, "q=路灯", names=("东街路灯", "镇里饮水")) == {"东街路灯"}
        assert await listed(client, "q=100%25", names=("东街路灯", "镇里饮水")) == set()  # % is literal
        code = lamp.receipt_code.lower()
        typed = f"{code[:5]}-{code[5:]}"
        r = await client.get(f"{client.base}/cases", params={"q": typed})
        assert "东街路灯" in r.text and "镇里饮水" not in r.text and "The case with this receipt code" in r.text
    async with signed_in(app, cc.ac.county, "heba") as client:  # a code outside one's scope finds nothing
        r = await client.get(f"{client.base}/cases", params={"q": lamp.receipt_code})
        assert "东街路灯" not in r.text and "No case matches." in r.text


async def test_htmx_partial_and_full_page(app, database, cc):
    await put_case(database, cc, content="东街路灯")
    await put_case(database, cc, content="镇里饮水", station=HOME, state="closed")
    async with signed_in(app, cc.ac.county, "admin") as client:
        full = await client.get(f"{client.base}/cases?state=closed")
        assert "<html" in full.text and 'hx-target="#case-list"' in full.text and 'hx-push-url="true"' in full.text
        assert "镇里饮水" in full.text and "东街路灯" not in full.text and "/cases/new" in full.text
        part = await client.get(f"{client.base}/cases?state=closed",
                                headers={"HX-Request": "true", "HX-Target": "case-list"})
        assert part.status_code == 200 and "<html" not in part.text and "<form" not in part.text
        assert "镇里饮水" in part.text and "东街路灯" not in part.text
        assert "HX-Request" in part.headers["vary"] and "HX-Request" in full.headers["vary"]
    async with signed_in(app, cc.ac.county, "viewer") as client:  # viewers do not register
        assert "/cases/new" not in (await client.get(f"{client.base}/cases")).text


async def test_mobile_masked_in_the_list(app, database, cc):
    await put_case(database, cc, content="东街路灯", person_name="王大爷", person_mobile="13912345678")
    async with signed_in(app, cc.ac.county, "admin") as client:
        html = (await client.get(f"{client.base}/cases")).text
        assert "王大爷" in html and "139****5678" in html and "13912345678" not in html


async def test_paging(app, database, cc):
    await many_cases(database, cc, 55)
    async with signed_in(app, cc.ac.county, "admin") as client:
        first = text_of((await client.get(f"{client.base}/cases")).text)
        assert "第54号问题" in first and "第4号问题" not in first and "Page 1 of 2" in first and "55 cases" in first
        second = (await client.get(f"{client.base}/cases?page=2")).text
        assert "第4号问题" in second and "第54号问题" not in second


async def test_count_is_capped(database, cc, monkeypatch):
    await many_cases(database, cc, 12)
    monkeypatch.setattr(queries, "COUNT_CAP", 10)
    scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=cc.users["admin"].id)
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        result = await queries.list_cases(db, scope, queries.Filters(), tz=timezone.utc, today=date.today())
    assert result.total == 11 and result.capped and len(result.rows) == 12


async def _queries(app, cc, path: str, **headers) -> int:
    async with signed_in(app, cc.ac.county, "admin") as client:
        await client.get(client.base + path)  # the first entry into the tenant is recorded once
        r = await client.get(client.base + path, headers=headers)
        assert r.status_code == 200
        return int(r.headers["x-query-count"])


async def test_query_count_does_not_grow_with_cases(app, database, cc):
    await many_cases(database, cc, 10)
    few = await _queries(app, cc, "/cases")
    few_part = await _queries(app, cc, "/cases?state=assigned", **{"HX-Request": "true", "HX-Target": "case-list"})
    await many_cases(database, cc, 190, start=datetime.now(timezone.utc) - timedelta(days=300))
    assert await _queries(app, cc, "/cases") == few
    assert await _queries(app, cc, "/cases?state=assigned",
                          **{"HX-Request": "true", "HX-Target": "case-list"}) == few_part
    assert few <= 5 and few_part <= 4, (few, few_part)


async def test_byte_budgets(app, database, cc):
    await many_cases(database, cc, 120)
    async with signed_in(app, cc.ac.county, "admin") as client:
        for path, headers, budget in (("/cases", {}, 14 * KB),
                                      ("/cases", {"HX-Request": "true", "HX-Target": "case-list"}, 5 * KB)):
            async with client.stream("GET", client.base + path, headers={**BR, **headers}) as r:
                raw = b"".join([chunk async for chunk in r.aiter_raw()])
            assert r.status_code == 200 and r.headers.get("content-encoding") == "br"
            assert len(raw) <= budget, (path, headers, len(raw))
