-- af.portal: small helpers hand-written recipes share.
-- `local portal = require "af.portal"`.
local M = {}

--- Whitespace folded to single spaces (for the portal's messages).
---@param s string
---@return string
function M.flat(s)
  return (tostring(s):gsub("%s+", " "))
end

--- After a submit: wait for the next screen's element (want) or the portal's
--- error box (error_sel, default ".alert-error"). The portal's error ends the
--- task FAILED with its own text; neither within 30 s ends it with silent.
--- page may be a frame.
---@param task Task
---@param page Page
---@param want string
---@param silent string the failure reason when the portal shows nothing
---@param error_sel? string
function M.step(task, page, want, silent, error_sel)
  error_sel = error_sel or ".alert-error"
  local seen = page:wait_any({ want, error_sel }, { timeout = 30000 })
  if seen == nil then task:fail(silent) end
  if seen == error_sel then task:fail(M.flat(page:text(error_sel))) end
end

return M
