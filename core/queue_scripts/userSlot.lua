-- userSlot.lua -- the seed's per-user limits, decided atomically.
-- ARGV: user id, task id, starts allowed per hour, tasks allowed at once,
-- now (ms). Keys: rate_limit:user:<id>:tasks (sorted set: task id -> start
-- ms) and rate_limit:user:<id>:concurrent (set of running task ids).
-- Returns 1 (run now), 0 (wait: the user has as many running as allowed)
-- or -1 (refused: the hourly limit is reached). A task counts once, even
-- when it waits or is retried.
local user, id = ARGV[1], ARGV[2]
local perHour, atOnce, now = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local KEYS = { "rate_limit:user:" .. user .. ":tasks", "rate_limit:user:" .. user .. ":concurrent" }
rcall("ZREMRANGEBYSCORE", KEYS[1], "-inf", now - 3600000)
if rcall("SISMEMBER", KEYS[2], id) == 1 then return 1 end
local counted = rcall("ZSCORE", KEYS[1], id)
if not counted and rcall("ZCARD", KEYS[1]) >= perHour then return -1 end
if rcall("SCARD", KEYS[2]) >= atOnce then return 0 end
if not counted then rcall("ZADD", KEYS[1], now, id) end
rcall("SADD", KEYS[2], id)
rcall("PEXPIRE", KEYS[1], 3600000)
rcall("PEXPIRE", KEYS[2], 3600000)
return 1
