#!/usr/bin/env bash
# task_steps rows per second, batched versus one INSERT per step, against a
# private PostgreSQL 15 with its durable defaults (fsync on).
# Usage: tools/bench/steps/run.sh [N]   (builds af_bench_steps in build/)
set -euo pipefail
cd "$(dirname "$0")/../../.."
cmake --build build --target af_bench_steps -j2 >/dev/null
eval "$(AF_PG_DURABLE=1 tools/pg/start.sh)"
trap 'tools/pg/stop.sh "$AF_PG_DIR"' EXIT
build/autofactura migrate >/dev/null
build/af_bench_steps "${1:-5000}"
