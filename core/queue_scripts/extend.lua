-- extend.lua -- renew the locks of the jobs this worker holds and clear them
-- from the stalled set (bullmq's extendLocks).
-- ARGV: prefix, lock ms, then id, token pairs. Returns the ids whose lock was lost.
local p, ms = ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV, 2 do
  local id, tok = ARGV[i], ARGV[i + 1]
  local lk = p .. id .. ":lock"
  if rcall("GET", lk) == tok then
    rcall("SET", lk, tok, "PX", ms)
    rcall("SREM", p .. "stalled", id)
  else
    lost[#lost + 1] = id
  end
end
return lost
