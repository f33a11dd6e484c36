"""Error tracking: ERROR log records sent to a Sentry-compatible server (Sentry, GlitchTip, …).

No SDK: one logging handler builds an event in Sentry's envelope format (the same fields the SDKs
send: message, exception with its frames, level, logger, tags) and a background thread posts it. The
request path never waits for the tracker: `emit` only puts the event in a bounded queue, and when
the queue is full (the tracker is slow or away) events are dropped, counted, and the log line on
stderr remains the record. Personal data: messages and exception texts are scrubbed like the log
lines (mobile numbers masked), and no local variables, request bodies or cookies are sent; the user
is an id. Point the DSN at a server under the operator's control (PIPL: the events leave the host).

DSN: `https://<public key>@<host>[:port][/<path>]/<project id>` → POST
`https://<host>[:port][/<path>]/api/<project id>/envelope/`.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import traceback
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from app.core.logs import log_tenant, log_user, request_id, scrub

QUEUE_SIZE = 100
POST_TIMEOUT_SECONDS = 5.0
CLIENT = "lianluo/0.1"
_own = logging.getLogger("lianluo.errortracking")  # its own failures: WARNING only, never sent


@dataclass(frozen=True)
class Dsn:
    url: str  # the envelope endpoint
    key: str
    raw: str

    @classmethod
    def parse(cls, dsn: str) -> "Dsn":
        parts = urlsplit(dsn.strip())
        path, _, project = parts.path.rstrip("/").rpartition("/")
        if parts.scheme not in {"http", "https"} or not parts.username or not parts.hostname or not project.isdigit():
            raise ValueError("LIANLUO_SENTRY_DSN must look like https://<key>@<host>/<project id>")
        netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # an IPv6 address
            netloc = f"[{parts.hostname}]" + ("" if parts.port is None else f":{parts.port}")
        return cls(url=f"{parts.scheme}://{netloc}{path}/api/{project}/envelope/", key=parts.username, raw=dsn.strip())


def _frames(tb) -> list[dict]:
    return [{"filename": f.filename, "function": f.name, "lineno": f.lineno, "module": f.filename.rpartition("/")[2]}
            for f in traceback.extract_tb(tb)]


def _exception(exc_info) -> dict | None:
    if not exc_info or exc_info[1] is None:
        return None
    values = []
    exc: BaseException | None = exc_info[1]
    while exc is not None and len(values) < 5:  # the chain, innermost cause first as Sentry expects
        values.append({"type": type(exc).__name__, "module": type(exc).__module__, "value": scrub(str(exc)),
                       "stacktrace": {"frames": _frames(exc.__traceback__)}})
        exc = exc.__cause__ or exc.__context__
    return {"values": list(reversed(values))}


def event_for(record: logging.LogRecord) -> dict:
    """The event for one log record, with the request context that is live while it is logged."""
    event = {
        "event_id": uuid.uuid4().hex,
        "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
        "platform": "python",
        "level": "fatal" if record.levelno >= logging.CRITICAL else "error",
        "logger": record.name,
        "server_name": os.uname().nodename,
        "message": {"formatted": scrub(record.getMessage())},
        "tags": {k: v for k, v in (("request_id", request_id.get()), ("tenant", log_tenant.get())) if v},
    }
    if log_user.get() is not None:
        event["user"] = {"id": str(log_user.get())}
    exception = _exception(record.exc_info)
    if exception:
        event["exception"] = exception
    return event


def envelope(dsn: Dsn, event: dict) -> bytes:
    payload = json.dumps(event, ensure_ascii=False).encode()
    header = {"event_id": event["event_id"], "dsn": dsn.raw,
              "sent_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
    item = {"type": "event", "content_type": "application/json", "length": len(payload)}
    return b"\n".join([json.dumps(header).encode(), json.dumps(item).encode(), payload])


class ErrorTrackingHandler(logging.Handler):
    """ERROR and above go to the tracker, from a thread of their own (started in the process that
    logs: granian's workers are separate processes)."""

    def __init__(self, dsn: str):
        super().__init__(level=logging.ERROR)
        self.dsn = Dsn.parse(dsn)
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        self.dropped = 0
        self._thread: threading.Thread | None = None
        self._pid = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == _own.name:
            return
        try:
            self._start()
            self.queue.put_nowait(envelope(self.dsn, event_for(record)))
        except queue.Full:
            self.dropped += 1
        except Exception:
            self.handleError(record)

    def _start(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="error-tracking", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failing = False  # one warning per outage, not one per event
        while True:
            body = self.queue.get()
            try:
                self._post(body)
                if failing:
                    _own.warning("error tracker reachable again (%s events dropped so far)", self.dropped)
                failing = False
            except Exception as exc:  # the tracker is away: the stderr line is the record
                if not failing:
                    _own.warning("error tracker unreachable: %s", type(exc).__name__)
                failing = True
            finally:
                self.queue.task_done()

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.dsn.url, data=body, method="POST", headers={
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_client={CLIENT}, sentry_key={self.dsn.key}",
            "User-Agent": CLIENT,
        })
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS) as response:  # noqa: S310 (operator's DSN)
            response.read()

    def flush(self, timeout: float = POST_TIMEOUT_SECONDS) -> None:
        """Wait (bounded) until the queued events are posted: tests, and a clean shutdown."""
        done = threading.Event()

        def wait() -> None:
            self.queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)


def error_tracking(dsn: str) -> list[logging.Handler]:
    """The handlers for `configure_logging`: none without a DSN (LIANLUO_SENTRY_DSN)."""
    return [ErrorTrackingHandler(dsn)] if dsn else []
