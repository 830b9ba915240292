#!/usr/bin/env bash
# Stop a PostgreSQL started by tools/pg/start.sh and remove its directory.
# Usage: tools/pg/stop.sh DIR   (DIR defaults to $AF_PG_DIR)
set -euo pipefail
dir=${1:-${AF_PG_DIR:-}}
case "$dir" in
  */af-pg.*) ;;
  *) echo "pg/stop: '$dir' is not a directory made by tools/pg/start.sh" >&2; exit 2 ;;
esac
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi
if [ -f "$dir/data/postmaster.pid" ]; then
  "${as_pg[@]}" /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$dir"
