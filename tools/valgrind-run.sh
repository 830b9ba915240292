#!/usr/bin/env bash
# One whole `autofactura run` under valgrind memcheck: the bundled CFDI form
# (tools/bench/form-fill/server.js) filled ROUNDS times by its recipe, which
# then downloads the XML and completes. Only our process is checked: valgrind
# does not follow children (no --trace-children), so Chromium runs natively.
# Exits 0 when the run completed with no memory errors and no definite leaks;
# prints valgrind's LEAK SUMMARY and ERROR SUMMARY, and on failure the records.
# Usage: tools/valgrind-run.sh [ROUNDS]   (default 2)
# Environment: AF_BIN (default build/autofactura), AF_VALGRIND_LOG (keep the
# full valgrind log at this path).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/tools/bench/form-fill
bin=${AF_BIN:-$root/build/autofactura}
rounds=${1:-2}
die() { echo "valgrind-run: $*" >&2; exit 1; }

[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
command -v valgrind >/dev/null || die "valgrind is not installed (tools/setup.sh installs it)"
command -v node >/dev/null || die "node is not installed (tools/setup.sh)"
[ -x "$bin" ] || die "no $bin: build first (cmake -S . -B build && cmake --build build -j2)"

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

node "$bench/server.js" >"$work/server.out" &
server=$!
for _ in $(seq 50); do grep -q '^port ' "$work/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^port /{print $2}' "$work/server.out")
[ -n "$port" ] || die "the form server did not start"

log=$work/valgrind.log
rc=0
valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
  --error-exitcode=9 --num-callers=30 --log-file="$log" \
  "$bin" run --quiet --url "http://127.0.0.1:$port/?rounds=$rounds" \
  --ticket "$bench/ticket.json" --profile "$bench/profile.json" \
  --recipe "$bench/recipe.lua" --out "$work/out" --timeout 120 || rc=$?
[ -n "${AF_VALGRIND_LOG:-}" ] && cp "$log" "$AF_VALGRIND_LOG"

sed -n '/LEAK SUMMARY/,/suppressed:/p' "$log" | sed 's/^==[0-9]*== //'
grep 'ERROR SUMMARY' "$log" | sed 's/^==[0-9]*== //'
if [ "$rc" -eq 9 ]; then
  echo "valgrind-run: memory errors or definite leaks in autofactura:" >&2
  # every error record and every "definitely lost" record, with its stack
  awk '/^==[0-9]+== (Invalid|Conditional|Syscall|Mismatched|Source and|Use of|Argument)/ ||
       /definitely lost in loss record/ {p=1}
       p && /^==[0-9]+== $/ {p=0; print ""}
       p' "$log" | sed 's/^==[0-9]*== //' >&2
  exit 9
fi
[ "$rc" -eq 0 ] || die "autofactura run exited $rc (0 = COMPLETED expected); valgrind log tail:
$(tail -n 20 "$log")"
echo "valgrind-run: OK (no memory errors, no definite leaks)"
