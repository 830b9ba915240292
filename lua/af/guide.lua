-- af.guide: asks the LLM (task:llm) what to do with the fields af.fieldmap could not
-- place. The prompt carries the snapshot's fields (labels, selectors, option texts) and
-- the NAMES of the values the task has (ticket.folio, profile.rfc, secret.password…),
-- never the values: the answer names a key, and the fallback fills the real value.
local M = {}

local KEYS = { "ticket.folio", "ticket.amount", "ticket.date", "ticket.date_day", "ticket.date_month",
               "ticket.date_year", "ticket.store", "ticket.web_id", "ticket.barcode", "profile.rfc",
               "profile.full_name", "profile.postal_code", "profile.fiscal_regime", "profile.cfdi_use",
               "profile.email", "secret.username", "secret.password" }

M.SCHEMA = {
  type = "object",
  properties = {
    actions = { type = "array", items = { type = "object", properties = {
      op = { type = "string", enum = { "fill", "select", "click" } },
      selector = { type = "string" },
      value_key = { type = "string", enum = KEYS },
    }, required = { "op", "selector" } } },
  },
  required = { "actions" },
}

local function compact(e)
  local o = { kind = e.kind or (e.tag and "button"), selector = e.sel, label = e.label, name = e.name, placeholder = e.placeholder,
              text = e.text, type = e.type }
  if e.options then
    o.options = {}
    for i, op in ipairs(e.options) do
      if i > 40 then break end
      o.options[i] = op.text
    end
  end
  return o
end

--- The chat-completions request for a page and the fields in doubt.
---@param snap table
---@param unknown table[] snapshot elements the mapper could not place
---@param have table<string, boolean> keys the task has a value for
---@return table request
function M.request(snap, unknown, have)
  local els = {}
  for _, e in ipairs(snap.fields) do els[#els + 1] = compact(e) end
  for _, e in ipairs(snap.buttons) do els[#els + 1] = compact(e) end
  local doubt = {}
  for _, e in ipairs(unknown) do doubt[#doubt + 1] = e.sel end
  local avail = {}
  for _, k in ipairs(KEYS) do if have[k] then avail[#avail + 1] = k end end
  local user = {
    instruction = "Fill this Mexican CFDI self-invoicing form. For each field in doubt, say which value key "
      .. "it takes (fill for inputs, select for <select>, the option chosen by the SAT code of the key), then "
      .. "click the button that submits the step. Use only selectors from the snapshot and only the keys "
      .. "available. Never fill a CAPTCHA.",
    url = snap.url, errors = snap.alerts, fields_in_doubt = doubt,
    available_keys = avail, elements = els,
  }
  return {
    messages = {
      { role = "system", content = "You drive a web form for a user. Answer only with JSON matching the schema." },
      { role = "user", content = M.encode(user) },
    },
    response_format = { type = "json_schema", json_schema = { name = "actions", schema = M.SCHEMA } },
    temperature = 0,
  }
end

-- A tiny JSON encoder (the sandbox has no cjson): strings, numbers, booleans, arrays, objects.
function M.encode(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      local map = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
      return map[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "number" or t == "boolean" then return tostring(v)
  elseif t == "table" then
    if #v > 0 or next(v) == nil then
      local out = {}
      for i, x in ipairs(v) do out[i] = M.encode(x) end
      return "[" .. table.concat(out, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local out = {}
    for _, k in ipairs(keys) do out[#out + 1] = M.encode(k) .. ":" .. M.encode(v[k]) end
    return "{" .. table.concat(out, ",") .. "}"
  end
  return "null"
end

--- The actions of an answer: only fill/select/click on selectors of the snapshot and
--- allowed keys. Returns the list, or nil and why.
---@param content string the model's answer (JSON text)
---@param snap table
---@return table[]? actions, string? why
function M.parse(content, snap)
  local known = {}
  for _, e in ipairs(snap.fields) do known[e.sel] = e end
  for _, e in ipairs(snap.buttons) do known[e.sel] = e end
  local allowed = {}
  for _, k in ipairs(KEYS) do allowed[k] = true end
  local acts = {}
  for obj in tostring(content):gmatch("{[^{}]*}") do
    local op = obj:match('"op"%s*:%s*"(%a+)"')
    local sel = obj:match('"selector"%s*:%s*"(.-[^\\])"')
    local key = obj:match('"value_key"%s*:%s*"([%w%._]+)"')
    if op and sel then
      sel = sel:gsub('\\"', '"')
      if not known[sel] then return nil, "the LLM named a selector that is not on the page: " .. sel end
      if op ~= "click" and not (key and allowed[key]) then return nil, "the LLM named no allowed value key for " .. sel end
      acts[#acts + 1] = { op = op, selector = sel, key = key and key:match("^%a+%.(.+)$"), source = key and key:match("^(%a+)%.") }
    end
  end
  if #acts == 0 then return nil, "the LLM answer holds no action" end
  return acts
end

return M
