"""The isolation suite on the Citus cluster (issue 21): the catalog, the runtime role, every HTTP route,
the public pages, the definer functions and the joint stations' isolation tests — the same tests as on
one PostgreSQL, run in a pytest of their own with LIANLUO_TEST_ON_CITUS=1 (tests/conftest.py: a
distributed database of their own, LIANLUO_DB_CITUS on, row-level security enforced on the shards)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.citus

ROOT = Path(__file__).resolve().parents[2]
SUITES = ["tests/isolation", "tests/joint/test_isolation.py"]


def test_the_isolation_suite_passes_on_the_cluster(tmp_path):
    env = {**os.environ, "LIANLUO_TEST_ON_CITUS": "1",
           "TEST_DATABASE_NAME": os.environ.get("TEST_DATABASE_NAME", "lianluo_test") + "_iso"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
                          "-W", "ignore::DeprecationWarning", f"--basetemp={tmp_path}", *SUITES],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    print(summary)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary, summary
