#!/usr/bin/env bash
# Per bundled portal, in one run: wall time of the generic fallback, of the
# recipe it learned, and of the hand-written recipe (medians of ROUNDS,
# browser start included), and the LLM calls each fallback task made.
# Usage: tools/bench/fallback/run.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/../../.."
rounds=${1:-3}
bin=build/autofactura
[ -x "$bin" ] || { echo "bench/fallback: build first (tools/setup.sh)" >&2; exit 1; }
log=$(mktemp)
work=$(mktemp -d)
node tests/portals/server.js --port 0 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$log" "$work"' EXIT
for _ in $(seq 1 100); do grep -q '^portal listening' "$log" && break; sleep 0.1; done
base=$(awk '/^portal listening/ {print $3; exit}' "$log")
[ -n "$base" ] || { echo "bench/fallback: the portal server did not start" >&2; exit 1; }

ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
one() { # one PORTAL TICKET PROFILE RECIPE OUT -> ms, or fails
  curl -s -X POST "$base/__reset" >/dev/null
  local t0; t0=$(ms)
  "$bin" run --url "$base/$1/" --ticket "tests/fixtures/$2.json" --profile "tests/fixtures/$3.json" \
    --recipe "$4" --out "$5" --quiet $6 >/dev/null || { echo "bench/fallback: $1 with $4 failed" >&2; exit 1; }
  echo $(( $(ms) - t0 ))
}

printf '%-10s %10s %10s %10s %10s %14s\n' portal fallback learned recipe "fb/recipe" "LLM calls/task"
while read -r portal ticket profile; do
  fb=() le=() hw=()
  for i in $(seq 1 "$rounds"); do
    fb+=($(one "$portal" "$ticket" "$profile" generic "$work/fb" "--save-recipe $work/learned-$portal.lua"))
    le+=($(one "$portal" "$ticket" "$profile" "$work/learned-$portal.lua" "$work/le" ""))
    hw+=($(one "$portal" "$ticket" "$profile" "recipes/$portal.lua" "$work/hw" ""))
  done
  # the fallback asks no LLM: it has no client yet (docs/fallback.md)
  calls=$(grep -c '"type":"thinking"' "$work/fb/result.json" || true)
  printf '%-10s %8s ms %8s ms %8s ms %10.2f %14s\n' "$portal" "$(median "${fb[@]}")" "$(median "${le[@]}")" \
    "$(median "${hw[@]}")" "$(awk -v a="$(median "${fb[@]}")" -v b="$(median "${hw[@]}")" 'BEGIN {print a / b}')" "$calls"
done <<'CASES'
larga ticket-larga profile-fisica
asistente ticket-asistente profile-moral
spa ticket-spa profile-fisica
marco ticket-marco profile-moral
sombra ticket-sombra profile-fisica
vencido ticket-vencido profile-moral
CASES
