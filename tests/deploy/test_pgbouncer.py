"""Behind a real PgBouncer in transaction mode (Debian's `pgbouncer`), with LIANLUO_DB_POOLER=pgbouncer,
every request succeeds: asyncpg's named prepared statements would land on another server connection."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.deploy.cluster import free_port
from tests.factories import make_tenant


def _pgbouncer() -> str:
    found = shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None)
    if not found:
        pytest.skip("pgbouncer is not installed (Debian: apt-get install pgbouncer; ./run test installs it as root)")
    return found


@contextlib.contextmanager
def bouncer(target_url: str, role: str):
    """PgBouncer in transaction mode on a free port with two server connections per database, so the
    app's connections share them and every transaction may land on another one."""
    binary, server = _pgbouncer(), make_url(target_url)
    if not server.host or server.host.startswith("/"):
        pytest.skip("PgBouncer needs the test database on a TCP host (TEST_DATABASE_URL)")
    folder = Path(tempfile.mkdtemp(prefix="lianluo-pgbouncer-"))
    folder.chmod(0o755)  # root runs it as nobody (PgBouncer refuses to run as root)
    port = free_port()
    (folder / "users.txt").write_text(f'"{role}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n* = host={server.host} port={server.port or 5432}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\npool_mode = transaction\ndefault_pool_size = 2\n"
        "max_client_conn = 200\nunix_socket_dir =\n")
    for name in ("users.txt", "pgbouncer.ini"):
        (folder / name).chmod(0o644)
    argv = [binary, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(folder / "pgbouncer.ini")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"pgbouncer did not start:\n{proc.stdout.read()}"
        yield server.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


async def test_two_hundred_requests_through_pgbouncer_in_transaction_mode(settings, database):
    """A request's work: a transaction bound to the tenant with a few parameterised statements. Without
    the setting, 20-40 of these 200 fail ("prepared statement __asyncpg_stmt_N__ does not exist")."""
    from sqlalchemy import func, select

    from app.core.db import Database
    from app.deputies.models import Deputy
    from app.stations.models import Station
    from app.tenancy.models import Tenant

    tenant = await make_tenant(database, "alpha")
    with bouncer(settings.app_database_url, settings.app_role) as url:
        pooled = Database(replace(settings, app_database_url=url, db_pooler="pgbouncer"))
        outcomes: list[str] = []

        async def request(i: int) -> None:
            try:
                async with pooled.transaction(tenant_id=tenant.id) as db:
                    assert await db.scalar(select(Tenant.slug).where(Tenant.id == tenant.id)) == "alpha"
                    await db.scalar(select(func.count()).select_from(Station).where(Station.id > i % 3))
                    await db.scalar(select(func.count()).select_from(Deputy).where(Deputy.id > i % 5))
                outcomes.append("ok")
            except Exception as exc:  # noqa: BLE001 - each failure is counted and shown
                outcomes.append(str(exc).splitlines()[0][:120])

        try:
            for i in range(100):
                await request(i)
            gate = asyncio.Semaphore(20)

            async def concurrent(i: int) -> None:
                async with gate:
                    await request(i)

            await asyncio.gather(*(concurrent(i) for i in range(100)))
        finally:
            await pooled.dispose()
    assert outcomes.count("ok") == 200, sorted(set(outcomes) - {"ok"})[:5]
