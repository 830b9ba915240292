#!/usr/bin/env bash
# tools/chaos/queue.sh -- N jobs, two C workers on one private Redis; worker A
# is killed -9 at random moments K times and restarted. Checks that every job
# completed, none failed, and each job's side effect happened exactly once.
# The side effect is the handler's job:log line: it travels to Redis in the
# same write as the job's completion, so a killed worker loses both or
# neither, and the job, recovered as stalled, runs again.
# Usage: [N=1000] [K=5] tools/chaos/queue.sh [build/autofactura]
set -euo pipefail
cd "$(dirname "$0")/../.."
AF_BIN=${1:-${AF_BIN:-$PWD/build/autofactura}}
N=${N:-1000}
K=${K:-5}
[ -x "$AF_BIN" ] || { echo "chaos: no binary at $AF_BIN (build first)" >&2; exit 2; }

tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
  --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  kill "$(cat "$tmp/redis.pid" 2>/dev/null)" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export AF_REDIS_URL=redis://127.0.0.1:$port
rc() { redis-cli -p "$port" "$@"; }

cat > "$tmp/handler.lua" <<'LUA'
return function(job)
  local x = 0
  for i = 1, 1500000 + (job.data.i % 7) * 100000 do x = x + i end -- a few ms of work
  job:log("ran")
  return job.data.i
end
LUA

for i in $(seq "$N"); do
  "$AF_BIN" enqueue --queue chaos --data "{\"i\":$i}" --opts "{\"jobId\":\"c-$i\"}" >/dev/null
done
worker() {
  "$AF_BIN" worker --queue chaos --handler "$tmp/handler.lua" --concurrency 4 \
    --lock-duration 1000 --stalled-interval 500 --max-stalled-count 1000 \
    >/dev/null 2>>"$tmp/$1.err" &
  echo $!
}
a=$(worker a); b=$(worker b); pids=("$a" "$b")
kills=0
for k in $(seq "$K"); do
  sleep "0.$((2 + RANDOM % 5))"
  left=$(( N - $(rc zcard bull:chaos:completed) ))
  kill -9 "$a"; wait "$a" 2>/dev/null || true
  [ "$left" -gt 0 ] && kills=$((kills + 1))
  a=$(worker a); pids=("$a" "$b")
done
for _ in $(seq 600); do
  [ "$(rc zcard bull:chaos:completed)" -ge "$N" ] && break
  sleep 0.1
done
kill -TERM "$a" "$b"; wait "$a" "$b" 2>/dev/null || true; pids=()

completed=$(rc zcard bull:chaos:completed)
failed=$(rc zcard bull:chaos:failed)
stalled=$(rc xrange bull:chaos:events - + | grep -c '^stalled$' || true)
bad=$(rc eval "local bad = {}
  for i = 1, tonumber(ARGV[1]) do
    local n = redis.call('LLEN', 'bull:chaos:c-' .. i .. ':logs')
    if n ~= 1 then bad[#bad + 1] = 'c-' .. i .. '=' .. n end
  end
  return bad" 0 "$N")
echo "chaos: $N jobs, $kills of $K kill -9 landed while work remained, $stalled stalled recoveries;" \
     "completed $completed, failed $failed"
if [ "$kills" -eq 0 ]; then
  echo "chaos: FAILED: no kill landed while work remained (raise N)" >&2
  exit 1
fi
if [ "$completed" -ne "$N" ] || [ "$failed" -ne 0 ] || [ -n "$bad" ]; then
  echo "chaos: FAILED${bad:+ (side effects not exactly once: $(echo $bad | head -c 300))}" >&2
  exit 1
fi
echo "chaos: every job completed once, its side effect exactly once"
