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
#   scripts/citus.sh add-worker DB
#                             deploy/README.md's "add a worker" on this machine: a third worker node
#                             (port +3) started, database DB made there with the extension, the node
#                             added to DB's cluster and DB's shards rebalanced onto it (writes wait
#                             while a shard moves: the nodes run without logical replication)
#
# Ports: LIANLUO_CITUS_PORT (coordinator, default 9700) and the two next ones for the workers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.citus"
bin=/usr/lib/postgresql/15/bin
port=${LIANLUO_CITUS_PORT:-9700}
ports=("$port" $((port + 1)) $((port + 2)) $((port + 3)))
names=(coordinator worker1 worker2 worker3)  # worker3: only after add-worker
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
max_worker_processes = 64
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
    enough_background_workers "${ports[$i]}"
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

enough_background_workers() {  # PORT: each Citus database runs a maintenance daemon, and a rebalance
  # its task executors: PostgreSQL's default 8 background workers run out with the tests' databases
  # (a rebalance then waits forever). Nodes made before this line was added are raised and restarted.
  if [ "$(psql_at "$1" "SHOW max_worker_processes" postgres)" -lt 64 ]; then
    local data
    data=$(psql_at "$1" "SHOW data_directory" postgres)
    psql_at "$1" "ALTER SYSTEM SET max_worker_processes = 64" postgres
    as_postgres "$bin/pg_ctl" -D "$data" -l "$data.log" -m fast -w -t 60 restart >/dev/null
  fi
}

add_worker() {  # add_worker DB
  local target=$1 i=3
  if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "${ports[$i]}"; then
    init_node "${names[$i]}" "${ports[$i]}"
    as_postgres "$bin/pg_ctl" -D "$dir/${names[$i]}" -l "$dir/${names[$i]}.log" -w -t 60 start >/dev/null
  fi
  enough_background_workers "${ports[$i]}"
  local joined
  joined=$(psql_at "${ports[0]}" "SELECT 1 FROM pg_dist_node WHERE nodeport = ${ports[$i]}" "$target")
  if [ -z "$joined" ]; then  # a database of that name left there by an earlier cluster is not this one's
    psql_at "${ports[$i]}" "DROP DATABASE IF EXISTS \"$target\" WITH (FORCE)" postgres
  fi
  # the roles the database's owner and grants name (Citus copies its own objects, not a database)
  local owner
  owner=$(psql_at "${ports[0]}" "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$target'" postgres)
  if [ -z "$(psql_at "${ports[$i]}" "SELECT 1 FROM pg_roles WHERE rolname = '$owner'" postgres)" ]; then
    psql_at "${ports[$i]}" "CREATE ROLE \"$owner\" LOGIN NOSUPERUSER CREATEROLE" postgres
  fi
  if [ -z "$(psql_at "${ports[$i]}" "SELECT 1 FROM pg_database WHERE datname = '$target'" postgres)" ]; then
    psql_at "${ports[$i]}" "CREATE DATABASE \"$target\" OWNER \"$owner\"" postgres
  fi
  psql_at "${ports[$i]}" "CREATE EXTENSION IF NOT EXISTS citus" "$target"
  if [ -z "$joined" ]; then
    psql_at "${ports[0]}" "SELECT citus_add_node('127.0.0.1', ${ports[$i]})" "$target" >/dev/null
  fi
  psql_at "${ports[0]}" "SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes')" "$target" >/dev/null || true
  psql_at "${ports[0]}" "SET statement_timeout = '300s'; SELECT citus_rebalance_wait()" "$target" >/dev/null
  psql_at "${ports[0]}" "SELECT nodeport || ': ' || count(*) || ' shards' FROM citus_shards WHERE citus_table_type = 'distributed' GROUP BY nodeport ORDER BY nodeport" "$target"
}

stop() {
  for i in 0 1 2 3; do
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
  add-worker) add_worker "${2:?add-worker needs the database name}" ;;
  *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
