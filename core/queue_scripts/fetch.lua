-- fetch.lua -- move the next job to active and lock it (bullmq's moveToActive).
-- ARGV: prefix, now ms, lock token, lock ms, worker name ("" = none)
-- Returns {fields, id, rateLimitTtl, nextDelayedMs} (see takeReady in prelude).
return takeReady(ARGV[1], ARGV[2], ARGV[3], 1, ARGV[4], ARGV[5], readMeta(ARGV[1]))[1]
