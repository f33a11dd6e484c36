"""Operator TOTP: enrolment with a QR code, and the per-session second factor.

Codes are accepted one step either side of now (clock drift), and each time step only once.
"""

from __future__ import annotations

import pyotp
import segno
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import now
from app.accounts.models import User, UserSession
from app.accounts.services import failures_in_last_hour, record_failure
from app.audit.services import record_platform
from app.core.errors import Refusal
from app.core.i18n import lazy
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


async def enrolment_secret(db: AsyncSession, user: User) -> str:
    """The secret being enrolled: kept while TOTP is not yet enabled, created if missing. Commits."""
    if user.totp_secret and user.totp_enabled_at is None:
        return user.totp_secret
    secret = pyotp.random_base32()
    await db.execute(update(User).where(User.id == user.id, User.totp_enabled_at.is_(None)).values(totp_secret=secret))
    await db.commit()
    user.totp_secret = secret
    return secret


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
    failures = await failures_in_last_hour(db, user.id)
    if failures >= settings.failed_logins_per_hour:
        await record_platform(db, actor_user_id=user.id, action="totp_refused_locked", client_addr=client_addr)
        await db.commit()
        raise Refusal(TOTP_LOCKED)
    code = "".join(code.split())
    secret = user.totp_secret
    usable = secret and (user.totp_enabled_at is None if enrol else user.totp_enabled_at is not None)
    step = matching_step(secret, code) if usable else None
    # A code is good once: a step at or before the last one used is a replay (someone watched).
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        await record_failure(db, settings, user.id, failures, "totp_failed", client_addr)
        await db.commit()
        raise Refusal(TOTP_WRONG)
    await db.execute(update(User).where(User.id == user.id).values(totp_last_step=step))
    user.totp_last_step = step
    if enrol:
        await db.execute(update(User).where(User.id == user.id).values(totp_enabled_at=now()))
        user.totp_enabled_at = now()
    await db.execute(update(UserSession).where(UserSession.id == session_id).values(totp_verified=True))
    await record_platform(db, actor_user_id=user.id, action="totp_enrolled" if enrol else "totp_verified",
                          client_addr=client_addr)
    await db.commit()
