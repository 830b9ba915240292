#!/usr/bin/env bash
# Form-fill benchmark: the same CFDI form (server.js) filled and submitted by
# autofactura (recipe.lua) and by playwright-core (playwright.js), in
# alternating batches, each batch one fresh browser per side. Times run from
# the navigation to the result page being visible; browser start is excluded.
# Usage: tools/bench/form-fill/run.sh [BATCHES [FORMS_PER_BATCH]]   (default 5 3)
# Needs build/autofactura (or AF_BIN), tests/node/node_modules (npm ci) and
# /usr/bin/chromium (or AF_CHROMIUM, used by both sides).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
batches=${1:-5}
forms=${2:-3}
bin=${AF_BIN:-$root/build/autofactura}
die() { echo "form-fill: $*" >&2; exit 1; }

[[ $batches =~ ^[1-9][0-9]*$ && $forms =~ ^[1-9][0-9]*$ ]] ||
  die "BATCHES and FORMS_PER_BATCH must be positive integers"
[ -x "$bin" ] || die "no $bin: build first (cmake -S . -B build && cmake --build build -j2)"
command -v node >/dev/null || die "node is not installed (tools/setup.sh)"
[ -x "${AF_CHROMIUM:-/usr/bin/chromium}" ] || die "no chromium at ${AF_CHROMIUM:-/usr/bin/chromium}"
if [ ! -d "$root/tests/node/node_modules/playwright-core" ]; then
  (cd "$root/tests/node" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
    die "npm ci in tests/node failed"
fi

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "${AF_BENCH_KEEP:-}" ]; then echo "form-fill: raw data kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

node "$here/server.js" >"$work/server.out" &
server=$!
for _ in $(seq 50); do grep -q '^port ' "$work/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^port /{print $2}' "$work/server.out")
[ -n "$port" ] || die "the form server did not start"

rounds=$((forms + 1)) # form 1 of each batch warms up and is dropped on both sides
url="http://127.0.0.1:$port/?rounds=$rounds"
ticket=$here/ticket.json
profile=$here/profile.json

ours() {
  "$bin" run --quiet --url "$url" --ticket "$ticket" --profile "$profile" \
    --recipe "$here/recipe.lua" --out "$work/ours-$1" >/dev/null 2>"$work/ours-$1.err" ||
    die "autofactura run failed in batch $1: $(tail -n 3 "$work/ours-$1.err")"
  node "$here/stats.js" ours "$work/ours-$1/result.json" "$1" >>"$work/forms.jsonl"
}
theirs() {
  node "$here/playwright.js" "$url" "$ticket" "$profile" "$rounds" >"$work/theirs-$1.out" \
    2>"$work/theirs-$1.err" || die "playwright.js failed in batch $1: $(tail -n 3 "$work/theirs-$1.err")"
  node "$here/stats.js" theirs "$1" <"$work/theirs-$1.out" >>"$work/forms.jsonl"
}

echo "form-fill: $batches batches x $forms forms per side (+1 warm-up each), alternating" >&2
for b in $(seq "$batches"); do
  if ((b % 2)); then ours "$b"; theirs "$b"; else theirs "$b"; ours "$b"; fi
  echo "form-fill: batch $b/$batches done" >&2
done
node "$here/stats.js" report "$work/forms.jsonl"
