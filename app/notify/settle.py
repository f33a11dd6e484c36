"""Settling what is uncertain about sent SMS, by asking the provider (`SmsProvider.query`, Alibaba's
QuerySendDetails): the first step of each tenant's sweep pass (app.notify.sweep). The provider is not
idempotent, so an SMS whose outcome is unknown is never sent again before the provider says it does
not have it.

- Stale claims: a row still `sending` long after it was claimed belongs to a worker that stopped
  between sending and recording. An SMS becomes `checking`; another channel goes back to `pending`
  (in-app needs nothing sent; an e-mail server cannot be asked, and a second e-mail is the lesser harm).
- Unknown outcomes (`checking`, at most CHECKS_PER_PASS a pass, leased so two workers do not ask
  twice): the provider has it → sent (or delivered, or failed on the handset); it clearly has no
  record, once `grace` has passed since the attempt started → pending, sent again at once; it cannot
  say → asked again a minute later, and after UNKNOWN_AFTER the row is `unknown`: the delivery log
  shows it, and the county admins (told once) send it again or drop it.
- Receipts: a sent SMS is asked about RECEIPT_FIRST after it was accepted, then at growing intervals
  for RECEIPT_FOR: delivered, or failed on the handset (the row becomes failed and the admins are told).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from app.core.db import Database
from app.notify.config import notify_settings
from app.notify.notices import tell_failures
from app.notify.sms import DeliveryReport, SmsProvider

log = logging.getLogger("lianluo.notify")

CHECK_GRACE = timedelta(seconds=60)  # a provider knows an accepted message by then
UNKNOWN_AFTER = timedelta(minutes=5)  # the provider could not say for this long: staff decide
CHECK_AGAIN = timedelta(minutes=1)
CHECKS_PER_PASS = 50
QUERIES_AT_ONCE = 8
QUERY_LIMIT_SECONDS = 15
RECEIPT_FIRST = timedelta(seconds=30)
RECEIPT_FOR = timedelta(hours=72)
LOST = "the worker stopped before recording the outcome"


@dataclass(frozen=True)
class Asked:
    """A row whose message the provider is asked about."""

    id: int
    kind: str
    channel: str
    address: str
    due_at: datetime
    attempt: int
    sent_at: datetime  # when the attempt started (unknown outcomes) or was accepted (receipts)
    provider_id: str | None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def settle(database: Database, tenant_id: int, *, now: datetime | None, sms: SmsProvider,
                 stale_after: timedelta, grace: timedelta = CHECK_GRACE, deadline: float | None = None) -> Counter:
    """One tenant's uncertain rows; no question to the provider starts after `deadline` (monotonic)."""
    deadline = deadline if deadline is not None else time.monotonic() + QUERY_LIMIT_SECONDS
    await _reclaim_stale(database, tenant_id, now or _utcnow(), stale_after)
    counts = await _check_unknown(database, tenant_id, now, sms, grace, deadline)
    counts.update(await _check_receipts(database, tenant_id, now, sms, deadline))
    return counts


async def _reclaim_stale(database: Database, tenant_id: int, now: datetime, stale_after: timedelta) -> None:
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(text("""
            WITH stale AS (
              UPDATE outbox SET status = CASE WHEN channel = 'sms' THEN 'checking' ELSE 'pending' END,
                next_attempt_at = :now, claimed_at = NULL, last_error = :lost
              WHERE tenant_id = :t AND status = 'sending' AND claimed_at < :cutoff
              RETURNING id, attempts, channel)
            UPDATE deliveries d SET result = CASE WHEN s.channel = 'sms' THEN 'unknown' ELSE 'retry' END,
              finished_at = :now, error = :lost
            FROM stale s WHERE d.tenant_id = :t AND d.outbox_id = s.id AND d.attempt = s.attempts
              AND d.result = 'sending'"""),
            {"t": tenant_id, "now": now, "cutoff": now - stale_after, "lost": LOST})


# --- unknown outcomes -------------------------------------------------------------------------------

# The attempt's delivery is joined after the UPDATE, not read in its RETURNING: Citus refuses a
# sub-query there ("non-IMMUTABLE functions are not allowed in the RETURNING clause").
_LEASE_CHECKS = text("""
WITH leased AS (
  UPDATE outbox o SET next_attempt_at = :again
  FROM (SELECT id FROM outbox WHERE tenant_id = :t AND status = 'checking' AND next_attempt_at <= :now
        ORDER BY next_attempt_at, id LIMIT :n FOR UPDATE SKIP LOCKED) pick
  WHERE o.tenant_id = :t AND o.id = pick.id
  RETURNING o.id, o.kind, o.channel, o.address, o.due_at, o.attempts)
SELECT l.id, l.kind, l.channel, l.address, l.due_at, l.attempts, d.started_at, d.provider_id
FROM leased l LEFT JOIN deliveries d ON d.tenant_id = :t AND d.outbox_id = l.id AND d.attempt = l.attempts
""")


SKIPPED = object()  # not asked (the pass is over): the lease runs out and it is asked later


async def _ask(sms: SmsProvider, tenant_id: int, rows: list[Asked], deadline: float) -> list:
    """The provider's answer for each row (a DeliveryReport, None, or an exception when it cannot
    say), a few at a time; SKIPPED for those not asked before `deadline`."""
    limit = asyncio.Semaphore(QUERIES_AT_ONCE)

    async def one(row: Asked):
        async with limit:
            if time.monotonic() > deadline:
                return SKIPPED
            try:
                return await asyncio.wait_for(sms.query(
                    mobile=row.address, sent_at=row.sent_at, reference=f"{tenant_id}-{row.id}",
                    provider_id=row.provider_id), QUERY_LIMIT_SECONDS)
            except Exception as error:  # noqa: BLE001 - whatever it is, the provider could not say
                return error if str(error) else RuntimeError(type(error).__name__)

    return list(await asyncio.gather(*(one(r) for r in rows)))


async def _lease_and_ask(database: Database, tenant_id: int, lease, sent_column: str, now: datetime | None,
                         sms: SmsProvider, deadline: float) -> tuple[list[Asked], list]:
    """Lease up to CHECKS_PER_PASS rows (in a short transaction of their own: nobody else asks about
    them until CHECK_AGAIN) and ask the provider about each, outside any transaction."""
    at = now or _utcnow()
    async with database.transaction(tenant_id=tenant_id) as db:
        leased = (await db.execute(lease, {"t": tenant_id, "now": at, "again": at + CHECK_AGAIN,
                                           "n": CHECKS_PER_PASS})).all()
    rows = [Asked(r.id, r.kind, r.channel, r.address, r.due_at, r.attempts, getattr(r, sent_column) or at,
                  r.provider_id) for r in leased]
    return rows, (await _ask(sms, tenant_id, rows, deadline) if rows else [])


async def _check_unknown(database: Database, tenant_id: int, now: datetime | None, sms: SmsProvider,
                         grace: timedelta, deadline: float) -> Counter:
    rows, answers = await _lease_and_ask(database, tenant_id, _LEASE_CHECKS, "started_at", now, sms, deadline)
    if not rows:
        return Counter()
    at = now or _utcnow()
    counts: Counter = Counter()
    async with database.transaction(tenant_id=tenant_id) as db:
        troubled = []
        for row, answer in zip(rows, answers):
            if answer is SKIPPED:
                continue
            result = await _apply_check(db, tenant_id, row, answer, at, grace)
            counts[result] += 1
            if result in ("failed", "unknown"):
                troubled.append((row, _reason(result, answer)))
        if troubled:
            await tell_failures(db, await notify_settings(db, tenant_id), troubled, at)
    counts.pop("waiting", None)
    return counts


def _reason(result: str, answer) -> str:
    if result == "unknown":
        return f"outcome unknown: the provider could not say ({answer}); send it again or drop it"
    return f"failed on the handset: {answer.error or 'no receipt'}"


_SET_ROW = text("""
UPDATE outbox SET status = :status, next_attempt_at = coalesce(:next_at, next_attempt_at), last_error = :error,
  sent_at = CASE WHEN :found THEN coalesce(sent_at, :sent_at) ELSE sent_at END,
  receipt = :receipt, receipt_at = :receipt_at, receipt_check_at = :receipt_check_at
WHERE tenant_id = :t AND id = :id AND status = 'checking' AND attempts = :attempt
RETURNING id
""")
_SET_ATTEMPT = text("""
UPDATE deliveries SET result = :result, error = :error, finished_at = coalesce(finished_at, :now)
WHERE tenant_id = :t AND outbox_id = :id AND attempt = :attempt
""")


async def _apply_check(db, tenant_id: int, row: Asked, answer, at: datetime, grace: timedelta) -> str:
    """Write what was learnt about one row; returns sent | delivered | failed | retry | unknown | waiting."""
    values = dict(t=tenant_id, id=row.id, attempt=row.attempt, next_at=None, error=None, found=False,
                  sent_at=row.sent_at, receipt=None, receipt_at=None, receipt_check_at=None)
    if isinstance(answer, DeliveryReport):
        values["found"] = True
        result, attempt_result = _found(values, answer, at)
    elif isinstance(answer, Exception):
        if at < row.sent_at + UNKNOWN_AFTER:
            values.update(status="checking", next_at=at + CHECK_AGAIN, error=f"asking the provider: {answer}"[:400])
            result, attempt_result = "waiting", None
        else:
            values.update(status="unknown", error=_reason("unknown", answer)[:400])
            result, attempt_result = "unknown", None
    elif at < row.sent_at + grace:  # the provider may not know it yet
        values.update(status="checking", next_at=row.sent_at + grace, error="outcome unknown: asking the provider")
        result, attempt_result = "waiting", None
    else:
        values.update(status="pending", next_at=at, error="the provider has no record of it: sent again")
        result, attempt_result = "retry", "retry"
    if not (await db.execute(_SET_ROW, values)).first():
        return "waiting"  # settled by another worker meanwhile
    if attempt_result:
        await db.execute(_SET_ATTEMPT, dict(t=tenant_id, id=row.id, attempt=row.attempt, result=attempt_result,
                                            error=values["error"], now=at))
    return result


def _found(values: dict, report: DeliveryReport, at: datetime) -> tuple[str, str]:
    if report.state == "failed":
        values.update(status="failed", receipt="failed", receipt_at=report.received_at or at,
                      error=_reason("failed", report)[:400])
        return "failed", "failed"
    values.update(status="sent")
    if report.state == "delivered":
        values.update(receipt="delivered", receipt_at=report.received_at or at)
        return "delivered", "sent"
    values.update(receipt_check_at=at + RECEIPT_FIRST)
    return "sent", "sent"


# --- delivery receipts ------------------------------------------------------------------------------

_LEASE_RECEIPTS = text("""
UPDATE outbox o SET receipt_check_at = :again
FROM (SELECT id FROM outbox WHERE tenant_id = :t AND receipt_check_at <= :now AND status = 'sent'
      ORDER BY receipt_check_at, id LIMIT :n FOR UPDATE SKIP LOCKED) pick
WHERE o.tenant_id = :t AND o.id = pick.id
RETURNING o.id, o.kind, o.channel, o.address, o.due_at, o.attempts, o.sent_at, o.provider_id
""")
_SET_RECEIPT = text("""
UPDATE outbox SET status = :status, receipt = :receipt, receipt_at = :receipt_at,
  receipt_check_at = :check_at, last_error = coalesce(:error, last_error)
WHERE tenant_id = :t AND id = :id AND status = 'sent'
""")


async def _check_receipts(database: Database, tenant_id: int, now: datetime | None, sms: SmsProvider,
                          deadline: float) -> Counter:
    rows, answers = await _lease_and_ask(database, tenant_id, _LEASE_RECEIPTS, "sent_at", now, sms, deadline)
    if not rows:
        return Counter()
    at = now or _utcnow()
    counts: Counter = Counter()
    async with database.transaction(tenant_id=tenant_id) as db:
        troubled = []
        for row, answer in zip(rows, answers):
            if answer is SKIPPED or isinstance(answer, Exception):
                continue  # asked again when the lease runs out
            values = dict(t=tenant_id, id=row.id, status="sent", receipt=None, receipt_at=None, error=None,
                          check_at=_next_receipt_check(row.sent_at, at))
            if isinstance(answer, DeliveryReport) and answer.state != "waiting":
                failed = answer.state == "failed"
                values.update(status="failed" if failed else "sent", receipt=answer.state,
                              receipt_at=answer.received_at or at, check_at=None,
                              error=_reason("failed", answer)[:400] if failed else None)
                counts[answer.state] += 1
                if failed:
                    troubled.append((row, values["error"]))
            await db.execute(_SET_RECEIPT, values)
        if troubled:
            await tell_failures(db, await notify_settings(db, tenant_id), troubled, at)
    return counts


def _next_receipt_check(sent_at: datetime, at: datetime) -> datetime | None:
    """Ask again after as long as the message has waited so far (at least RECEIPT_FIRST), until
    RECEIPT_FOR: then it stays "accepted" for good."""
    waited = at - sent_at
    if waited >= RECEIPT_FOR:
        return None
    return at + max(RECEIPT_FIRST, waited)
