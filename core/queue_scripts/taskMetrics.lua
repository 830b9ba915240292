-- taskMetrics.lua -- the seed's metrics keys (5 minute TTL), shared by all
-- workers. ARGV[1]: "start" | "completed" | "failed" | "session+" | "session-".
local ev, ttl = ARGV[1], 300
local function bump(key, by)
  local v = rcall("INCRBY", key, by)
  if v < 0 then rcall("SET", key, 0) end
  rcall("EXPIRE", key, ttl)
end
if ev == "start" then bump("metrics:tasks:active_count", 1)
elseif ev == "session+" then bump("metrics:browser_sessions:active_count", 1)
elseif ev == "session-" then bump("metrics:browser_sessions:active_count", -1)
else
  bump("metrics:tasks:active_count", -1)
  bump("metrics:tasks:" .. ev, 1)
  local ok = tonumber(rcall("GET", "metrics:tasks:completed") or "0")
  local bad = tonumber(rcall("GET", "metrics:tasks:failed") or "0")
  rcall("SET", "metrics:tasks:success_rate", string.format("%.4f", ok / math.max(ok + bad, 1)), "EX", ttl)
end
return 1
