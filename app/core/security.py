"""Passwords, random tokens and masking of personal data."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id, 19 MiB, t=2 (the OWASP minimum DESIGN.md asks for).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the account does not exist, so both answers take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, bytes]:
    """A token for a cookie or a link, and the digest the database keeps instead of it."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def mask_mobile(mobile: str | None) -> str:
    if not mobile:
        return ""
    if len(mobile) < 7:
        return "*" * len(mobile)
    return f"{mobile[:3]}****{mobile[-4:]}"
