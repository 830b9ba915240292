#!/usr/bin/env bash
# Record (again) the cassette of every bundled recipe against the bundled
# test portals: recipes/cassettes/NAME.cassette, and the live run's result
# in NAME.result.json, which replay specs compare with. Run it after a
# change to a recipe, a portal or the CDP traffic the runtime sends.
# Usage: tools/record-cassettes.sh [NAME ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/autofactura
[ -x "$bin" ] || { echo "record-cassettes: build first (tools/setup.sh)" >&2; exit 1; }

# name  portal  ticket fixture  profile fixture
cases="larga larga ticket-larga profile-fisica
asistente asistente ticket-asistente profile-moral
spa spa ticket-spa profile-fisica
marco marco ticket-marco profile-moral
sombra sombra ticket-sombra profile-fisica
vencido vencido ticket-vencido profile-moral
vencido-expired vencido ticket-expired profile-fisica
vencido-unknown vencido ticket-unknown profile-fisica
captcha captcha ticket-captcha profile-moral"

log=$(mktemp)
node tests/portals/server.js --port 0 >"$log" 2>&1 &
server=$!
out=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$log" "$out"' EXIT
for _ in $(seq 1 100); do grep -q '^portal listening' "$log" && break; sleep 0.1; done
base=$(awk '/^portal listening/ {print $3; exit}' "$log")
[ -n "$base" ] || { echo "record-cassettes: the portal server did not start" >&2; exit 1; }

echo "$cases" | while read -r name portal ticket profile; do
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
  curl -s -X POST "$base/__reset" >/dev/null
  rm -rf "$out/$name"
  set +e
  "$bin" run --url "$base/$portal/" --ticket "tests/fixtures/$ticket.json" \
    --profile "tests/fixtures/$profile.json" --record-profile "tests/fixtures/$profile.json" \
    --record "recipes/cassettes/$name.cassette" --out "$out/$name" --quiet >/dev/null 2>"$out/$name.err"
  code=$?
  set -e
  [ -f "$out/$name/result.json" ] || { echo "record-cassettes: $name: no result (exit $code)" >&2; cat "$out/$name.err" >&2; exit 1; }
  cp "$out/$name/result.json" "recipes/cassettes/$name.result.json"
  echo "record-cassettes: $name: exit $code, $(wc -l < "recipes/cassettes/$name.cassette") lines" >&2
done
