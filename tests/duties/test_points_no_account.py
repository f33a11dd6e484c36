"""Deputies without an account and the quarter's points: their SMS carries the figures without the
link (they could not open /points/mine) and asks them to tell their station of an error; the points
page answers an account without a deputy behind it with a clear page, not a not-found."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from app.duties import point_publishing as pub
from app.notify.sms_templates import variables
from tests.activities.world import build_activity_county
from tests.deputies.deputy_world import count, post, signed_in, text_of
from tests.duties.points_world import put_entry, put_scheme

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2027, 1, 5, 2, tzinfo=timezone.utc)


@pytest.fixture
async def ac(database):
    ac = await build_activity_county(database)
    await put_scheme(database, ac)
    await put_entry(database, ac, "张伟", "speech", date(2026, 10, 8))
    await put_entry(database, ac, "李娜", "speech", date(2026, 11, 3))
    return ac


async def test_a_deputy_without_an_account_gets_the_figures_without_the_link(database, ac, owner_sql):
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await pub.publish(db, tenant_id=ac.tenant.id, tenant_name=ac.tenant.name, slug=ac.slug,
                          actor_id=ac.users["admin"].id, key="2026-Q4", tz=TZ, now=NOW)
    rows = await owner_sql("SELECT deputy_id, kind, channel, address, body, params FROM outbox "
                           "WHERE subject = 'points:2026-Q4' ORDER BY deputy_id, channel")
    by_deputy = {}
    for r in rows:
        by_deputy.setdefault(r["deputy_id"], []).append(r)
    [li] = by_deputy[ac.deputies["李娜"]]  # no account: one SMS to the mobile on her record
    assert (li["kind"], li["channel"], li["address"]) == ("points_published_no_account", "sms", "13800000002")
    assert "/s/" not in li["body"] and "3.0" in li["body"] and "2026年第四季度" in li["body"]
    params = li["params"] if isinstance(li["params"], dict) else json.loads(li["params"])
    assert set(params) == set(variables("points_published_no_account")) == {"name", "period", "points", "rank",
                                                                             "peers", "group"}
    zhang = by_deputy[ac.deputies["张伟"]]  # an account: the inbox, with the link to the page
    assert {r["kind"] for r in zhang} == {"points_published"} and "inapp" in {r["channel"] for r in zhang}
    assert all("/s/" in r["body"] for r in zhang)
    assert await count(owner_sql, "short_links") == 1


async def test_the_no_account_text_asks_to_tell_the_station(database, ac):
    from app.notify.texts import KINDS, render

    text = render("points_published_no_account", {"name": "李娜", "period": "2026年第四季度", "points": "3.0",
                                                   "rank": 2, "peers": 4, "group": "东街"}, locale="en")
    assert text.endswith("Something wrong? Please tell your liaison station.") and "http" not in text
    assert KINDS["points_published_no_account"].channels == ("sms",)


async def test_an_account_without_a_deputy_gets_a_clear_page(app, database, ac, owner_sql):
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await pub.publish(db, tenant_id=ac.tenant.id, tenant_name=ac.tenant.name, slug=ac.slug,
                          actor_id=ac.users["admin"].id, key="2026-Q4", tz=TZ, now=NOW)
    [publication] = await owner_sql("SELECT id FROM points_publications")
    async with signed_in(app, ac.county, "rep2") as client:  # a deputy login not linked to a deputy record
        r = await client.get(f"{client.base}/points/mine")
        assert r.status_code == 200
        text = text_of(r.text)
        assert "Your account is not linked to a deputy" in text and "tell your liaison station" in text
        r = await post(client, f"{client.base}/points/mine/corrections",
                       {"publication": str(publication["id"]), "text": "不对"})
        assert r.status_code == 403 and "not linked to a deputy" in text_of(r.text)
    async with signed_in(app, ac.county, "admin") as client:  # staff opening a deputy's link
        r = await client.get(f"{client.base}/points/mine")
        assert r.status_code == 200 and "your account is not a deputy" in text_of(r.text)
        assert f'href="{client.base}/points"' in r.text
    async with signed_in(app, ac.county, "handler") as client:  # no points page to point to
        r = await client.get(f"{client.base}/points/mine")
        assert r.status_code == 200 and f'href="{client.base}/points"' not in r.text
    async with signed_in(app, ac.county, "rep") as client:  # the linked deputy still sees their figures
        r = await client.get(f"{client.base}/points/mine")
        assert r.status_code == 200 and "2026-Q4" in r.text and "Report an error" in text_of(r.text)
    assert await count(owner_sql, "points_corrections") == 0
