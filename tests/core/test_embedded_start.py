"""The fresh-machine start path, end to end: `python -m app start` with no DATABASE_URL/REDIS_URL starts
an embedded PostgreSQL and Redis in LIANLUO_DATA_DIR, migrates, loads the demo, serves, and on Ctrl-C
stops everything (exit code 0, database stopped). A second start on the same folder keeps the data.

Not marked or skipped: it runs in the normal suite and in CI (`.ci/run`). It needs no browser and no
outside server; it takes a few seconds (cold initdb plus two starts)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.core.settings import ROOT
from app.demo import DEMO_PASSWORD, DEMO_USERS

START_TIMEOUT = 120  # seconds of polling: a cold initdb on a slow CI machine
STOP_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "DATABASE_APP_URL", "DATABASE_APP_PASSWORD", "XDG_RUNTIME_DIR"}}
    env.update(LIANLUO_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    return env


class Started:
    def __init__(self, data_dir: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "start", "--port", str(self.port)],
            cwd=ROOT, env=_env(data_dir), stdout=self._out, stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        seen: dict[str, int] = {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"`app start` exited with {self.proc.returncode} before it was ready:\n{self.output()}")
            for path in ("/healthz", "/readyz"):
                try:
                    seen[path] = httpx.get(self.url + path, timeout=5).status_code
                except httpx.HTTPError:
                    seen[path] = 0
            if seen == {"/healthz": 200, "/readyz": 200} and "Demo logins" in self.output():
                return
            time.sleep(0.5)
        pytest.fail(f"not ready after {START_TIMEOUT} s (last statuses {seen}):\n{self.output()}")

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`app start` still running {STOP_TIMEOUT} s after SIGINT:\n{self.output()}")
        finally:
            self._out.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._out.close()


def sign_in(base: str, username: str) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as http:
        form = http.get("/login")
        assert form.status_code == 200
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text).group(1)
        return http.post("/login", data={"login": username, "password": DEMO_PASSWORD, "_csrf_token": token})


def postmaster(pgdata: Path) -> tuple[int, str] | None:
    """(pid, socket dir) of the embedded server, or None when it is not running."""
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    lines = pidfile.read_text().splitlines()
    return int(lines[0]), lines[4]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is a dead process too
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def counts(socket_dir: str) -> dict[str, int]:
    """Demo rows and the first run's sign-in, read as the embedded superuser (sees through RLS)."""

    async def go():
        import asyncpg

        conn = await asyncpg.connect(user="postgres", host=socket_dir, database="postgres")
        try:
            return {
                "tenants": await conn.fetchval("SELECT count(*) FROM tenants"),
                "users": await conn.fetchval("SELECT count(*) FROM users"),
                "memberships": await conn.fetchval("SELECT count(*) FROM memberships"),
                "santai_admin": await conn.fetchval("SELECT count(*) FROM users WHERE username = 'santai-admin'"),
                "stations": await conn.fetchval("SELECT count(*) FROM stations"),
                "deputies": await conn.fetchval("SELECT count(*) FROM deputies"),
                "images": await conn.fetchval("SELECT count(*) FROM images"),
                "logins": await conn.fetchval("SELECT count(*) FROM platform_audit_log WHERE action = 'login'"),
            }
        finally:
            await conn.close()

    return asyncio.run(go())


def redis_socket(data_dir: Path) -> str:
    return json.loads((data_dir / "redis.db.settings").read_text())["unixsocket"]


def test_start_embedded_stop_and_start_again(tmp_path):
    data_dir = tmp_path / "data"
    pgdata = data_dir / "pg"
    users = {u[0] for u in DEMO_USERS} | {"ops"}

    # --- first start: a cold data dir -------------------------------------------------------------
    first = Started(data_dir, tmp_path / "first.log")
    try:
        first.wait_ready()
        out = first.output()
        assert f"running at {first.url}/" in out
        assert DEMO_PASSWORD in out and "santai-admin" in out and "liaison-both" in out

        landed = sign_in(first.url, "santai-admin")
        assert landed.status_code == 200
        assert landed.url.path == "/t/santai/"
        assert "三台县人大常委会" in landed.text

        pm = postmaster(pgdata)
        assert pm is not None, "the embedded PostgreSQL should be running from the data dir"
        pg_pid, socket_dir = pm
        before = counts(socket_dir)
        # the two demo counties, and the joint station across the border with its two counties
        # (app/demo/joint.py): there the two admins (county admins) and 铺门镇's staff are members too
        assert before["tenants"] == 5 and before["users"] == len(users)
        assert before["memberships"] == len(DEMO_USERS) + 3 and before["logins"] == 1
        # the demo's places and people (app/demo/people.py): 4 stations and 10 deputies per county;
        # 2 stations and 6 deputies in 八步区 and 封开县 each; the joint station with 8 deputies' projections
        # images: 28 + 16 of places and people, 3 activity photos per demo county, the joint station's
        # photo and its 8 copies of the projected deputies' photos
        assert before["stations"] == 13 and before["deputies"] == 40 and before["images"] == 59

        import redis

        r = redis.Redis(unix_socket_path=redis_socket(data_dir))
        r.set("lianluo-test:kept", "yes")
        redis_pid = int(r.info("server")["process_id"])
        r.close()

        code = first.interrupt()
    finally:
        first.kill()
    out = first.output()
    assert code == 0, f"Ctrl-C should stop cleanly, got exit code {code}:\n{out}"
    assert "Traceback" not in out, out
    assert postmaster(pgdata) is None, "postmaster.pid left behind: PostgreSQL was not stopped"
    assert not alive(pg_pid), "the embedded PostgreSQL is still running after Ctrl-C"
    assert not alive(redis_pid), "the embedded Redis is still running after Ctrl-C"

    # --- second start: same data dir, data kept, demo not duplicated ------------------------------
    second = Started(data_dir, tmp_path / "second.log")
    try:
        second.wait_ready()
        landed = sign_in(second.url, "santai-admin")
        assert landed.status_code == 200 and landed.url.path == "/t/santai/"
        after = counts(postmaster(pgdata)[1])
        assert after == {**before, "logins": 2}, (before, after)

        r = redis.Redis(unix_socket_path=redis_socket(data_dir))
        assert r.get("lianluo-test:kept") == b"yes", "Redis data was not kept between starts"
        r.close()
        pg_pid = postmaster(pgdata)[0]
        code = second.interrupt()
    finally:
        second.kill()
    assert code == 0, second.output()
    assert postmaster(pgdata) is None and not alive(pg_pid)
