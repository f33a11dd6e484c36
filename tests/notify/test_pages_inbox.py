"""The member's inbox and the header's unread count: own messages only, newest first, unread in bold,
marked read one by one (with and without htmx) or all at once; and the member's channel choices."""

from __future__ import annotations

import re
import pytest
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.accounts.models import Membership, User
from app.notify import outbox
from app.notify.models import Outbox
from tests.activities.world import build_activity_county
from tests.deputies.deputy_world import post, signed_in, text_of
from tests.factories import csrf_from
from tests.notify.test_outbox import set_config

NOW = datetime.now(timezone.utc)


@pytest.fixture(autouse=True)
def _now_is_when_the_test_starts():
    """The pages count against the real clock: NOW is this test's start, not the module's import
    (in a full run minutes apart, a row "claimed now" would already count as stuck)."""
    global NOW
    NOW = datetime.now(timezone.utc)


async def put_messages(database, ac, username: str, n: int, kind: str = "case_due_soon") -> list[int]:
    """``n`` in-app messages to one member, delivered now (oldest first)."""
    t = ac.tenant.id
    ids = []
    for i in range(n):
        async with database.transaction(tenant_id=t) as db:
            who = await outbox.members(db, t, [ac.users[username].id])
            await outbox.notify(db, tenant_id=t, kind=kind, subject=f"case:{1000 + i}", recipients=who,
                                due_at=NOW - timedelta(minutes=n - i), params={"code": f"C{i:04d}", "due": "3月1日"},
                                now=NOW)
            ids.append(await db.scalar(select(Outbox.id).where(Outbox.subject == f"case:{1000 + i}",
                                                               Outbox.channel == "inapp")))
    return ids


def bold(html: str, code: str) -> bool:
    """Is the message with this case code shown as unread (its text in bold)?"""
    return re.search(r"<strong>[^<]*" + code, html) is not None


def header_count(html: str) -> int:
    link = re.search(r'<a id="inbox-link"[^>]*>(.*?)</a>', html, re.S)
    assert link, "no inbox link in the header"
    badge = re.search(r'class="badge warn"[^>]*>(\d+)<', link.group(1))
    return int(badge.group(1)) if badge else 0


async def test_inbox_shows_my_messages_and_the_header_counts_them(app, database):
    ac = await build_activity_county(database)
    mine = await put_messages(database, ac, "admin", 2)
    await put_messages(database, ac, "viewer", 1)
    async with signed_in(app, ac.county, "admin") as admin:
        for path in ("/", "/stations", "/inbox"):
            r = await admin.get(admin.base + path)
            assert r.status_code == 200 and header_count(r.text) == 2, path
        page = (await admin.get(admin.base + "/inbox")).text
        assert page.index("C0001") < page.index("C0000")  # newest first
        assert bold(page, "C0001") and "unread" in page
        assert "Unread messages: 2" in page
        # another member's message is not here, and cannot be marked read by id
        others = await database_ids(database, ac, "viewer")
        r = await post(admin, f"{admin.base}/inbox/{others[0]}/read", page=admin.base + "/inbox")
        assert r.status_code == 404
        # without JavaScript: the form posts and the page comes back with one fewer unread
        r = await post(admin, f"{admin.base}/inbox/{mine[1]}/read", page=admin.base + "/inbox")
        assert r.status_code == 303 and r.headers["location"].startswith(f"{admin.base}/inbox")
        page = (await admin.get(admin.base + "/inbox")).text
        assert header_count(page) == 1 and not bold(page, "C0001") and bold(page, "C0000")
        # with htmx: only the message comes back, with the header's count out of band
        token = csrf_from(page)
        r = await admin.post(f"{admin.base}/inbox/{mine[0]}/read", data={"_csrf_token": token},
                             headers={"HX-Request": "true", "HX-Target": f"m{mine[0]}"})
        assert r.status_code == 200 and "<html" not in r.text and f'id="m{mine[0]}"' in r.text
        assert 'hx-swap-oob="true"' in r.text and header_count(r.text) == 0
    async with signed_in(app, ac.county, "viewer") as viewer:
        r = await viewer.get(viewer.base + "/inbox")
        assert header_count(r.text) == 1 and "C0000" in text_of(r.text) and "Unread messages: 1" in r.text
        r = await post(viewer, f"{viewer.base}/inbox/read-all", page=viewer.base + "/inbox")
        assert r.status_code == 303
        assert header_count((await viewer.get(viewer.base + "/")).text) == 0
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        read = dict((await db.execute(select(Outbox.id, Outbox.read_at.is_not(None)))).all())
    assert all(read.values())  # the admin's two by hand, the viewer's one with "mark all"


async def database_ids(database, ac, username: str) -> list[int]:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        return list((await db.scalars(select(Outbox.id).where(Outbox.user_id == ac.users[username].id))).all())


async def test_inbox_pages_by_thirty_in_a_fixed_number_of_queries(app, database):
    ac = await build_activity_county(database)
    await put_messages(database, ac, "rep", 3)
    async with signed_in(app, ac.county, "rep") as rep:
        await rep.get(rep.base + "/")  # the first entry writes its own rows
        few = int((await rep.get(rep.base + "/inbox")).headers["x-query-count"])
        await put_messages(database, ac, "rep", 32, kind="rule_at_risk")
        r = await rep.get(rep.base + "/inbox")
        assert int(r.headers["x-query-count"]) == few
        assert r.text.count('<li id="m') == 30 and "Older messages" in r.text
        older = re.search(r'/inbox\?before=(\d+)', r.text).group(1)
        r = await rep.get(f"{rep.base}/inbox?before={older}")
        assert r.text.count('<li id="m') == 5 and "Older messages" not in r.text and "Newest messages" in r.text


async def test_channel_choices_bad_email_saves_nothing(app, database):
    ac = await build_activity_county(database)
    rep = ac.users["rep"]
    async with signed_in(app, ac.county, "rep") as client:
        page = await client.get(client.base + "/me/notifications")
        assert page.status_code == 200
        assert re.search(r'name="channels" value="sms" checked', page.text)  # SMS by default
        r = await post(client, client.base + "/me/notifications", {"channels": ["sms", "email"], "email": "not-an-address"},
                       page=client.base + "/me/notifications")
        assert r.status_code == 400 and "“not-an-address” is not an e-mail address" in r.text
        r = await post(client, client.base + "/me/notifications", {"channels": ["email"], "email": ""},
                       page=client.base + "/me/notifications")
        assert r.status_code == 400 and "please give your e-mail address" in r.text
        assert await choices(database, ac, rep.id) == (["sms"], None)
        r = await post(client, client.base + "/me/notifications", {"channels": ["email"], "email": "zw@example.com"},
                       page=client.base + "/me/notifications")
        assert r.status_code == 303
        assert await choices(database, ac, rep.id) == (["email"], "zw@example.com")
        # what the county requires is ticked and fixed, and stays on whatever is sent
        await set_config(database, ac.tenant.id, required_channels=["sms"])
        page = await client.get(client.base + "/me/notifications")
        assert re.search(r'<input type="checkbox" checked disabled> SMS', page.text)
        assert "(required by the county)" in page.text
        r = await post(client, client.base + "/me/notifications", {"email": "zw@example.com"},
                       page=client.base + "/me/notifications")
        assert r.status_code == 303
    assert await choices(database, ac, rep.id) == ([], "zw@example.com")
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        (who,) = await outbox.members(db, ac.tenant.id, [rep.id])
    assert who.accepts == {"sms"}  # required by the county, though the member chose nothing


async def choices(database, ac, user_id: int):
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        channels = await db.scalar(select(Membership.channels).where(Membership.user_id == user_id,
                                                                     Membership.tenant_id == ac.tenant.id))
        email = await db.scalar(select(User.email).where(User.id == user_id))
    return list(channels), email
