"""Staff see trouble with messages within minutes: the county's home flags, for county admins and
viewers (those who see the delivery log), the messages waiting for a staff decision, stuck while
being sent, checked with the provider for long, failing again and again, and failed lately, each
with a link to exactly those rows in the delivery log; in the home page's one statement."""

from __future__ import annotations

import re
import pytest
from datetime import datetime, timedelta, timezone

from app.notify.models import Delivery, Outbox
from tests.activities.world import build_activity_county
from tests.deputies.deputy_world import signed_in, text_of

NOW = datetime.now(timezone.utc)


@pytest.fixture(autouse=True)
def _now_is_when_the_test_starts():
    """The pages count against the real clock: NOW is this test's start, not the module's import
    (in a full run minutes apart, a row "claimed now" would already count as stuck)."""
    global NOW
    NOW = datetime.now(timezone.utc)
LOG = "/notifications/log"
# row key → (status, attempts, claimed minutes ago, [(attempt result, started minutes ago), …])
ROWS = {
    "unknown": ("unknown", 1, None, [("unknown", 30)]),
    "stuck": ("sending", 1, 10, [("sending", 10)]),
    "sending_now": ("sending", 1, 0, [("sending", 0)]),
    "checking_long": ("checking", 1, None, [("unknown", 20)]),
    "checking_now": ("checking", 1, None, [("unknown", 1)]),
    "retrying": ("pending", 3, None, [("retry", 30), ("retry", 25), ("retry", 10)]),
    "retried_once": ("pending", 1, None, [("retry", 2)]),
    "resent_by_staff": ("pending", 5, None, [("failed", 60 * 24)] * 5),
    "failed_lately": ("failed", 1, None, [("failed", 60 * 24)]),
    "failed_long_ago": ("failed", 1, None, [("failed", 60 * 24 * 30)]),
}


async def put_rows(database, ac) -> None:
    t, NOW = ac.tenant.id, datetime.now(timezone.utc)  # the real clock, as the pages count with it
    async with database.transaction(tenant_id=t) as db:
        rows = {}
        for key, (status, attempts, claimed, _tries) in ROWS.items():
            rows[key] = Outbox(tenant_id=t, dedupe_key=key, kind="case_receipt", channel="sms", subject="case:1",
                               address="13912345678", body="b", due_at=NOW - timedelta(days=40), status=status,
                               attempts=attempts, next_attempt_at=NOW + timedelta(minutes=5),
                               claimed_at=NOW - timedelta(minutes=claimed) if claimed is not None else None,
                               last_error=f"marker-{key}")
            db.add(rows[key])
        await db.flush()
        db.add_all([Delivery(tenant_id=t, outbox_id=rows[key].id, attempt=n, channel="sms", result=result,
                             started_at=NOW - timedelta(minutes=ago))
                    for key, (_s, _a, _c, tries) in ROWS.items() for n, (result, ago) in enumerate(tries, 1)])


def markers(html: str) -> set[str]:
    return set(re.findall(r"marker-(\w+)", html))


FLAGGED = {
    "unknown": "waiting for a county admin to send them again or drop them: 1.",
    "stuck": "Messages stuck while being sent for over 3 minutes: 1.",
    "checking_long": "Messages being checked with the SMS provider for over 8 minutes: 1.",
    "retrying": "Messages that keep failing and are still being tried: 1.",
    "failed_lately": "Messages that could not be sent in the last 7 days: 1.",
}


async def test_admins_and_viewers_see_each_kind_of_trouble_and_reach_those_rows(app, database):
    ac = await build_activity_county(database)
    await put_rows(database, ac)
    for who in ("admin", "viewer"):
        async with signed_in(app, ac.county, who) as client:
            home = await client.get(client.base + "/")
            assert home.status_code == 200
            page = text_of(home.text)
            for flag, sentence in FLAGGED.items():
                assert sentence in page, (who, flag)
                assert f'href="{client.base}{LOG}?flag={flag}"' in home.text
                # the link shows exactly the flagged row
                log = await client.get(f"{client.base}{LOG}?flag={flag}")
                assert log.status_code == 200 and markers(log.text) == {flag}, (who, flag)
            # the filters combine, and the unfiltered log still shows every row
            assert markers((await client.get(f"{client.base}{LOG}?flag=stuck&channel=email")).text) == set()
            assert markers((await client.get(f"{client.base}{LOG}?flag=nonsense")).text) == set(ROWS)


async def test_members_who_do_not_see_the_log_are_not_told_and_a_quiet_county_shows_nothing(app, database):
    ac = await build_activity_county(database)
    async with signed_in(app, ac.county, "admin") as admin:
        assert 'id="message-trouble"' not in (await admin.get(admin.base + "/")).text
    await put_rows(database, ac)
    for who in ("town", "station"):
        async with signed_in(app, ac.county, who) as client:
            home = await client.get(client.base + "/")
            assert home.status_code == 200 and 'id="message-trouble"' not in home.text, who


async def test_the_flags_cost_no_query_more_than_the_failed_count_did(app, database):
    """One grouped count for every flag, in the statement that counts the unread messages. (The same
    role both times: a county admin's home also reads the set-up checklist, app.home.setup.)"""
    ac = await build_activity_county(database)
    async with signed_in(app, ac.county, "admin") as quiet_admin:
        await quiet_admin.get(quiet_admin.base + "/")  # the first entry
        quiet = int((await quiet_admin.get(quiet_admin.base + "/")).headers["x-query-count"])
    await put_rows(database, ac)
    async with signed_in(app, ac.county, "admin") as admin:
        await admin.get(admin.base + "/")
        troubled = await admin.get(admin.base + "/")
    assert 'id="message-trouble"' in troubled.text
    assert int(troubled.headers["x-query-count"]) == quiet
