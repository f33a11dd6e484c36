"""Production hashes passwords with argon2id at 19 MiB, t=2 (DESIGN.md); only the suite chooses the
cheap cost, and a hash made at either cost verifies."""

from __future__ import annotations

import os
import subprocess
import sys


from app.core.settings import ROOT


def _hash_in_fresh_process(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "LIANLUO_PASSWORD_HASH_COST"}
    code = "from app.core.security import hash_password; print(hash_password('correct horse battery'))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_production_hashes_with_argon2id_at_19_mib_and_two_passes():
    assert _hash_in_fresh_process().startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert _hash_in_fresh_process(LIANLUO_PASSWORD_HASH_COST="production").startswith(
        "$argon2id$v=19$m=19456,t=2,p=1$")


def test_a_production_hash_verifies_under_the_test_cost():
    from app.core.security import hash_password, verify_password

    production = _hash_in_fresh_process()
    assert verify_password(production, "correct horse battery")
    assert not verify_password(production, "wrong horse battery")
    assert hash_password("x" * 12).startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_an_unknown_cost_name_stops_the_process():
    clean = {k: v for k, v in os.environ.items() if k != "LIANLUO_PASSWORD_HASH_COST"}
    done = subprocess.run([sys.executable, "-c", "import app.core.security"], cwd=ROOT,
                          env={**clean, "LIANLUO_PASSWORD_HASH_COST": "cheap"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "LIANLUO_PASSWORD_HASH_COST must be one of" in done.stderr



