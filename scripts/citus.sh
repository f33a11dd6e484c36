#!/usr/bin/env bash
# A local Citus cluster for the tests and the bench (issue 21): a coordinator and two worker nodes,
# each an ordinary Debian PostgreSQL 15 cluster with shared_preload_libraries = 'citus', on loopback
# ports of their own, data under .citus/ (git-ignored), run as the postgres user.
#
#   scripts/citus.sh build    build and install Citus from ../shared/citus/ when it is not installed yet
#                             (~5 minutes on 2 cores, once per machine; needs root for apt-get)
#   scripts/citus.sh start    build if needed, create the three clusters on first use, start them, create
#                             the database on every node with the extension, register the workers
#   scripts/citus.sh stop     stop the three (the data stays; `reset` removes it)
#   scripts/citus.sh status   the nodes the coordinator knows, one line each
#   scripts/citus.sh url      the coordinator's superuser URL (postgresql://postgres@127.0.0.1:9700/lianluo)
#   scripts/citus.sh reset    stop and remove .citus/
#
# Ports: LIANLUO_CITUS_PORT (coordinator, default 9700) and the two next ones for the workers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.citus"
bin=/usr/lib/postgresql/15/bin
port=${LIANLUO_CITUS_PORT:-9700}
ports=("$port" $((port + 1)) $((port + 2)))
names=(coordinator worker1 worker2)
db=lianluo
shared=$(cd "$root/.." && pwd)/shared/citus

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

installed() {
  [ -x "$bin/pg_config" ] && [ -f "$("$bin/pg_config" --pkglibdir)/citus.so" ]
}

build() {
  if installed; then
    return 0
  fi
  if [ ! -x "$shared/build.sh" ]; then
    echo "Citus is not installed and $shared/build.sh is missing" >&2
    exit 1
  fi
  echo "building Citus (once per machine, ~5 minutes) ..." >&2
  "$shared/build.sh"
}

psql_at() {  # psql_at PORT SQL [DB]
  as_postgres "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -d "${3:-$db}" -At \
    -c "SET client_min_messages = warning" -c "$2"
}

init_node() {  # init_node NAME PORT
  local data="$dir/$1"
  [ -f "$data/PG_VERSION" ] && return 0
  mkdir -p "$data"
  chown postgres:postgres "$dir" "$data"
  as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$data/postgresql.conf" <<EOF
# scripts/citus.sh
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
shared_preload_libraries = 'citus'
max_connections = 200
max_prepared_transactions = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

start() {
  build
  mkdir -p "$dir"
  chmod 755 "$dir"
  for i in 0 1 2; do
    # a node already answering on its port (this checkout's, or another checkout's on this machine,
    # e.g. CI's clean clone beside a developer's tree) is used as it is: the tests bring their own database
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "${ports[$i]}"; then
      continue
    fi
    init_node "${names[$i]}" "${ports[$i]}"
    if ! as_postgres "$bin/pg_ctl" -D "$dir/${names[$i]}" status >/dev/null 2>&1; then
      as_postgres "$bin/pg_ctl" -D "$dir/${names[$i]}" -l "$dir/${names[$i]}.log" -w -t 60 start >/dev/null
    fi
  done
  for i in 0 1 2; do
    if [ -z "$(psql_at "${ports[$i]}" "SELECT 1 FROM pg_database WHERE datname = '$db'" postgres)" ]; then
      psql_at "${ports[$i]}" "CREATE DATABASE $db" postgres
    fi
    psql_at "${ports[$i]}" "CREATE EXTENSION IF NOT EXISTS citus"
  done
  psql_at "${ports[0]}" "SELECT citus_set_coordinator_host('127.0.0.1', ${ports[0]})" >/dev/null
  for i in 1 2; do
    if [ -z "$(psql_at "${ports[0]}" "SELECT 1 FROM pg_dist_node WHERE nodeport = ${ports[$i]}")" ]; then
      psql_at "${ports[0]}" "SELECT citus_add_node('127.0.0.1', ${ports[$i]})" >/dev/null
    fi
  done
  echo "Citus $(psql_at "${ports[0]}" "SELECT extversion FROM pg_extension WHERE extname = 'citus'"): coordinator" \
       "127.0.0.1:${ports[0]}, workers ${ports[1]} and ${ports[2]}; database $db" >&2
}

stop() {
  for i in 0 1 2; do
    if [ -f "$dir/${names[$i]}/PG_VERSION" ]; then
      as_postgres "$bin/pg_ctl" -D "$dir/${names[$i]}" -m fast -w stop >/dev/null 2>&1 || true
    fi
  done
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  status) psql_at "${ports[0]}" "SELECT nodename || ':' || nodeport || ' ' || noderole || CASE WHEN isactive THEN ' active' ELSE ' inactive' END FROM pg_dist_node ORDER BY nodeport" ;;
  url) echo "postgresql://postgres@127.0.0.1:${ports[0]}/$db" ;;
  reset) stop; rm -rf "$dir" ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
