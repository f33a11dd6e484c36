"""The error-tracking hook: with a Sentry-compatible DSN, error log records reach the tracker as
events in Sentry's envelope format (a local HTTP server stands in for it), scrubbed like the logs, and
a tracker that does not answer never holds up the process."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from litestar.testing import AsyncTestClient

from app.core.errortracking import ErrorTrackingHandler
from app.core.logs import request_id


class _Tracker(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"id": "x"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def tracker():
    _Tracker.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tracker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://public-key-1234@127.0.0.1:{server.server_port}/42", _Tracker.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def tracking(tracker):
    dsn, received = tracker
    handler = ErrorTrackingHandler(dsn)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler, received
    finally:
        root.removeHandler(handler)


def _events(received) -> list[dict]:
    events = []
    for _path, _headers, body in received:
        header, item, payload = body.split(b"\n", 2)
        assert json.loads(item)["type"] == "event" and json.loads(item)["length"] == len(payload)
        events.append(json.loads(payload))
    return events


def test_an_error_with_its_exception_reaches_the_tracker_scrubbed(tracking):
    handler, received = tracking
    token = request_id.set("req-abc-123")
    try:
        try:
            raise ValueError("could not notify 13812345678")
        except ValueError:
            logging.getLogger("lianluo.test").exception("sending to 13912345678 failed")
        logging.getLogger("lianluo.test").warning("a warning is not an error")
    finally:
        request_id.reset(token)
    handler.flush()
    [(path, headers, body)] = received
    assert path == "/api/42/envelope/"
    assert "sentry_key=public-key-1234" in headers["X-Sentry-Auth"]
    [event] = _events(received)
    assert event["level"] == "error" and event["logger"] == "lianluo.test"
    assert event["message"]["formatted"] == "sending to 139****5678 failed"
    [exc] = event["exception"]["values"]
    assert exc["type"] == "ValueError" and exc["value"] == "could not notify 138****5678"
    assert exc["stacktrace"]["frames"][-1]["function"] == "test_an_error_with_its_exception_reaches_the_tracker_scrubbed"
    assert event["tags"]["request_id"] == "req-abc-123"
    assert b"13812345678" not in body and b"13912345678" not in body


async def test_a_server_error_of_the_app_is_tracked(settings, tracker):
    from litestar import get

    from app.core.logs import configure_logging
    from app.main import create_app

    dsn, received = tracker

    @get("/boom-for-the-test", sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    app = create_app(dataclasses.replace(settings, sentry_dsn=dsn))  # as LIANLUO_SENTRY_DSN does
    app.register(boom)
    try:
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            r = await client.get("/boom-for-the-test", headers={"X-Request-Id": "from-nginx-1"})
        assert r.status_code == 500
        [handler] = [h for h in logging.getLogger().handlers if isinstance(h, ErrorTrackingHandler)]
        handler.flush()
        [event] = _events(received)
        assert event["message"]["formatted"] == "unhandled error"
        assert event["exception"]["values"][-1]["type"] == "RuntimeError"
        assert event["tags"]["request_id"] == "from-nginx-1"
    finally:
        configure_logging()


def test_a_tracker_that_does_not_answer_never_holds_up_logging():
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        handler = ErrorTrackingHandler(f"http://k@127.0.0.1:{silent.getsockname()[1]}/1")
        log = logging.getLogger("lianluo.test.silent")
        log.addHandler(handler)
        log.propagate = False
        try:
            for i in range(500):
                log.error("error %s", i)
        finally:
            log.removeHandler(handler)
            log.propagate = True
        # the bounded queue took what it could; the rest was dropped and counted, nothing blocked
        assert handler.dropped >= 500 - 100 - 1


def test_a_malformed_dsn_is_refused_at_start():
    with pytest.raises(ValueError, match="LIANLUO_SENTRY_DSN"):
        ErrorTrackingHandler("not a dsn")
