"""A lock between the suite's processes (pytest-xdist): the ones that create roles on one server (CREATE
ROLE races) or start the Citus cluster take turns."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from pathlib import Path


@contextlib.contextmanager
def taking_turns(name: str):
    key = hashlib.sha256(name.encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"lianluo-test-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
