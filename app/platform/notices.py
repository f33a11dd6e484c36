"""Telling the operators that sign-up applications wait (issue 17).

Operators are platform users: no tenant, so no outbox and no inbox. The console's home lists the
applications waiting; an operator with an e-mail address also gets one e-mail per half hour in which
applications came in, saying how many (`operator_digests`: one row per operator and half hour, counted
up while it waits, like a county's digests of new work in app.notify.digest).

`signup_received` runs in the transaction that stores the application. `send_due` is the worker's
(app.jobs.worker.deliver_notifications, every 10 seconds): it claims the rows due, sends, and writes each
outcome. An SMTP server cannot be asked whether a message arrived, so a row left `sending` by a worker
that stopped is sent again after STALE_AFTER: a second e-mail about waiting applications does no harm.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import Database
from app.core.i18n import DEFAULT_LOCALE, LOCALES, catalogue, lazy
from app.notify.links import absolute
from app.notify.sms import PermanentSendError, TransientSendError
from app.platform.models import OperatorDigest

log = logging.getLogger("lianluo.platform")

KIND = "signups"
WINDOW = timedelta(minutes=30)
ZONE = ZoneInfo("Asia/Shanghai")  # the operators' half hours
BATCH = 50
MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=5)
STALE_AFTER = timedelta(minutes=5)
SUBJECT = lazy("New sign-up applications")
TEXT = lazy("Sign-up applications that came in and wait for your review: %(n)s. The operator console: %(url)s")

_COUNT_IN = text("""
INSERT INTO operator_digests (user_id, kind, due_at)
SELECT id, :kind, :due FROM users WHERE is_operator AND disabled_at IS NULL AND coalesce(email, '') <> ''
ON CONFLICT (user_id, kind, due_at) DO UPDATE SET count = operator_digests.count + 1
  WHERE operator_digests.status = 'pending'
""")


def window_end(at: datetime) -> datetime:
    local = at.astimezone(ZONE)
    return local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0) + WINDOW


async def signup_received(db: AsyncSession, *, now: datetime | None = None) -> None:
    """Count an application into each operator's digest of this half hour (in the caller's transaction)."""
    await db.execute(_COUNT_IN, {"kind": KIND, "due": window_end(now or datetime.now(timezone.utc))})


def _due(now: datetime):
    waiting = and_(OperatorDigest.status == "pending", OperatorDigest.due_at <= now,
                   or_(OperatorDigest.claimed_at.is_(None), OperatorDigest.claimed_at <= now - RETRY_AFTER))
    stale = and_(OperatorDigest.status == "sending", OperatorDigest.claimed_at < now - STALE_AFTER)
    return or_(waiting, stale)


async def send_due(database: Database, mail, *, now: datetime | None = None) -> int:
    """Send the digests that are due (`mail`: app.notify.mail.Mailer, or None when no mail server is
    configured: they fail, as the counties' e-mail does). Returns how many were sent."""
    now = now or datetime.now(timezone.utc)
    async with database.transaction() as db:
        due = (select(OperatorDigest.id).where(_due(now)).order_by(OperatorDigest.id).limit(BATCH)
               .with_for_update(skip_locked=True))
        claimed = (await db.execute(
            update(OperatorDigest).where(OperatorDigest.id.in_(due))
            .values(status="sending", attempts=OperatorDigest.attempts + 1, claimed_at=now)
            .returning(OperatorDigest.id, OperatorDigest.user_id, OperatorDigest.count, OperatorDigest.attempts)
            .execution_options(synchronize_session=False))).all()
        if not claimed:
            return 0
        people = {u.id: u for u in (await db.execute(select(User.id, User.email, User.locale).where(
            User.id.in_({c.user_id for c in claimed}), User.is_operator, User.disabled_at.is_(None)))).all()}
    sent = 0
    for row in claimed:
        outcome = await _send(mail, row, people.get(row.user_id))
        sent += outcome["status"] == "sent"
        async with database.transaction() as db:
            await db.execute(update(OperatorDigest).where(OperatorDigest.id == row.id,
                                                          OperatorDigest.status == "sending")
                             .values(**outcome, sent_at=now if outcome["status"] == "sent" else None)
                             .execution_options(synchronize_session=False))
    return sent


async def _send(mail, row, person) -> dict:
    if person is None or not person.email:
        return {"status": "failed", "last_error": "no longer an operator with an e-mail address"}
    if mail is None:
        return {"status": "failed", "last_error": "no mail server configured (LIANLUO_SMTP_HOST)"}
    words = catalogue(person.locale if person.locale in LOCALES else DEFAULT_LOCALE)
    body = words.get(TEXT, TEXT) % {"n": row.count, "url": absolute("/ops/")}
    try:
        await mail.send(to=person.email, subject=words.get(SUBJECT, SUBJECT), text=body, reference=f"ops-{row.id}")
    except PermanentSendError as error:
        return {"status": "failed", "last_error": str(error)[:400]}
    except (TransientSendError, OSError) as error:
        if row.attempts >= MAX_ATTEMPTS:
            return {"status": "failed", "last_error": f"{error} (gave up after {row.attempts} attempts)"[:400]}
        return {"status": "pending", "last_error": str(error)[:400]}
    except Exception as error:  # an unexpected answer: logged, tried again like a transient failure
        log.exception("sending operator digest %s failed unexpectedly", row.id)
        if row.attempts >= MAX_ATTEMPTS:
            return {"status": "failed", "last_error": f"unexpected: {type(error).__name__}"}
        return {"status": "pending", "last_error": f"unexpected: {type(error).__name__}"}
    return {"status": "sent", "last_error": None}
