"""The delivery log: county admins and viewers (others 404); who got what, when, through which channel,
with what result, numbers and addresses masked; filters; failed messages counted, sent again by county
admins (audited, attempts kept) and shown on the county admin's home page."""

from __future__ import annotations

import re
import pytest
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.notify.models import Delivery, Outbox
from app.notify.queries import month_bounds
from tests.activities.world import TZ, build_activity_county
from tests.deputies.deputy_world import count, post, signed_in, text_of

LOG = "/notifications/log"
NOW = datetime.now(timezone.utc)


@pytest.fixture(autouse=True)
def _now_is_when_the_test_starts():
    """The pages count against the real clock: NOW is this test's start, not the module's import
    (in a full run minutes apart, a row "claimed now" would already count as stuck)."""
    global NOW
    NOW = datetime.now(timezone.utc)


async def put_rows(database, ac) -> dict[str, int]:
    """An SMS sent to a deputy, an e-mail that failed to a member, an in-app message, a pending SMS
    to a person, and an old failed SMS (last month)."""
    t, admin = ac.tenant.id, ac.users["admin"]
    last_month = month_bounds(f"{NOW.astimezone(TZ):%Y-%m}", TZ)[0] - timedelta(days=3)
    rows = {
        "sms": Outbox(kind="activity_sms", channel="sms", subject="activity:1", deputy_id=ac.deputies["李娜"],
                      address="13800000002", status="sent", attempts=1, sent_at=NOW, provider_id="biz-0001", due_at=NOW),
        "email": Outbox(kind="case_overdue", channel="email", subject="case:1", user_id=admin.id,
                        address="wang.admin@example.com", status="failed", attempts=5,
                        last_error="550 mailbox unavailable", due_at=NOW),
        "inapp": Outbox(kind="case_overdue", channel="inapp", subject="case:1", user_id=admin.id, status="sent",
                        sent_at=NOW, due_at=NOW),
        "person": Outbox(kind="case_receipt", channel="sms", subject="case:2", address="13912345678",
                         status="pending", due_at=NOW + timedelta(hours=2)),
        "old": Outbox(kind="activity_eve", channel="sms", subject="activity:2", deputy_id=ac.deputies["张伟"],
                      address="13800000001", status="failed", attempts=1,
                      last_error="isv.MOBILE_NUMBER_ILLEGAL", due_at=last_month),
    }
    async with database.transaction(tenant_id=t) as db:
        for key, row in rows.items():
            row.tenant_id, row.dedupe_key, row.body, row.next_attempt_at = t, key, f"{key} body", row.due_at
            db.add(row)
        await db.flush()
        for row in rows.values():  # each attempt as the sweep records it
            db.add_all([Delivery(tenant_id=t, outbox_id=row.id, attempt=n, channel=row.channel, started_at=row.due_at,
                                 result="sent" if row.status == "sent" else "failed") for n in range(1, row.attempts + 1)])
        return {key: row.id for key, row in rows.items()}


async def test_who_sees_the_log_and_what_it_shows(app, database):
    ac = await build_activity_county(database)
    await put_rows(database, ac)
    for who in ("town", "station", "rep", "handler"):
        async with signed_in(app, ac.county, who) as client:
            assert (await client.get(client.base + LOG)).status_code == 404, who
    async with signed_in(app, ac.county, "viewer") as viewer:
        r = await viewer.get(viewer.base + LOG)
        assert r.status_code == 200
        assert "Messages that could not be sent: 2." in text_of(r.text)
        assert "/resend" not in r.text  # viewers read only
        assert (await post(viewer, viewer.base + LOG + "/resend", page=viewer.base + LOG)).status_code == 404
    async with signed_in(app, ac.county, "admin") as admin:
        r = await admin.get(admin.base + LOG)
        page = text_of(r.text)
        assert "李娜 138****0002" in page and "biz-0001" in page
        assert "Alpha-Admin w***@example.com" in page and "550 mailbox unavailable" in page
        assert "139****5678" in page  # a person known by number only
        for full in ("13800000002", "13912345678", "wang.admin@example.com", "13800000001"):
            assert full not in r.text
        assert r.text.count('/resend"') == 3  # the banner's button and one per failed row


async def test_filters_by_status_channel_kind_and_month(app, database):
    ac = await build_activity_county(database)
    await put_rows(database, ac)
    this_month = f"{NOW.astimezone(TZ):%Y-%m}"

    def rows_of(html: str) -> set[str]:
        return set(re.findall(r"(biz-0001|550 mailbox unavailable|139\*\*\*\*5678|MOBILE_NUMBER_ILLEGAL)", html))

    async with signed_in(app, ac.county, "admin") as admin:
        got = lambda query: admin.get(f"{admin.base}{LOG}?{query}")  # noqa: E731
        assert rows_of((await got("status=failed")).text) == {"550 mailbox unavailable", "MOBILE_NUMBER_ILLEGAL"}
        assert rows_of((await got("channel=email")).text) == {"550 mailbox unavailable"}
        assert rows_of((await got("kind=case_receipt")).text) == {"139****5678"}
        assert rows_of((await got(f"month={this_month}&channel=sms")).text) == {"biz-0001", "139****5678"}
        # anything malformed is ignored
        assert len(rows_of((await got("status=nonsense&month=2026-13&kind=x")).text)) == 4


async def test_sending_failed_messages_again(app, database, owner_sql):
    ac = await build_activity_county(database)
    ids = await put_rows(database, ac)
    async with signed_in(app, ac.county, "admin") as admin:
        home = await admin.get(admin.base + "/")
        assert "Messages that could not be sent in the last 7 days: 1." in text_of(home.text)  # not last month's
        # a message that has not failed cannot be sent again; nothing changes
        r = await post(admin, f"{admin.base}{LOG}/{ids['sms']}/resend", page=admin.base + LOG)
        assert r.status_code == 400 and "This message has not failed" in r.text
        r = await post(admin, f"{admin.base}{LOG}/{ids['email']}/resend", page=admin.base + LOG)
        assert r.status_code == 303 and r.headers["location"].endswith(f"{LOG}?done=resent_one")
        assert "Messages that could not be sent" not in (await admin.get(admin.base + "/")).text
        r = await post(admin, f"{admin.base}{LOG}/resend", page=admin.base + LOG)
        assert r.status_code == 303
        page = await admin.get(r.headers["location"])
        assert "The failed messages are queued to be sent again." in page.text
        assert "Messages that could not be sent" not in page.text
        r = await post(admin, f"{admin.base}{LOG}/resend", page=admin.base + LOG)
        assert r.status_code == 400 and "No message has failed" in r.text
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        got = {r.id: r for r in (await db.scalars(select(Outbox))).all()}
    for key, attempts in (("email", 5), ("old", 1)):
        row = got[ids[key]]
        assert (row.status, row.attempts, row.claimed_at) == ("pending", attempts, None)
        assert row.next_attempt_at > NOW - timedelta(minutes=1)
    assert got[ids["sms"]].status == "sent"
    assert await count(owner_sql, "audit_log", "action = 'notifications_resent'") == 2


async def test_the_log_pages_in_a_fixed_number_of_queries(app, database):
    ac = await build_activity_county(database)
    await put_rows(database, ac)
    async with signed_in(app, ac.county, "admin") as admin:
        await admin.get(admin.base + "/")
        few = int((await admin.get(admin.base + LOG)).headers["x-query-count"])
        async with database.transaction(tenant_id=ac.tenant.id) as db:
            db.add_all([Outbox(tenant_id=ac.tenant.id, dedupe_key=f"bulk{i}", kind="activity_sms", channel="sms",
                               subject="activity:9", deputy_id=ac.deputies["李娜"], address="13800000002",
                               body="b", due_at=NOW, next_attempt_at=NOW, status="sent") for i in range(60)])
        r = await admin.get(admin.base + LOG)
        assert int(r.headers["x-query-count"]) == few
        assert r.text.count("<tr><td>") == 50 and "Older messages" in r.text
        older = re.search(r"before=(\d+)", r.text).group(1)
        r = await admin.get(f"{admin.base}{LOG}?before={older}")
        assert r.text.count("<tr><td>") == 15 and "Newest messages" in r.text


async def test_unknown_stuck_and_checked_messages_are_shown_and_staff_decide_the_unknown(app, database, owner_sql):
    """A message whose outcome the provider cannot tell waits for staff: the log says so at the top,
    and a county admin sends it again or drops it (audited); one being checked and one stuck in
    "being sent" for over three minutes are flagged too. Viewers see, and decide nothing."""
    ac = await build_activity_county(database)
    t = ac.tenant.id
    rows = {
        "unknown": Outbox(kind="case_receipt", channel="sms", subject="case:3", address="13900000003",
                          status="unknown", attempts=1, last_error="outcome unknown: the provider could not say"),
        "drop": Outbox(kind="case_receipt", channel="sms", subject="case:4", address="13900000004",
                       status="unknown", attempts=1, last_error="outcome unknown: the provider could not say"),
        "checking": Outbox(kind="case_receipt", channel="sms", subject="case:5", address="13900000005",
                           status="checking", attempts=1, last_error="outcome unknown: timeout"),
        "stuck": Outbox(kind="case_receipt", channel="sms", subject="case:6", address="13900000006",
                        status="sending", attempts=1, claimed_at=NOW - timedelta(minutes=10)),
        "busy": Outbox(kind="case_receipt", channel="sms", subject="case:7", address="13900000007",
                       status="sending", attempts=1, claimed_at=NOW),
        "delivered": Outbox(kind="case_receipt", channel="sms", subject="case:8", address="13900000008",
                            status="sent", attempts=1, sent_at=NOW, receipt="delivered", receipt_at=NOW),
    }
    async with database.transaction(tenant_id=t) as db:
        for key, row in rows.items():
            row.tenant_id, row.dedupe_key, row.body, row.due_at, row.next_attempt_at = t, key, "b", NOW, NOW
            db.add(row)
        await db.flush()
        ids = {key: row.id for key, row in rows.items()}
    async with signed_in(app, ac.county, "viewer") as viewer:
        page = text_of((await viewer.get(viewer.base + LOG)).text)
        assert "Messages whose outcome the SMS provider cannot tell: 2." in page
        assert "Messages whose outcome is being checked with the SMS provider: 1" in page
        assert "Messages stuck while being sent for over three minutes: 1" in page
        assert "Drop this message" not in page
    async with signed_in(app, ac.county, "admin") as admin:
        r = await admin.get(f"{admin.base}{LOG}?status=unknown")
        assert r.text.count("Outcome unknown: staff to decide") >= 2 and r.text.count("/drop\"") == 2
        stuck = text_of((await admin.get(f"{admin.base}{LOG}?status=sending")).text)
        assert stuck.count("Stuck since") == 1
        assert "Delivered to the phone" in text_of((await admin.get(f"{admin.base}{LOG}?status=sent")).text)
        r = await post(admin, f"{admin.base}{LOG}/{ids['unknown']}/resend", page=admin.base + LOG)
        assert r.status_code == 303
        r = await post(admin, f"{admin.base}{LOG}/{ids['drop']}/drop", page=admin.base + LOG)
        assert r.status_code == 303 and "The message will not be sent again." in (await admin.get(r.headers["location"])).text
        # only an unknown one can be dropped
        r = await post(admin, f"{admin.base}{LOG}/{ids['checking']}/drop", page=admin.base + LOG)
        assert r.status_code == 400 and "nothing to decide" in r.text
    async with database.transaction(tenant_id=t) as db:
        got = {r.id: r for r in (await db.scalars(select(Outbox))).all()}
    assert (got[ids["unknown"]].status, got[ids["drop"]].status, got[ids["checking"]].status) == (
        "pending", "withdrawn", "checking")
    assert await count(owner_sql, "audit_log", "action LIKE 'notification_unknown_%'") == 2
