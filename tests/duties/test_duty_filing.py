"""Filing entries in a deputy's dossier: a deputy for themself on the phone page (with a photo), staff
for deputies in reach; every bad input is a clear message with nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.deputies.deputy_world import count, post, signed_in, text_of
from tests.duties.duty_world import county_with_deputies, png, today


@pytest.fixture
async def county(database):
    return await county_with_deputies(database)


async def _file(client, data: dict, files: dict | None = None):
    return await post(client, f"{client.base}/duties", data, files=files)


async def test_a_deputy_files_a_speech_with_a_photo_on_the_phone_page(app, county, owner_sql):
    day = today()
    async with signed_in(app, county, "rep") as client:
        form = await client.get(f"{client.base}/duties/new")
        assert form.status_code == 200
        assert 'name="viewport"' in form.text and 'type="file" name="photo"' in form.text
        assert "张东街" in form.text and 'name="deputy_id"' not in form.text  # files for themself only
        r = await _file(client, {"kind": "speech", "day": day.isoformat(), "text": "在县人代会上审议政府工作报告并发言",
                                 "deputy_id": str(county.li)},  # another deputy's id is ignored
                        files={"photo": ("speech.png", png(), "image/png")})
        assert r.status_code == 303
        assert r.headers["location"].endswith(f"/deputies/{county.zhang}/dossier?year={day.year}&done=filed")
        page = await client.get(r.headers["location"])
        assert "审议政府工作报告" in page.text and "Waiting for review" in page.text
        entry = (await owner_sql("SELECT id, deputy_id, kind, status, image_id FROM duty_entries"))[0]
        assert (entry["deputy_id"], entry["kind"], entry["status"]) == (county.zhang, "speech", "filed")
        photo = await client.get(f"{client.base}/duties/{entry['id']}/photo")
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/webp"
        assert len(photo.content) <= 40 * 1024
    assert await count(owner_sql, "audit_log", "action = 'duty_entry_filed'") == 1
    async with signed_in(app, county, "heba") as client:  # the photo is out of 河坝乡's reach
        assert (await client.get(f"{client.base}/duties/{entry['id']}/photo")).status_code == 404


async def test_staff_file_for_a_deputy_in_reach(app, county, owner_sql):
    async with signed_in(app, county, "town") as client:
        form = await client.get(f"{client.base}/duties/new?deputy_id={county.zhang}")
        assert "张东街" in form.text and "李河坝" not in form.text  # only deputies in 城关镇
        r = await _file(client, {"deputy_id": str(county.zhang), "kind": "leave", "day": today().isoformat(),
                                 "text": "因病请假半天"})
        assert r.status_code == 303
    rows = await owner_sql("SELECT deputy_id, kind, filed_by FROM duty_entries")
    assert [tuple(r) for r in rows] == [(county.zhang, "leave", county.users["town"].id)]


BAD = [
    ({"kind": "speech", "text": ""}, "Describe the duty in a few words."),
    ({"kind": "leave", "text": "  "}, "Give the reason for the leave."),
    ({"kind": "speech", "text": "长" * 501}, "The description is too long (at most 500 characters)."),
    ({"kind": "party", "text": "聚餐"}, "Choose a kind of duty from the list."),
    ({"kind": "speech", "text": "发言", "day": "tomorrow"}, "The day of the duty cannot be in the future."),
    ({"kind": "speech", "text": "发言", "day": "2026-02-30"}, "Give the day of the duty (year-month-day)."),
]


@pytest.mark.parametrize("fields, message", BAD)
async def test_bad_input_is_refused_with_nothing_written(app, county, owner_sql, fields, message):
    fields = dict(fields)
    if fields.get("day") == "tomorrow":
        fields["day"] = (today() + timedelta(days=1)).isoformat()
    async with signed_in(app, county, "admin") as client:
        r = await _file(client, {"deputy_id": str(county.zhang), "day": today().isoformat(), **fields})
        assert r.status_code == 400 and message in text_of(r.text)
    assert await count(owner_sql, "duty_entries") == 0
    assert await count(owner_sql, "audit_log", "action LIKE 'duty%'") == 0


async def test_a_deputy_out_of_reach_is_refused_in_chinese(app, county, owner_sql):
    async with signed_in(app, county, "town") as client:
        client.cookies.set("lang", "zh_Hans")
        r = await _file(client, {"deputy_id": str(county.li), "kind": "speech", "day": today().isoformat(),
                                 "text": "发言"}, files={"photo": ("p.png", png(), "image/png")})
        assert r.status_code == 400 and "请选择您管辖范围内的代表" in text_of(r.text)
    assert await count(owner_sql, "duty_entries") == 0 and await count(owner_sql, "images") == 0


async def test_a_photo_that_is_not_one_writes_nothing(app, county, owner_sql):
    async with signed_in(app, county, "rep") as client:
        r = await _file(client, {"kind": "training", "day": today().isoformat(), "text": "参加代表培训"},
                        files={"photo": ("x.png", b"not an image", "image/png")})
        assert r.status_code == 400 and "not a photo" in r.text
    assert await count(owner_sql, "duty_entries") == 0 and await count(owner_sql, "images") == 0


async def test_viewers_and_handling_units_file_nothing(app, county, owner_sql):
    for who in ("viewer", "handler"):
        async with signed_in(app, county, who) as client:
            assert (await client.get(f"{client.base}/duties/new")).status_code == 404
            r = await _file(client, {"deputy_id": str(county.zhang), "kind": "speech",
                                     "day": today().isoformat(), "text": "发言"})
            assert r.status_code == 404
    assert await count(owner_sql, "duty_entries") == 0
