"""Reviewing filed entries: county admins and township staff approve, or reject with a reason, one
entry or a batch; a batch with one entry out of reach (or already reviewed) changes nothing."""

from __future__ import annotations

from datetime import date

import pytest

from app.duties.models import DutyEntry
from tests.deputies.deputy_world import count, post, signed_in, text_of
from tests.duties.duty_world import county_with_deputies, today


@pytest.fixture
async def county(database):
    return await county_with_deputies(database)


async def _entries(database, county, deputy_id: int, n: int, day: date) -> list[int]:
    async with database.transaction(tenant_id=county.tenant.id) as db:
        rows = [DutyEntry(tenant_id=county.tenant.id, deputy_id=deputy_id, day=day, kind="inspection",
                          text=f"参加执法检查{i}") for i in range(n)]
        db.add_all(rows)
        await db.flush()
        return [r.id for r in rows]


async def _statuses(owner_sql) -> dict[int, tuple[str, str]]:
    return {r["id"]: (r["status"], r["reject_reason"])
            for r in await owner_sql("SELECT id, status, reject_reason FROM duty_entries")}


async def _review(client, data):
    return await post(client, f"{client.base}/duties/review", data)


async def test_township_staff_approve_a_batch_in_reach(app, county, database, owner_sql):
    mine = await _entries(database, county, county.zhang, 3, today())
    theirs = await _entries(database, county, county.li, 1, today())
    async with signed_in(app, county, "town") as client:
        listing = await client.get(f"{client.base}/duties")
        assert listing.status_code == 200 and "李河坝" not in listing.text
        assert all(f'name="entry_id" value="{i}"' in listing.text for i in mine)
        r = await _review(client, {"entry_id": [str(i) for i in mine[:2]], "decision": "approve"})
        assert r.status_code == 303 and r.headers["location"].endswith("/duties?done=approved")
    statuses = await _statuses(owner_sql)
    assert [statuses[i][0] for i in mine] == ["approved", "approved", "filed"]
    assert statuses[theirs[0]][0] == "filed"
    assert await count(owner_sql, "duty_entries", "reviewed_by IS NOT NULL") == 2
    assert await count(owner_sql, "audit_log", "action = 'duty_entries_approved'") == 1


async def test_a_batch_with_an_entry_out_of_reach_is_refused_whole(app, county, database, owner_sql):
    mine = await _entries(database, county, county.zhang, 2, today())
    theirs = await _entries(database, county, county.li, 1, today())
    async with signed_in(app, county, "town") as client:
        for decision in ("approve", "reject"):
            r = await _review(client, {"entry_id": [str(i) for i in mine + theirs], "decision": decision,
                                       "reason": "材料不全"})
            assert r.status_code == 400
            assert "not waiting for your review: nothing was changed" in text_of(r.text)
        # an id that does not exist, or is not a number, refuses the batch too
        for bad in ("999999", "abc"):
            r = await _review(client, {"entry_id": [str(mine[0]), bad], "decision": "approve"})
            assert r.status_code == 400
    assert set(s for s, _ in (await _statuses(owner_sql)).values()) == {"filed"}
    assert await count(owner_sql, "audit_log", "action LIKE 'duty_entries%'") == 0


async def test_reject_one_needs_a_reason_and_the_deputy_sees_it(app, county, database, owner_sql):
    [entry] = await _entries(database, county, county.zhang, 1, today())
    async with signed_in(app, county, "admin") as client:
        r = await _review(client, {"reject_one": str(entry), "reason": ""})
        assert r.status_code == 400 and "Give the reason for the rejection." in text_of(r.text)
        r = await _review(client, {"reject_one": str(entry), "reason": "长" * 201})
        assert r.status_code == 400 and "at most 200 characters" in text_of(r.text)
        assert (await _statuses(owner_sql))[entry] == ("filed", "")
        r = await _review(client, {"reject_one": str(entry), "reason": "无会议记录佐证"})
        assert r.status_code == 303
        # reviewed once: a second decision on it refuses
        r = await _review(client, {"approve_one": str(entry)})
        assert r.status_code == 400
    assert (await _statuses(owner_sql))[entry] == ("rejected", "无会议记录佐证")
    async with signed_in(app, county, "rep") as client:
        page = await client.get(f"{client.base}/deputies/{county.zhang}/dossier?year={today().year}")
        assert "Entry rejected" in page.text and "无会议记录佐证" in page.text


async def test_only_reviewers_review(app, county, database, owner_sql):
    [entry] = await _entries(database, county, county.zhang, 1, today())
    for who in ("viewer", "station", "rep", "handler"):
        async with signed_in(app, county, who) as client:
            r = await _review(client, {"approve_one": str(entry)})
            assert r.status_code == 404, who
    async with signed_in(app, county, "viewer") as client:  # the viewer reads the list, without buttons
        listing = await client.get(f"{client.base}/duties")
        assert "参加执法检查0" in listing.text and 'name="entry_id"' not in listing.text
    async with signed_in(app, county, "handler") as client:
        assert (await client.get(f"{client.base}/duties")).status_code == 404
    assert (await _statuses(owner_sql))[entry] == ("filed", "")
