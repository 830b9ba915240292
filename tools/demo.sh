#!/usr/bin/env bash
# The main job end to end on embedded defaults: install what is missing,
# build, start a bundled test portal on loopback and request an invoice on
# it with a local headless Chromium. Prints each step, and last the UUID.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh

portal_log=$(mktemp)
out=$(mktemp -d /tmp/autofactura-demo-XXXXXX)
node tests/portals/server.js >"$portal_log" 2>&1 &
portal=$!
trap 'kill $portal 2>/dev/null || true; rm -f "$portal_log"' EXIT

for _ in $(seq 1 100); do
  grep -q '^portal listening' "$portal_log" && break
  kill -0 $portal 2>/dev/null || { cat "$portal_log" >&2; exit 1; }
  sleep 0.1
done
base=$(awk '/^portal listening/ {print $3; exit}' "$portal_log")
[ -n "$base" ] || { echo "demo: the test portal did not start" >&2; exit 1; }

echo "demo: test portal at $base/asistente/ (a ticket lookup, fiscal data and confirmation wizard)" >&2
build/autofactura run --url "$base/asistente/" \
  --ticket tests/fixtures/ticket-asistente.json \
  --profile tests/fixtures/profile-fisica.json \
  --out "$out"
echo "demo: result.json and the CFDI XML are in $out" >&2
