"""deploy/backup-drill.sh: a database installed as deploy/README.md says is dumped with the backup role,
restored into a fresh cluster by the README's restore procedure, and served: /readyz 200, the county's
public page, TEMPORARY revoked again, and the messages that may have gone out before the restore held."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.settings import ROOT
from tests.deploy.cluster import base_env, drop_everything, names, psql, server

PG_BIN = Path(os.environ.get("LIANLUO_PG_BIN", "/usr/lib/postgresql/15/bin"))
DRILL = ROOT / "deploy" / "backup-drill.sh"

# As the owner, bound to the tenant (the owner is subject to the forced policies too): a message due
# an hour ago (it may have gone out before the crash), one being sent, one due tomorrow, one in-app.
MESSAGES = """
SELECT set_config('app.tenant_id', id::text, false) FROM tenants WHERE slug = 'drill';
INSERT INTO outbox (tenant_id, dedupe_key, kind, channel, subject, user_id, address, body, due_at,
                    status, next_attempt_at)
SELECT t.id, k, 'case_answer', ch, k, u, addr, '您的意见已办理', now() + d, st, now() + d
  FROM tenants t, (VALUES ('due', 'sms', '13800138000', NULL::bigint, interval '-1 hour', 'pending'),
                          ('sending', 'sms', '13800138001', NULL, interval '-2 minutes', 'sending'),
                          ('tomorrow', 'email', 'a@example.cn', NULL, interval '1 day', 'pending'))
       AS m(k, ch, addr, u, d, st)
 WHERE t.slug = 'drill';
"""


def _binaries() -> None:
    missing = [p for p in ("initdb", "pg_ctl", "pg_dump", "pg_restore", "psql") if not (PG_BIN / p).exists()]
    if missing:
        pytest.skip(f"PostgreSQL server programs missing in {PG_BIN} ({', '.join(missing)}): the drill "
                    "makes a cluster with initdb (set LIANLUO_PG_BIN)")


def _install(dba: dict[str, str], chosen: dict[str, str], env: dict[str, str]) -> str:
    """The README's install as the DBA and the owner; returns the owner's URL."""
    psql(dba, f"CREATE ROLE {chosen['owner']} LOGIN NOSUPERUSER CREATEROLE")
    psql(dba, f"CREATE DATABASE {chosen['db']} OWNER {chosen['owner']}")
    psql(dba, f"CREATE ROLE {chosen['backup']} LOGIN NOSUPERUSER BYPASSRLS")
    owner_url = f"postgresql://{chosen['owner']}@{dba['PGHOST']}:{dba['PGPORT']}/{chosen['db']}"
    done = subprocess.run([sys.executable, "-m", "app", "migrate"], env={**env, "DATABASE_URL": owner_url},
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return owner_url


def _county(env: dict[str, str], owner_url: str, chosen: dict[str, str], dba: dict[str, str]) -> None:
    preset = ("from app.core.db import Database; from app.core.settings import load_settings; "
              "from tests.factories import make_tenant; import asyncio\n"
              "async def go():\n    db = Database(load_settings())\n    await make_tenant(db, 'drill')\n"
              "    await db.dispose()\nasyncio.run(go())")
    app_url = owner_url.replace(f"//{chosen['owner']}@", f"//{chosen['app']}@")
    made = subprocess.run([sys.executable, "-c", preset], env={**env, "DATABASE_APP_URL": app_url,
                                                                "LIANLUO_PASSWORD_HASH_COST": "test"},
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    psql(dba, MESSAGES, url=owner_url)


def test_the_backup_drill_restores_into_a_fresh_cluster_and_serves(servers, tmp_path):
    _binaries()
    dba = server()
    _admin_url, redis_url = servers
    chosen = names("drill")
    drop_everything(dba, chosen)
    env = {**base_env(tmp_path), "DATABASE_APP_ROLE": chosen["app"], "DATABASE_BACKUP_ROLE": chosen["backup"]}
    try:
        owner_url = _install(dba, chosen, env)
        _county(env, owner_url, chosen, dba)
        found = tmp_path / "found.txt"
        check = (
            f"{shlex.quote(sys.executable)} -c \"import os, urllib.request; "
            "page = urllib.request.urlopen(os.environ['DRILL_WEB_URL'] + '/p/drill/').read().decode(); "
            "assert 'drill县人大常委会' in page, page[:400]\"\n"
            f"{PG_BIN}/psql -XtA \"$DRILL_OWNER_URL\" -c \"SELECT set_config('app.tenant_id', id::text, false) "
            "FROM tenants WHERE slug = 'drill'\" -c \"SELECT subject || '=' || status FROM outbox ORDER BY id\" "
            f"-c \"SELECT has_database_privilege('{chosen['app']}', current_database(), 'TEMPORARY')\" "
            # pg_restore carries no planner statistics: after-restore gathers them (issue 20)
            "-c \"SELECT bool_and(last_analyze IS NOT NULL) FROM pg_stat_user_tables "
            f"WHERE relname IN ('cases', 'deputies', 'outbox')\" > {found}\n"
            # the worker's cross-county look-up finds the message due tomorrow: its function is the
            # sweep role's again (pg_restore --no-owner gave it to the owner; after-restore gives it back)
            f"{PG_BIN}/psql -XtA \"${{DRILL_OWNER_URL/{chosen['owner']}@/{chosen['app']}@}}\" -c \"SELECT 'due:' || "
            f"count(*) FROM outbox_due_tenants(now() + interval '2 days', interval '5 minutes')\" >> {found}"
        )
        backup_url = f"postgresql://{chosen['backup']}@{dba['PGHOST']}:{dba['PGPORT']}/{chosen['db']}"
        drill = subprocess.run(
            ["bash", str(DRILL)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env={**env, "BACKUP_URL": backup_url, "PG_BIN": str(PG_BIN), "OWNER_ROLE": chosen["owner"],
                 "REDIS_URL": redis_url, "PYTHON": sys.executable, "DRILL_CHECK": check})
        assert drill.returncode == 0, f"{drill.stdout}\n{drill.stderr}"
        assert "/readyz answers 200 on the restored database" in drill.stdout
        assert "2 message(s) of 1 tenant(s) held" in drill.stdout and "planner statistics gathered" in drill.stdout
        lines = found.read_text().split()
        # Due or being sent when the dump was taken: held for a decision. Due later: still pending.
        assert lines[1:] == ["due=unknown", "sending=unknown", "tomorrow=pending", "f", "t", "due:1"], lines
    finally:
        drop_everything(dba, chosen)
