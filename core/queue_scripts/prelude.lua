-- prelude.lua -- helpers shared by every queue script (prepended at load time).
-- Runs inside Redis (Lua 5.1). Keys follow bullmq 6.x: "<prefix>wait",
-- "<prefix>active", "<prefix><jobId>", ... where prefix is "bull:<queue>:".
local rcall = redis.call

-- rcall(cmd, [first,] list...) in chunks unpack can take; the replies of the
-- chunks concatenated.
local function callList(cmd, first, list)
  local out = {}
  for i = 1, #list, 1000 do
    local r
    if first then
      r = rcall(cmd, first, unpack(list, i, math.min(i + 999, #list)))
    else
      r = rcall(cmd, unpack(list, i, math.min(i + 999, #list)))
    end
    if type(r) == "table" then
      for _, v in ipairs(r) do out[#out + 1] = v end
    end
  end
  return out
end

-- The meta fields the job cycle needs, as HMGET returns them: paused,
-- concurrency, max, duration, and the events stream length cap (written with
-- bullmq's default when absent).
local function readMeta(p)
  local m = rcall("HMGET", p .. "meta", "paused", "concurrency", "max", "duration",
                  "opts.maxLenEvents")
  if not m[5] then
    m[5] = "10000"
    rcall("HSET", p .. "meta", "opts.maxLenEvents", m[5])
  end
  return m
end

local function maxEvents(p)
  return readMeta(p)[5]
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
  local jobs = rcall("ZRANGEBYSCORE", p .. "delayed", "0", (now + 1) * 0x1000 - 1, "LIMIT", "0", "1000")
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

local JOB_FIELDS = {"name", "data", "opts", "atm", "attemptsMade", "ats", "defa", "timestamp", "deid"}

-- Pop up to n ready ids (wait first, then prioritized) and push them to
-- active as RPOPLPUSH would, one at a time. Old-style "0:" markers are dropped.
local function popReady(p, n)
  local ids = {}
  if n == 1 then
    local id = rcall("RPOPLPUSH", p .. "wait", p .. "active")
    if id and string.sub(id, 1, 2) == "0:" then
      rcall("LREM", p .. "active", "1", id)
      id = rcall("RPOPLPUSH", p .. "wait", p .. "active")
    end
    if id then return {id} end
    local z = rcall("ZPOPMIN", p .. "prioritized")
    if #z == 0 then
      rcall("DEL", p .. "pc")
      return ids
    end
    rcall("LPUSH", p .. "active", z[1])
    return {z[1]}
  end
  while #ids < n do
    local got = rcall("RPOP", p .. "wait", n - #ids)
    if not got then break end
    for _, id in ipairs(got) do
      if string.sub(id, 1, 2) ~= "0:" then ids[#ids + 1] = id end
    end
  end
  if #ids < n then
    local z = rcall("ZPOPMIN", p .. "prioritized", n - #ids)
    for i = 1, #z, 2 do ids[#ids + 1] = z[i] end
    if #ids < n then rcall("DEL", p .. "pc") end
  end
  if #ids > 0 then callList("LPUSH", p .. "active", ids) end
  return ids
end

-- Lock a job just moved to active and return {fields, id, 0, 0}; fields are
-- HMGET of JOB_FIELDS with "ats" already counting this start.
local function startJob(p, now, id, token, lockMs, wname)
  local jk = p .. id
  rcall("SET", jk .. ":lock", token, "PX", lockMs)
  rcall("XADD", p .. "events", "*", "event", "active", "jobId", id, "prev", "waiting")
  local f = rcall("HMGET", jk, unpack(JOB_FIELDS))
  f[6] = tostring((tonumber(f[6]) or 0) + 1)
  if wname ~= "" then
    rcall("HSET", jk, "processedOn", now, "ats", f[6], "pb", wname)
  else
    rcall("HSET", jk, "processedOn", now, "ats", f[6])
  end
  return {f, id, 0, 0}
end

-- Take up to one job per token (bullmq's moveToActive, for several of a
-- worker's slots at once): one result per token, {fields, id, 0, 0} for a
-- job taken, else {0, 0, rateLimitTtl, nextDelayedMs}. tokens is a list of
-- count tokens, or the token itself when count is 1 (a table less). A queue
-- with a global concurrency or a rate limit is served one job at a time, as
-- each start changes what the next may do; others in one pop. meta is
-- readMeta's.
local function takeReady(p, now, tokens, count, lockMs, wname, meta)
  local out, stop, promoted = {}, nil, false
  local maxJobs = tonumber(meta[3])
  local bulk = not meta[2] and not maxJobs
  while #out < count do
    local paused = meta[1] and true or false
    if not paused and meta[2] then
      paused = rcall("LLEN", p .. "active") >= tonumber(meta[2])
    end
    if not promoted then
      promote(p, now, paused)
      promoted = true
    end
    if maxJobs and maxJobs <= tonumber(rcall("GET", p .. "limiter") or 0) then
      local ttl = rcall("PTTL", p .. "limiter")
      if ttl == 0 then rcall("DEL", p .. "limiter") end
      if ttl > 0 then
        stop = {0, 0, ttl, 0}
        break
      end
    end
    if paused then break end
    local want = bulk and count - #out or 1
    local ids = popReady(p, want)
    for _, id in ipairs(ids) do
      if maxJobs and rcall("HEXISTS", p .. id, "defa") == 0 then
        if tonumber(rcall("INCR", p .. "limiter")) == 1 then
          rcall("PEXPIRE", p .. "limiter", math.floor(math.abs(tonumber(meta[4]))))
        end
      end
      local token = tokens
      if count > 1 then token = tokens[#out + 1] end
      out[#out + 1] = startJob(p, now, id, token, lockMs, wname)
    end
    if #ids > 0 then rcall("ZADD", p .. "marker", "0", "0") end
    if #ids < want then
      local r = rcall("ZRANGE", p .. "delayed", "0", "0", "WITHSCORES")
      local sc = tonumber(r[2])
      if sc then stop = {0, 0, 0, math.floor(sc / 0x1000)} end
      break
    end
  end
  if #out < count then
    stop = stop or {0, 0, 0, 0}
    for k = #out + 1, count do out[k] = stop end
  end
  return out
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

-- The keys of a job that is removed, for one DEL at the end of the script.
local function removedKeys(out, jk)
  local n = #out
  out[n + 1], out[n + 2], out[n + 3] = jk, jk .. ":logs", jk .. ":dependencies"
  out[n + 4], out[n + 5], out[n + 6] = jk .. ":processed", jk .. ":failed", jk .. ":unsuccessful"
end

-- The per-job values of finish_many from index b of its ARGV A: id, token,
-- target, value, keep count, keep age s, keep limit, attempts, stack limit,
-- next token, deduplication id.

-- One job leaves active for completed/failed; its lock is already released.
local function settleJob(p, now, A, b, gone, maxEv)
  local id, target, value = A[b], A[b + 2], A[b + 3]
  local count, jk = tonumber(A[b + 4]), p .. id
  if rcall("LREM", p .. "active", "-1", id) < 1 then return -3 end
  local field = "returnvalue"
  if target == "failed" then
    field = "failedReason"
    rcall("HSET", jk, "stacktrace", pushTrace(jk, value, tonumber(A[b + 8])))
  end
  local deid = A[b + 10]
  if deid ~= "" and rcall("GET", p .. "de:" .. deid) == id then rcall("DEL", p .. "de:" .. deid) end
  local atm = 0
  if count ~= 0 or target == "failed" then atm = rcall("HINCRBY", jk, "atm", "1") end
  if count ~= 0 then
    local set, age, limit = p .. target, tonumber(A[b + 5]), tonumber(A[b + 6])
    rcall("ZADD", set, now, id)
    rcall("HSET", jk, field, value, "finishedOn", now)
    if target == "failed" then rcall("HDEL", jk, "defa") end
    if age >= 0 then
      local old = rcall("ZREVRANGEBYSCORE", set, now - age * 1000, "-inf", "LIMIT", 0, limit)
      for _, o in ipairs(old) do removedKeys(gone, p .. o) end
      if #old > 0 then rcall("ZREM", set, unpack(old)) end
    end
    if count > 0 then
      local old = rcall("ZREVRANGE", set, count, -1)
      for _, o in ipairs(old) do removedKeys(gone, p .. o) end
      rcall("ZREMRANGEBYRANK", set, 0, -(count + 1))
    end
  else
    removedKeys(gone, jk)
  end
  -- MAXLEN on the add trims only older entries (bullmq trims just before it)
  rcall("XADD", p .. "events", "MAXLEN", "~", maxEv, "*", "event", target, "jobId", id,
        field, value, "prev", "active")
  if target == "failed" and atm >= tonumber(A[b + 7]) then
    rcall("XADD", p .. "events", "*", "event", "retries-exhausted", "jobId", id, "attemptsMade", atm)
  end
  return 0
end

-- active -> completed/failed for the n jobs of finish_many's ARGV A (bullmq's
-- moveToFinished without flows). out[k] gets 0, or -1 missing job, -2/-6
-- lock, -3 not active. Locks are checked with one call; released locks and
-- the keys of removed jobs go in one DEL at the end (the script is atomic).
-- Tables cost in Redis's Lua, so one job takes no list.
local function finishJobs(p, now, A, n, maxEv, out)
  local gone, ids, cur = {}, nil, nil
  if n == 1 then
    cur = rcall("GET", p .. A[5] .. ":lock")
  else
    local locks = {}
    for k = 1, n do locks[k] = p .. A[k * 11 - 6] .. ":lock" end
    cur = callList("MGET", nil, locks)
    ids = {}
  end
  for k = 1, n do
    local b = k * 11 - 6
    local id, c = A[b], cur
    if n > 1 then c = cur[k] end
    if c == A[b + 1] then
      gone[#gone + 1] = p .. id .. ":lock"
      if ids then ids[#ids + 1] = id else rcall("SREM", p .. "stalled", id) end
      out[k] = 0
    else
      out[k] = c and -6 or -2
      if rcall("EXISTS", p .. id) == 0 then out[k] = -1 end
    end
  end
  if ids and #ids > 0 then callList("SREM", p .. "stalled", ids) end
  for k = 1, n do
    if out[k] == 0 then out[k] = settleJob(p, now, A, k * 11 - 6, gone, maxEv) end
  end
  if #gone > 0 then callList("DEL", nil, gone) end
end

-- bullmq's "drained" event once nothing is waiting or running.
local function drainedEvent(p)
  if rcall("LLEN", p .. "wait") == 0 and rcall("LLEN", p .. "active") == 0
     and rcall("ZCARD", p .. "prioritized") == 0 then
    rcall("XADD", p .. "events", "*", "event", "drained")
  end
end
