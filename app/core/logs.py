"""Structured (JSON) logs; every line carries the request id, tenant and user in scope."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import datetime, timezone

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
log_tenant: ContextVar[str | None] = ContextVar("log_tenant", default=None)
log_user: ContextVar[int | None] = ContextVar("log_user", default=None)

# a mainland mobile number, also with the country code in front (+86 138…, 0086138…, 86-138…)
_MOBILE = re.compile(r"(?<!\d)((?:(?:\+|00)?86[- ]?)?1[3-9]\d)\d{4}(\d{4})(?!\d)")
# Invitation links and personal sign-in links carry a secret in the path, the station's sign-in QR a
# short-lived code: keep them out of the logs.
_JOIN_TOKEN = re.compile(r"^(/join/[^/]*/|/signin/[^/]*/|/t/[^/]*/signin/)[^/?]+")


def scrub(text: str) -> str:
    """Mask anything that looks like a mainland mobile number."""
    return _MOBILE.sub(r"\1****\2", text)


_second: list = [None, "", ""]  # the last whole second formatted: (second, its text, its offset)


def timestamp(created: float) -> str:
    """ISO 8601 in the server's zone, with milliseconds and the offset: 2026-12-01T09:30:05.123+08:00
    (lines from hosts in different zones, or read after a zone change, still sort and compare). The
    zone lookup is made once per second: every line of that second reuses it."""
    second = int(created)
    micros = round((created - second) * 1e6)  # as datetime.fromtimestamp rounds
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    if _second[0] != second:
        local = datetime.fromtimestamp(second, timezone.utc).astimezone()
        text = local.isoformat(timespec="seconds")
        _second[:] = [second, text[:19], text[19:]]
    return f"{_second[1]}.{micros // 1000:03d}{_second[2]}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
            "request_id": request_id.get(),
            "tenant": log_tenant.get(),
            "user": log_user.get(),
        }
        for key in ("method", "path", "status", "ms", "client"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if isinstance(entry.get("path"), str):
            entry["path"] = _JOIN_TOKEN.sub(r"\1…", entry["path"])
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", handlers: tuple[logging.Handler, ...] | list = ()) -> None:
    """JSON lines on stderr, plus `handlers` (the error tracker: app.core.errortracking.error_tracking)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler, *handlers]
    root.setLevel(level)
    logging.getLogger("lianluo").setLevel(level)
