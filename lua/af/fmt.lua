-- af.fmt: how portals want ticket values typed. Available to recipes as
-- `local fmt = require "af.fmt"`.
local M = {}

--- Split a ticket date "YYYY-MM-DD" into its parts (strings, zero-padded).
---@param date string
---@return string year, string month, string day
function M.date_parts(date)
  local y, m, d = tostring(date):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then error("not a YYYY-MM-DD date: " .. tostring(date), 2) end
  return y, m, d
end

--- Write a ticket date in a portal's layout: "DD/MM/YYYY", "MM/DD/YYYY",
--- "DD-MM-YYYY", "YYYY/MM/DD", "DDMMYYYY"... (DD, MM, YYYY and YY are replaced).
---@param date string YYYY-MM-DD
---@param layout string
---@return string
function M.date(date, layout)
  local y, m, d = M.date_parts(date)
  local out = layout:gsub("YYYY", y):gsub("YY", y:sub(3)):gsub("MM", m):gsub("DD", d)
  return out
end

--- Write an amount with two decimals; opts.thousands adds a separator
--- ("," → 1,234.50) and opts.symbol a prefix ("$").
---@param amount number
---@param opts? {thousands?: string, symbol?: string, decimals?: integer}
---@return string
function M.amount(amount, opts)
  opts = opts or {}
  local n = tonumber(amount)
  if not n then error("not a number: " .. tostring(amount), 2) end
  local s = string.format("%." .. (opts.decimals or 2) .. "f", n)
  if opts.thousands then
    local int, frac = s:match("^(%-?%d+)(.*)$")
    int = int:reverse():gsub("(%d%d%d)", "%1" .. opts.thousands:reverse()):reverse()
    int = int:gsub("^(%-?)" .. opts.thousands:gsub("%p", "%%%0"), "%1")
    s = int .. frac
  end
  return (opts.symbol or "") .. s
end

return M
