-- log.lua -- append a line to a job's log list, keeping the last keepLogs lines.
-- ARGV: prefix, id, text, keepLogs ("" = all). Returns the log length or -1.
local p, id = ARGV[1], ARGV[2]
if rcall("EXISTS", p .. id) == 0 then return -1 end
local n = rcall("RPUSH", p .. id .. ":logs", ARGV[3])
if ARGV[4] ~= "" then
  local keep = tonumber(ARGV[4])
  rcall("LTRIM", p .. id .. ":logs", -keep, -1)
  return math.min(keep, n)
end
return n
