#!/usr/bin/env bash
# tools/bench/queue/run.sh -- 20,000 no-op jobs through our worker and through
# bullmq's Node Worker on the same private Redis, at concurrency 1 and 50:
# jobs/s and peak RSS of both, their ratios, and our rate against Redis's
# ceiling for the same job-cycle scripts: what Redis itself spent on our run
# (its CPU time, and the EVALSHA time alone, from INFO), turned into the rate
# it could sustain doing nothing else.
# Usage: tools/bench/queue/run.sh [build/autofactura]   (N=20000 by default)
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD
AF_BIN=${1:-${AF_BIN:-$root/build/autofactura}}
N=${N:-20000}
export NODE_PATH=$root/tests/interop/node_modules
here=$root/tools/bench/queue
[ -x "$AF_BIN" ] || { echo "bench: no binary at $AF_BIN (build first)" >&2; exit 2; }
[ -d "$NODE_PATH/bullmq" ] || { echo "bench: run tools/setup.sh (npm ci in tests/interop)" >&2; exit 2; }

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
tmp=$(mktemp -d)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
  --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
trap 'kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
export PORT N

fresh() { redis-cli -p "$PORT" flushall >/dev/null; node "$here/produce.js"; }
# run CMD...: prints the command's JSON line with "rss_kb" added (GNU time).
measure() {
  /usr/bin/time -f '%M' -o "$tmp/rss" "$@" > "$tmp/out"
  node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").pop());
           o.rss_kb=+require("fs").readFileSync(process.argv[2],"utf8").trim().split("\n").pop();
           console.log(JSON.stringify(o))' "$tmp/out" "$tmp/rss"
}

echo "queue bench: $N no-op jobs, Redis $(redis-server --version | grep -o 'v=[0-9.]*'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
redis_cpu() { redis-cli -p "$PORT" info cpu | awk -F: '/^used_cpu_(sys|user):/{s+=$2} END{printf "%.6f", s}'; }
evalsha_usec() { redis-cli -p "$PORT" info commandstats | sed -n 's/^cmdstat_evalsha:.*usec=\([0-9]*\),.*/\1/p'; }
for C in 1 50; do
  fresh
  redis-cli -p "$PORT" config resetstat >/dev/null
  cpu0=$(redis_cpu)
  ours=$(AF_REDIS_URL=redis://127.0.0.1:$PORT measure "$AF_BIN" worker --queue bench \
         --handler "$here/noop.lua" --concurrency "$C" --max-jobs "$N")
  cpu1=$(redis_cpu)
  ceiling=$(node -e 'const [n,c0,c1,us]=process.argv.slice(1).map(Number);
    console.log(JSON.stringify({redis_cpu_s:+(c1-c0).toFixed(3), evalsha_s:+(us/1e6).toFixed(3),
      ceiling_cpu:Math.round(n/(c1-c0)), ceiling_scripts:Math.round(n/(us/1e6))}))' \
    "$N" "$cpu0" "$cpu1" "$(evalsha_usec)")
  fresh
  theirs=$(C=$C measure node "$here/node-worker.js")
  printf '%-22s %s\n' "c=$C autofactura" "$ours" "c=$C redis for it" "$ceiling" \
    "c=$C bullmq (node)" "$theirs"
  node -e 'const [a,b,c]=process.argv.slice(1).map(JSON.parse);
    console.log(`c='"$C"' throughput ratio ${(a.jobs_per_sec/b.jobs_per_sec).toFixed(2)}x, ` +
      `peak RSS ratio ${(a.rss_kb/b.rss_kb).toFixed(3)}x; our rate is ` +
      `${(100*a.jobs_per_sec/c.ceiling_cpu).toFixed(0)}% of Redis'"'"'s ceiling (all its CPU), ` +
      `${(100*a.jobs_per_sec/c.ceiling_scripts).toFixed(0)}% of the scripts-only ceiling`)' \
    "$ours" "$theirs" "$ceiling"
done
