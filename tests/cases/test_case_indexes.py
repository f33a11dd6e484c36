"""The indexes a case page relies on are usable by the runtime role under forced row-level security
(issue 20: a case page waited 95 ms at 200,000 cases for the cases merged into it)."""

from __future__ import annotations

from sqlalchemy import text


async def _plan(database, sql: str) -> str:
    async with database.transaction(tenant_id=1) as db:
        await db.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: ask whether it can
        return "\n".join(row[0] for row in await db.execute(text("EXPLAIN " + sql)))


async def test_the_cases_merged_into_a_case_are_found_by_an_index(database):
    plan = await _plan(database, "SELECT id FROM cases WHERE merged_into_id = 42")
    assert "cases_merged_into" in plan, plan
