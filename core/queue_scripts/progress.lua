-- progress.lua -- store a job's progress (JSON) and emit the progress event.
-- ARGV: prefix, id, progress JSON. Returns 0, or -1 when the job is gone.
local p, id = ARGV[1], ARGV[2]
if rcall("EXISTS", p .. id) == 0 then return -1 end
rcall("HSET", p .. id, "progress", ARGV[3])
rcall("XADD", p .. "events", "MAXLEN", "~", maxEvents(p), "*", "event", "progress",
      "jobId", id, "data", ARGV[3])
return 0
