"""The lists the homes link to: the case list's filters that only links set (due soon, still open, sent
back or not, without a category, a level) narrow the list, show as a chip that keeps them when the form
is used and removes them with one click; the activity list's "when" filter (still to come, over but
not recorded)."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest

from tests.activities.world import EAST, put_activity
from tests.cases.world import build_case_county, put_case
from tests.deputies.deputy_world import signed_in
from tests.home.work_world import days, listed, now_utc

NAMES = ("镇里待办", "县里待办", "快到期", "被退回", "办结了")


@pytest.fixture
async def cc(database):
    cc = await build_case_county(database)
    await put_case(database, cc, content="镇里待办", category=None)
    await put_case(database, cc, content="县里待办", level="county")
    await put_case(database, cc, content="快到期", state="accepted", unit="transport", reply_due=days(1))
    await put_case(database, cc, content="被退回", state="assigned", unit="transport", reply_due=days(9), rehandled=1)
    await put_case(database, cc, content="办结了", state="closed", category=None)
    return cc


async def shown(client, query: str) -> set[str]:
    html = (await client.get(f"{client.base}/cases?{query}")).text
    return {n for n in NAMES if n in html}


async def test_each_new_filter_narrows_the_case_list(app, cc):
    async with signed_in(app, cc.county, "admin") as client:
        assert await shown(client, "due_soon=1") == {"快到期"}
        assert await shown(client, "open=1") == {"镇里待办", "县里待办", "快到期", "被退回"}
        assert await shown(client, "sent_back=1") == {"被退回"}
        assert await shown(client, "sent_back=0") == {"镇里待办", "县里待办", "快到期", "办结了"}
        assert await shown(client, "uncategorised=1") == {"镇里待办", "办结了"}
        assert await shown(client, "level=county") == {"县里待办"}
        assert await shown(client, "state=registered&level=township") == {"镇里待办"}
        assert await shown(client, "sent_back=2&level=city&due_soon=yes") == set(NAMES)  # malformed: ignored


async def test_a_filter_from_a_link_shows_as_a_chip_that_can_be_removed(app, cc):
    base = f"/t/{cc.slug}/cases"
    async with signed_in(app, cc.county, "admin") as client:
        html = unescape((await client.get(f"{base}?state=assigned&sent_back=0&open=1")).text)
        assert 'id="chip-sent_back"' in html and "Never sent back" in html and "Still open" in html
        assert '<input type="hidden" name="sent_back" value="0">' in html  # kept when the form is sent
        assert f'href="{base}?state=assigned&open=1"' in html  # removes "never sent back", keeps the rest
        assert f'href="{base}?state=assigned&sent_back=0"' in html  # removes "still open"
        html = unescape((await client.get(f"{base}?level=county")).text)
        assert 'id="chip-level"' in html and "County matter" in html and f'href="{base}"' in html
        plain = (await client.get(base)).text
        assert 'class="chip"' not in plain
        part = await client.get(f"{base}?due_soon=1", headers={"HX-Request": "true", "HX-Target": "case-list"})
        assert "快到期" in part.text and "被退回" not in part.text


async def test_the_activity_list_by_when(app, database, cc):
    now = now_utc()
    await put_activity(database, cc.ac, kind="visit", starts_at=now - timedelta(days=2), status="planned")
    await put_activity(database, cc.ac, kind="visit", starts_at=now - timedelta(days=9), status="planned")
    await put_activity(database, cc.ac, kind="visit", starts_at=now - timedelta(days=3), status="held")
    await put_activity(database, cc.ac, kind="visit", starts_at=now - timedelta(minutes=30), status="planned")
    await put_activity(database, cc.ac, kind="visit", starts_at=now + timedelta(days=2), status="planned", station=EAST)
    await put_activity(database, cc.ac, kind="visit", starts_at=now + timedelta(days=3), status="cancelled")
    async with signed_in(app, cc.county, "admin") as client:
        base = f"{client.base}/activities"
        assert await listed(client, f"{base}?when=unrecorded") == 2
        assert await listed(client, f"{base}?when=upcoming") == 2  # under way, and the one in two days
        assert await listed(client, f"{base}?when=whenever") == 6
        assert '<option value="unrecorded" selected>' in (await client.get(f"{base}?when=unrecorded")).text
