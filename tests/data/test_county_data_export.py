"""A county's data, out (PIPL): a county admin's export of every record (a ZIP of one spreadsheet per
kind of record, the photos and the configuration preset), built by the worker with progress, kept
until it expires, downloaded only by the county's admins, every download audited; and the same for
the operator at the county's written request, downloaded once."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from arq import create_pool
from arq.worker import Worker
from openpyxl import load_workbook
from PIL import Image as PILImage
from sqlalchemy import select

from app.activities.models import Activity, ActivityKind, ActivityPhoto, Attendance, Invitation
from app.cases.models import Case, CaseEvent
from app.core.images import store_image
from app.core.redis import arq_settings
from app.data import building, exports, titles
from app.deputies.models import Deputy, Mandate, RosterEntry, StationDeputy
from app.jobs.worker import worker_settings
from app.stations.models import Station, StationKind
from app.tenancy.models import AdminNode
from tests.factories import add_member, csrf_from, login, make_tenant, make_user
from tests.platform.conftest import enrolled_operator, sign_in_operator

NODES = [("城关镇", "township"), ("城关镇/东街社区", "community")]
COLUMN_IN_HEADER = re.compile(r"^\S+（([a-z0-9_]+)）$")  # 姓名（name）, 原图大小（字节）（original_bytes）
SIGNIN_TOKEN = "secret-signin-token-0123456789"


@pytest.fixture(autouse=True)
async def empty_queue(settings):
    """Job ids repeat between tests (the tables restart their identities): start from an empty queue."""
    redis = await create_pool(arq_settings(settings.redis_url))
    await redis.flushdb()
    await redis.aclose()


async def run_worker(settings, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATABASE_APP_URL", settings.app_database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    options = worker_settings()
    options.pop("cron_jobs")
    worker = Worker(**options, burst=True, poll_delay=0.05, keep_result=0)
    await worker.main()
    await worker.close()


def png() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def small_world(database, slug: str) -> dict:
    """A county with an admin and a viewer, a station with a photo, a deputy (mandate, stationing,
    mobile, a constituent), a held activity he attended, and a case from the public with its step."""
    tenant = await make_tenant(database, slug, nodes=NODES)
    admin, viewer = await make_user(database, f"{slug}-admin"), await make_user(database, f"{slug}-viewer")
    await add_member(database, tenant, admin, "county_admin")
    await add_member(database, tenant, viewer, "viewer")
    t = tenant.id
    async with database.transaction(tenant_id=t) as db:
        node = await db.scalar(select(AdminNode.id).where(AdminNode.name == "东街社区"))
        photo = await store_image(db, t, png())
        kind = StationKind(tenant_id=t, code="station", name="代表联络站", node_kinds=["community"])
        akind = ActivityKind(tenant_id=t, code="visit", name="接待选民")
        db.add_all([kind, akind])
        await db.flush()
        station = Station(tenant_id=t, kind_id=kind.id, node_id=node, name=f"{slug}东街代表联络站", status="active",
                          photo_id=photo.id)
        deputy = Deputy(tenant_id=t, name=f"{slug}张代表", mobile="13912345678")
        db.add_all([station, deputy])
        await db.flush()
        starts = datetime(2025, 3, 5, 1, 0, tzinfo=timezone.utc)
        activity = Activity(tenant_id=t, kind_id=akind.id, station_id=station.id, starts_at=starts,
                            ends_at=starts + timedelta(hours=2), topic=f"{slug}三月接待日", status="held")
        case = Case(tenant_id=t, receipt_code="ABCDEFGHJK", source="online", person_name="李群众",
                    person_mobile="13787654321", content=f"{slug}路灯坏了", node_id=node, station_id=station.id)
        db.add_all([activity, case, Mandate(tenant_id=t, deputy_id=deputy.id, level="county", term=18, direct=True),
                    StationDeputy(tenant_id=t, station_id=station.id, deputy_id=deputy.id),
                    RosterEntry(tenant_id=t, deputy_id=deputy.id, name="王选民", age=50, education="高中",
                                address="东街幸福路12号", work_unit="", mobile="13611112222", note="")])
        await db.flush()
        db.add(Invitation(tenant_id=t, activity_id=activity.id, deputy_id=deputy.id, token=SIGNIN_TOKEN))
        await db.flush()
        db.add_all([Attendance(tenant_id=t, activity_id=activity.id, deputy_id=deputy.id, method="link"),
                    CaseEvent(tenant_id=t, case_id=case.id, action="register", to_state="registered",
                              note="已登记")])
    return {"tenant": tenant, "admin": admin, "viewer": viewer, "photo": photo.id, "slug": slug}


def header_row(book: zipfile.ZipFile, table: str) -> list[str]:
    return list(_rows(book, table)[0])


def _rows(book: zipfile.ZipFile, table: str) -> list[tuple]:
    name = next(n for n in book.namelist() if n.startswith(f"{table}-") and n.endswith(".xlsx"))
    return list(load_workbook(io.BytesIO(book.read(name)), read_only=True).active.iter_rows(values_only=True))


def sheet(book: zipfile.ZipFile, table: str) -> list[dict]:
    """The sheet's rows keyed by column name (read from the `中文（column）` headers)."""
    rows = _rows(book, table)
    head = [COLUMN_IN_HEADER.match(h).group(1) for h in rows[0]]
    return [dict(zip(head, row)) for row in rows[1:]]


def assert_holds_the_county(body: bytes, w: dict) -> None:
    book = zipfile.ZipFile(io.BytesIO(body))
    slug = w["slug"]
    [deputy] = sheet(book, "deputies")
    assert deputy["name"] == f"{slug}张代表" and deputy["mobile"] == "13912345678"  # in full
    assert sheet(book, "deputy_mandates")[0]["deputy_id"] == deputy["id"]
    assert sheet(book, "station_deputies")[0]["deputy_id"] == deputy["id"]
    assert [s["name"] for s in sheet(book, "stations")] == [f"{slug}东街代表联络站"]
    assert [a["topic"] for a in sheet(book, "activities")] == [f"{slug}三月接待日"]
    assert sheet(book, "attendances")[0]["deputy_id"] == deputy["id"]
    [case] = sheet(book, "cases")
    assert case["content"] == f"{slug}路灯坏了" and case["person_mobile"] == "13787654321"
    assert sheet(book, "case_events")[0]["note"] == "已登记"
    assert sheet(book, "roster_entries")[0]["address"] == "东街幸福路12号"
    assert {u["username"] for u in sheet(book, "users")} == {f"{slug}-admin", f"{slug}-viewer"}
    assert "password_hash" not in sheet(book, "users")[0]
    assert {n.split("/")[0] for n in book.namelist() if "/" in n} == {"photos"}
    assert len([n for n in book.namelist() if n.startswith("photos/")]) == 1
    assert book.read(f"photos/{w['photo']}.webp")[:4] == b"RIFF"
    assert f"{slug}县" in book.read("preset.toml").decode()
    # a sign-in link's secret opens something: never exported
    assert "token" not in sheet(book, "activity_invitations")[0]
    assert SIGNIN_TOKEN.encode() not in body


async def test_county_admin_exports_everything_through_the_worker(client, database, settings, owner_sql, monkeypatch):
    w = await small_world(database, "alpha")
    await small_world(database, "beta")  # another county's records stay out
    await login(client, "alpha-admin")
    base = "/t/alpha/settings/data"
    home = await client.get(base)
    assert home.status_code == 200 and "全部数据" in home.text
    r = await client.post(base, data={"_csrf_token": csrf_from(home.text)}, follow_redirects=False)
    assert r.status_code == 303
    export_page = r.headers["location"]
    waiting = await client.get(f"{export_page}/progress")
    assert 'hx-trigger="every 2s"' in waiting.text  # polls while it waits
    assert (await client.get(f"{export_page}/download")).status_code == 409  # nothing to download yet

    await run_worker(settings, monkeypatch)

    ready = await client.get(export_page)
    assert "every 2s" not in ready.text and f"{export_page}/download" in ready.text
    got = await client.get(f"{export_page}/download")
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert "filename*=UTF-8''" in got.headers["content-disposition"]
    assert_holds_the_county(got.content, w)
    assert "beta张代表".encode() not in got.content
    await client.get(f"{export_page}/download")
    actions = [r["action"] for r in await owner_sql(
        "SELECT action FROM audit_log WHERE tenant_id = $1 ORDER BY id", w["tenant"].id)]
    assert actions.count("county_data_downloaded") == 2  # every download
    assert "county_data_export_requested" in actions and "county_data_exported" in actions


async def test_only_the_county_admins_get_it(client, database, settings):
    alpha = await small_world(database, "alpha")
    beta = await small_world(database, "beta")
    async with database.transaction(tenant_id=alpha["tenant"].id) as db:
        export = await exports.request_export(db, tenant_id=alpha["tenant"].id, actor_id=alpha["admin"].id)
    assert await exports.run_export(database, alpha["tenant"].id, export.id) == "done"
    path = f"/t/alpha/settings/data/{export.id}"

    await login(client, "alpha-viewer")
    for url in ("/t/alpha/settings/data", path, f"{path}/download"):
        assert (await client.get(url)).status_code == 404, url
    await client.post("/logout")

    # another county's admin: the export's id under their own county is the 404 page too
    await login(client, "beta-admin")
    assert (await client.get(f"/t/beta/settings/data/{export.id}/download")).status_code == 404
    assert (await client.get(f"/t/alpha/settings/data/{export.id}/download")).status_code in (303, 404)
    assert beta["tenant"].id != alpha["tenant"].id
    assert f"/settings/data/{export.id}" not in (await client.get("/t/beta/settings/data")).text


async def test_an_export_expires_and_its_bytes_are_dropped(database):
    w = await small_world(database, "alpha")
    t = w["tenant"].id
    start = datetime(2025, 6, 1, 2, 0, tzinfo=timezone.utc)
    async with database.transaction(tenant_id=t) as db:
        export = await exports.request_export(db, tenant_id=t, actor_id=w["admin"].id, now=start)
    await exports.run_export(database, t, export.id, now=start)
    async with database.transaction(tenant_id=t) as db:
        export = await exports.get_export(db, export.id)
        assert await exports.download(db, export, actor_id=w["admin"].id, now=start + timedelta(days=6))
        with pytest.raises(exports.Refusal):
            await exports.download(db, export, actor_id=w["admin"].id, now=start + exports.KEPT)
    async with database.transaction(tenant_id=t) as db:  # the next look drops the bytes
        await exports.request_export(db, tenant_id=t, actor_id=w["admin"].id, now=start + exports.KEPT)
    async with database.session(tenant_id=t) as db:
        assert await db.scalar(select(exports.DataExport.data).where(exports.DataExport.id == export.id)) is None


async def test_too_large_an_export_fails_with_a_message(client, database, monkeypatch):
    w = await small_world(database, "alpha")
    monkeypatch.setattr(building, "MAX_EXPORT_BYTES", 2000)
    async with database.transaction(tenant_id=w["tenant"].id) as db:
        export = await exports.request_export(db, tenant_id=w["tenant"].id, actor_id=w["admin"].id)
    assert await exports.run_export(database, w["tenant"].id, export.id) == "failed"
    await login(client, "alpha-admin")
    page = await client.get(f"/t/alpha/settings/data/{export.id}")
    assert "请联系平台运营方" in page.text or "无法容纳" in page.text


async def test_operator_exports_at_the_countys_request_and_downloads_once(client, database, settings, owner_sql,
                                                                         monkeypatch):
    w = await small_world(database, "alpha")
    user, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, "ops", secret)
    tenant_url = f"/ops/tenants/{w['tenant'].id}"
    token = csrf_from((await client.get(tenant_url)).text)
    refused = await client.post(f"{tenant_url}/export", data={"_csrf_token": token, "reason": "  "})
    assert refused.status_code == 400
    r = await client.post(f"{tenant_url}/export", data={"_csrf_token": token, "reason": "县人大常委会函〔2025〕3号"},
                          follow_redirects=False)
    assert r.status_code == 303

    await run_worker(settings, monkeypatch)

    page = await client.get(tenant_url)
    [export_id] = [r["id"] for r in await owner_sql("SELECT id FROM operator_exports")]
    assert f"/ops/exports/{export_id}/download" in page.text and "县人大常委会函〔2025〕3号" in page.text
    got = await client.get(f"/ops/exports/{export_id}/download")
    assert got.status_code == 200
    assert_holds_the_county(got.content, w)
    assert (await client.get(f"/ops/exports/{export_id}/download")).status_code == 409  # once
    assert (await owner_sql("SELECT data FROM operator_exports"))[0]["data"] is None
    platform = [(r["action"], r["details"]) for r in await owner_sql(
        "SELECT action, details::text AS details FROM platform_audit_log WHERE subject_tenant_id = $1 ORDER BY id",
        w["tenant"].id)]
    assert [a for a, _ in platform] == ["tenant_data_export_requested", "tenant_data_export_downloaded"]
    assert "县人大常委会函〔2025〕3号" in platform[0][1]
    county_log = [r["action"] for r in await owner_sql("SELECT action FROM audit_log WHERE tenant_id = $1",
                                                       w["tenant"].id)]
    assert "county_data_exported_for_operator" in county_log  # the county sees it was done
    assert (await client.get("/ops/exports/999/download")).status_code == 404


async def test_the_worker_drops_expired_exports_of_every_county(database, owner_sql):
    alpha, beta = await small_world(database, "alpha"), await small_world(database, "beta")
    start = datetime(2025, 6, 1, 2, 0, tzinfo=timezone.utc)
    await owner_sql("UPDATE tenants SET status = 'suspended' WHERE id = $1", beta["tenant"].id)  # its final export
    for w in (alpha, beta):
        async with database.transaction(tenant_id=w["tenant"].id) as db:
            export = await exports.request_export(db, tenant_id=w["tenant"].id, actor_id=w["admin"].id, now=start)
        await exports.run_export(database, w["tenant"].id, export.id, now=start)
    async with database.transaction() as db:
        ops = await exports.request_operator_export(db, tenant_id=alpha["tenant"].id, actor_id=alpha["admin"].id,
                                                    reason="函")
    await exports.run_export(database, alpha["tenant"].id, ops.id, operator=True, now=start)
    kept = "SELECT count(*) AS n FROM {} WHERE data IS NOT NULL"
    assert await exports.purge_expired(database, now=start + timedelta(days=6)) == 0
    assert (await owner_sql(kept.format("data_exports")))[0]["n"] == 2
    assert await exports.purge_expired(database, now=start + exports.KEPT) == 3
    assert (await owner_sql(kept.format("data_exports")))[0]["n"] == 0
    assert (await owner_sql(kept.format("operator_exports")))[0]["n"] == 0


# --- what the ZIP holds: Chinese headers, full-size photos -----------------------------------------

async def test_every_exported_column_has_a_chinese_title(database):
    """A migration that adds a tenant table or column names it in app/data/titles.py (this says which)."""
    async with database.session() as db:
        tables = await building.tenant_tables(db)
    assert len(tables) > 40
    untitled_tables = sorted(t for t in [*tables, "users"] if t not in titles.TITLES)
    assert not untitled_tables, f"no Chinese sheet name in app/data/titles.py TITLES for: {untitled_tables}"
    columns = [(t, c) for t, cols in tables.items() for c in building.sheet_columns(t, cols)]
    columns += [("users", c) for c in building.USER_COLUMNS]
    untitled = [f"{t}.{c}" for t, c in columns if not titles.column_title(t, c)]
    assert not untitled, f"no Chinese column title in app/data/titles.py for: {', '.join(untitled)}"
    assert titles.header("deputies", "name") == "姓名（name）"
    assert titles.header("cases", "person_name") == "群众姓名（person_name）"


async def test_the_sheets_have_chinese_headers_and_the_photos_their_originals(database):
    w = await small_world(database, "alpha")
    t = w["tenant"].id
    original = png() + b"-as-uploaded"  # byte for byte, not re-encoded
    async with database.transaction(tenant_id=t) as db:
        activity_id = await db.scalar(select(Activity.id))
        kept = ActivityPhoto(tenant_id=t, activity_id=activity_id, image_id=w["photo"], caption="", original=original,
                             original_type="image/png", original_bytes=len(original))
        thumb_only = ActivityPhoto(tenant_id=t, activity_id=activity_id, image_id=w["photo"], caption="")
        db.add_all([kept, thumb_only])
        await db.flush()
        export = await exports.request_export(db, tenant_id=t, actor_id=w["admin"].id)
    assert await exports.run_export(database, t, export.id) == "done"
    async with database.session(tenant_id=t) as db:
        body = await db.scalar(select(exports.DataExport.data).where(exports.DataExport.id == export.id))
    book = zipfile.ZipFile(io.BytesIO(body))
    assert header_row(book, "deputies")[:3] == ["县级租户编号（tenant_id）", "编号（id）", "姓名（name）"]
    assert header_row(book, "users")[:2] == ["编号（id）", "用户名（username）"]
    assert book.read(f"photos/originals/{kept.id}.png") == original
    assert [n for n in book.namelist() if n.startswith("photos/originals/")] == [f"photos/originals/{kept.id}.png"]
    [photo] = [p for p in sheet(book, "activity_photos") if p["id"] == kept.id]
    assert photo["original_bytes"] == len(original) and "original" not in photo  # the bytes go as the file
    assert "photos/originals/" in book.read("说明.txt").decode() and "姓名（name）" in book.read("说明.txt").decode()


async def test_the_originals_count_toward_the_size_bound(database, monkeypatch):
    w = await small_world(database, "alpha")
    t = w["tenant"].id
    async with database.transaction(tenant_id=t) as db:
        first = await exports.request_export(db, tenant_id=t, actor_id=w["admin"].id)
    assert await exports.run_export(database, t, first.id) == "done"
    async with database.transaction(tenant_id=t) as db:
        without_originals = (await exports.get_export(db, first.id)).size
        db.add(ActivityPhoto(tenant_id=t, activity_id=await db.scalar(select(Activity.id)), image_id=w["photo"],
                             caption="", original=b"x" * 300_000, original_type="image/jpeg", original_bytes=300_000))
        export = await exports.request_export(db, tenant_id=t, actor_id=w["admin"].id)
    monkeypatch.setattr(building, "MAX_EXPORT_BYTES", without_originals + 100_000)  # all fits but the original
    assert await exports.run_export(database, t, export.id) == "failed"
    async with database.session(tenant_id=t) as db:
        assert (await exports.get_export(db, export.id)).error == "too_large"


# --- the operator's page follows its exports -------------------------------------------------------

async def test_the_operators_page_polls_while_an_export_is_under_way(client, database, settings, owner_sql,
                                                                    monkeypatch):
    w = await small_world(database, "alpha")
    user, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, "ops", secret)
    tenant_url = f"/ops/tenants/{w['tenant'].id}"
    fragment = f"{tenant_url}/exports"
    assert "every 2s" not in (await client.get(tenant_url)).text  # nothing under way
    token = csrf_from((await client.get(tenant_url)).text)
    await client.post(f"{tenant_url}/export", data={"_csrf_token": token, "reason": "县人大常委会函〔2025〕3号"})

    page = await client.get(tenant_url)
    assert f'hx-get="{fragment}" hx-trigger="every 2s"' in page.text
    waiting = await client.get(fragment, headers={"HX-Request": "true"})
    assert waiting.status_code == 200 and "等待生成" in waiting.text and 'hx-trigger="every 2s"' in waiting.text
    assert "<html" not in waiting.text  # the partial, not the page

    await run_worker(settings, monkeypatch)

    done = await client.get(fragment, headers={"HX-Request": "true"})
    assert "可以下载" in done.text and "/download" in done.text and "every 2s" not in done.text
    assert "every 2s" not in (await client.get(tenant_url)).text
    assert (await client.get("/ops/tenants/999999/exports")).status_code == 404
    await client.post("/logout")
    await login(client, "alpha-admin")  # a county admin is no operator
    assert (await client.get(fragment, follow_redirects=False)).status_code in (303, 401, 403, 404)
