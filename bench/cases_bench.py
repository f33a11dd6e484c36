"""Case lists, statistics and ledgers at county size: 200,000 cases over three years, 300 stations.

    .venv/bin/python bench/cases_bench.py                     # embedded PostgreSQL in a temporary folder
    DATABASE_URL=postgresql://postgres@127.0.0.1/lianluo_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
      .venv/bin/python bench/cases_bench.py [--cases N] [--explain]   # that database (migrated; a tenant is added)

Builds a county (15 townships × 20 communities, one active station and one deputy each), twelve case
categories, 40 handling units, and N cases (default 200,000) spread over the three years up to today
with a realistic life: a quarter answered on the spot, the rest assigned, replied, fed back, rated
and closed as they age, a backlog left overdue; one to four history steps each (multi-row INSERTs from arrays: well under
a minute). ANALYZE is committed (statistics are transactional; without them the planner takes every
table under row-level security for one row). Then runs the product in-process with query counting
and requests, as the county admin, the list (no filter, by state, overdue, category + station, a
text search, a receipt code, page 50, the htmx partial), the statistics at county, township and
station level, and the quarterly list (HTML and xlsx). One line each: status, X-Query-Count, brotli
bytes, server ms. ``--explain`` also prints the plans of the list's queries. Nothing is asserted on
time; tests/cases assert the query counts and byte budgets.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import analyze, bench_county, bench_database, print_requests, signed_in_client  # noqa: E402 (bench/)

TOWNSHIPS, COMMUNITIES, YEARS = 15, 20, 3
TZ = ZoneInfo("Asia/Shanghai")
CATEGORIES = ("道路交通", "农田水利", "医疗卫生", "生态环境", "教育文化", "社会保障", "城乡建设", "农业农村",
              "市场监管", "公共安全", "民政事务", "其他事项")
DEPARTMENTS = 25
PLACES = ("村口", "街道", "小区", "学校门前", "集镇", "河边", "组里", "卫生院旁")
RARE = "鸭棚漏雨"  # in one case of 40,000: the rare terms the text search is measured with (0041)
PROBLEMS = ("道路坑洼需要修补", "路灯不亮", "饮水有异味", "排水沟堵塞", "垃圾清运不及时", "农田灌溉缺水",
            "桥梁年久失修", "医保报销慢", "校车安全隐患", "违章占道经营", "噪音扰民", "养老服务不足",
            "危房改造进度慢", "网络信号差", "集贸市场脏乱", "河道污染")


async def build_county(database):
    """The county (bench/common.py), its stations, deputies, categories and units."""
    from sqlalchemy import insert, select

    from app.cases.models import CaseCategory
    from app.tenancy.models import HandlingUnit
    from app.deputies.models import Deputy, StationDeputy
    from app.stations.models import Station
    from app.tenancy.models import AdminNode

    county = await bench_county(database, "casebench", TOWNSHIPS, COMMUNITIES)
    t = county.tenant.id
    async with database.transaction(tenant_id=t) as db:
        db.add_all(CaseCategory(tenant_id=t, code=f"c{i}", name=n, sort=i) for i, n in enumerate(CATEGORIES))
        await db.flush()
        communities = (await db.execute(select(AdminNode.id, AdminNode.name, AdminNode.parent_id)
                                        .where(AdminNode.kind == "community").order_by(AdminNode.id))).all()
        townships = list(await db.scalars(select(AdminNode.id).where(AdminNode.kind == "township")
                                          .order_by(AdminNode.id)))
        stations = list(await db.scalars(insert(Station).returning(Station.id), [
            dict(tenant_id=t, kind_id=county.station_kind_id, node_id=nid, name=f"{name}人大代表联络站{nid}",
                 status="active") for nid, name, _ in communities]))
        deputies = list(await db.scalars(insert(Deputy).returning(Deputy.id), [
            dict(tenant_id=t, name=f"代表{n:04d}", status="active") for n in range(len(stations))]))
        await db.execute(insert(StationDeputy), [dict(tenant_id=t, station_id=s, deputy_id=d)
                                                 for s, d in zip(stations, deputies)])
        units = [dict(tenant_id=t, code=f"town{i}", name=f"第{i + 1}镇人民政府", kind="township_office",
                      level="township", node_id=nid, sort=i) for i, nid in enumerate(townships)]
        units += [dict(tenant_id=t, code=f"dept{i}", name=f"县第{i + 1}部门", kind="county_department",
                       level="county", sort=100 + i) for i in range(DEPARTMENTS)]
        unit_ids = list(await db.scalars(insert(HandlingUnit).returning(HandlingUnit.id), units))
        categories = list(await db.scalars(select(CaseCategory.id).order_by(CaseCategory.sort)))
    places = [(s, nid, d, townships.index(parent)) for s, (nid, _, parent), d in zip(stations, communities, deputies)]
    return county, categories, places, unit_ids, townships


def life(rng: random.Random, created: datetime, now: datetime) -> dict:
    """States and dates of one case, by its age."""
    age = (now - created).days
    out = dict(state="closed", assigned_at=None, reply_due=None, replied_at=None, feedback_due=None,
               fed_back_at=None, satisfaction=None, closed_at=created, reply_text="")
    if rng.random() < 0.25:
        return out  # answered on the spot
    assigned = created + timedelta(days=rng.randint(0, 3), hours=rng.randint(1, 8))
    out.update(assigned_at=assigned, reply_due=(assigned + timedelta(days=21)).date(), closed_at=None)
    backlog = rng.random() < 0.015
    if age < 25 or backlog:
        out["state"] = rng.choice(("assigned", "accepted", "accepted", "clarifying"))
        return out
    replied = assigned + timedelta(days=rng.randint(2, 25), hours=rng.randint(0, 8))
    out.update(replied_at=replied, feedback_due=(replied + timedelta(days=7)).date(), reply_text="已办理，情况如下")
    if age < 40:
        out["state"] = "replied"
        return out
    fed = replied + timedelta(days=rng.randint(1, 7))
    out.update(fed_back_at=fed, satisfaction=rng.choices(("satisfied", "basically", "unsatisfied"), (70, 22, 8))[0])
    r = rng.random()
    out["state"] = "fed_back" if r < 0.08 else ("merged" if r < 0.1 else "closed")
    out["closed_at"] = fed + timedelta(days=1) if out["state"] == "closed" else None
    return out


def case_records(ids: list[int], tenant_id: int, categories, places, units, user_id: int):
    """(cases columns, rows, events rows) to insert; the ids were drawn from the table's identity."""
    from app.cases.services import new_receipt_code

    rng = random.Random(5)
    now = datetime.now(timezone.utc)
    span = YEARS * 365 * 86400
    cols = ("tenant_id", "id", "receipt_code", "source", "person_name", "person_mobile", "content", "category_id",
            "node_id", "station_id", "deputy_id", "level", "urgency", "state", "handling_unit_id", "assigned_at",
            "reply_due", "feedback_due", "reply_text", "replied_at", "fed_back_at", "satisfaction", "rated_at",
            "created_by", "created_at", "updated_at", "closed_at")
    sources = ("reception", "visit", "mailbox", "phone", "online", "wechat")
    rows, events, codes = [], [], set()
    for i in ids:
        created = now - timedelta(seconds=rng.randrange(span))
        station, node, deputy, township = rng.choice(places)
        code = new_receipt_code()
        while code in codes:
            code = new_receipt_code()
        codes.add(code)
        lf = life(rng, created, now)
        county = rng.random() < 0.5
        unit = None if lf["assigned_at"] is None else (
            units[TOWNSHIPS + rng.randrange(DEPARTMENTS)] if county else units[township])
        rows.append((tenant_id, i, code, rng.choice(sources), f"村民{rng.randrange(10000)}",
                     f"13{rng.randrange(10 ** 9):09d}" if rng.random() < 0.5 else None,
                     f"{rng.choice(PLACES)}{rng.choice(PROBLEMS)}，群众反映已有{rng.randint(2, 30)}天，希望尽快解决。"
                     + (RARE if i % 40_000 == 7 else ""),
                     rng.choice(categories), node, station, deputy, "county" if county else "township",
                     "urgent" if rng.random() < 0.05 else "normal", lf["state"], unit, lf["assigned_at"], lf["reply_due"],
                     lf["feedback_due"], lf["reply_text"], lf["replied_at"], lf["fed_back_at"], lf["satisfaction"],
                     lf["fed_back_at"] if lf["satisfaction"] else None, user_id, created, created, lf["closed_at"]))
        events.append((tenant_id, i, "registered", None, "registered", True, user_id, created))
        for action, at, state in (("assigned", lf["assigned_at"], "assigned"), ("replied", lf["replied_at"], "replied"),
                                  ("fed_back", lf["fed_back_at"], "fed_back")):
            if at is not None:
                events.append((tenant_id, i, action, None, state, True, user_id, at))
    return cols, rows, events


CASE_TYPES = ("bigint", "bigint", "text", "text", "text", "text", "text", "bigint", "bigint", "bigint", "bigint", "text",
              "text", "text", "bigint", "timestamptz", "date", "date", "text", "timestamptz", "timestamptz", "text",
              "timestamptz", "bigint", "timestamptz", "timestamptz", "timestamptz")
EVENT_COLUMNS = ("tenant_id", "case_id", "action", "from_state", "to_state", "public", "actor_user_id", "at")
EVENT_TYPES = ("bigint", "bigint", "text", "text", "text", "boolean", "bigint", "timestamptz")


async def insert_unnest(raw, table: str, cols, types, rows, batch: int = 20_000) -> None:
    """INSERT … SELECT FROM unnest(arrays): one statement per 20,000 rows (COPY is refused under
    row-level security)."""
    targets = ", ".join(cols)
    arrays = ", ".join(f"${n + 1}::{t}[]" for n, t in enumerate(types))
    sql = f"INSERT INTO {table} ({targets}) SELECT * FROM unnest({arrays})"
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        await raw.execute(sql, *(list(column) for column in zip(*chunk)))


async def build_cases(database, owner_url: str, tenant_id: int, n: int, categories, places, units, user_id: int) -> int:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    # ids from the table's identity (the runtime role may insert, not call nextval itself: the owner draws them)
    engine = create_async_engine(owner_url)
    async with engine.begin() as conn:
        ids = list((await conn.execute(text("SELECT nextval(pg_get_serial_sequence('cases', 'id')) "
                                            "FROM generate_series(1, :n)"), {"n": n})).scalars())
    await engine.dispose()
    cols, rows, events = case_records(ids, tenant_id, categories, places, units, user_id)
    async with database.transaction(tenant_id=tenant_id) as db:
        raw = (await (await db.connection()).get_raw_connection()).driver_connection
        await insert_unnest(raw, "cases", cols, CASE_TYPES, rows)
        await insert_unnest(raw, "case_events", EVENT_COLUMNS, EVENT_TYPES, events)
    return len(events)


async def measure(settings, county, ids: dict) -> None:
    async with signed_in_client(settings, county.user.username) as client:
        b = f"/t/{county.slug}/cases"
        await client.get(f"/t/{county.slug}/")  # the first entry into the tenant writes its own rows
        partial = {"HX-Request": "true", "HX-Target": "case-list"}
        pages = [
            ("list, no filter", b, {}), ("list, no filter (again)", b, {}), ("list, state=accepted", f"{b}?state=accepted", {}),
            ("list, overdue", f"{b}?overdue=1", {}),
            ("list, category + station", f"{b}?category={ids['category']}&station={ids['station']}", {}),
            ("list, text search 路灯", f"{b}?q=%E8%B7%AF%E7%81%AF", {}),
            ("list, text search (absent)", f"{b}?q=%E6%B2%A1%E6%9C%89%E7%9A%84%E8%AF%8D", {}),
            ("list, text search 鸭棚 (rare, 2 chars)", f"{b}?q=%E9%B8%AD%E6%A3%9A", {}),
            ("list, text search 鸭棚漏雨 (rare, 4 chars)", f"{b}?q=%E9%B8%AD%E6%A3%9A%E6%BC%8F%E9%9B%A8", {}),
            ("list, receipt code", f"{b}?q={ids['code']}", {}), ("list, page 50", f"{b}?page=50", {}),
            ("htmx partial, state=replied", f"{b}?state=replied", partial),
            ("stats, county (year)", f"{b}/stats", {}), ("stats, county (quarter)", f"{b}/stats?period={ids['quarter']}", {}),
            ("stats, a township", f"{b}/stats?node={ids['township']}", {}),
            ("stats, a station", f"{b}/stats?station={ids['station']}", {}),
            ("quarterly list (HTML)", f"{b}/quarterly?quarter={ids['quarter']}", {}),
            ("quarterly list (xlsx)", f"{b}/quarterly.xlsx?quarter={ids['quarter']}", {}),
            ("register, a month (HTML)", f"{b}/register", {}),
        ]
        await print_requests(client, pages)


async def explain(database, tenant_id: int, user_id: int, ids: dict) -> None:
    """The plans of the list's count and page queries (EXPLAIN ANALYZE, as the runtime role)."""
    from sqlalchemy import text
    from sqlalchemy.dialects import postgresql

    from app.cases import queries
    from app.tenancy.scope import Scope

    scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=user_id)
    today = datetime.now(TZ).date()
    for label, f in (("no filter", queries.Filters()), ("state=accepted", queries.Filters(state="accepted")),
                     ("overdue", queries.Filters(overdue=True)),
                     ("category + station", queries.Filters(category=ids["category"], station=ids["station"])),
                     ("text 路灯", queries.Filters(q="路灯")), ("text 鸭棚", queries.Filters(q="鸭棚"))):
        async with database.transaction(tenant_id=tenant_id) as db:  # the ids the search index found
            found = await queries.search_ids(db, f.q) if f.q else None
        where = queries.list_conditions(scope, f, TZ, today, found=found)
        for kind, stmt in (("count", queries.count_query(where)), ("page 1", queries.page_query(where, 1))):
            sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            async with database.transaction(tenant_id=tenant_id) as db:
                plan = (await db.execute(text("EXPLAIN (ANALYZE, COSTS OFF) " + sql))).scalars().all()
            print(f"--- {label}, {kind}\n" + "\n".join(plan), flush=True)


async def main() -> int:
    from sqlalchemy import select

    from app.cases.models import Case
    from app.core.periods import period_of

    n = int(sys.argv[sys.argv.index("--cases") + 1]) if "--cases" in sys.argv else 200_000
    async with bench_database("cases") as (settings, database):
        started = time.perf_counter()
        county, categories, places, units, townships = await build_county(database)
        t = county.tenant.id
        events = await build_cases(database, settings.database_url, t, n, categories, places, units, county.user.id)
        print(f"built {len(places)} stations, {len(units)} handling units, {n} cases, {events} history steps "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        await analyze(settings.database_url)
        async with database.transaction(tenant_id=t) as db:
            code = await db.scalar(select(Case.receipt_code).order_by(Case.id).limit(1))
        previous = period_of("quarter", datetime.now(TZ).date()).previous()
        ids = {"category": categories[0], "station": places[0][0], "township": townships[0], "code": code.lower(),
               "quarter": previous.key}
        await measure(settings, county, ids)
        if "--explain" in sys.argv:
            await explain(database, t, county.user.id, ids)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
