"""E-mail over SMTP against a local SMTP server (aiosmtpd): the message, its Message-ID, which refusals
are final, the sweep's e-mail channel, and the mail sink that `./run start` runs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, update

from app.accounts.models import Membership, User
from app.notify import outbox
from app.notify.mail import Mailer
from app.notify.models import Outbox
from app.notify.sms import PermanentSendError, TransientSendError, UnconfiguredSms
from app.notify.sweep import Channels, sweep
from app.notify.texts import KINDS
from app.core.i18n import DEFAULT_LOCALE, catalogue
from tests.activities.world import build_activity_county
from tests.notify.conftest import ROOT, free_port

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


def mailer(server) -> Mailer:
    return Mailer(server.host, server.port, "lianluo@santai.example.cn", timeout=5)


async def test_a_message_arrives_with_its_subject_text_and_message_id(mail_server):
    message_id = await mailer(mail_server).send(to="zhang@example.cn", subject="活动提醒",
                                                text="张伟代表：周五上午九点，东街联络站。", reference="3-17")
    [got] = mail_server.messages
    assert message_id == got["Message-ID"] == "<3-17@santai.example.cn>"
    assert (got["Subject"], got["To"], got["From"]) == ("活动提醒", "zhang@example.cn", "lianluo@santai.example.cn")
    assert got.get_content().strip() == "张伟代表：周五上午九点，东街联络站。"
    # every attempt of the same outbox row carries the same Message-ID
    assert await mailer(mail_server).send(to="zhang@example.cn", subject="活动提醒", text="…", reference="3-17") == message_id


async def test_a_5xx_refusal_is_final_a_4xx_one_or_no_server_is_not(mail_server):
    mail_server.refuse["nobody@example.cn"] = "550 5.1.1 No such mailbox"
    mail_server.refuse["full@example.cn"] = "452 4.2.2 Mailbox full"
    with pytest.raises(PermanentSendError, match="550"):
        await mailer(mail_server).send(to="nobody@example.cn", subject="s", text="t", reference="1-1")
    with pytest.raises(TransientSendError, match="452"):
        await mailer(mail_server).send(to="full@example.cn", subject="s", text="t", reference="1-2")
    with pytest.raises(TransientSendError, match="connection"):
        await Mailer("127.0.0.1", free_port(), "a@b.cn", timeout=2).send(to="x@y.cn", subject="s", text="t",
                                                                          reference="1-3")
    assert mail_server.messages == []


async def test_the_sweep_sends_e_mail_to_members_who_accept_it(database, mail_server):
    ac = await build_activity_county(database)
    t, admin, town = ac.tenant.id, ac.users["admin"], ac.users["town"]
    async with database.transaction(tenant_id=t) as db:
        await db.execute(update(User).where(User.id == admin.id).values(email="admin@example.cn"))
        await db.execute(update(User).where(User.id == town.id).values(email="gone@example.cn"))
        await db.execute(update(Membership).where(Membership.user_id.in_([admin.id, town.id]))
                         .values(channels=["email"]))
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.members(db, t, [admin.id, town.id])
        await outbox.notify(db, tenant_id=t, kind="case_overdue", subject="case:4", recipients=who,
                            due_at=NOW, params={"code": "K7", "unit": "交通局", "due": "11月18日"},
                            now=NOW - timedelta(hours=1))
    mail_server.refuse["gone@example.cn"] = "550 5.1.1 No such mailbox"
    channels = Channels(sms=UnconfiguredSms(), mail=mailer(mail_server))
    counts = await sweep(database, now=NOW, channels=channels)
    assert (counts["sent"], counts["failed"]) == (3, 1)  # 2 inbox + 1 e-mail; the refused address
    [got] = mail_server.messages
    title = KINDS["case_overdue"].name
    assert got["To"] == "admin@example.cn" and got["Subject"] == catalogue(DEFAULT_LOCALE).get(title, title)
    async with database.transaction(tenant_id=t) as db:
        rows = {(r.channel, r.user_id): r for r in await db.scalars(select(Outbox).where(Outbox.kind == "case_overdue"))}
        notices = list(await db.scalars(select(Outbox).where(Outbox.kind == "delivery_failed")))
    sent = rows[("email", admin.id)]
    assert sent.status == "sent" and sent.provider_id == got["Message-ID"] == f"<{t}-{sent.id}@santai.example.cn>"
    assert "K7" in got.get_content()
    refused = rows[("email", town.id)]
    assert refused.status == "failed" and refused.attempts == 1 and "550" in refused.last_error
    assert [n.user_id for n in notices] == [admin.id] and "g***@example.cn" in notices[0].body


async def test_without_a_mail_server_e_mail_fails_plainly(database):
    ac = await build_activity_county(database)
    t, admin = ac.tenant.id, ac.users["admin"]
    async with database.transaction(tenant_id=t) as db:
        await db.execute(update(User).where(User.id == admin.id).values(email="admin@example.cn"))
        await db.execute(update(Membership).where(Membership.user_id == admin.id).values(channels=["email"]))
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.members(db, t, [admin.id])
        await outbox.notify(db, tenant_id=t, kind="mailbox_weekly", subject="station:1", recipients=who,
                            due_at=NOW, params={"station": "东街"}, now=NOW - timedelta(hours=1))
        # mailbox_weekly has no e-mail channel: only the inbox
    assert (await sweep(database, now=NOW, channels=Channels(sms=UnconfiguredSms())))["failed"] == 0
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.members(db, t, [admin.id])
        await outbox.notify(db, tenant_id=t, kind="yearly_report", subject="deputy:1", recipients=who,
                            due_at=NOW, params={}, now=NOW - timedelta(hours=1))
    assert (await sweep(database, now=NOW, channels=Channels(sms=UnconfiguredSms())))["failed"] == 1
    async with database.transaction(tenant_id=t) as db:
        row = await db.scalar(select(Outbox).where(Outbox.channel == "email"))
    assert row.status == "failed" and "LIANLUO_SMTP_HOST" in row.last_error


def test_the_mail_sink_writes_each_message_to_a_file(tmp_path):
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "app", "mail-sink", "--port", str(port), "--dir", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sender = Mailer("127.0.0.1", port, "lianluo@localhost", timeout=2)
        deadline = time.monotonic() + 15
        while True:
            try:
                asyncio.run(sender.send(to="a@example.cn", subject="第一封", text="你好", reference="1-1"))
                break
            except TransientSendError:
                if time.monotonic() > deadline or sink.poll() is not None:
                    raise
                time.sleep(0.1)
        asyncio.run(sender.send(to="b@example.cn", subject="第二封", text="再见", reference="1-2"))
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    files = sorted(p.name for p in tmp_path.glob("*.eml"))
    assert files == ["1.eml", "2.eml"]
    second = message_from_bytes((tmp_path / "2.eml").read_bytes(), policy=policy.default)
    assert second["Subject"] == "第二封" and second["To"] == "b@example.cn"
