"""Operator TOTP: enrolment with a QR code, and the per-session second factor.

Codes are accepted one step either side of now (clock drift), and each time step only once.
Secrets are stored sealed (app.core.sealing) with the settings' TOTP key, bound to the user's id. A
clear value (stored before sealing) or one sealed under an old key still opens, and is sealed under
the current key at its next use, or by `lianluo migrate` (reseal_secrets) for all users at once.
"""

from __future__ import annotations

import pyotp
import segno
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.accounts.models import User, UserSession
from app.accounts.services import Whose, failures_in_last_hour, record_failure
from app.audit.services import record_platform
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.sealing import Sealer, Unsealable
from app.core.settings import Settings

TOTP_ISSUER = "Lianluo"
TOTP_LOCKED = lazy("Too many wrong codes for this account. Please try again in an hour.")
TOTP_WRONG = lazy("The code is wrong or has expired. Please enter the current 6-digit code.")


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step (30 s) within ±1 of now whose code this is, or None."""
    if len(code) != 6 or not code.isdigit():
        return None
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(code, for_time=at, valid_window=1)
    except pyotp.exceptions.OTPVerificationError:
        return None


def _context(user_id: int) -> str:
    return f"user:{user_id}"


def read_secret(settings: Settings, user: User) -> tuple[str | None, bool]:
    """The user's secret in clear, and whether the stored value should be sealed again (it is clear,
    or under an old key). A value no key of the settings opens gives None: it cannot verify."""
    value = user.totp_secret
    if not value:
        return None, False
    if not Sealer.is_sealed(value):
        return value, True
    try:
        return Sealer(settings.totp_keys()).open(value, context=_context(user.id))
    except Unsealable:
        return None, False


async def _store_secret(db: AsyncSession, settings: Settings, user: User, secret: str, *conditions) -> None:
    sealed = Sealer(settings.totp_keys()).seal(secret, context=_context(user.id))
    await db.execute(update(User).where(User.id == user.id, *conditions).values(totp_secret=sealed))
    user.totp_secret = sealed


async def enrolment_secret(db: AsyncSession, settings: Settings, user: User) -> str:
    """The secret being enrolled: kept while TOTP is not yet enabled, created if missing. Commits."""
    secret, stale = read_secret(settings, user) if user.totp_enabled_at is None else (None, False)
    if secret and not stale:
        return secret
    await _store_secret(db, settings, user, secret or pyotp.random_base32(), User.totp_enabled_at.is_(None))
    await db.commit()
    return read_secret(settings, user)[0]


async def reseal_secrets(db: AsyncSession, settings: Settings) -> tuple[int, int]:
    """Seal under the current key every secret stored in clear or under an old key (after the
    migration that introduced sealing, and after a key rotation). Returns (sealed, unopenable):
    values no key opens are left as they are. Does not commit."""
    users = (await db.scalars(select(User).where(User.totp_secret.is_not(None)))).all()
    sealed = unopenable = 0
    for user in users:
        secret, stale = read_secret(settings, user)
        if secret is None:
            unopenable += 1
        elif stale:
            await _store_secret(db, settings, user, secret)
            sealed += 1
    return sealed, unopenable


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (no XML declaration, no fixed colours' CSS)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")


async def check_totp(
    db: AsyncSession, settings: Settings, user: User, session_id: int, code: str, *, enrol: bool,
    client_addr: str | None,
) -> None:
    """Verify a code for this session. Wrong codes count like failed sign-ins (same hourly limit per
    account) and are audited. On success marks the session verified (and, when enrolling, enables
    TOTP). Raises Refusal. Commits."""
    whose = Whose(user_id=user.id)
    failures = await failures_in_last_hour(db, whose)
    if failures >= settings.failed_logins_per_hour:
        await record_platform(db, actor_user_id=user.id, action="totp_refused_locked", client_addr=client_addr)
        await db.commit()
        raise Refusal(TOTP_LOCKED)
    code = "".join(code.split())
    secret, stale = read_secret(settings, user)
    usable = secret and (user.totp_enabled_at is None if enrol else user.totp_enabled_at is not None)
    step = matching_step(secret, code) if usable else None
    # A code is good once: a step at or before the last one used is a replay (someone watched).
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        await record_failure(db, settings, whose, failures, "totp_failed", client_addr)
        await db.commit()
        raise Refusal(TOTP_WRONG)
    await db.execute(update(User).where(User.id == user.id).values(totp_last_step=step))
    user.totp_last_step = step
    if stale:
        await _store_secret(db, settings, user, secret)
    if enrol:
        await db.execute(update(User).where(User.id == user.id).values(totp_enabled_at=now()))
        user.totp_enabled_at = now()
    await db.execute(update(UserSession).where(UserSession.id == session_id).values(totp_verified=True))
    await record_platform(db, actor_user_id=user.id, action="totp_enrolled" if enrol else "totp_verified",
                          client_addr=client_addr)
    await db.commit()
