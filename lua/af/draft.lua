-- af.draft: turn recorded actions into a readable draft recipe, with the
-- values that came from the ticket or the profile written as task.ticket /
-- task.profile expressions. Used by `autofactura record-recipe`.
local M = {}

local function quote(s) return string.format("%q", tostring(s)) end

-- value text -> Lua expression, from the ticket and the profile given
local function candidates(ticket, profile)
  local map = {}
  local function add(text, expr) if text and text ~= "" and map[text] == nil then map[text] = expr end end
  for k, v in pairs(profile or {}) do
    add(tostring(v), "task.profile." .. k)
    if type(v) == "string" and v:upper() ~= v then add(v:upper(), "task.profile." .. k .. ":upper()") end
  end
  for k, v in pairs(ticket or {}) do
    if type(v) == "number" then
      add(string.format("%.2f", v), "fmt.amount(task.ticket." .. k .. ")")
      add(string.format("%.2f", v):gsub("^(%d+)(%d%d%d)%.", "%1,%2."), "fmt.amount(task.ticket." .. k .. ', { thousands = "," })')
      if v == math.floor(v) then add(string.format("%d", v), "task.ticket." .. k) end
    end
    add(tostring(v), "task.ticket." .. k)
    if k == "date" and type(v) == "string" and v:match("^%d%d%d%d%-%d%d%-%d%d$") then
      for _, layout in ipairs({ "DD/MM/YYYY", "MM/DD/YYYY", "DD-MM-YYYY", "YYYY/MM/DD", "DDMMYYYY",
                                "YYYY", "MM", "DD" }) do
        local y, m, d = v:match("^(%d+)%-(%d+)%-(%d+)$")
        local text = layout:gsub("YYYY", y):gsub("MM", m):gsub("DD", d)
        add(text, 'fmt.date(task.ticket.date, "' .. layout .. '")')
      end
    end
  end
  return map
end

--- Render a draft recipe.
---@param actions table[] {kind, sel, value, label, option, checked, text, download}
---@param opts {url: string, ticket?: table, profile?: table, name?: string, origin?: string}
---@return string
function M.render(actions, opts)
  local map = candidates(opts.ticket, opts.profile)
  -- a field typed into several times keeps its last value
  local kept = {}
  for i, a in ipairs(actions) do
    local nxt = actions[i + 1]
    if not (a.kind == "fill" and nxt and nxt.kind == "fill" and nxt.sel == a.sel) then kept[#kept + 1] = a end
  end
  local prefix = opts.url:match("^(https?://[^?#]*/)") or opts.url
  local out = {
    "-- " .. (opts.origin or "Draft recipe recorded by `autofactura record-recipe`") .. " from " .. opts.url .. ".",
    "-- Review it: values typed that came from neither the ticket nor the profile",
    "-- are written as recorded, with a comment.",
    'local fmt = require "af.fmt"',
    "",
    "return {",
    "  name = " .. quote(opts.name or "draft") .. ",",
    "  match = function(url)",
    "    return url:sub(1, " .. #prefix .. ") == " .. quote(prefix),
    "  end,",
    "  run = function(task, page)",
  }
  local function emit(line) out[#out + 1] = "    " .. line end
  local uses_fmt, downloaded = false, false
  for _, a in ipairs(kept) do
    local label = a.label and a.label ~= "" and (" -- " .. a.label) or ""
    local on = a.frame and ("page:frame(" .. quote(a.frame) .. ")") or "page"
    if a.kind == "fill" then
      local expr = map[a.value]
      if expr then
        uses_fmt = uses_fmt or expr:find("fmt%.") ~= nil
        emit(string.format("%s:fill(%s, %s)%s", on, quote(a.sel), expr, label))
      else
        emit(string.format("%s:fill(%s, %s)%s (typed as recorded)", on, quote(a.sel), quote(a.value),
          label ~= "" and label or " --"))
      end
    elseif a.kind == "select" then
      local expr = map[a.value]
      emit(string.format("%s:select(%s, { value = %s })%s%s", on, quote(a.sel), expr or quote(a.value), label,
        a.option and a.option ~= "" and (label ~= "" and ": " or " -- ") .. a.option or ""))
    elseif a.kind == "check" then
      emit(string.format("%s:check(%s, %s)%s", on, quote(a.sel), tostring(a.checked ~= false), label))
    elseif a.kind == "click" and a.download then
      emit(string.format("local xml = %s:download(%s)%s", on, quote(a.sel),
        a.text and a.text ~= "" and (" -- " .. a.text) or ""))
      downloaded = true
    elseif a.kind == "click" then
      emit(string.format("%s:click(%s)%s", on, quote(a.sel), a.text and a.text ~= "" and (" -- " .. a.text) or ""))
    end
  end
  if downloaded then
    emit("task:done{ xml = xml }")
  else
    emit('task:fail("draft recipe: no invoice download was recorded; finish the recipe by hand")')
  end
  out[#out + 1] = "  end,"
  out[#out + 1] = "}"
  if not uses_fmt then table.remove(out, 4) end
  return table.concat(out, "\n") .. "\n"
end

return M
