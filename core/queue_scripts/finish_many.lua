-- finish_many.lua -- finish.lua for several jobs settled in the same loop
-- iteration of one worker: one round trip, one meta read, one promotion.
-- ARGV: 1 prefix, 2 now, 3 lock ms, 4 worker name, then per job 11 values:
--       id, token, target, value, keep count, keep age s, keep limit, attempts,
--       stack limit, next token ("" = take none), deduplication id
-- Returns one entry per job, as finish.lua would.
local p, now, lockMs, wname = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local maxEv = maxEvents(p)
local out, st, empty = {}, {}, false
for i = 5, #ARGV, 11 do
  local e = finishJob(p, now, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
                      tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]),
                      tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8]), ARGV[i + 10], maxEv)
  if e < 0 then
    out[#out + 1] = e
  elseif ARGV[i + 9] ~= "" and not empty then
    local r = take(p, now, ARGV[i + 9], lockMs, wname, st)
    if r[2] == 0 then empty = true end
    out[#out + 1] = r
  else
    out[#out + 1] = 0
  end
end
if empty then drainedEvent(p) end
return out
