"""A new sign-up application tells the operators: those with an e-mail address get one e-mail per half
hour in which applications came in, saying how many, over a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from app.accounts.models import User
from app.notify.links import absolute
from app.notify.mail import Mailer
from app.platform import notices
from tests.factories import csrf_from, make_user

# 10:05 in Shanghai: the half hour ends at 10:30
NOW = datetime(2026, 11, 18, 2, 5, tzinfo=timezone.utc)
WINDOW_END = datetime(2026, 11, 18, 2, 30, tzinfo=timezone.utc)


def expected(n: int) -> str:
    return f"有{n}份新的开通申请等待审核。运营控制台：{absolute('/ops/')}"


async def set_email(database, user, email: str) -> None:
    async with database.transaction() as db:
        await db.execute(update(User).where(User.id == user.id).values(email=email))


async def apply(client, division: str) -> None:
    page = await client.get("/signup")
    r = await client.post("/signup", follow_redirects=False, data={
        "division": division, "contact_name": "张三", "contact_phone": "13800138000", "note": "",
        "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 303


async def test_applications_in_a_half_hour_make_one_email_per_operator_with_an_address(
        client, database, mail_server, monkeypatch):
    monkeypatch.setattr("app.platform.services.now", lambda: NOW)
    await set_email(database, await make_user(database, "ops1", operator=True), "ops1@example.cn")
    await make_user(database, "ops2", operator=True)  # no address: the console only
    await set_email(database, await make_user(database, "clerk"), "clerk@example.cn")  # not an operator
    await apply(client, "510722")
    await apply(client, "510723")
    mailer = Mailer(mail_server.host, mail_server.port, "lianluo@example.cn", tls="none")
    assert await notices.send_due(database, mailer, now=WINDOW_END - timedelta(seconds=1)) == 0
    assert await notices.send_due(database, mailer, now=WINDOW_END) == 1
    [message] = mail_server.messages
    assert message["To"] == "ops1@example.cn"
    assert message.get_content().strip() == expected(2) and message["Subject"] == "新的开通申请"
    assert await notices.send_due(database, mailer, now=WINDOW_END + timedelta(minutes=10)) == 0
    # the next half hour's application is the next e-mail
    monkeypatch.setattr("app.platform.services.now", lambda: WINDOW_END + timedelta(minutes=1))
    await apply(client, "510725")
    assert await notices.send_due(database, mailer, now=WINDOW_END + timedelta(minutes=30)) == 1
    assert len(mail_server.messages) == 2 and mail_server.messages[1].get_content().strip() == expected(1)
