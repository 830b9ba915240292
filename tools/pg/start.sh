#!/usr/bin/env bash
# Start a private PostgreSQL 15 for tests: a throw-away data directory, loopback
# only, a free port, trust authentication (it never leaves 127.0.0.1).
# Prints shell assignments to eval:
#   eval "$(tools/pg/start.sh)"   ->  AF_PG_DIR, AF_PG_PORT, AF_DATABASE_URL
# Stop it with tools/pg/stop.sh "$AF_PG_DIR".
# Tests run without fsync; AF_PG_DURABLE=1 keeps PostgreSQL's durable
# defaults (benchmarks).
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
[ -x "$bin/initdb" ] || { echo "pg/start: $bin/initdb missing (apt-get install postgresql)" >&2; exit 1; }

as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/af-pg.XXXXXX")
chmod 755 "$dir"
[ ${#as_pg[@]} -eq 0 ] || chown postgres: "$dir"
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
  --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

# A port the kernel says is free (python3), else a random high one; a taken
# port makes the start fail and the loop below try another.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' \
    2>/dev/null || shuf -i 20000-60999 -n 1
}

durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ "${AF_PG_DURABLE:-0}" = 1 ] && durability=""

# A port found free can be taken before the server binds it: retry a few times.
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  if "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
       -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir $durability" \
       start >/dev/null 2>&1; then
    echo "AF_PG_DIR=$dir; export AF_PG_DIR"
    echo "AF_PG_PORT=$port; export AF_PG_PORT"
    echo "AF_DATABASE_URL=postgresql://postgres@127.0.0.1:$port/postgres; export AF_DATABASE_URL"
    exit 0
  fi
  echo "pg/start: attempt $attempt on port $port failed" >&2
done
tail -n 20 "$dir/server.log" >&2 || true
exit 1
