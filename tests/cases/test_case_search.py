"""The cases list's text search through the index of migration 0041: the same cases as the old
``ILIKE`` (Chinese terms of two to four characters, ASCII in any case, ``%``, ``_`` and ``/`` taken
literally), never another county's, kept up to date when a case's text changes, and served by the
index for the runtime role under forced row-level security — also when the owner is not a
superuser (the tests migrate as one, who bypasses row-level security and would hide the problem)."""

from __future__ import annotations

import os
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from app.cases import queries
from app.cases.access import cases_query
from app.cases.models import Case
from app.tenancy.scope import Scope
from tests.cases.lists_data import many_cases
from tests.cases.world import HOME, build_case_county, put_case
from tests.isolation.test_catalog import owner_connection

TZ = ZoneInfo("Asia/Shanghai")
CONTENTS = (
    "东街路灯不亮，晚上出行不便", "镇里饮水有异味", "河坝修桥进度慢", "路灯", "灯路口积水",
    "WiFi signal weak near the School", "wifi 信号差", "降价100%促销扰民", "100 户停水", "a_b 线路检修",
    "a/b 门牌错了", "ab 路段", "环保局未回复", "群众反映环保问题已有三十天",
)
TERMS = ("路灯", "环保局", "环保问题", "路灯不亮", "灯路", "wifi", "WIFI", "School", "100%", "100", "a_b", "_b",
         "a/b", "/b", "ab", "信号", "灯", "，", "没有的词", "问题已有三十", "%", "_")


@pytest.fixture
async def two(database):
    a = await build_case_county(database)
    b = await build_case_county(database, "beta")
    for content in CONTENTS:
        await put_case(database, a, content=content)
    await put_case(database, a, content="城关镇路灯坏了", station=HOME)
    for content in ("北坝村路灯", "环保局回复了", "wifi"):  # the other county holds the same words
        await put_case(database, b, content=content)
    return a, b


def _scope(cc) -> Scope:
    return Scope(role="county_admin", node_path=None, station_id=None, user_id=cc.users["admin"].id)


async def _ilike(database, cc, term: str) -> set[int]:
    """The old search: the county's cases whose content ILIKEs the term, read as the runtime role."""
    async with database.session(tenant_id=cc.tenant.id) as db:
        return set(await db.scalars(cases_query(Case.id).where(Case.content.icontains(term, autoescape=True))))


async def _listed(database, cc, term: str) -> set[int]:
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        result = await queries.list_cases(db, _scope(cc), queries.Filters(q=term), tz=TZ, today=date.today())
    return {row.id for row in result.rows}


async def test_the_search_finds_what_ilike_found(database, two):
    a, b = two
    for term in TERMS:
        expected = await _ilike(database, a, term)
        assert await _listed(database, a, term) == expected, term
        async with database.transaction(tenant_id=a.tenant.id) as db:
            found = await queries.search_ids(db, term)
        if len(term) < 2:
            assert found is None, term  # no pair of characters: the list scans as before
        else:
            assert set(found) == expected, term
    # not vacuous: the terms find something, and different things
    assert len(await _listed(database, a, "路灯")) == 3
    assert len(await _listed(database, a, "wifi")) == 2
    assert await _listed(database, a, "100%") != await _listed(database, a, "100")
    assert await _listed(database, a, "没有的词") == set()


async def test_another_countys_cases_are_never_found(database, two):
    a, b = two
    theirs = await _ilike(database, b, "路灯")
    assert theirs  # they hold the word too
    async with database.transaction(tenant_id=a.tenant.id) as db:
        mine = set(await queries.search_ids(db, "路灯"))
    assert mine == await _ilike(database, a, "路灯") and not mine & theirs
    # the function answers for the bound county only: naming another refuses
    with pytest.raises(DBAPIError, match="not the tenant this transaction is bound to"):
        async with database.transaction(tenant_id=a.tenant.id) as db:
            await db.execute(text("SELECT case_search(:t, '路灯', 100)"), {"t": b.tenant.id})
    with pytest.raises(DBAPIError, match="not the tenant this transaction is bound to"):
        async with database.session() as db:  # nothing bound
            await db.execute(text("SELECT case_search(:t, '路灯', 100)"), {"t": a.tenant.id})


async def test_the_runtime_role_reads_its_own_index_rows_and_writes_none(database, two):
    a, b = two
    async with database.session(tenant_id=a.tenant.id) as db:
        tenants = set(await db.scalars(text("SELECT DISTINCT tenant_id FROM case_search")))
        assert tenants == {a.tenant.id}
    for sql in ("INSERT INTO case_search VALUES (:t, 1, 'x')", "UPDATE case_search SET body = 'x'",
                "DELETE FROM case_search"):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with database.transaction(tenant_id=a.tenant.id) as db:
                await db.execute(text(sql), {"t": a.tenant.id})


async def test_a_changed_text_is_found_by_its_new_words(database, two):
    a, _ = two
    case = await put_case(database, a, content="排水沟堵塞")
    async with database.transaction(tenant_id=a.tenant.id) as db:
        await db.execute(update(Case).where(Case.id == case.id).values(content="垃圾清运不及时"))
    assert case.id not in await _listed(database, a, "排水沟")
    assert case.id in await _listed(database, a, "清运")


async def test_a_term_in_more_cases_than_the_cap_is_scanned(database, two, monkeypatch):
    a, _ = two
    await many_cases(database, a, 6)  # "第{i}号问题：村道坑洼需要修补"
    monkeypatch.setattr(queries, "COUNT_CAP", 5)
    async with database.transaction(tenant_id=a.tenant.id) as db:
        assert await queries.search_ids(db, "坑洼") is None
        assert len(await queries.search_ids(db, "第3号")) == 1
    assert await _listed(database, a, "坑洼") == await _ilike(database, a, "坑洼")


async def _plan(database, cc, sql: str, params: dict) -> str:
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        await db.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(row[0] for row in await db.execute(text("EXPLAIN " + sql), params))


async def test_the_list_reads_the_found_cases_by_key(database, two, owner_sql):
    a, _ = two
    await many_cases(database, a, 300)
    await owner_sql("ANALYZE cases")
    async with database.transaction(tenant_id=a.tenant.id) as db:
        found = await queries.search_ids(db, "路灯")
    plan = await _plan(database, a, "SELECT id FROM cases WHERE id = ANY(CAST(:ids AS bigint[]))", {"ids": found})
    assert "cases_pkey" in plan and "Index Cond: ((tenant_id = " in plan and "(id = ANY" in plan, plan


async def test_the_index_serves_the_search_when_the_owner_is_no_superuser(database, two, settings, owner_sql):
    """The production shape: the function and the table belong to a role without SUPERUSER or
    BYPASSRLS. The index is used (its scans in this transaction counted); with RLS forced on the table,
    as on every other tenant table, it would not be (why 0041 leaves it unforced)."""
    a, _ = two
    await many_cases(database, a, 1000)
    await owner_sql("VACUUM ANALYZE case_search")  # GIN's pending list merged: its cost as in production
    conn = await owner_connection(settings)
    owner = f"scratch_search_owner_{os.getpid()}"
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute(f"CREATE ROLE {owner} NOSUPERUSER NOBYPASSRLS")
        await conn.execute(f"ALTER TABLE case_search OWNER TO {owner}")
        await conn.execute(f"ALTER FUNCTION case_search(bigint, text, integer) OWNER TO {owner}")
        await conn.execute("ANALYZE case_search")

        async def scans(t: int) -> tuple[list, int]:
            await conn.execute(f"SET LOCAL ROLE {settings.app_role}")
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(t))
            await conn.execute("SET LOCAL enable_seqscan = off")
            found = await conn.fetchval("SELECT case_search($1, '路灯', 100)", t)
            await conn.execute("RESET ROLE")
            used = await conn.fetchval("SELECT pg_stat_get_xact_numscans('case_search_keys'::regclass)")
            return found, used

        found, used = await scans(a.tenant.id)
        assert len(found) == 3 and used == 1
        await conn.execute("ALTER TABLE case_search FORCE ROW LEVEL SECURITY")
        forced, used_forced = await scans(a.tenant.id)
        assert sorted(forced) == sorted(found) and used_forced == used  # same answer, the index unused
    finally:
        await tx.rollback()
        await conn.close()
