"""The county's notification settings: county admins only; saved and audited; a wording with an
unknown placeholder or too long is refused by name and nothing is saved; this month's SMS shown."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from app.notify import outbox
from app.notify.config import notify_settings
from app.notify.models import Delivery, Outbox
from app.notify.texts import KINDS
from tests.activities.world import build_activity_county
from tests.deputies.deputy_world import count, post, signed_in, text_of

SETTINGS = "/settings/notifications"
GOOD = {
    "quiet_start": "22", "quiet_end": "7", "required_channels": ["sms"], "remind_liaison_days": "5",
    "remind_sms_days": "2", "remind_eve_days": "0", "case_due_soon_days": "3", "notify_case_person": "1",
    "notify_at_risk": "1", "mailbox_weekday": "3", "yearly_report_day": "15",
}


async def settings_of(database, tenant_id):
    async with database.transaction(tenant_id=tenant_id) as db:
        return await notify_settings(db, tenant_id)


async def test_only_county_admins_see_the_settings(app, database):
    ac = await build_activity_county(database)
    for who in ("viewer", "town", "station", "rep", "handler"):
        async with signed_in(app, ac.county, who) as client:
            assert (await client.get(client.base + SETTINGS)).status_code == 404, who
            r = await post(client, client.base + SETTINGS, GOOD)
            assert r.status_code == 404, who
    assert (await settings_of(database, ac.tenant.id)).quiet_start == 21  # nothing saved
    async with signed_in(app, ac.county, "admin") as admin:
        r = await admin.get(admin.base + SETTINGS)
        assert r.status_code == 200
        assert 'name="quiet_start" value="21"' in r.text and 'name="quiet_end" value="8"' in r.text
        assert "SMS this month: 0 of 1000" in text_of(r.text)
        assert "{station}" in r.text and KINDS["activity_eve"].name in r.text  # kinds with their placeholders


async def test_saving_the_settings_and_the_county_wording(app, database, owner_sql):
    ac = await build_activity_county(database)
    async with signed_in(app, ac.county, "admin") as admin:
        r = await post(admin, admin.base + SETTINGS, {**GOOD, "text_activity_eve": "{name}同志，明天{place}见。"},
                       page=admin.base + SETTINGS)
        assert r.status_code == 303 and r.headers["location"].endswith(f"{SETTINGS}?done=settings")
        page = await admin.get(r.headers["location"])
        assert "The notification settings have been saved." in page.text
        assert re.search(r'value="sms" checked', page.text) and 'value="3" selected' in page.text
    got = await settings_of(database, ac.tenant.id)
    assert (got.quiet_start, got.quiet_end, got.required_channels) == (22, 7, ["sms"])
    assert (got.remind_liaison_days, got.remind_sms_days, got.remind_eve_days, got.case_due_soon_days) == (5, 2, 0, 3)
    assert (got.notify_case_person, got.notify_case_overdue, got.notify_at_risk) == (True, False, True)
    assert (got.mailbox_weekday, got.yearly_report_day) == (3, 15)
    assert got.message_texts == {"activity_eve": "{name}同志，明天{place}见。"}
    assert await count(owner_sql, "audit_log", "action = 'notify_settings_saved'") == 1
    # the county's wording is what the deputies read in their inbox (an SMS keeps the registered template)
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.deputies(db, t, [ac.deputies["张伟"]])
        await outbox.notify(db, tenant_id=t, kind="activity_eve", subject="activity:1", recipients=who,
                            due_at=datetime.now(timezone.utc), params={"place": "村委会"})
    assert [r["body"] for r in await owner_sql("SELECT body FROM outbox WHERE channel = 'inapp'")] == [
        "张伟同志，明天村委会见。"]


async def test_bad_wording_is_refused_by_name_and_nothing_is_saved(app, database, owner_sql):
    ac = await build_activity_county(database)
    cases = [
        ({"text_activity_eve": "明天{when}在{room}见"}, f"“{KINDS['activity_eve'].name}” uses {{room}}"),
        ({"text_case_receipt": "回执" * 151}, f"“{KINDS['case_receipt'].name}” may have at most 300 characters"),
        ({"text_mailbox_weekly": "请开箱{station"}, f"“{KINDS['mailbox_weekly'].name}” has a brace without its pair"),
        # only the kind's own variables (what its SMS template sends), and the ones it needs kept
        ({"text_case_due_soon": "{name}：案件{code}快到期了。{site}/s/{link}"},
         f"“{KINDS['case_due_soon'].name}” uses {{name}}"),
        ({"text_case_answer": "您的意见（{code}）已答复：{site}/s/{link}"},
         f"“{KINDS['case_answer'].name}” must keep {{rating}}"),
        ({"text_activity_sms": "{name}代表，请签到：{link}"},
         f"“{KINDS['activity_sms'].name}” must keep {{site}}/s/{{link}}"),
        ({"quiet_start": "24"}, "Quiet hours start at a whole hour from 0 to 23."),
        ({"remind_sms_days": "61"}, "0 to 60 days before an activity"),
        ({"yearly_report_day": "x"}, "The yearly report goes out on a day of January"),
        ({"mailbox_weekday": "8"}, "Please choose the weekday of the mailbox reminder"),
    ]
    async with signed_in(app, ac.county, "admin") as admin:
        for change, message in cases:
            r = await post(admin, admin.base + SETTINGS, {**GOOD, **change}, page=admin.base + SETTINGS)
            assert r.status_code == 400, change
            assert message in text_of(r.text), (change, text_of(r.text)[:600])
            for field, value in change.items():  # what was typed is shown again
                if field.startswith("text_"):
                    assert value[:20] in r.text
    got = await settings_of(database, ac.tenant.id)
    assert (got.quiet_start, got.message_texts, got.remind_sms_days) == (21, {}, 3)
    assert await count(owner_sql, "audit_log", "action = 'notify_settings_saved'") == 0


async def test_sms_used_this_month_against_the_quota(app, database, owner_sql):
    ac = await build_activity_county(database)
    t, now = ac.tenant.id, datetime.now(timezone.utc)
    await owner_sql("UPDATE tenants SET sms_quota = 50 WHERE id = $1", t)
    async with database.transaction(tenant_id=t) as db:
        row = Outbox(tenant_id=t, dedupe_key="x", kind="activity_sms", channel="sms", subject="activity:1",
                     address="13800000002", body="b", due_at=now, next_attempt_at=now, status="sent", attempts=3)
        db.add(row)
        await db.flush()
        db.add_all([Delivery(tenant_id=t, outbox_id=row.id, attempt=n, channel="sms", started_at=now, result=result)
                    for n, result in ((1, "retry"), (2, "sent"), (3, "sending"))])
    async with signed_in(app, ac.county, "admin") as admin:
        r = await admin.get(admin.base + SETTINGS)
        assert "SMS this month: 2 of 50" in text_of(r.text)  # the retried attempt is not counted
