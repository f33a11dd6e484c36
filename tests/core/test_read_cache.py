"""Signed-in pages read from the read cache (app.core.read_cache, issue 20): a repeat view runs only the
sign-in's statements, yet a change committed anywhere — an ORM row, a Core statement, a route — shows on
the next view; a rolled-back change and the bookkeeping a page view writes keep the cache; each member
keeps their own reads, each language its own; sign-in, membership and suspension are never cached; and
with Redis away the database answers."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.engine import make_url

from app.audit.models import AuditEntry
from app.cases.models import Case
from app.core import read_cache
from app.core.i18n import current_locale, gettext
from app.notify.models import Outbox
from app.platform.services import set_tenant_status
from tests.cases.world import build_case_county, put_case
from tests.factories import csrf_from, make_user
from tests.deputies.deputy_world import signed_in
from tests.home.work_world import HEBA, values

SIGN_IN_ONLY = 3  # the session with its user, the membership, the header's message counts


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def view(client, path: str = "/"):
    r = await client.get(f"{client.base}{path}")
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return r.text, int(r.headers["x-query-count"])


async def data_generation(settings, tenant_id: int) -> int:
    redis = Redis.from_url(settings.redis_url)
    try:
        ns = read_cache.namespace(make_url(settings.app_database_url).database)
        return int(await redis.get(read_cache.tenant_data_key(ns, tenant_id)) or 0)
    finally:
        await redis.aclose()


async def test_a_repeat_view_reads_nothing_and_a_change_shows_at_once(app, database, cc):
    await put_case(database, cc, content="待交办", level="county")
    async with signed_in(app, cc.county, "admin") as client:
        first, first_queries = await view(client)
        again, queries = await view(client)
        assert values(again) == values(first) and values(first)["county-to-assign"] == "1"
        assert queries <= SIGN_IN_ONLY < first_queries

        await put_case(database, cc, content="又一件", level="county")  # an ORM row, another transaction
        assert values((await view(client))[0])["county-to-assign"] == "2"

        async with database.transaction(tenant_id=cc.tenant.id) as db:  # a Core statement
            await db.execute(update(Case).where(Case.content == "又一件").values(level="township"))
        assert values((await view(client))[0])["county-to-assign"] == "1"

        with pytest.raises(RuntimeError):  # a change rolled back keeps what was kept
            async with database.transaction(tenant_id=cc.tenant.id) as db:
                await db.execute(update(Case).values(level="county"))
                raise RuntimeError("rolled back")
        text, queries = await view(client)
        assert values(text)["county-to-assign"] == "1" and queries <= SIGN_IN_ONLY


async def test_bookkeeping_writes_keep_the_cache_and_data_writes_bump_it(app, database, settings, cc):
    before = await data_generation(settings, cc.tenant.id)
    async with database.transaction(tenant_id=cc.tenant.id) as db:  # a view of personal data, logged
        db.add(AuditEntry(tenant_id=cc.tenant.id, action="case.mobile_viewed", target="case:1"))
    assert await data_generation(settings, cc.tenant.id) == before
    async with database.transaction(tenant_id=cc.tenant.id) as db:  # the worker sending messages
        await db.execute(update(Outbox).where(Outbox.status == "pending").values(attempts=Outbox.attempts + 1))
    assert await data_generation(settings, cc.tenant.id) == before
    await put_case(database, cc, content="新的")
    assert await data_generation(settings, cc.tenant.id) == before + 1


async def test_each_member_keeps_their_own_reads_in_their_own_language(app, database, cc):
    await put_case(database, cc, content="城关镇的")
    await put_case(database, cc, content="河坝的", station=HEBA)
    for who in ("town", "heba", "town", "heba"):  # one client at a time: one event loop for the pool
        async with signed_in(app, cc.county, who) as client:
            for _ in range(2):
                assert values((await view(client))[0])["to-assign"] == "1", who
    async with signed_in(app, cc.county, "town") as town:
        listed, _ = await view(town, "/cases")
        assert "城关镇的" in listed and "河坝的" not in listed
    async with signed_in(app, cc.county, "heba") as heba:
        listed, _ = await view(heba, "/cases")
        assert "河坝的" in listed and "城关镇的" not in listed


async def test_a_kept_value_is_in_the_language_it_was_read_in(app, cc):
    cache = read_cache.read_cache(app)
    computed = []

    async def words():
        computed.append(current_locale.get())
        return gettext("Whole county")

    for locale, expected in (("en", "Whole county"), ("zh_Hans", "全县"), ("en", "Whole county"), ("zh_Hans", "全县")):
        token = current_locale.set(locale)
        try:
            assert await cache.remember(cc.tenant.id, "words", words) == expected
        finally:
            current_locale.reset(token)
    assert computed == ["en", "zh_Hans"]  # read once per language


async def test_a_suspended_county_or_a_signed_out_session_stops_at_once(app, database, cc):
    async with signed_in(app, cc.county, "viewer") as client:
        await view(client)
        await view(client)  # kept
        assert (await client.post("/logout", data={"_csrf_token": csrf_from((await view(client))[0])},
                                  follow_redirects=False)).status_code == 303
        r = await client.get(f"{client.base}/", follow_redirects=False)
        assert r.status_code == 303 and "/login" in r.headers["location"]
    async with signed_in(app, cc.county, "admin") as client:
        await view(client)
        await view(client)  # kept
        operator = await make_user(database, "ops", operator=True)
        async with database.session() as db:
            await set_tenant_status(db, cc.tenant.id, "suspended", actor=operator, reason="测试", client_addr=None)
        r = await client.get(f"{client.base}/", follow_redirects=False)
        assert r.status_code != 200 and "county-to-assign" not in r.text


async def test_with_redis_away_the_database_answers(app, database, cc):
    await put_case(database, cc, content="待交办", level="county")
    cache = read_cache.read_cache(app)
    real_url, cache.redis_url = cache.redis_url, "redis://127.0.0.1:1/0"
    cache._client = None
    try:
        async with signed_in(app, cc.county, "admin") as client:
            text, queries = await view(client)
            assert values(text)["county-to-assign"] == "1" and queries > SIGN_IN_ONLY
    finally:
        cache.redis_url, cache._client, cache._paused_until = real_url, None, 0.0


async def test_a_kept_case_page_carries_this_browsers_token_and_its_forms_work(app, database, cc):
    case = await put_case(database, cc, content="路灯不亮")
    for answer in ("已现场答复：明天修", None):  # two browsers of the same member, one after the other
        async with signed_in(app, cc.county, "station") as client:
            first, _ = await view(client, f"/cases/{case.id}")
            page, queries = await view(client, f"/cases/{case.id}")  # its content kept
            assert queries <= SIGN_IN_ONLY
            for shown in (first, page):  # the case's name, in the tab's title and as the page's heading
                name = re.search(r"<h1>([^<]+)</h1>", shown).group(1)
                assert name.startswith("Case ") and f"<title>{name} · " in shown
            header = re.search(r'"x-csrftoken": "([^"]+)"', page).group(1)
            assert set(re.findall(r'name="_csrf_token" value="([^"]+)"', page)) == {header}
            if answer:
                r = await client.post(f"{client.base}/cases/{case.id}/steps/answer_on_spot",
                                      data={"_csrf_token": header, "answer": answer}, follow_redirects=False)
                assert r.status_code == 303, r.text[:500]
                assert answer in (await view(client, f"/cases/{case.id}?done=step"))[0]


async def test_a_value_past_its_minute_is_read_again_once_while_the_others_get_it_meanwhile(app, cc, monkeypatch):
    """The data unchanged and only the clock moved: the first request reads again, the ones that come
    meanwhile are answered at once from the older value, and after that everyone gets the new one."""
    cache = read_cache.read_cache(app)
    figures = iter([1, 2, 3])

    async def read():
        await asyncio.sleep(0.05)
        return next(figures)

    assert await cache.remember(cc.tenant.id, "clock", read) == 1
    assert await cache.remember(cc.tenant.id, "clock", read) == 1  # kept
    later = time.time() + read_cache.TTL_SECONDS + 1
    monkeypatch.setattr(read_cache, "wall_clock", lambda: later)
    first = asyncio.create_task(cache.remember(cc.tenant.id, "clock", read))
    await asyncio.sleep(0.01)  # the first request is reading
    meanwhile = await asyncio.gather(*(cache.remember(cc.tenant.id, "clock", read) for _ in range(4)))
    assert meanwhile == [1] * 4 and not first.done()
    assert await first == 2
    assert await cache.remember(cc.tenant.id, "clock", read) == 2  # read once: 3 was never asked for


async def test_requests_missing_the_same_value_at_once_read_it_once(app, cc):
    cache = read_cache.read_cache(app)
    computed = []

    async def slow():
        computed.append(1)
        await asyncio.sleep(0.05)
        return {"figure": 7}

    async def failing():
        raise RuntimeError("the database went away")

    values_read = await asyncio.gather(*(cache.remember(cc.tenant.id, "busy", slow) for _ in range(6)))
    assert values_read == [{"figure": 7}] * 6 and len(computed) == 1
    with pytest.raises(RuntimeError):  # a failed read is not kept: the next request reads again
        await cache.remember(cc.tenant.id, "broken", failing)
    assert await cache.remember(cc.tenant.id, "broken", slow) == {"figure": 7}
