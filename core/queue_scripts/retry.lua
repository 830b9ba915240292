-- retry.lua -- a failed attempt that will be retried: back to wait (delay 0,
-- bullmq's retryJob) or to delayed with the backoff (bullmq's moveToDelayed).
-- ARGV: 1 prefix, 2 id, 3 now, 4 token, 5 delay ms, 6 failedReason, 7 stack limit, 8 lifo
-- Returns 0, or -1 missing job, -2/-6 lock, -3 not active.
local p, id, now, delay = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
local jk = p .. id
if rcall("EXISTS", jk) == 0 then return -1 end
local e = unlock(p, id, ARGV[4])
if e < 0 then return e end
rcall("HMSET", jk, "failedReason", ARGV[6], "stacktrace", pushTrace(jk, ARGV[6], tonumber(ARGV[7])))
if rcall("LREM", p .. "active", -1, id) < 1 then return -3 end
rcall("HINCRBY", jk, "atm", 1)
local maxEv = maxEvents(p)
if delay > 0 then
  local score, due = delayedScore(p, now, delay)
  rcall("HSET", jk, "delay", delay)
  rcall("ZADD", p .. "delayed", score, id)
  rcall("XADD", p .. "events", "MAXLEN", "~", maxEv, "*", "event", "delayed", "jobId", id, "delay", due)
  delayMarker(p)
else
  local paused = pausedOrMaxed(p)
  promote(p, now, paused)
  pushReady(p, id, tonumber(rcall("HGET", jk, "priority")) or 0, ARGV[8] == "1", paused)
  rcall("XADD", p .. "events", "MAXLEN", "~", maxEv, "*", "event", "waiting", "jobId", id, "prev", "active")
end
return 0
