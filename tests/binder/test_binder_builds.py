"""The whole binder of every station in reach, built by the worker: asked for from the binder's page
(a form, not a link), its progress in parts on a page that polls itself, the workbook (contents sheet
first) to download while it is kept, audited; asking again while it waits or runs finds the same
build; it is read as the member who asked (their township only; a role changed since fails it with
the reason); only they see it; a bad year or a station out of reach queues nothing."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from arq import create_pool
from arq.jobs import Job, JobStatus
from openpyxl import load_workbook
from sqlalchemy import select

from app.accounts.models import Membership

from app.binder import book, builds
from app.core.clock import now as clock_now
from app.core.redis import arq_settings
from app.tenancy.scope import scope_of
from tests.activities.world import EAST
from tests.binder.binder_world import HEBA, YEAR, build_binder_world
from tests.data.test_county_data_export import run_worker
from tests.deputies.deputy_world import count, post, signed_in

NO_REDIS = "redis://127.0.0.1:1/0"
CONTENTS = "Table of contents"


@pytest.fixture(autouse=True)
async def empty_queue(settings):
    """Job ids repeat between tests (the tables restart their identities): start from an empty queue."""
    redis = await create_pool(arq_settings(settings.redis_url))
    await redis.flushdb()
    await redis.aclose()


@pytest.fixture
async def world(database):
    return await build_binder_world(database)


async def ask(client, station="", year=YEAR):
    return await post(client, f"{client.base}/binder/builds", {"station": station, "year": str(year)})


def build_id(r) -> int:
    assert r.status_code == 303, r.text[:300]
    return int(r.headers["location"].rsplit("/", 1)[1])


def values(body: bytes) -> set:
    workbook = load_workbook(BytesIO(body))
    return {v for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for v in row}


async def test_a_county_binder_is_built_by_the_worker_with_its_progress(app, world, settings, owner_sql,
                                                                       monkeypatch):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        index = await client.get(f"{client.base}/binder?year={YEAR}")
        assert f'<form method="post" action="{client.base}/binder/builds"' in index.text
        assert "Build the binder (Excel)" in index.text and "/binder/book.xlsx?" not in index.text
        one = await client.get(f"{client.base}/binder?station={ac.stations[EAST]}&year={YEAR}")
        assert "/binder/book.xlsx?" in one.text and "/binder/builds" not in one.text  # one station: at once
        r = await ask(client)
        n = build_id(r)
        page = f"{client.base}/binder/builds/{n}"
        assert r.headers["location"] == page
        pool = await create_pool(arq_settings(settings.redis_url))  # enqueued once the request committed
        assert await Job(f"run_binder_build:{ac.county.tenant.id}:{n}", pool).status() == JobStatus.queued
        await pool.aclose()
        waiting = await client.get(page)
        assert waiting.status_code == 200 and "Waiting to be prepared" in waiting.text
        assert f'hx-get="{page}/progress" hx-trigger="every 3s"' in waiting.text
        assert f"Binder of {ac.county.tenant.name}, {YEAR}" in waiting.text
        early = await client.get(f"{page}/download")
        assert early.status_code == 409 and "This binder is not ready to download." in early.text
        parts = len(book.PARTS)
        await owner_sql("UPDATE binder_builds SET status = 'running', parts_done = 3, parts_total = $1", parts)
        running = await client.get(f"{page}/progress")
        assert f"3 of {parts} parts done" in running.text and "every 3s" in running.text
        await owner_sql("UPDATE binder_builds SET status = 'queued', parts_done = 0, parts_total = 0")

        await run_worker(settings, monkeypatch)

        ready = await client.get(f"{page}/progress")
        assert "every 3s" not in ready.text and f'href="{page}/download"' in ready.text
        got = await client.get(f"{page}/download")
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    workbook = load_workbook(BytesIO(got.content))
    assert workbook.sheetnames[0] == CONTENTS and len(workbook.sheetnames) > 1
    contents = list(workbook[CONTENTS].iter_rows(values_only=True))
    assert contents[0] == (f"Binder of {ac.county.tenant.name}, {YEAR}", "Lines")
    assert [row[0] for row in contents[1:]] == workbook.sheetnames[1:]
    found = values(got.content)
    assert {"道路调研", "河坝调研", "村口路灯坏了，晚上看不见路"} <= found  # every station: both townships
    [row] = await owner_sql("SELECT status, parts_done, parts_total, data IS NOT NULL AS kept FROM binder_builds")
    assert tuple(row) == ("done", parts, parts, True)
    logged = await owner_sql("SELECT action, target, details->>'build' AS build FROM audit_log "
                             "WHERE action LIKE 'binder_%' ORDER BY id")
    assert [tuple(r) for r in logged] == [("binder_build_requested", f"binder_build:{n}", None),
                                          ("binder_exported", "binder:book", str(n))]


async def test_the_progress_is_saved_after_each_part(world, database, owner_sql, monkeypatch):
    ac = world.ac
    seen = []

    def watched(part):
        async def read(binding):
            seen.append((await owner_sql("SELECT parts_done, parts_total FROM binder_builds"))[0])
            return await part(binding)
        return read
    monkeypatch.setattr(book, "PARTS", [watched(part) for part in book.PARTS])
    t, scope = ac.county.tenant.id, await _scope(database, ac, "admin")
    async with database.transaction(tenant_id=t) as db:
        build, new = await builds.request_build(db, scope, tenant_id=t, station="", year=str(YEAR), today=None)
    assert new and await builds.run_build(database, t, build.id) == "done"
    total = len(book.PARTS)
    assert [tuple(r) for r in seen] == [(done, total) for done in range(total)]
    assert await builds.run_build(database, t, build.id) == "skipped"  # a job run twice builds once


async def test_asking_again_while_it_waits_or_runs_finds_the_same_build(app, world, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        first = build_id(await ask(client))
        assert build_id(await ask(client)) == first
        await owner_sql("UPDATE binder_builds SET status = 'running', started_at = now()")
        assert build_id(await ask(client)) == first
        other_year = build_id(await ask(client, year=YEAR - 1))  # another binder: its own build
        await owner_sql("UPDATE binder_builds SET status = 'done' WHERE id = $1", first)
        again = build_id(await ask(client))  # a finished one is not reused: the records may have changed
    async with signed_in(app, ac.county, "viewer") as client:
        theirs = build_id(await ask(client))  # another member's binder is theirs alone
    assert len({first, other_year, again, theirs}) == 4
    assert await count(owner_sql, "binder_builds") == 4
    assert await count(owner_sql, "audit_log", "action = 'binder_build_requested'") == 4


async def test_a_township_users_build_holds_only_their_township(app, world, database, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "town") as client:
        assert (await ask(client, station=ac.stations[HEBA])).status_code == 404  # out of reach
        n = build_id(await ask(client))
        assert await builds.run_build(database, ac.county.tenant.id, n) == "done"
        got = await client.get(f"{client.base}/binder/builds/{n}/download")
    assert got.status_code == 200
    found = values(got.content)
    assert "道路调研" in found and "张伟" in found
    for other in ("河坝调研", HEBA):
        assert other not in found
    assert await count(owner_sql, "binder_builds") == 1


async def test_a_build_is_read_as_its_member_now(app, world, database, owner_sql):
    """A role changed after asking fails the build with the reason; so does a membership revoked."""
    ac = world.ac
    t = ac.county.tenant.id
    async with signed_in(app, ac.county, "town") as client:
        n = build_id(await ask(client))
        await owner_sql("UPDATE memberships SET role = 'station_staff' WHERE user_id = $1", ac.county.users["town"].id)
        assert await builds.run_build(database, t, n) == "failed"
        shown = await client.get(f"{client.base}/binder/builds/{n}")
    assert "Could not be prepared" in shown.text
    assert "Your role changed after you asked for this binder: it was not prepared. Please ask again." in shown.text
    async with signed_in(app, ac.county, "viewer") as client:
        m = build_id(await ask(client))
    await owner_sql("UPDATE memberships SET revoked_at = now() WHERE user_id = $1", ac.county.users["viewer"].id)
    assert await builds.run_build(database, t, m) == "failed"
    [row] = await owner_sql("SELECT error, data FROM binder_builds WHERE id = $1", m)
    assert tuple(row) == ("removed", None)


async def test_only_the_member_who_asked_sees_the_build(app, world, database):
    ac = world.ac
    beta = await build_binder_world(database, "beta")
    async with signed_in(app, ac.county, "admin") as client:
        n = build_id(await ask(client))
    assert await builds.run_build(database, ac.county.tenant.id, n) == "done"
    paths = ("", "/progress", "/download")
    for username in ("viewer", "town", "rep", "handler"):
        async with signed_in(app, ac.county, username) as client:
            for path in paths:
                r = await client.get(f"{client.base}/binder/builds/{n}{path}")
                assert r.status_code == 404, (username, path)
    async with signed_in(app, ac.county, "rep") as client:  # a deputy has no binder to ask for
        assert (await ask(client)).status_code == 404
    async with signed_in(app, beta.ac.county, "admin") as client:  # another county's id: the same 404
        for path in paths:
            assert (await client.get(f"{client.base}/binder/builds/{n}{path}")).status_code == 404


async def test_a_bad_year_is_refused_with_its_message_and_queues_nothing(app, world, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        r = await ask(client, year="20x6")
        assert r.status_code == 303
        shown = await client.get(r.headers["location"])
    assert shown.status_code == 400
    assert "Please give the year as four digits, from 2000 to 2100." in shown.text
    assert await count(owner_sql, "binder_builds") == 0
    assert await count(owner_sql, "audit_log", "action = 'binder_build_requested'") == 0


async def test_builds_redis_lost_are_swept_and_old_ones_purged(world, database, settings, owner_sql):
    ac = world.ac
    t, scope = ac.county.tenant.id, await _scope(database, ac, "admin")
    async with database.transaction(tenant_id=t) as db:
        build, _ = await builds.request_build(db, scope, tenant_id=t, station="", year=str(YEAR), today=None)
    assert await builds.enqueue(NO_REDIS, t, build.id) is False  # Redis away: it stays queued
    assert await builds.sweep(database, NO_REDIS) == 0
    assert await builds.sweep(database, settings.redis_url) == 1
    assert await builds.run_build(database, t, build.id) == "done"
    assert await builds.sweep(database, settings.redis_url) == 0
    at = clock_now()
    assert await builds.purge_expired(database, now=at + builds.KEPT + timedelta(minutes=1)) == 1
    assert (await owner_sql("SELECT data FROM binder_builds"))[0]["data"] is None
    assert await builds.purge_expired(database, now=at + builds.FORGOTTEN + timedelta(minutes=1)) == 1
    assert await count(owner_sql, "binder_builds") == 0


async def _scope(database, ac, username: str):
    async with database.session(tenant_id=ac.county.tenant.id) as db:
        membership = await db.scalar(select(Membership).where(Membership.user_id == ac.county.users[username].id))
        return await scope_of(db, membership)
