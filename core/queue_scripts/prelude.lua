-- prelude.lua -- helpers shared by every queue script (prepended at load time).
-- Runs inside Redis (Lua 5.1). Keys follow bullmq 6.x: "<prefix>wait",
-- "<prefix>active", "<prefix><jobId>", ... where prefix is "bull:<queue>:".
local rcall = redis.call

-- The events stream length cap; written with bullmq's default when absent.
local function maxEvents(p)
  local m = rcall("HGET", p .. "meta", "opts.maxLenEvents")
  if not m then
    m = 10000
    rcall("HSET", p .. "meta", "opts.maxLenEvents", m)
  end
  return m
end

-- Paused (meta.paused) or at the global concurrency cap (meta.concurrency).
local function pausedOrMaxed(p)
  local a = rcall("HMGET", p .. "meta", "paused", "concurrency")
  if a[1] then return true end
  if a[2] then return rcall("LLEN", p .. "active") >= tonumber(a[2]) end
  return false
end

-- prioritized zset score: priority * 2^32 + insertion counter (FIFO inside a priority).
local function priorityScore(p, prio)
  return prio * 0x100000000 + rcall("INCR", p .. "pc") % 0x100000000
end

-- delayed zset score: due ms * 4096 + a sequence among jobs due the same ms.
local function delayedScore(p, ts, delay)
  local due = tonumber(ts)
  if delay > 0 then due = due + delay end
  local lo, hi = due * 0x1000, (due + 1) * 0x1000 - 1
  local r = rcall("ZREVRANGEBYSCORE", p .. "delayed", hi, lo, "WITHSCORES", "LIMIT", 0, 1)
  local cur = tonumber(r[2])
  if cur then
    if cur >= hi then return hi, due end
    return cur + 1, due
  end
  return lo, due
end

-- marker "1" scored with the earliest due time, so blocked workers wake then.
local function delayMarker(p)
  local r = rcall("ZRANGE", p .. "delayed", 0, 0, "WITHSCORES")
  local s = tonumber(r[2])
  if s then rcall("ZADD", p .. "marker", s / 0x1000, "1") end
end

local function pushReady(p, id, prio, lifo, paused)
  if prio > 0 then
    rcall("ZADD", p .. "prioritized", priorityScore(p, prio), id)
  elseif lifo then
    rcall("RPUSH", p .. "wait", id)
  else
    rcall("LPUSH", p .. "wait", id)
  end
  if not paused then rcall("ZADD", p .. "marker", 0, "0") end
end

-- Move delayed jobs that are due to wait/prioritized (1000 at most per call).
local function promote(p, now, paused)
  local jobs = rcall("ZRANGEBYSCORE", p .. "delayed", 0, (now + 1) * 0x1000 - 1, "LIMIT", 0, 1000)
  if #jobs == 0 then return end
  rcall("ZREM", p .. "delayed", unpack(jobs))
  for _, id in ipairs(jobs) do
    local prio = tonumber(rcall("HGET", p .. id, "priority")) or 0
    if prio > 0 then
      rcall("ZADD", p .. "prioritized", priorityScore(p, prio), id)
    else
      rcall("LPUSH", p .. "wait", id)
    end
    rcall("XADD", p .. "events", "*", "event", "waiting", "jobId", id, "prev", "delayed")
    rcall("HSET", p .. id, "delay", 0)
  end
  if not paused then rcall("ZADD", p .. "marker", 0, "0") end
end

-- Take the next job (wait list first, then prioritized), lock it and return
-- {fields, id, rateLimitTtl, nextDelayedMs}; fields are HMGET of JOB_FIELDS.
-- st (a table, may be nil) carries what one script already did for earlier
-- takes: the meta read, the promotion of delayed jobs, the marker.
local JOB_FIELDS = {"name", "data", "opts", "atm", "attemptsMade", "ats", "defa", "timestamp", "deid"}
local function take(p, now, token, lockMs, wname, st)
  st = st or {}
  if not st.meta then
    st.meta = rcall("HMGET", p .. "meta", "paused", "concurrency", "max", "duration")
    local m = st.meta
    local paused = m[1] and true or false
    if not paused and m[2] then paused = rcall("LLEN", p .. "active") >= tonumber(m[2]) end
    promote(p, now, paused)
  end
  local meta = st.meta
  local paused = meta[1] and true or false
  if not paused and meta[2] then
    paused = rcall("LLEN", p .. "active") >= tonumber(meta[2])
  end
  local maxJobs = tonumber(meta[3])
  if maxJobs and maxJobs <= tonumber(rcall("GET", p .. "limiter") or 0) then
    local ttl = rcall("PTTL", p .. "limiter")
    if ttl == 0 then rcall("DEL", p .. "limiter") end
    if ttl > 0 then return {0, 0, ttl, 0} end
  end
  if paused then return {0, 0, 0, 0} end
  local id = rcall("RPOPLPUSH", p .. "wait", p .. "active")
  if id and string.sub(id, 1, 2) == "0:" then
    rcall("LREM", p .. "active", 1, id)
    id = rcall("RPOPLPUSH", p .. "wait", p .. "active")
  end
  if not id then
    local z = rcall("ZPOPMIN", p .. "prioritized")
    if #z > 0 then
      id = z[1]
      rcall("LPUSH", p .. "active", id)
    else
      rcall("DEL", p .. "pc")
    end
  end
  if not id then
    local r = rcall("ZRANGE", p .. "delayed", 0, 0, "WITHSCORES")
    local s = tonumber(r[2])
    if s then return {0, 0, 0, math.floor(s / 0x1000)} end
    return {0, 0, 0, 0}
  end
  local jk = p .. id
  if maxJobs and rcall("HEXISTS", jk, "defa") == 0 then
    if tonumber(rcall("INCR", p .. "limiter")) == 1 then
      rcall("PEXPIRE", p .. "limiter", math.floor(math.abs(tonumber(meta[4]))))
    end
  end
  rcall("SET", jk .. ":lock", token, "PX", lockMs)
  rcall("XADD", p .. "events", "*", "event", "active", "jobId", id, "prev", "waiting")
  if wname ~= "" then
    rcall("HMSET", jk, "processedOn", now, "pb", wname)
  else
    rcall("HSET", jk, "processedOn", now)
  end
  rcall("HINCRBY", jk, "ats", 1)
  if not st.marked then
    rcall("ZADD", p .. "marker", 0, "0")
    st.marked = true
  end
  return {rcall("HMGET", jk, unpack(JOB_FIELDS)), id, 0, 0}
end

-- Release the lock if it is ours: 0, or -2 (no lock) / -6 (another owner).
local function unlock(p, id, token)
  local lk = p .. id .. ":lock"
  local cur = rcall("GET", lk)
  if cur == token then
    rcall("DEL", lk)
    rcall("SREM", p .. "stalled", id)
    return 0
  end
  if cur then return -6 end
  return -2
end

-- Append reason to the job's stacktrace JSON array, keeping the last `limit`
-- entries when limit > 0 (limit 0 from stackTraceLimit keeps none).
local function pushTrace(jk, reason, limit)
  local st = rcall("HGET", jk, "stacktrace")
  local t = {}
  if st then
    local ok, dec = pcall(cjson.decode, st)
    if ok and type(dec) == "table" then t = dec end
  end
  table.insert(t, reason)
  if limit == 0 then
    t = {}
  elseif limit > 0 and #t > limit then
    local keep = {}
    for i = #t - limit + 1, #t do keep[#keep + 1] = t[i] end
    t = keep
  end
  if #t == 0 then return "[]" end
  return cjson.encode(t)
end

local function removeJobKeys(jk)
  rcall("DEL", jk, jk .. ":logs", jk .. ":dependencies", jk .. ":processed",
        jk .. ":failed", jk .. ":unsuccessful")
end

-- active -> completed/failed (bullmq's moveToFinished without flows):
-- 0, or -1 missing job, -2/-6 lock, -3 not active.
local function finishJob(p, now, id, token, target, value, count, age, limit, attempts,
                         stackLimit, deid, maxEv)
  local jk = p .. id
  local e = unlock(p, id, token)
  if e < 0 then
    if rcall("EXISTS", jk) == 0 then return -1 end
    return e
  end
  if rcall("LREM", p .. "active", -1, id) < 1 then return -3 end
  local field = "returnvalue"
  if target == "failed" then
    field = "failedReason"
    rcall("HSET", jk, "stacktrace", pushTrace(jk, value, stackLimit))
  end
  if deid ~= "" and rcall("GET", p .. "de:" .. deid) == id then rcall("DEL", p .. "de:" .. deid) end
  local atm = 0
  if count ~= 0 or target == "failed" then atm = rcall("HINCRBY", jk, "atm", 1) end
  if count ~= 0 then
    local set = p .. target
    rcall("ZADD", set, now, id)
    rcall("HSET", jk, field, value, "finishedOn", now)
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
  rcall("XADD", p .. "events", "MAXLEN", "~", maxEv, "*", "event", target, "jobId", id,
        field, value, "prev", "active")
  if target == "failed" and atm >= attempts then
    rcall("XADD", p .. "events", "*", "event", "retries-exhausted", "jobId", id, "attemptsMade", atm)
  end
  return 0
end

-- bullmq's "drained" event once nothing is waiting or running.
local function drainedEvent(p)
  if rcall("LLEN", p .. "wait") == 0 and rcall("LLEN", p .. "active") == 0
     and rcall("ZCARD", p .. "prioritized") == 0 then
    rcall("XADD", p .. "events", "*", "event", "drained")
  end
end
