"""The record of an activity: held with notes and people received (not before it starts, not when
cancelled; editing it is kept in the history), photos (thumbnails; originals only within the county's
limit; bad files refused with nothing written), and the opinions collected at it."""

from __future__ import annotations

import io
import os
from datetime import datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from app.tenancy.models import TenantConfig
from tests.activities.test_activity_world import arrange, section
from tests.activities.world import TZ, build_activity_county, put_activity
from tests.core.bombs import png_declaring
from tests.deputies.deputy_world import count, post, signed_in, text_of


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


@pytest.fixture
async def past(database, ac) -> int:
    """A planned activity that began two hours ago, 张伟 and 李娜 invited."""
    return await put_activity(database, ac, kind="reception", starts_at=datetime.now(TZ) - timedelta(hours=2),
                              status="planned", invited=("张伟", "李娜"))


def png(side: int = 64, noise: bool = False) -> bytes:
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)) if noise \
        else Image.new("RGB", (side, side), (200, 30, 30))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


async def upload(client, aid: int, data: bytes, name: str = "p.png", caption: str = ""):
    page = await client.get(f"{client.base}/activities/{aid}")
    from tests.factories import csrf_from
    return await client.post(f"{client.base}/activities/{aid}/photos", data={"_csrf_token": csrf_from(page.text),
                                                                             "caption": caption},
                             files={"photo": (name, data, "image/png")}, follow_redirects=False)


async def set_originals_limit(database, ac, mb: int) -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        row = await db.scalar(select(TenantConfig))
        if row is None:
            db.add(TenantConfig(tenant_id=ac.tenant.id, photo_originals_mb=mb))
        else:
            row.photo_originals_mb = mb


async def test_record_held_and_edit_it(app, ac, past, owner_sql):
    async with signed_in(app, ac.county, "station") as client:
        r = await post(client, f"{client.base}/activities/{past}/record",
                       {"notes": "接待群众12人，收集意见3条", "people_received": "12"})
        assert r.status_code == 303
        page = text_of(section((await client.get(r.headers["location"])).text, "recorded"))
        assert "接待群众12人" in page and "12" in page
        r = await post(client, f"{client.base}/activities/{past}/record", {"notes": "更正：接待14人", "people_received": "14"})
        assert r.status_code == 303
        history = text_of(section((await client.get(f"{client.base}/activities/{past}")).text, "history"))
        assert "Recorded as held" in history and "Record of the activity edited" in history
    rows = await owner_sql("SELECT status, notes, people_received, recorded_by FROM activities")
    assert [tuple(r) for r in rows] == [("held", "更正：接待14人", 14, ac.users["station"].id)]
    assert await count(owner_sql, "audit_log", "action = 'activity_recorded'") == 2


@pytest.mark.parametrize("people,message", [("-1", "whole number"), ("abc", "whole number"), ("2.5", "whole number")])
async def test_bad_people_count_is_refused(app, ac, past, owner_sql, people, message):
    async with signed_in(app, ac.county, "admin") as client:
        r = await post(client, f"{client.base}/activities/{past}/record", {"notes": "x", "people_received": people})
        assert r.status_code == 400 and message in r.text
    assert await count(owner_sql, "activities", "status = 'planned'") == 1


async def test_notes_too_long_refused(app, ac, past, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        r = await post(client, f"{client.base}/activities/{past}/record", {"notes": "记" * 5001})
        assert r.status_code == 400 and "at most 5000 characters" in r.text
    assert await count(owner_sql, "activities", "status = 'planned'") == 1


async def test_activity_not_started_cannot_be_recorded(app, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        aid = await arrange(client, ac)
        r = await post(client, f"{client.base}/activities/{aid}/record", {"notes": "提前写", "people_received": "3"})
        assert r.status_code == 400 and "has not started yet" in r.text
        r = await post(client, f"{client.base}/activities/{aid}/cancel", {"reason": "取消"})
        r = await post(client, f"{client.base}/activities/{aid}/record", {"notes": "x"})
        assert r.status_code == 400 and "was cancelled" in r.text
    assert await count(owner_sql, "activities", "notes <> ''") == 0
    assert await count(owner_sql, "activity_events", "action = 'recorded'") == 0


async def test_viewer_and_deputy_cannot_record(app, ac, past, owner_sql):
    for who in ("viewer", "rep"):
        async with signed_in(app, ac.county, who) as client:
            page = await client.get(f"{client.base}/activities/{past}")
            assert page.status_code == 200 and "Save the record" not in page.text
            r = await post(client, f"{client.base}/activities/{past}/record", {"notes": "x"})
            assert r.status_code == 404
    assert await count(owner_sql, "activities", "status = 'held'") == 0


async def test_photo_upload_thumbnail_and_original(app, ac, past, owner_sql):
    raw = png(800)
    async with signed_in(app, ac.county, "station") as client:
        r = await upload(client, past, raw, caption="现场照片")
        assert r.status_code == 303, r.text
        page = await client.get(r.headers["location"])
        assert "The photo has been saved." in page.text and "现场照片" in page.text
        photo_id = (await owner_sql("SELECT id FROM activity_photos"))[0]["id"]
        thumb = await client.get(f"{client.base}/activities/{past}/photos/{photo_id}")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
        assert len(thumb.content) <= 40 * 1024 and "private" in thumb.headers["cache-control"]
        original = await client.get(f"{client.base}/activities/{past}/photos/{photo_id}/original")
        assert original.status_code == 200 and original.content == raw
        assert original.headers["content-type"] == "image/png"
    async with signed_in(app, ac.county, "heba") as client:  # another township: not theirs
        assert (await client.get(f"{client.base}/activities/{past}/photos/{photo_id}")).status_code == 404
    assert await count(owner_sql, "audit_log", "action = 'activity_photo_added'") == 1


async def test_not_an_image_and_too_large_are_refused(app, ac, past, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        r = await upload(client, past, b"%PDF-1.4 not a photo", name="x.pdf")
        assert r.status_code == 400 and "not a photo we can read" in r.text
        r = await upload(client, past, png(16) + b"\0" * (8 * 1024 * 1024))
        assert r.status_code == 400 and "too large" in r.text
    assert await count(owner_sql, "activity_photos") == 0
    assert await count(owner_sql, "images") == 0


async def test_a_photo_of_too_many_pixels_is_refused(app, ac, past, owner_sql):
    async with signed_in(app, ac.county, "admin") as client:
        r = await upload(client, past, png_declaring(8000, 8000), name="bomb.png")
        assert r.status_code == 400 and "The photo has too many pixels (at most 25 million)" in r.text
    assert await count(owner_sql, "activity_photos") == 0
    assert await count(owner_sql, "images") == 0


async def test_originals_beyond_the_county_limit_are_not_kept(app, database, ac, past, owner_sql):
    await set_originals_limit(database, ac, 1)  # 1 MB: one noisy photo of ~600 KB fits, two do not
    async with signed_in(app, ac.county, "admin") as client:
        first, second = png(450, noise=True), png(450, noise=True)
        assert 500_000 < len(first) < 1024 * 1024
        assert (await upload(client, past, first)).status_code == 303
        r = await upload(client, past, second)
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        assert "saved as a thumbnail only" in page.text
        assert "Thumbnail only" in page.text
        ids = [row["id"] for row in await owner_sql("SELECT id FROM activity_photos ORDER BY id")]
        assert (await client.get(f"{client.base}/activities/{past}/photos/{ids[1]}")).status_code == 200
        assert (await client.get(f"{client.base}/activities/{past}/photos/{ids[1]}/original")).status_code == 404
    rows = await owner_sql("SELECT original IS NOT NULL AS kept, original_bytes FROM activity_photos ORDER BY id")
    assert [r["kept"] for r in rows] == [True, False]
    assert rows[0]["original_bytes"] == len(first) and rows[1]["original_bytes"] == 0


async def test_opinions_at_the_activity(app, ac, past, owner_sql):
    async with signed_in(app, ac.county, "station") as client:
        r = await post(client, f"{client.base}/activities/{past}/opinions",
                       {"content": "小区路灯不亮，希望尽快修复", "raised_by": "陈大爷", "deputy_id": str(ac.deputies["李娜"])})
        assert r.status_code == 303
        page = text_of(section((await client.get(r.headers["location"])).text, "opinion"))
        assert "小区路灯不亮" in page and "陈大爷" in page and "李娜" in page
        r = await post(client, f"{client.base}/activities/{past}/opinions", {"content": ""})
        assert r.status_code == 400 and "write down the opinion" in r.text
        r = await post(client, f"{client.base}/activities/{past}/opinions", {"content": "意" * 2001})
        assert r.status_code == 400
        r = await post(client, f"{client.base}/activities/{past}/opinions",
                       {"content": "x", "deputy_id": str(ac.deputies["王强"])})  # not invited
        assert r.status_code == 400 and "one of the invited deputies" in r.text
    rows = await owner_sql("SELECT activity_id, station_id, deputy_id, received_on FROM opinions")
    assert len(rows) == 1
    assert (rows[0]["activity_id"], rows[0]["station_id"], rows[0]["deputy_id"]) == \
        (past, ac.stations["东街社区人大代表联络站"], ac.deputies["李娜"])
    assert rows[0]["received_on"] == (datetime.now(TZ) - timedelta(hours=2)).date()
    assert await count(owner_sql, "audit_log", "action = 'opinion_registered'") == 1
