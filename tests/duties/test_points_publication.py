"""Publishing a quarter's points (亮分): one message per deputy and channel, the snapshot, a second
publication refused; a deputy's correction request and its resolution."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from app.core.errors import Refusal
from app.core.periods import period_of
from app.duties import point_publishing as pub
from tests.activities.world import build_activity_county
from tests.deputies.deputy_world import count, post, signed_in, text_of
from tests.duties.points_world import put_entry, put_scheme

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def ac(database):
    ac = await build_activity_county(database)
    await put_scheme(database, ac)
    return ac


async def publish(database, ac, key: str, now: datetime):
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        return await pub.publish(db, tenant_id=ac.tenant.id, tenant_name=ac.tenant.name, slug=ac.slug,
                                 actor_id=ac.users["admin"].id, key=key, tz=TZ, now=now)


async def test_publishing_a_quarter_tells_every_deputy_once(database, ac, owner_sql):
    now = datetime(2027, 1, 5, 2, tzinfo=timezone.utc)
    for day in (date(2026, 10, 8), date(2026, 11, 3)):
        await put_entry(database, ac, "张伟", "speech", day)
    await put_entry(database, ac, "李娜", "speech", date(2026, 12, 30))
    with pytest.raises(Refusal):  # a quarter under way
        await publish(database, ac, "2027-Q1", now)
    with pytest.raises(Refusal):
        await publish(database, ac, "2026-11", now)
    await publish(database, ac, "2026-Q4", now)
    snapshot = {r["deputy_id"]: (r["points"], r["rank"], r["peers"]) for r in
                await owner_sql("SELECT deputy_id, points, rank, peers FROM points_published")}
    assert snapshot == {ac.deputies["张伟"]: (5, 1, 4), ac.deputies["李娜"]: (3, 2, 4),
                        ac.deputies["王强"]: (0, 3, 4), ac.deputies["赵敏"]: (0, 3, 4)}
    rows = await owner_sql("SELECT deputy_id, user_id, kind, channel, body, params FROM outbox "
                           "WHERE kind LIKE 'points_published%' ORDER BY deputy_id, channel")
    # 张伟 has an account (the inbox; SMS only if he chose it), 李娜 none but a mobile (SMS without the
    # link, which she could not open); 王强 and 赵敏 have neither, so nothing can reach them
    inbox = [r for r in rows if r["channel"] == "inapp"]
    assert [(r["deputy_id"], r["user_id"]) for r in inbox] == [(ac.deputies["张伟"], ac.users["rep"].id)]
    sms = [r for r in rows if r["channel"] == "sms" and r["deputy_id"] == ac.deputies["李娜"]]
    assert len(sms) == 1 and "2026年第四季度" in sms[0]["body"] and "3.0" in sms[0]["body"]
    assert sms[0]["kind"] == "points_published_no_account" and "/s/" not in sms[0]["body"]
    assert {r["kind"] for r in rows if r["deputy_id"] == ac.deputies["张伟"]} == {"points_published"}
    assert {r["deputy_id"] for r in rows} <= {ac.deputies["张伟"], ac.deputies["李娜"]}
    assert len({(r["deputy_id"], r["channel"]) for r in rows}) == len(rows)  # once per deputy and channel
    with pytest.raises(Refusal) as refused:
        await publish(database, ac, "2026-Q4", datetime(2027, 1, 6, tzinfo=timezone.utc))
    assert refused.value.message == pub.ALREADY_PUBLISHED
    assert await count(owner_sql, "outbox", "kind LIKE 'points_published%'") == len(rows)
    assert await count(owner_sql, "points_publications") == 1
    assert await count(owner_sql, "audit_log", "action = 'points_published'") == 1


async def test_publish_through_the_page_and_correct_an_error(app, database, ac, owner_sql):
    today = datetime.now(TZ).date()
    last = period_of("quarter", today).previous()
    await put_entry(database, ac, "张伟", "speech", last.first)
    async with signed_in(app, ac.county, "town") as client:
        r = await post(client, f"{client.base}/points/publish", {"period": last.key})
        assert r.status_code == 404
    async with signed_in(app, ac.county, "admin") as client:
        page = (await client.get(f"{client.base}/points?period={last.key}")).text
        assert "/points/publish" in page
        r = await post(client, f"{client.base}/points/publish", {"period": last.key})
        assert r.status_code == 303
        r = await post(client, f"{client.base}/points/publish", {"period": last.key})
        assert r.status_code == 400 and "already been published" in text_of(r.text)
    assert await count(owner_sql, "outbox", "kind = 'points_published' AND channel = 'inapp'") == 1
    [publication] = await owner_sql("SELECT id FROM points_publications")
    async with signed_in(app, ac.county, "rep") as client:
        r = await client.get(f"{client.base}/inbox")
        assert "3.0" in text_of(r.text)
        r = await client.get(f"{client.base}/points/mine")
        assert r.status_code == 200 and last.key in r.text
        for bad in ("", "错" * 301):
            r = await post(client, f"{client.base}/points/mine/corrections",
                           {"publication": str(publication["id"]), "text": bad})
            assert r.status_code == 400 and "at most 300 characters" in text_of(r.text)
        r = await post(client, f"{client.base}/points/mine/corrections", {"publication": "999999", "text": "不对"})
        assert r.status_code == 404
        assert await count(owner_sql, "points_corrections") == 0
        r = await post(client, f"{client.base}/points/mine/corrections",
                       {"publication": str(publication["id"]), "text": "十月的视察没有计入"})
        assert r.status_code == 303
    async with signed_in(app, ac.county, "rep2") as client:  # a deputy login without a deputy record
        r = await client.get(f"{client.base}/points/mine")
        assert r.status_code == 200 and "not linked to a deputy" in text_of(r.text)
    [correction] = await owner_sql("SELECT id FROM points_corrections")
    target = f"/points/corrections/{correction['id']}"
    async with signed_in(app, ac.county, "town") as client:
        assert (await client.get(f"{client.base}/points/corrections")).status_code == 404
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(f"{client.base}/points/corrections")
        assert r.status_code == 200 and "十月的视察没有计入" in r.text
        r = await post(client, client.base + target, {"resolution": "accepted", "answer": " "})
        assert r.status_code == 400 and "note or a reason" in text_of(r.text)
        assert await count(owner_sql, "points_corrections", "status = 'open'") == 1
        r = await post(client, client.base + target, {"resolution": "accepted", "answer": "已补录视察，下季度计入"})
        assert r.status_code == 303
        r = await post(client, client.base + target, {"resolution": "dismissed", "answer": "重复"})
        assert r.status_code == 400 and "already been resolved" in text_of(r.text)
    [row] = await owner_sql("SELECT status, answer, resolved_at FROM points_corrections")
    assert (row["status"], row["answer"]) == ("accepted", "已补录视察，下季度计入") and row["resolved_at"]
    assert await count(owner_sql, "audit_log", "action LIKE 'points_correction_%'") == 2
    async with signed_in(app, ac.county, "rep") as client:
        assert "已补录视察" in (await client.get(f"{client.base}/points/mine")).text
