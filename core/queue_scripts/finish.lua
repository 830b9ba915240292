-- finish.lua -- active -> completed/failed (bullmq's moveToFinished), then
-- optionally take the next job in the same round trip.
-- ARGV: 1 prefix, 2 id, 3 now, 4 token, 5 target ("completed"/"failed"),
--       6 value (returnvalue JSON / failedReason text), 7 keep count (-1 all, 0 none),
--       8 keep age s (-1 none), 9 keep limit, 10 attempts, 11 stack limit (-1 none),
--       12 fetch next ("1"/"0"), 13 next token, 14 lock ms, 15 worker name,
--       16 deduplication id read when the job was taken ("" = none)
-- Returns -1 missing job, -2/-6 lock, -3 not active, 0 done, or a take() result
-- when asked to fetch the next job.
local p, now = ARGV[1], tonumber(ARGV[3])
local e = finishJob(p, now, ARGV[2], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]),
                    tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]),
                    tonumber(ARGV[11]), ARGV[16], maxEvents(p))
if e < 0 then return e end
local r = 0
if ARGV[12] == "1" then
  r = take(p, now, ARGV[13], ARGV[14], ARGV[15])
  if r[2] ~= 0 then return r end
end
drainedEvent(p)
return r
