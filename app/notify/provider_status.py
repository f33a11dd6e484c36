"""The platform's SMS account as the worker sees it (table sms_provider_status, one row) and the
operator's alerts (platform_alerts).

Arrears (`AccountHeldError`: isv.AMOUNT_NOT_ENOUGH, isv.OUT_OF_SERVICE) hold every SMS of the
platform: no tenant's sweep claims an SMS while `held_since` is set, except one probe every
PROBE_EVERY (the first sweep with an SMS due to take `probe_at` sends that one SMS). The hold ends when a send succeeds
(the probe, once the account is topped up) or when an operator lifts it (`lift`). Holding raises the
open alert `sms_account_held` (at most one open alert per kind); ending it resolves the alert.
Reading for the console: `status(db)` and `open_alerts(db)` (platform tables: no tenant binding).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.notify.models import PlatformAlert, SmsProviderStatus

PROBE_EVERY = timedelta(minutes=10)
HELD_ALERT = "sms_account_held"
NOTE_EVERY = timedelta(seconds=10)  # last success/failure are written at most this often (one row for all tenants)


async def held(db: AsyncSession) -> bool:
    """Whether every SMS is held (the account is in arrears)."""
    return await db.scalar(text("SELECT held_since FROM sms_provider_status WHERE id = 1")) is not None


async def take_probe(db: AsyncSession, now: datetime) -> bool:
    """While held, one sweep with an SMS to send may send it as a probe: True for the one that takes
    it (no other sweep does until PROBE_EVERY has passed)."""
    took = await db.scalar(text(
        "UPDATE sms_provider_status SET probe_at = :next, updated_at = :now WHERE id = 1 "
        "AND held_since IS NOT NULL AND (probe_at IS NULL OR probe_at <= :now) RETURNING 1"),
        {"now": now, "next": now + PROBE_EVERY})
    return bool(took)


async def hold(db: AsyncSession, *, code: str, error: str, now: datetime) -> None:
    """The account cannot send: hold every SMS and alert the operator (once while it lasts)."""
    await db.execute(text(
        "INSERT INTO sms_provider_status AS s (id, held_since, held_code, held_error, probe_at, last_failure_at, "
        "last_failure_code, updated_at) VALUES (1, :now, :code, :error, :probe, :now, :code, :now) "
        "ON CONFLICT (id) DO UPDATE SET held_since = coalesce(s.held_since, EXCLUDED.held_since), "
        "held_code = EXCLUDED.held_code, held_error = EXCLUDED.held_error, probe_at = EXCLUDED.probe_at, "
        "last_failure_at = EXCLUDED.last_failure_at, last_failure_code = EXCLUDED.last_failure_code, "
        "updated_at = EXCLUDED.updated_at"),
        {"now": now, "code": code[:60], "error": error[:400], "probe": now + PROBE_EVERY})
    await db.execute(text(
        "INSERT INTO platform_alerts (kind, detail, raised_at) VALUES (:kind, :detail, :now) "
        "ON CONFLICT (kind) WHERE resolved_at IS NULL DO NOTHING"),
        {"kind": HELD_ALERT, "detail": error[:400], "now": now})


async def note_success(db: AsyncSession, now: datetime) -> None:
    """A send went through: the hold (if any) is over; the last success is noted (not on every send:
    the row is shared by every tenant's sweep, and a row that does not match is not locked)."""
    lifted = await db.scalar(text(
        "WITH before AS (SELECT held_since FROM sms_provider_status WHERE id = 1) "
        "UPDATE sms_provider_status s SET last_success_at = :now, held_since = NULL, held_code = NULL, "
        "held_error = NULL, probe_at = NULL, updated_at = :now FROM before WHERE s.id = 1 "
        "AND (s.held_since IS NOT NULL OR s.last_success_at IS NULL OR s.last_success_at < :cutoff) "
        "RETURNING before.held_since IS NOT NULL"), {"now": now, "cutoff": now - NOTE_EVERY})
    if lifted:
        await _resolve(db, now, None)


async def note_failure(db: AsyncSession, code: str, now: datetime) -> None:
    await db.execute(text(
        "UPDATE sms_provider_status SET last_failure_at = :now, last_failure_code = :code, updated_at = :now "
        "WHERE id = 1 AND (last_failure_at IS NULL OR last_failure_at < :cutoff)"),
        {"now": now, "code": code[:60], "cutoff": now - NOTE_EVERY})


async def lift(db: AsyncSession, now: datetime, operator_id: int | None = None) -> bool:
    """An operator lifts the hold (the account was topped up); True if there was one."""
    lifted = await db.scalar(text(
        "UPDATE sms_provider_status SET held_since = NULL, held_code = NULL, held_error = NULL, probe_at = NULL, "
        "updated_at = :now WHERE id = 1 AND held_since IS NOT NULL RETURNING 1"), {"now": now})
    await _resolve(db, now, operator_id)
    return bool(lifted)


async def _resolve(db: AsyncSession, now: datetime, operator_id: int | None) -> None:
    await db.execute(text(
        "UPDATE platform_alerts SET resolved_at = :now, resolved_by = :who WHERE kind = :kind AND resolved_at IS NULL"),
        {"now": now, "who": operator_id, "kind": HELD_ALERT})


async def status(db: AsyncSession) -> SmsProviderStatus | None:
    return await db.get(SmsProviderStatus, 1)


async def open_alerts(db: AsyncSession) -> list[PlatformAlert]:
    return list((await db.scalars(select(PlatformAlert).where(PlatformAlert.resolved_at.is_(None))
                                  .order_by(PlatformAlert.raised_at))).all())
