-- finish_many.lua -- active -> completed/failed for the jobs a worker settled
-- in one loop iteration (bullmq's moveToFinished), each optionally taking the
-- next job in the same round trip: one meta read, one promotion, one lock
-- check, one pop and one delete for all of them.
-- ARGV: 1 prefix, 2 now, 3 lock ms, 4 worker name, then per job 11 values:
--       id, token, target ("completed"/"failed"), value (returnvalue JSON /
--       failedReason text), keep count (-1 all, 0 none), keep age s (-1 none),
--       keep limit, attempts, stack limit (-1 none), next token ("" = take
--       none), deduplication id read when the job was taken ("" = none)
-- Returns one entry per job: -1 missing job, -2/-6 lock, -3 not active,
-- 0 done, or a takeReady() result when it asked for the next job.
local p, now, lockMs, wname = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local n = (#ARGV - 4) / 11
local meta = readMeta(p)
local out = {}
finishJobs(p, now, ARGV, n, meta[5], out)
local empty = true
if n == 1 then
  if out[1] == 0 and ARGV[14] ~= "" then
    out[1] = takeReady(p, now, ARGV[14], 1, lockMs, wname, meta)[1]
    empty = out[1][2] == 0
  end
else
  local tokens, slots = {}, {}
  for k = 1, n do
    local next = ARGV[k * 11 + 3]
    if out[k] == 0 and next ~= "" then
      tokens[#tokens + 1], slots[#slots + 1] = next, k
    end
  end
  if #tokens > 0 then
    empty = false
    for i, r in ipairs(takeReady(p, now, tokens, #tokens, lockMs, wname, meta)) do
      out[slots[i]] = r
      if r[2] == 0 then empty = true end
    end
  end
end
if empty then drainedEvent(p) end
return out
