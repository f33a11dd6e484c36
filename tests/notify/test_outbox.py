"""The outbox: rows per recipient and channel, written in the caller's transaction, deduplicated,
withdrawn, and revived when the same reminder comes back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from app.accounts.models import Membership
from app.notify import outbox
from app.notify.models import Outbox
from tests.activities.world import build_activity_county
from tests.notify.reliability_helpers import set_config

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


async def rows(database, tenant_id):
    async with database.transaction(tenant_id=tenant_id) as db:
        return list((await db.scalars(select(Outbox).order_by(Outbox.id))).all())


async def test_deputies_get_sms_and_members_in_app_once(database):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    due = NOW + timedelta(days=3)
    for _ in range(2):  # a producer run twice writes nothing new
        async with database.transaction(tenant_id=t) as db:
            who = await outbox.deputies(db, t, [ac.deputies["张伟"], ac.deputies["李娜"], ac.deputies["王强"]])
            await outbox.notify(db, tenant_id=t, kind="activity_sms", subject="activity:1", recipients=who,
                                due_at=due, params={"station": "东街", "kind": "接待", "when": "周五", "place": "站里"},
                                now=NOW)
    got = await rows(database, t)
    # 张伟 has an account (SMS accepted by default) and a mobile: SMS + in-app; 李娜 has no account: SMS;
    # 王强 has neither account nor mobile: nothing.
    assert sorted((r.channel, r.deputy_id) for r in got) == sorted([
        ("sms", ac.deputies["张伟"]), ("inapp", ac.deputies["张伟"]), ("sms", ac.deputies["李娜"])])
    sms = next(r for r in got if r.deputy_id == ac.deputies["李娜"])
    assert sms.status == "pending" and sms.address == "13800000002" and sms.next_attempt_at == due
    assert "李娜" in sms.body and "东街" in sms.body


async def test_member_declining_sms_gets_in_app_unless_county_requires_it(database):
    ac = await build_activity_county(database)
    t, rep = ac.tenant.id, ac.users["rep"]
    async with database.transaction(tenant_id=t) as db:
        await db.execute(update(Membership).where(Membership.user_id == rep.id).values(channels=[]))
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.deputies(db, t, [ac.deputies["张伟"]])
        await outbox.notify(db, tenant_id=t, kind="activity_sms", subject="activity:1", recipients=who,
                            due_at=NOW, params={}, now=NOW)
    got = await rows(database, t)
    assert [(r.channel, r.status) for r in got] == [("inapp", "sent")]  # due now: in the inbox at once
    await set_config(database, t, required_channels=["sms"])
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.deputies(db, t, [ac.deputies["张伟"]])
        await outbox.notify(db, tenant_id=t, kind="activity_sms", subject="activity:2", recipients=who,
                            due_at=NOW, params={}, now=NOW)
    assert "sms" in {r.channel for r in await rows(database, t) if r.subject == "activity:2"}


async def test_withdraw_then_same_reminder_again_is_pending_again(database):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    due = NOW + timedelta(days=1)

    async def write():
        async with database.transaction(tenant_id=t) as db:
            who = await outbox.deputies(db, t, [ac.deputies["李娜"]])
            await outbox.notify(db, tenant_id=t, kind="activity_eve", subject="activity:7", recipients=who,
                                due_at=due, params={}, now=NOW)

    await write()
    async with database.transaction(tenant_id=t) as db:
        assert await outbox.withdraw(db, subject="activity:7", deputy_id=ac.deputies["李娜"]) == 1
        assert await outbox.withdraw(db, subject="activity:7") == 0
    assert [r.status for r in await rows(database, t)] == ["withdrawn"]
    await write()
    assert [r.status for r in await rows(database, t)] == ["pending"]


async def test_county_wording_is_used_for_chinese_recipients_in_the_inbox_and_sms_keep_the_template(database):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await set_config(database, t, message_texts={"activity_eve": "{name}同志，明天{place}见。"})
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.deputies(db, t, [ac.deputies["张伟"]])  # an account (in-app) and a mobile (SMS)
        await outbox.notify(db, tenant_id=t, kind="activity_eve", subject="activity:9", recipients=who,
                            due_at=NOW, params={"place": "村委会", "station": "东街站", "kind": "接待",
                                                "when": "2026-11-23 14:30"}, now=NOW)
    bodies = {r.channel: r.body for r in await rows(database, t)}
    # An SMS can only say what the template registered with the provider says.
    assert bodies == {"inapp": "张伟同志，明天村委会见。",
                      "sms": "张伟代表，温馨提醒：东街站的接待将于2026-11-23 14:30在村委会举行。"}
