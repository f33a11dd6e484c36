"""The current moment, timezone-aware (UTC): one function for every "now" that is stored or compared."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)
