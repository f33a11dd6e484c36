#!/usr/bin/env bash
# Backup drill (deploy/README.md, "Backups"): dump the live database with the backup role, restore the
# dump into a fresh PostgreSQL cluster made here (initdb in a temporary directory, a free port on
# 127.0.0.1; no docker) by the README's restore procedure, start the web app on it and check that
# /readyz answers 200. Everything it made is removed at the end, also on failure.
#
#   BACKUP_URL=postgresql://lianluo_backup:…@db.internal:5432/lianluo deploy/backup-drill.sh
#
# Environment:
#   BACKUP_URL            the live database as the backup role (BYPASSRLS, read-only)         (required)
#   PG_BIN                PostgreSQL server programs (default /usr/lib/postgresql/15/bin); the
#                         dump is made with its pg_dump, so use the live server's version or newer
#   OWNER_ROLE            the owner role to recreate (default lianluo_owner)
#   DATABASE_APP_ROLE     the runtime role (default lianluo_app)
#   DATABASE_BACKUP_ROLE  the backup role (default lianluo_backup)
#   DATABASE_SWEEP_ROLE   the role owning the cross-county functions (default lianluo_sweep)
#   REDIS_URL             Redis for the web process (default redis://127.0.0.1:6379/0)
#   PYTHON                the Python that runs the product (default: python3 on PATH)
#   DRILL_CHECK           optional shell command run while the restored product serves; it gets
#                         DRILL_WEB_URL (the web process) and DRILL_OWNER_URL (the restored database)
#   DRILL_KEEP_DUMP       a path: keep the dump there
set -euo pipefail

: "${BACKUP_URL:?set BACKUP_URL to the live database as the backup role}"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
OWNER=${OWNER_ROLE:-lianluo_owner}
APP=${DATABASE_APP_ROLE:-lianluo_app}
BACKUP=${DATABASE_BACKUP_ROLE:-lianluo_backup}
SWEEP=${DATABASE_SWEEP_ROLE:-lianluo_sweep}
PYTHON=${PYTHON:-python3}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
CODE=$(cd "$(dirname "$0")/.." && pwd)
DB=$("$PYTHON" -c 'import sys; from sqlalchemy.engine import make_url; print(make_url(sys.argv[1]).database)' "$BACKUP_URL")
for program in initdb pg_ctl pg_dump pg_restore psql; do
  [ -x "$PG_BIN/$program" ] || { echo "backup drill: $PG_BIN/$program is missing (set PG_BIN)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/lianluo-drill-XXXXXX)
chmod 0755 "$WORK"
AS_PG=()                             # initdb and postgres refuse to run as root
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); chown postgres "$WORK"; fi
WEB_PID=""
cleanup() {
  [ -n "$WEB_PID" ] && kill -INT "$WEB_PID" 2>/dev/null && wait "$WEB_PID" 2>/dev/null || true
  [ -f "$WORK/data/postmaster.pid" ] && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
step() { echo "backup drill: $*"; }

step "1. dump as $BACKUP"
"$PG_BIN/pg_dump" --format=custom --file="$WORK/lianluo.dump" "$BACKUP_URL"
chmod 0644 "$WORK/lianluo.dump"
[ -n "${DRILL_KEEP_DUMP:-}" ] && cp "$WORK/lianluo.dump" "$DRILL_KEEP_DUMP"

step "2. a fresh cluster"
PORT=$(free_port)
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w \
  -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
SUPER="postgresql://postgres@127.0.0.1:$PORT/postgres"
OWNER_URL="postgresql://$OWNER@127.0.0.1:$PORT/$DB"

step "3. restore (deploy/README.md, \"Restore\")"
# as the superuser: the roles pg_dump does not carry, and the database
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$SUPER" \
  -c "CREATE ROLE $OWNER LOGIN NOSUPERUSER CREATEROLE" \
  -c "CREATE ROLE $BACKUP LOGIN NOSUPERUSER BYPASSRLS" \
  -c "CREATE DATABASE $DB OWNER $OWNER"
# as the owner: the runtime role, the dump, then the steps a restored database needs
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$OWNER_URL" \
  -c "CREATE ROLE $APP LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE" \
  -c "CREATE ROLE $SWEEP NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT"
"$PG_BIN/pg_restore" --no-owner --exit-on-error --dbname="$OWNER_URL" "$WORK/lianluo.dump"
cd "$CODE"
export DATABASE_URL="$OWNER_URL" DATABASE_APP_ROLE="$APP" DATABASE_BACKUP_ROLE="$BACKUP" DATABASE_SWEEP_ROLE="$SWEEP"
"$PYTHON" -m app after-restore
"$PYTHON" -m app migrate

step "4. the product on the restored database"
WEB_PORT=$(free_port)
DATABASE_APP_URL="postgresql://$APP@127.0.0.1:$PORT/$DB" REDIS_URL="$REDIS_URL" LIANLUO_DATA_DIR="$WORK/app" \
  LIANLUO_SECRET_KEY="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')" \
  LIANLUO_SECURE_COOKIES=0 LIANLUO_ALLOWED_HOSTS=127.0.0.1 \
  "$PYTHON" -m app serve --host 127.0.0.1 --port "$WEB_PORT" >"$WORK/web.log" 2>&1 &
WEB_PID=$!
"$PYTHON" - "http://127.0.0.1:$WEB_PORT/readyz" <<'EOF' || { cat "$WORK/web.log" >&2; exit 1; }
import sys, time, urllib.request
for _ in range(200):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=3) as answer:
            if answer.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.3)
sys.exit("backup drill: /readyz never answered 200")
EOF
step "/readyz answers 200 on the restored database"
if [ -n "${DRILL_CHECK:-}" ]; then
  DRILL_WEB_URL="http://127.0.0.1:$WEB_PORT" DRILL_OWNER_URL="$OWNER_URL" bash -euo pipefail -c "$DRILL_CHECK"
fi
step "passed"
