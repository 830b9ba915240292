#!/usr/bin/env bash
# The automation-tasks worker end to end, with real services: a private
# PostgreSQL (migrated), a private Redis, the bundled portals and Chromium.
# A task row and a job added with `autofactura enqueue` must end COMPLETED in
# the store with its steps, session and invoice; malformed job data must fail
# the job with a clear failedReason while the worker goes on; SIGTERM stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${AF_BIN:-build/autofactura}
work=$(mktemp -d /tmp/af-automation.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${AF_PG_DIR:-}" ] && tools/pg/stop.sh "$AF_PG_DIR" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { echo "not ok - $*" >&2; [ -f "$work/worker.log" ] && tail -30 "$work/worker.log" >&2; exit 1; }
q() { psql "$AF_DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || shuf -i 20000-60999 -n 1; }
wait_for() { # wait_for SECONDS COMMAND...
  local t=$1; shift
  for _ in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}

eval "$(tools/pg/start.sh)"
"$bin" migrate >/dev/null || fail "migrate"
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
export AF_REDIS_URL="redis://127.0.0.1:$rport"
wait_for 10 redis-cli -p "$rport" ping >/dev/null 2>&1 || fail "redis did not start"
node tests/portals/server.js --port 0 >"$work/portal.log" 2>&1 &
pids+=($!)
wait_for 10 grep -q '^portal listening' "$work/portal.log" || fail "portal did not start"
base=$(awk '/^portal listening/ {print $3; exit}' "$work/portal.log")
export AF_ENCRYPTION_KEYS=k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
user=6a1b2c3d-0000-4000-8000-00000000a001
q "INSERT INTO auth.users (id) VALUES ('$user')"
"$bin" profile put --user "$user" tests/fixtures/profile-fisica.json >/dev/null || fail "profile put"
task=$(q "INSERT INTO automation_tasks (user_id, vendor_url, ticket_details) VALUES ('$user', '$base/larga/', '{}') RETURNING id")
ok "services up, user $user with an encrypted profile, task $task PENDING"

# small per-user limits, so that both are reached: 3 starts an hour, 1 at once
AF_USER_TASKS_PER_HOUR=3 AF_USER_RUNNING_MAX=1 AF_MAINTENANCE_INTERVAL=1 \
  "$bin" worker --concurrency 2 --grace 5 --out "$work/files" >"$work/worker.log" 2>&1 &
worker=$!
pids+=($worker)
wait_for 30 grep -q "taking jobs" "$work/worker.log" || fail "the worker did not start"

ticket=$(tr -d '\n' < tests/fixtures/ticket-larga.json)
data="{\"taskId\":\"$task\",\"userId\":\"$user\",\"vendorUrl\":\"$base/larga/\",\"ticketData\":$ticket,\"userProfile\":{},\"retryCount\":0,\"priority\":5}"
"$bin" enqueue --queue automation-tasks --data "$data" --opts "{\"jobId\":\"task-$task\"}" >/dev/null || fail "enqueue"
done_status() { s=$(q "SELECT status FROM automation_tasks WHERE id = '$task'"); [ "$s" = COMPLETED ] || [ "$s" = FAILED ]; }
wait_for 90 done_status || fail "the task did not end: $(q "SELECT status FROM automation_tasks WHERE id = '$task'")"
[ "$(q "SELECT status FROM automation_tasks WHERE id = '$task'")" = COMPLETED ] \
  || fail "task: $(q "SELECT status || ' ' || coalesce(failure_reason, '') FROM automation_tasks WHERE id = '$task'")"
[ -n "$(q "SELECT completed_at FROM automation_tasks WHERE id = '$task'")" ] || fail "completed_at"
ok "the job ran the larga recipe: task COMPLETED with completed_at"

wait_for 10 test "$(q "SELECT count(*) FROM cfdi_documents WHERE task_id = '$task'")" = 1 || fail "no invoice row"
uuid=$(q "SELECT cfdi_uuid FROM cfdi_documents WHERE task_id = '$task'")
redis-cli -p "$rport" hget "bull:automation-tasks:task-$task" returnvalue | grep -qi "\"uuid\":\"$uuid\"" \
  || fail "returnvalue: $(redis-cli -p "$rport" hget "bull:automation-tasks:task-$task" returnvalue)"
ok "the invoice ($uuid) is stored and is the job's returnvalue"

steps=$(q "SELECT count(*) FROM task_steps WHERE task_id = '$task'")
[ "$steps" -ge 15 ] || fail "only $steps steps"
[ "$(q "SELECT step_type FROM task_steps WHERE task_id = '$task' ORDER BY seq DESC LIMIT 1")" = completed ] || fail "last step"
[ -n "$(q "SELECT terminated_at FROM browser_sessions WHERE task_id = '$task'")" ] || fail "session not terminated"
if q "SELECT content::text FROM task_steps WHERE task_id = '$task'" | grep -q "ROVL850312HJ5"; then fail "an RFC in a step"; fi
live=$(q "SELECT current_live_url FROM automation_tasks WHERE id = '$task'")
case "$live" in http://127.0.0.1:*/devtools/inspector.html?ws=*) ;; *) fail "current_live_url: $live" ;; esac
[ "$(q "SELECT verification->>'ok' FROM cfdi_documents WHERE task_id = '$task'")" = true ] || fail "verification: $(q "SELECT verification FROM cfdi_documents WHERE task_id = '$task'")"
ok "$steps steps recorded (no RFC in them), a live view URL, the browser session terminated"

bad=$("$bin" enqueue --queue automation-tasks --data '{"taskId":"nope","userId":"x","vendorUrl":"ftp://x","ticketData":{}}')
bad=$(echo "$bad" | grep -oE '[0-9]+' | head -1)
reason() { redis-cli -p "$rport" hget "bull:automation-tasks:$bad" failedReason; }
wait_for 20 test -n "$(reason)" || fail "the bad job never failed"
[ "$(reason)" = "job data: taskId must be a UUID" ] || fail "failedReason: $(reason)"
kill -0 "$worker" || fail "the worker died on bad data"
ok "malformed job data fails the job ('$(reason)') and the worker goes on"

status_key=$(redis-cli -p "$rport" get "session:$task:status")
ttl=$(redis-cli -p "$rport" ttl "session:$task:status")
[ "$status_key" = COMPLETED ] && [ "$ttl" -gt 0 ] && [ "$ttl" -le 3600 ] || fail "session key: $status_key (ttl $ttl)"
rate=$(redis-cli -p "$rport" get metrics:tasks:success_rate)
mttl=$(redis-cli -p "$rport" ttl metrics:tasks:success_rate)
[ -n "$rate" ] && [ "$mttl" -gt 0 ] && [ "$mttl" -le 300 ] || fail "metrics: rate '$rate' ttl $mttl"
ok "session keys (1 h TTL) and metrics keys (5 min TTL): status $status_key, success rate $rate"

# Two more tasks of the same user at once: the running limit (1) makes one wait.
new_task() { q "INSERT INTO automation_tasks (user_id, vendor_url, ticket_details) VALUES ('$user', '$base/$1/', '{}') RETURNING id"; }
job_data() { echo "{\"taskId\":\"$1\",\"userId\":\"$user\",\"vendorUrl\":\"$base/$2/\",\"ticketData\":$(tr -d '\n' < "tests/fixtures/ticket-$2.json")}"; }
tb=$(new_task spa)
tc=$(new_task sombra)
"$bin" enqueue --queue automation-tasks --data "$(job_data "$tb" spa)" --opts "{\"jobId\":\"task-$tb\"}" >/dev/null
"$bin" enqueue --queue automation-tasks --data "$(job_data "$tc" sombra)" --opts "{\"jobId\":\"task-$tc\"}" >/dev/null
both_done() { [ "$(q "SELECT count(*) FROM automation_tasks WHERE id IN ('$tb', '$tc') AND status IN ('COMPLETED', 'FAILED')")" = 2 ]; }
wait_for 120 both_done || fail "tasks $tb $tc did not end"
[ "$(q "SELECT count(*) FROM automation_tasks WHERE id IN ('$tb', '$tc') AND status = 'COMPLETED'")" = 2 ] \
  || fail "$(q "SELECT status || ' ' || coalesce(failure_reason, '') FROM automation_tasks WHERE id IN ('$tb', '$tc')")"
overlap=$(q "SELECT count(*) FROM (SELECT min(s.timestamp) AS first, t.completed_at AS last FROM task_steps s JOIN automation_tasks t ON t.id = s.task_id WHERE t.id IN ('$tb', '$tc') GROUP BY t.id, t.completed_at) a, (SELECT min(s.timestamp) AS first, t.completed_at AS last FROM task_steps s JOIN automation_tasks t ON t.id = s.task_id WHERE t.id IN ('$tb', '$tc') GROUP BY t.id, t.completed_at) b WHERE a.first < b.first AND b.first < a.last")
[ "$overlap" = 0 ] || fail "the two tasks ran at once despite AF_USER_RUNNING_MAX=1"
ok "a user's second task waited for the first (running limit 1), then both COMPLETED"

# The fourth start in the hour is refused, with the reason on the task and the job.
td=$(new_task larga)
"$bin" enqueue --queue automation-tasks --data "$(job_data "$td" larga)" --opts "{\"jobId\":\"task-$td\"}" >/dev/null
refused() { [ "$(q "SELECT status FROM automation_tasks WHERE id = '$td'")" = FAILED ]; }
wait_for 30 refused || fail "task $td was not refused: $(q "SELECT status FROM automation_tasks WHERE id = '$td'")"
q "SELECT failure_reason FROM automation_tasks WHERE id = '$td'" | grep -q "rate limit: at most 3 tasks per hour per user" \
  || fail "reason: $(q "SELECT failure_reason FROM automation_tasks WHERE id = '$td'")"
redis-cli -p "$rport" hget "bull:automation-tasks:task-$td" failedReason | grep -q "rate limit" || fail "job failedReason"
ok "the 4th task in the hour is refused: $(q "SELECT failure_reason FROM automation_tasks WHERE id = '$td'")"

checks() { [ "$(q "SELECT count(*) FROM health_checks")" -ge 2 ]; }
wait_for 10 checks || fail "no health checks recorded: $(q "SELECT count(*) FROM health_checks")"
ok "the worker runs retention and health checks itself (no pg_cron): $(q "SELECT count(*) FROM health_checks") checks"

kill -TERM "$worker"
wait_for 20 bash -c "! kill -0 $worker 2>/dev/null" || fail "the worker did not stop on SIGTERM"
grep -q "stopped" "$work/worker.log" || fail "no orderly stop"
if grep -qE "ERROR: AddressSanitizer|runtime error:|LeakSanitizer" "$work/worker.log"; then fail "sanitizer report"; fi
ok "SIGTERM stops the worker"
echo "$n passed, 0 failed"
