"""EXPLAIN of every statement the main pages run, on the cluster (issue 21): each is a router plan
of one task — one shard of the county's, or the reference tables' one copy — never a query of
every shard. The statements are the ones the product ran for the page (recorded as they went to
PostgreSQL), explained again as the runtime role under the same binding, with the same values."""

from __future__ import annotations

import json
import re

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.citus.conftest import DB, NODES
from tests.factories import login

pytestmark = pytest.mark.citus

STAFF_PAGES = ["/t/santai/", "/t/santai/deputies", "/t/santai/cases", "/t/santai/compliance",
               "/t/santai/activities", "/t/santai/stations"]
DML = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


def citus_tasks(plan) -> list[int]:
    """The task count of every Citus node in an EXPLAIN (FORMAT JSON) plan, sub-plans included."""
    found = []
    if isinstance(plan, dict):
        if plan.get("Custom Plan Provider") == "Citus Adaptive":
            found.append(plan["Distributed Query"]["Job"]["Task Count"])
        for value in plan.values():
            found += citus_tasks(value)
    elif isinstance(plan, list):
        for value in plan:
            found += citus_tasks(value)
    return found


class Recorder:
    """The statements the product sends while a page is served (every engine: the app's own)."""

    def __init__(self):
        self.statements: list[tuple[str, tuple]] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if DML.match(statement) and not executemany:
            self.statements.append((statement, tuple(parameters or ())))

    def __enter__(self):
        event.listen(Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(Engine, "before_cursor_execute", self)


async def explain_all(statements, tenant_id: int | None, user_id: int | None) -> list[tuple[str, list[int]]]:
    conn = await asyncpg.connect(host="127.0.0.1", port=NODES[0], user="lianluo_app", database=DB,
                                 server_settings={"citus.propagate_set_commands": "local",
                                                  "plan_cache_mode": "force_custom_plan"})
    try:
        plans = []
        for statement, parameters in statements:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL app.tenant_id = '{tenant_id or ''}'")
                await conn.execute(f"SET LOCAL app.user_id = '{user_id or ''}'")
                plan = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {statement}", *parameters))
            plans.append((statement, citus_tasks(plan)))
        return plans
    finally:
        await conn.close()


async def test_every_statement_of_the_main_pages_is_a_one_task_router_plan(on_citus, citus_demo, coordinator_sql):
    from app.demo import DEMO_PASSWORD
    from app.main import create_app
    from app.public.invalidation import forget_everything_kept

    [(tenant_id,)] = await coordinator_sql("SELECT id FROM tenants WHERE slug = 'santai'")
    [(user_id,)] = await coordinator_sql("SELECT id FROM users WHERE username = 'santai-admin'")
    pages: dict[str, list] = {}
    async with AsyncTestClient(app=create_app(on_citus), base_url="http://testserver.local") as client:
        public = await client.get("/p/santai/")
        station = re.search(r'href="(/p/santai/stations/\d+)', public.text).group(1)
        for url in ("/p/santai/", station):
            forget_everything_kept(on_citus)  # a kept page runs no statement: served afresh
            with Recorder() as seen:
                assert (await client.get(url)).status_code == 200
            pages[url] = await explain_all(seen.statements, tenant_id, None)
        assert (await login(client, "santai-admin", DEMO_PASSWORD)).status_code == 303
        cases = await client.get("/t/santai/cases")
        case = re.search(r'href="(/t/santai/cases/\d+)"', cases.text).group(1)
        for url in (*STAFF_PAGES, case):
            with Recorder() as seen:
                assert (await client.get(url)).status_code == 200, url
            pages[url] = await explain_all(seen.statements, tenant_id, user_id)
    for url, plans in pages.items():
        routed = sum(1 for _, tasks in plans if tasks)
        print(f"{url}: {len(plans)} statements, {routed} through Citus, "
              f"most tasks in one: {max((max(t) for _, t in plans if t), default=0)}")
    wide = {url: [(s[:160], t) for s, t in plans if any(n != 1 for n in t)] for url, plans in pages.items()}
    assert not any(wide.values()), wide
    # not vacuous: every page ran statements, and Citus planned them
    assert all(any(t for _, t in plans) for plans in pages.values()), {u: len(p) for u, p in pages.items()}
