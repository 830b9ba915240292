-- stalled.lua -- recover jobs whose worker died (bullmq's moveStalledJobsToWait):
-- ids left in "stalled" since the previous check whose lock expired go back to
-- wait (or get a deferred failure after maxStalledCount); then every active id
-- is marked as possibly stalled. Guarded so one worker per interval runs it.
-- ARGV: prefix, maxStalledCount, now, interval ms. Returns the recovered ids.
local p, maxStalled, now, interval = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
if rcall("EXISTS", p .. "stalled-check") == 1 then return {} end
rcall("SET", p .. "stalled-check", now, "PX", interval)
rcall("XTRIM", p .. "events", "MAXLEN", "~", maxEvents(p))
local stalling = rcall("SMEMBERS", p .. "stalled")
local out = {}
if #stalling > 0 then
  rcall("DEL", p .. "stalled")
  for _, id in ipairs(stalling) do
    if string.sub(id, 1, 2) == "0:" then
      rcall("LREM", p .. "active", 1, id)
    elseif rcall("EXISTS", p .. id .. ":lock") == 0
           and rcall("LREM", p .. "active", 1, id) > 0 then
      local jk = p .. id
      local stc = rcall("HINCRBY", jk, "stc", 1)
      local rjk = rcall("HGET", jk, "rjk")
      local repeatable = rjk and (rcall("EXISTS", p .. "repeat:" .. rjk) == 1
                                  or rcall("ZSCORE", p .. "repeat", rjk))
      if stc > maxStalled and not repeatable then
        rcall("HSET", jk, "defa", "job stalled more than allowable limit")
      end
      rcall("RPUSH", p .. "wait", id)
      if not pausedOrMaxed(p) then rcall("ZADD", p .. "marker", 0, "0") end
      rcall("XADD", p .. "events", "*", "event", "waiting", "jobId", id, "prev", "active")
      rcall("XADD", p .. "events", "*", "event", "stalled", "jobId", id)
      out[#out + 1] = id
    end
  end
end
local active = rcall("LRANGE", p .. "active", 0, -1)
for i = 1, #active, 5000 do
  rcall("SADD", p .. "stalled", unpack(active, i, math.min(i + 4999, #active)))
end
return out
