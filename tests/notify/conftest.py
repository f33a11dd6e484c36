"""Fixtures for the notification tests: the local fake SMS gateway (a real subprocess, as the demo runs
it) and a local SMTP server (aiosmtpd), both on free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SMS_KEY_ID = "lianluo-dev"
SMS_KEY_SECRET = "lianluo-dev-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmsGateway:
    """A running `python -m app sms-gateway`; methods are synchronous (plain HTTP to localhost)."""

    def __init__(self, port: int, process: subprocess.Popen):
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.process = process
        self.key_id, self.key_secret = SMS_KEY_ID, SMS_KEY_SECRET

    def _get(self, path: str) -> dict:
        return httpx.get(self.url + path, timeout=5).json()

    def _post(self, path: str, body: dict | None = None) -> dict:
        return httpx.post(self.url + path, json=body or {}, timeout=5).json()

    def state(self) -> dict:
        return self._get("_messages")

    def messages(self) -> list[dict]:
        """One entry per ACCEPTED request (the real provider sends each one, whatever its OutId)."""
        return self._get("_messages")["messages"]

    def requests(self) -> int:
        """Every SendSms request, refused ones too (not the QuerySendDetails ones)."""
        return self._get("_messages")["requests"]

    def reset(self) -> None:
        self._post("_reset")

    def mode(self, mode: str = "ok", *, delay_ms: int = 200, times: int | None = None, **more) -> dict:
        """`more`: dedupe, receipt ("delivered" | "failed" | "none"), receipt_delay_ms, query ("ok" | "error")."""
        return self._post("_mode", {"mode": mode, "delay_ms": delay_ms, "times": times, **more})

    def env(self) -> dict[str, str]:
        """Environment for a worker subprocess that should send to this gateway."""
        return {"LIANLUO_SMS_URL": self.url, "LIANLUO_SMS_KEY_ID": self.key_id,
                "LIANLUO_SMS_KEY_SECRET": self.key_secret}


def start_gateway(port: int | None = None, timeout: float = 20) -> SmsGateway:
    port = port or free_port()
    env = {**os.environ, "LIANLUO_SMS_KEY_ID": SMS_KEY_ID, "LIANLUO_SMS_KEY_SECRET": SMS_KEY_SECRET}
    process = subprocess.Popen([sys.executable, "-m", "app", "sms-gateway", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gateway = SmsGateway(port, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sms-gateway exited: {process.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            gateway.messages()
            return gateway
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("sms-gateway did not start in time")


def stop_gateway(gateway: SmsGateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        gateway.process.kill()
        gateway.process.wait()


@pytest.fixture(scope="session")
def sms_gateway_process():
    gateway = start_gateway()
    yield gateway
    stop_gateway(gateway)


@pytest.fixture
def sms_gateway(sms_gateway_process):
    """The fake gateway, emptied and in "ok" mode for each test."""
    if sms_gateway_process.process.poll() is not None:
        raise RuntimeError("the sms-gateway process died")
    sms_gateway_process.reset()
    yield sms_gateway_process
    sms_gateway_process.mode("ok")


@dataclass
class MailServer:
    host: str
    port: int
    messages: list = field(default_factory=list)  # email.message.Message objects, in arrival order
    refuse: dict = field(default_factory=dict)  # address → SMTP reply to its RCPT, e.g. "550 no such user"
    envelopes: list = field(default_factory=list)


class _Collector:
    def __init__(self, server: MailServer):
        self.server = server
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.server.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        with self.lock:
            self.server.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                           policy=policy.default))
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@pytest.fixture
def mail_server():
    from aiosmtpd.controller import Controller

    port = free_port()
    server = MailServer(host="127.0.0.1", port=port)
    controller = Controller(_Collector(server), hostname="127.0.0.1", port=port)
    controller.start()
    yield server
    controller.stop()
