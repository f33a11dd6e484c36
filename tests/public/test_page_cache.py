"""The public pages answered from the page cache (app.public.cache): the same bytes as a fresh render
without a database query, a validator a phone or a proxy can reuse (304), one entry per language, and
never stale: a change committed anywhere (a staff route, a service, a Core statement, the operator's
calendar) shows on the next request, a suspended county's pages stop at once, "today" ends at the
county's midnight, and every table the pages read is one whose changes invalidate them
(app.public.invalidation)."""

from __future__ import annotations

import gzip
import re
import socket
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import brotli
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import event, text, update

from app.activities.models import Activity, ActivityEvent, ActivityKind, ActivityPlan
from app.core.calendar import CalendarDay
from app.core import read_cache
from app.deputies.models import StationDeputy
from app.platform.services import set_tenant_status
from app.public import cache as page_cache
from app.public import invalidation, routes
from app.stations.models import Station, StationGoal
from tests.factories import add_member, csrf_from, login, make_user
from tests.public.conftest import THIS_YEAR

ENCODINGS = {"br": "br", "gzip": "gzip", "": None}  # Accept-Encoding → Content-Encoding


def pages(county) -> list[str]:
    station = f"/p/{county.slug}/stations/{county.stations['active'].id}"
    return [f"/p/{county.slug}/", station, station + "/poster"]


async def fetch(client, path: str, **headers):
    """The response and its body exactly as sent (still compressed)."""
    headers.setdefault("Accept-Encoding", "br")
    async with client.stream("GET", path, headers=headers) as r:
        body = b"".join([chunk async for chunk in r.aiter_raw()])
    return r, body


def queries(r) -> int:
    return int(r.headers["x-query-count"])


async def cached(client, path: str, **headers):
    """The page once it is answered from the cache: the first visit learns the county's slug, the next
    keeps the page."""
    for _ in range(3):
        r, body = await fetch(client, path, **headers)
        assert r.status_code == 200, (path, r.status_code)
        if queries(r) == 0:
            return r, body
    raise AssertionError(f"{path} is never answered from the cache")


def html_of(r, body: bytes) -> str:
    encoding = r.headers.get("content-encoding")
    return (brotli.decompress(body) if encoding == "br" else gzip.decompress(body) if encoding == "gzip"
            else body).decode()


@pytest.fixture
def visitor(client):
    """Someone reading the public pages (no session, no language chosen). One test client per app: a
    second one would run the app in another event loop than the database pool's."""
    return client


@pytest.fixture
async def redis(settings):
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def ns(settings) -> str:
    from sqlalchemy.engine import make_url

    return read_cache.namespace(make_url(settings.app_database_url).database)


# --- hits ---------------------------------------------------------------------------------------------

async def test_a_cached_page_is_the_same_bytes_without_a_database_query(visitor, alpha, redis, ns):
    for path in pages(alpha):
        for accept, encoding in ENCODINGS.items():
            await redis.incr(page_cache.tenant_key(ns, alpha.tenant.id))  # as a change would: rendered afresh
            fresh, fresh_body = await fetch(visitor, path, **{"Accept-Encoding": accept})
            assert queries(fresh) > 0, path
            hit, body = await cached(visitor, path, **{"Accept-Encoding": accept})
            assert body == fresh_body, (path, accept)
            assert hit.headers.get("content-encoding") == encoding == fresh.headers.get("content-encoding")
            assert hit.headers["etag"] == fresh.headers["etag"]
            assert hit.headers["content-type"] == "text/html; charset=utf-8"
            for r in (fresh, hit):
                assert r.headers["cache-control"].startswith("public, max-age="), path
                assert r.headers["vary"] == "Accept-Encoding"  # never Cookie
                assert "set-cookie" not in r.headers
                assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert "alpha城关镇东街社区人大代表联络站" in html_of(hit, body)
    assert not visitor.cookies


async def test_each_encoding_has_its_own_strong_validator(visitor, alpha):
    tags = {accept: (await cached(visitor, pages(alpha)[1], **{"Accept-Encoding": accept}))[0].headers["etag"]
            for accept in ENCODINGS}
    assert len(set(tags.values())) == 3
    assert all(re.fullmatch(r'"[0-9a-f]{32}(-br|-gz)?"', tag) for tag in tags.values())


async def test_if_none_match_answers_304_without_a_body(visitor, alpha):
    for path in pages(alpha):
        r, _ = await cached(visitor, path)
        tag = r.headers["etag"]
        for sent in (tag, f"W/{tag}", f'"other", {tag}'):
            again, body = await fetch(visitor, path, **{"If-None-Match": sent})
            assert again.status_code == 304, (path, sent)
            assert body == b"" and queries(again) == 0
            assert again.headers["etag"] == tag and again.headers["cache-control"].startswith("public, max-age=")
            assert "set-cookie" not in again.headers
        other, body = await fetch(visitor, path, **{"If-None-Match": '"0123"'})
        assert other.status_code == 200 and body


# --- languages ----------------------------------------------------------------------------------------

async def test_languages_are_never_mixed(visitor, alpha):
    station = pages(alpha)[1]
    zh, zh_body = await cached(visitor, station)
    assert '<html lang="zh-Hans">' in html_of(zh, zh_body)
    visitor.cookies.set("lang", "en")
    r, body = await fetch(visitor, station)
    assert '<html lang="en">' in html_of(r, body) and "Deputies at this station" in html_of(r, body)
    hit, body = await cached(visitor, station)
    assert '<html lang="en">' in html_of(hit, body) and hit.headers["etag"] != zh.headers["etag"]
    for cookie in ("zh_Hans", "klingon"):  # the default language and a cookie nobody set: the Chinese page
        visitor.cookies.set("lang", cookie)
        r, body = await fetch(visitor, station)
        assert queries(r) == 0 and body == zh_body, cookie
    visitor.cookies.clear()
    again, body = await fetch(visitor, station)
    assert queries(again) == 0 and '<html lang="zh-Hans">' in html_of(again, body) and body == zh_body


# --- changes ------------------------------------------------------------------------------------------

async def staff_post(client, path: str, data: dict):
    page = await client.get("/t/alpha/stations")
    token = csrf_from(page.text)
    return await client.post(f"/t/alpha{path}", data={"_csrf_token": token, **data},
                             headers={"x-csrftoken": token}, follow_redirects=False)


async def test_a_change_by_staff_shows_on_the_next_request(client, database, alpha):
    """Staff change the station (signed in: the public pages are the same for them as for anyone)."""
    visitor = client
    index, station, poster = pages(alpha)
    for path in pages(alpha):
        await cached(visitor, path)
    admin = await make_user(database, "admin")
    await add_member(database, alpha.tenant, admin)
    assert (await login(client, "admin")).status_code == 303
    sid = alpha.stations["active"].id
    r = await staff_post(client, f"/stations/{sid}/profile", {
        "address": "城关镇东街20号", "contact_name": "李联络", "contact_phone": "0816-1234567",
        "opening_hours": "工作日 9:00–17:00", "reception_rule": "每月15日、每月第一个星期五", "intro": "新的介绍。",
        "holiday_reception": "moved"})
    assert r.status_code == 303, r.text[:300]
    for path in (station, poster):
        r, body = await fetch(visitor, path)
        assert queries(r) > 0, path
        assert "城关镇东街20号" in html_of(r, body) and "城关镇东街18号" not in html_of(r, body)
    # a goal shows on its station's page only: the county's list stays cached
    await cached(visitor, index)
    r = await staff_post(client, f"/stations/{sid}/goals", {"year": str(THIS_YEAR), "goal": "走访选民一百户"})
    assert r.status_code == 303, r.text[:300]
    r, body = await fetch(visitor, station)
    assert queries(r) > 0 and "走访选民一百户" in html_of(r, body)
    assert queries((await fetch(visitor, index))[0]) == 0


async def test_a_core_statement_and_a_rollback(visitor, database, alpha):
    station = pages(alpha)[1]
    await cached(visitor, station)
    with pytest.raises(RuntimeError):  # rolled back: nothing changed, nothing invalidated
        async with database.transaction(tenant_id=alpha.tenant.id) as db:
            await db.execute(update(StationDeputy).where(StationDeputy.deputy_id == alpha.deputies["zhang"].id)
                             .values(ended_at=StationDeputy.assigned_at))
            raise RuntimeError("changed my mind")
    r, body = await fetch(visitor, station)
    assert queries(r) == 0 and "张代表" in html_of(r, body)
    async with database.transaction(tenant_id=alpha.tenant.id) as db:
        await db.execute(update(StationDeputy).where(StationDeputy.deputy_id == alpha.deputies["zhang"].id)
                         .values(ended_at=StationDeputy.assigned_at))
    r, body = await fetch(visitor, station)
    assert queries(r) > 0 and "张代表" not in html_of(r, body)


async def test_the_generations_each_write_bumps(database, alpha, beta, redis, ns):
    t, other = alpha.tenant.id, beta.tenant.id
    sid = alpha.stations["active"].id

    async def gens() -> dict:
        keys = [page_cache.global_key(ns), page_cache.tenant_key(ns, t), page_cache.station_key(ns, t, sid),
                page_cache.tenant_key(ns, other)]
        return dict(zip(("G", "tenant", "station", "other"), [int(v or 0) for v in await redis.mget(keys)]))

    async def bumped(write) -> set[str]:
        before = await gens()
        await write()
        after = await gens()
        return {k for k in before if after[k] != before[k]}

    async def goal():  # a row on one station's page: that station only
        async with database.transaction(tenant_id=t) as db:
            db.add(StationGoal(tenant_id=t, station_id=sid, year=THIS_YEAR, goal="新目标"))

    async def core_update():  # a statement: the whole county
        async with database.transaction(tenant_id=t) as db:
            await db.execute(update(Station).where(Station.id == sid).values(opening_hours="全天"))

    async def plain_sql():
        async with database.transaction(tenant_id=t) as db:
            await db.execute(text("DELETE FROM station_goals WHERE goal = '新目标'"))

    async def unrelated():  # what no public page shows
        async with database.transaction(tenant_id=t) as db:
            await db.execute(text("SELECT count(*) FROM stations"))
            await db.execute(text("DELETE FROM case_lookup_misses WHERE false"))

    async def calendar():  # the operator's working calendar: every county
        async with database.transaction() as db:
            db.add(CalendarDay(day=date(2031, 10, 8), kind="holiday", name="国庆节"))

    assert await bumped(goal) == {"station"}
    assert await bumped(core_update) == {"tenant"}
    assert await bumped(plain_sql) == {"tenant"}
    assert await bumped(unrelated) == set()
    assert await bumped(calendar) == {"G"}


async def test_suspending_the_county_stops_its_pages_at_once(visitor, database, alpha):
    for path in pages(alpha):
        await cached(visitor, path)
    operator = await make_user(database, "ops", operator=True)
    async with database.session() as db:
        await set_tenant_status(db, alpha.tenant.id, "suspended", actor=operator, reason="测试", client_addr=None)
    unknown, unknown_body = await fetch(visitor, "/p/no-such-county/")
    for path in pages(alpha):
        r, body = await fetch(visitor, path)
        assert r.status_code == 404, path
        assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
        assert "alpha城关镇" not in html_of(r, body)
    async with database.session() as db:
        await set_tenant_status(db, alpha.tenant.id, "active", actor=operator, reason="恢复", client_addr=None)
    assert (await fetch(visitor, pages(alpha)[0]))[0].status_code == 200


async def test_the_pages_read_only_watched_tables(app, visitor, database, owner_sql, alpha, redis, ns):
    """Every table a public page reads (with a published yearly plan and either appraisal board) is one
    whose committed changes invalidate it."""
    t, sid = alpha.tenant.id, alpha.stations["active"].id
    async with database.transaction(tenant_id=t) as db:
        kind = ActivityKind(tenant_id=t, code="reception", name="接待选民")
        plan = ActivityPlan(tenant_id=t, station_id=sid, year=THIS_YEAR, status="published",
                            published_at=datetime.now(timezone.utc))
        db.add_all([kind, plan])
        await db.flush()
        at = datetime(THIS_YEAR, 12, 31, 1, tzinfo=timezone.utc)
        entry = Activity(tenant_id=t, kind_id=kind.id, station_id=sid, plan_id=plan.id, starts_at=at,
                         ends_at=at + timedelta(hours=2), topic="接待选民", place="社区")
        db.add(entry)
        await db.flush()
        db.add(ActivityEvent(tenant_id=t, activity_id=entry.id, action="cancelled", plan_change=True))
    read: set[str] = set()

    def seen(conn, cursor, statement, parameters, context, executemany):
        read.update(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)\b(?!\s*\()", statement))

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for board in ("grades", "points"):
            await owner_sql("INSERT INTO tenant_config (tenant_id, public_board) VALUES ($1, $2) "
                            "ON CONFLICT (tenant_id) DO UPDATE SET public_board = $2", t, board)
            await redis.incr(page_cache.tenant_key(ns, t))  # the owner's write is not seen: invalidate by hand
            for path in pages(alpha):
                r, body = await fetch(visitor, path)
                assert queries(r) > 0 and r.status_code == 200
            assert 'id="yearly-plan"' in html_of(*(await fetch(visitor, pages(alpha)[1])))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert {"tenants", "stations", "deputies", "activities", "appraisal_results", "tenant_config"} <= read
    assert read - invalidation.WATCHED - invalidation.UNCHANGING_TABLES == set()


# --- time and trouble ---------------------------------------------------------------------------------

async def test_a_page_of_a_day_that_has_ended_is_not_kept(visitor, alpha, monkeypatch, redis, ns):
    """"Today" on a page is the county's: an entry never outlives the county's midnight."""
    index = pages(alpha)[0]
    await cached(visitor, index)
    keys = [k async for k in redis.scan_iter(f"{ns}b:{alpha.tenant.id}:*")]
    assert keys
    for key in keys:
        assert 0 < await redis.pttl(key) <= page_cache.TTL_SECONDS * 1000
    until = int(await redis.hget(keys[0], "until"))
    midnight = page_cache.day_end(routes._today(alpha.tenant), page_cache.ZoneInfo("Asia/Shanghai"))
    assert until == midnight and datetime.fromtimestamp(midnight, timezone.utc).hour == 16  # 00:00 in Beijing

    yesterday = routes._today(alpha.tenant) - timedelta(days=1)
    monkeypatch.setattr(routes, "_today", lambda tenant: yesterday)
    await redis.incr(page_cache.tenant_key(ns, alpha.tenant.id))  # as a change would
    for _ in range(3):
        r, _ = await fetch(visitor, index)
        assert queries(r) > 0 and r.headers["cache-control"] == "public, max-age=0"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_without_redis_the_pages_are_rendered_from_the_database(settings, alpha):
    from app.main import create_app

    app = create_app(replace(settings, redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        for _ in range(3):
            for path in pages(alpha):
                r, body = await fetch(c, path)
                assert r.status_code == 200 and queries(r) > 0
                assert "alpha城关镇东街社区人大代表联络站" in html_of(r, body)
