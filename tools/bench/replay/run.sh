#!/usr/bin/env bash
# Live run versus replay of the same recipe, alternating, in one run.
# Records one cassette per round (live, against the bundled portal) and
# replays it at once (no browser); prints the medians and their ratio.
# Usage: tools/bench/replay/run.sh [PORTAL [ROUNDS]]   (default: larga 7)
set -euo pipefail
cd "$(dirname "$0")/../../.."
portal=${1:-larga}
rounds=${2:-7}
bin=build/autofactura
[ -x "$bin" ] || { echo "bench/replay: build first (tools/setup.sh)" >&2; exit 1; }
case $portal in
  asistente|marco|vencido) profile=profile-moral ;;
  *) profile=profile-fisica ;;
esac

log=$(mktemp)
work=$(mktemp -d)
node tests/portals/server.js --port 0 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$log" "$work"' EXIT
for _ in $(seq 1 100); do grep -q '^portal listening' "$log" && break; sleep 0.1; done
base=$(awk '/^portal listening/ {print $3; exit}' "$log")
[ -n "$base" ] || { echo "bench/replay: the portal server did not start" >&2; exit 1; }

ms() { date +%s%N; }
live=() replay=()
for i in $(seq 1 "$rounds"); do
  curl -s -X POST "$base/__reset" >/dev/null
  t0=$(ms)
  "$bin" run --url "$base/$portal/" --ticket "tests/fixtures/ticket-$portal.json" \
    --profile "tests/fixtures/$profile.json" --record-profile "tests/fixtures/$profile.json" \
    --record "$work/$i.cassette" --out "$work/live-$i" --quiet >/dev/null
  t1=$(ms)
  PATH=/nonexistent "$PWD/$bin" replay --cassette "$work/$i.cassette" --out "$work/replay-$i" --quiet >/dev/null
  t2=$(ms)
  live+=($(( (t1 - t0) / 1000 )))
  replay+=($(( (t2 - t1) / 1000 )))
  echo "round $i: live $(( (t1 - t0) / 1000000 )) ms, replay $(( (t2 - t1) / 1000 )) us" >&2
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ml=$(median "${live[@]}")
mr=$(median "${replay[@]}")
awk -v l="$ml" -v r="$mr" -v p="$portal" -v n="$rounds" 'BEGIN {
  printf "replay bench (%s, %d rounds): live median %.1f ms (browser start included), replay median %.1f ms, replay is %.0fx faster\n", p, n, l / 1000, r / 1000, l / r }'
