-- add.lua -- add one job (standard, prioritized or delayed), as bullmq's add scripts lay it out.
-- ARGV: prefix, customId ("" = counter), name, timestamp, data JSON, opts JSON,
--       delay ms, priority, lifo ("1"/"0")
-- Returns the job id (the existing id when customId already exists).
local p, id, name, ts = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local delay, prio = tonumber(ARGV[7]), tonumber(ARGV[8])
local maxEv = maxEvents(p)
local counter = rcall("INCR", p .. "id")
if id == "" then
  id = tostring(counter)
elseif rcall("EXISTS", p .. id) == 1 then
  rcall("XADD", p .. "events", "MAXLEN", "~", maxEv, "*", "event", "duplicated", "jobId", id)
  return id
end
rcall("HMSET", p .. id, "name", name, "data", ARGV[5], "opts", ARGV[6],
      "timestamp", ts, "delay", delay, "priority", prio)
rcall("XADD", p .. "events", "*", "event", "added", "jobId", id, "name", name)
if delay > 0 then
  local score, due = delayedScore(p, ts, delay)
  rcall("ZADD", p .. "delayed", score, id)
  rcall("XADD", p .. "events", "MAXLEN", "~", maxEv, "*", "event", "delayed", "jobId", id, "delay", due)
  delayMarker(p)
else
  pushReady(p, id, prio, ARGV[9] == "1", pausedOrMaxed(p))
  rcall("XADD", p .. "events", "MAXLEN", "~", maxEv, "*", "event", "waiting", "jobId", id)
end
return id
