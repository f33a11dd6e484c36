"""`lianluo serve` (production): refuses development secrets, naming them; a web worker killed with
SIGKILL is replaced while the server keeps answering; /metrics adds up every worker's figures; SIGHUP
(systemctl reload) replaces every worker without stopping the server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "serve-test-metrics-token-0123456789"
START_DEADLINE = 90  # seconds: generous, the machine runs other suites too


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(settings, tmp_path: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "LIANLUO_", "REDIS_",
                                                                     "PROMETHEUS_"))}
    env.update(DATABASE_URL=settings.database_url, DATABASE_APP_URL=settings.app_database_url,
               REDIS_URL=settings.redis_url, LIANLUO_DATA_DIR=str(tmp_path / "data"), LIANLUO_SECURE_COOKIES="0",
               LIANLUO_ALLOWED_HOSTS="127.0.0.1", LIANLUO_SECRET_KEY="serve-test-secret-key-0123456789-abcdef",
               LIANLUO_METRICS_TOKEN=TOKEN, PYTHONUNBUFFERED="1", GRANIAN_LOG_LEVEL="info")
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def _refusal(env) -> str:
    """Run serve; it must exit on its own (a server that starts is killed at the deadline: a failure)."""
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(free_port())], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("serve started with development secrets")
    assert proc.returncode != 0
    return out


def test_serve_refuses_a_missing_secret_key(settings, tmp_path):
    out = _refusal(_env(settings, tmp_path, LIANLUO_SECRET_KEY=None))
    assert "LIANLUO_SECRET_KEY is not set" in out


def test_serve_refuses_placeholders_and_development_keys(settings, tmp_path):
    env = _env(settings, tmp_path, LIANLUO_TOTP_KEY="CHANGE-ME", LIANLUO_SMS_URL="https://dysmsapi.aliyuncs.com/")
    out = _refusal(env)
    assert "LIANLUO_TOTP_KEY still holds the placeholder CHANGE-ME" in out
    assert "LIANLUO_SMS_KEY_SECRET is the development key" in out
    # the key `lianluo start` generated into the data dir is a development key too
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("generated-for-development-0123456789abcdefghij")
    out = _refusal(_env(settings, tmp_path, LIANLUO_SECRET_KEY="generated-for-development-0123456789abcdefghij"))
    assert f"LIANLUO_SECRET_KEY is the development key generated in {data / 'secret_key'}" in out
    assert "LIANLUO_SECRET_KEY is shorter" in _refusal(_env(settings, tmp_path, LIANLUO_SECRET_KEY="short"))


def _workers(server: psutil.Process) -> set[int]:
    """granian's worker processes (the multiprocessing helpers that are not workers are left out)."""
    pids = set()
    for child in server.children():
        with contextlib.suppress(psutil.Error):
            if "resource_tracker" not in " ".join(child.cmdline()):
                pids.add(child.pid)
    return pids


def _two_workers(server: psutil.Process, without: int | None = None) -> set[int] | None:
    workers = _workers(server)
    return workers if len(workers) == 2 and without not in workers else None


def _wait(predicate, what: str, deadline: float = START_DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with contextlib.suppress(httpx.HTTPError, psutil.Error):
            value = predicate()
            if value:
                return value
        time.sleep(0.3)
    pytest.fail(f"gave up waiting: {what}")


def test_a_killed_worker_is_replaced_and_a_reload_replaces_them_all(settings, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"], cwd=ROOT,
                            env=_env(settings, tmp_path), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = psutil.Process(proc.pid)
    try:
        _wait(lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200, "the server to be ready")
        workers = _wait(lambda: _two_workers(server), "two workers")
        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        # the server answers throughout, and granian starts a new worker in the dead one's place
        _wait(lambda: not psutil.pid_exists(victim) or psutil.Process(victim).status() == psutil.STATUS_ZOMBIE,
              "the worker to die")
        replaced = _wait(lambda: _two_workers(server, without=victim), "a new worker")
        assert proc.poll() is None, "the server stopped"
        for _ in range(20):
            r = _wait(lambda: httpx.get(f"{base}/login", timeout=5), "a page")
            assert r.status_code == 200 and "登录" in r.text
        assert replaced - workers, "no new worker"
        # /metrics adds up the figures of every worker, the killed one's requests included
        metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert metrics.status_code == 200
        logins = sum(float(line.rpartition(" ")[2]) for line in metrics.text.splitlines()
                     if line.startswith("lianluo_http_requests_total{") and 'route="/login"' in line)
        assert logins >= 20
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 404
        # graceful restart (systemctl reload: SIGHUP): every worker is replaced, the server stays up
        os.kill(proc.pid, signal.SIGHUP)
        _wait(lambda: _two_workers(server) if not (_workers(server) & replaced) else None, "reloaded workers")
        assert proc.poll() is None
        assert _wait(lambda: httpx.get(f"{base}/login", timeout=5), "a page").status_code == 200
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.seek(0)
        print("\n".join(line for line in log.read().splitlines() if "lianluo.web" not in line))  # not requests
        log.close()
