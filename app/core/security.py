"""Passwords, random tokens and masking of personal data."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id, 19 MiB, t=2 (the OWASP minimum DESIGN.md asks for).
PRODUCTION_HASH_COST = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}
# The test suite hashes hundreds of passwords; each hash records its own cost, so verifying works
# whichever cost made it. Only tests choose this (LIANLUO_PASSWORD_HASH_COST=test).
TEST_HASH_COST = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
_COSTS = {"production": PRODUCTION_HASH_COST, "test": TEST_HASH_COST}


def _password_hasher() -> PasswordHasher:
    name = os.environ.get("LIANLUO_PASSWORD_HASH_COST", "production")
    if name not in _COSTS:
        raise RuntimeError(f"LIANLUO_PASSWORD_HASH_COST must be one of {sorted(_COSTS)}, not {name!r}")
    return PasswordHasher(**_COSTS[name])


_hasher = _password_hasher()
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


async def password_matches(password_hash: str | None, password: str) -> bool:
    """verify_password in a thread: argon2 releases the GIL, so the ~36 ms of a core it takes at the
    production cost no longer stalls every other request of this process's event loop (the loop's
    default executor bounds how many run at once, and so their memory: 19 MiB each)."""
    return await asyncio.to_thread(verify_password, password_hash, password)


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
