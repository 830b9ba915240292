-- finish.lua -- active -> completed/failed (bullmq's moveToFinished), then
-- optionally take the next job in the same round trip.
-- ARGV: 1 prefix, 2 id, 3 now, 4 token, 5 target ("completed"/"failed"),
--       6 value (returnvalue JSON / failedReason text), 7 keep count (-1 all, 0 none),
--       8 keep age s (-1 none), 9 keep limit, 10 attempts, 11 stack limit (-1 none),
--       12 fetch next ("1"/"0"), 13 next token, 14 lock ms, 15 worker name,
--       16 deduplication id read when the job was taken ("" = none)
-- Returns -1 missing job, -2/-6 lock, -3 not active, 0 done, or a take() result
-- when asked to fetch the next job.
local p, id, now, target = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[5]
local jk = p .. id
local e = unlock(p, id, ARGV[4])
if e < 0 then
  if rcall("EXISTS", jk) == 0 then return -1 end
  return e
end
if rcall("LREM", p .. "active", -1, id) < 1 then return -3 end
local maxEv = maxEvents(p)
local field = "returnvalue"
if target == "failed" then
  field = "failedReason"
  rcall("HSET", jk, "stacktrace", pushTrace(jk, ARGV[6], tonumber(ARGV[11])))
end
local deid = ARGV[16]
if deid ~= "" and rcall("GET", p .. "de:" .. deid) == id then rcall("DEL", p .. "de:" .. deid) end
local count, age, limit = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local atm = 0
if count ~= 0 or target == "failed" then atm = rcall("HINCRBY", jk, "atm", 1) end
if count ~= 0 then
  local set = p .. target
  rcall("ZADD", set, now, id)
  rcall("HSET", jk, field, ARGV[6], "finishedOn", now)
  if target == "failed" then rcall("HDEL", jk, "defa") end
  if age >= 0 then
    local old = rcall("ZREVRANGEBYSCORE", set, now - age * 1000, "-inf", "LIMIT", 0, limit)
    for _, o in ipairs(old) do removeJobKeys(p .. o) end
    if #old > 0 then rcall("ZREM", set, unpack(old)) end
  end
  if count > 0 then
    local old = rcall("ZREVRANGE", set, count, -1)
    for _, o in ipairs(old) do removeJobKeys(p .. o) end
    rcall("ZREMRANGEBYRANK", set, 0, -(count + 1))
  end
else
  removeJobKeys(jk)
end
-- MAXLEN on the add trims only older entries (bullmq trims just before it)
rcall("XADD", p .. "events", "MAXLEN", "~", maxEv, "*", "event", target, "jobId", id, field, ARGV[6],
      "prev", "active")
if target == "failed" and atm >= tonumber(ARGV[10]) then
  rcall("XADD", p .. "events", "*", "event", "retries-exhausted", "jobId", id, "attemptsMade", atm)
end
local r = 0
if ARGV[12] == "1" then
  r = take(p, now, ARGV[13], ARGV[14], ARGV[15])
  if r[2] ~= 0 then return r end
end
if rcall("LLEN", p .. "wait") == 0 and rcall("LLEN", p .. "active") == 0
   and rcall("ZCARD", p .. "prioritized") == 0 then
  rcall("XADD", p .. "events", "*", "event", "drained")
end
return r
