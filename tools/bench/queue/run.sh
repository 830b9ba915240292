#!/usr/bin/env bash
# tools/bench/queue/run.sh -- 20,000 no-op jobs through our worker and through
# bullmq's Node Worker on the same private Redis, at concurrency 1 and 50:
# jobs/s and peak RSS of both, their ratios, and our rate against Redis's
# ceiling for the same job-cycle scripts: what Redis itself spent on our run
# (its CPU time, and the EVALSHA time alone, from INFO), turned into the rate
# it could sustain doing nothing else.
# Concurrency 1 runs twice: with Redis and the worker's main thread sharing
# one CPU ("one cpu": taskset, the same for both workers) and left to the scheduler
# ("any cpu"). At concurrency 1 each job is one round trip, and on a VM whose
# idle vCPUs halt, waking the other vCPU twice per job costs more than either
# worker's own work; sharing a CPU takes that cost out and measures the
# workers. Each case runs REPS times (3), ours and bullmq's alternating;
# the summary gives medians and the ratio of medians.
# Usage: tools/bench/queue/run.sh [build/autofactura]   (N=20000, REPS=3)
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD
AF_BIN=${1:-${AF_BIN:-$root/build/autofactura}}
N=${N:-20000}
REPS=${REPS:-3}
export NODE_PATH=$root/tests/interop/node_modules
here=$root/tools/bench/queue
[ -x "$AF_BIN" ] || { echo "bench: no binary at $AF_BIN (build first)" >&2; exit 2; }
[ -d "$NODE_PATH/bullmq" ] || { echo "bench: run tools/setup.sh (npm ci in tests/interop)" >&2; exit 2; }
command -v taskset >/dev/null || { echo "bench: taskset (util-linux) is missing" >&2; exit 2; }

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
tmp=$(mktemp -d)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
  --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
trap 'kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
export PORT N
allcpus="0-$(($(nproc) - 1))"

fresh() { redis-cli -p "$PORT" flushall >/dev/null; node "$here/produce.js"; }
# measure CPUS CMD...: prints the command's JSON line with "rss_kb" added (GNU
# time). The command's main thread is moved to CPUS once it has started; its
# other threads (Node's GC and libuv pool) stay free, as they are not the
# worker's loop.
measure() {
  local cpus=$1 tp cp=""
  shift
  /usr/bin/time -f '%M' -o "$tmp/rss" "$@" > "$tmp/out" &
  tp=$!
  for _ in $(seq 200); do
    cp=$(pgrep -P "$tp" | head -1) && [ -n "$cp" ] && break
    sleep 0.005
  done
  [ -n "$cp" ] && taskset -pc "$cpus" "$cp" >/dev/null
  wait "$tp"
  node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").pop());
           o.rss_kb=+require("fs").readFileSync(process.argv[2],"utf8").trim().split("\n").pop();
           console.log(JSON.stringify(o))' "$tmp/out" "$tmp/rss"
}
# pin CPUS: Redis's affinity.
pin() { taskset -pc "$1" "$(cat "$tmp/redis.pid")" >/dev/null; }
echo "queue bench: $N no-op jobs, Redis $(redis-server --version | grep -o 'v=[0-9.]*'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
redis_cpu() { redis-cli -p "$PORT" info cpu | awk -F: '/^used_cpu_(sys|user):/{s+=$2} END{printf "%.6f", s}'; }
evalsha_usec() { redis-cli -p "$PORT" info commandstats | sed -n 's/^cmdstat_\(evalsha\|fcall\):.*usec=\([0-9]*\),.*/\2/p' | awk '{s+=$1} END{print s+0}'; }
for case in "1 0" "1 $allcpus" "50 $allcpus"; do
  read -r C cpus <<<"$case"
  label="c=$C $([ "$cpus" = 0 ] && echo 'one cpu' || echo 'any cpu')"
  for rep in $(seq "$REPS"); do
    fresh
    pin "$cpus"
    redis-cli -p "$PORT" config resetstat >/dev/null
    cpu0=$(redis_cpu)
    ours=$(AF_REDIS_URL=redis://127.0.0.1:$PORT measure "$cpus" "$AF_BIN" worker \
           --queue bench --handler "$here/noop.lua" --concurrency "$C" --max-jobs "$N")
    cpu1=$(redis_cpu)
    ceiling=$(node -e 'const [n,c0,c1,us]=process.argv.slice(1).map(Number);
      console.log(JSON.stringify({redis_cpu_s:+(c1-c0).toFixed(3), evalsha_s:+(us/1e6).toFixed(3),
        ceiling_cpu:Math.round(n/(c1-c0)), ceiling_scripts:Math.round(n/(us/1e6))}))' \
      "$N" "$cpu0" "$cpu1" "$(evalsha_usec)")
    pin "$allcpus"
    fresh
    pin "$cpus"
    theirs=$(C=$C measure "$cpus" node "$here/node-worker.js")
    pin "$allcpus"
    printf '%-30s %s\n' "$label #$rep autofactura" "$ours" "$label #$rep redis for it" "$ceiling" \
      "$label #$rep bullmq (node)" "$theirs"
    echo "{\"label\":\"$label\",\"ours\":$ours,\"theirs\":$theirs,\"redis\":$ceiling}" >> "$tmp/runs"
  done
done
echo "summary (medians of $REPS runs):"
node -e '
  const runs = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const med = a => { const s = [...a].sort((x, y) => x - y), m = s.length >> 1;
                     return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  for (const label of [...new Set(runs.map(r => r.label))]) {
    const rs = runs.filter(r => r.label === label), m = f => med(rs.map(f));
    const ours = m(r => r.ours.jobs_per_sec), theirs = m(r => r.theirs.jobs_per_sec);
    const ratios = rs.map(r => (r.ours.jobs_per_sec / r.theirs.jobs_per_sec).toFixed(2)).join(" ");
    console.log(`${label}: ours ${Math.round(ours)} jobs/s, bullmq ${Math.round(theirs)} jobs/s, ` +
      `ratio ${(ours / theirs).toFixed(2)}x (runs: ${ratios}); peak RSS ${m(r => r.ours.rss_kb)} KB vs ` +
      `${m(r => r.theirs.rss_kb)} KB, ratio ${(m(r => r.ours.rss_kb) / m(r => r.theirs.rss_kb)).toFixed(3)}x; ` +
      `ours is ${(100 * ours / m(r => r.redis.ceiling_cpu)).toFixed(0)}% of Redis'"'"'s ceiling (all its CPU), ` +
      `${(100 * ours / m(r => r.redis.ceiling_scripts)).toFixed(0)}% of the scripts-only ceiling`);
  }' "$tmp/runs"
