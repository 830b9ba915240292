-- af.generic: the generic fallback, a recipe for portals no recipe claims.
-- Each round it reads the page (page:snapshot()), stops on a CAPTCHA or a
-- login it cannot do, finishes on an issued CFDI (UUID + XML download),
-- fails with the portal's own message, accepts notices, fills what the
-- fields ask for from the ticket and the profile (af.fieldmap), and presses
-- the button that moves the request forward. It never loops: a round budget
-- and a no-progress check end it with a clear reason. Every action it takes
-- is kept, so that a success can be saved as a recipe (af.draft).
local draft = require "af.draft"
local fieldmap = require "af.fieldmap"
local guide = require "af.guide"

local M = { name = "generic" }

local ROUNDS = 12
-- buttons that move a request forward, best first
local FORWARD = { "descargar xml", "facturar", "timbrar", "generar", "emitir", "solicitar",
                  "confirmar", "continuar", "siguiente", "buscar", "enviar", "aceptar" }
local NOTICE = { "aceptar", "entendido", "de acuerdo", "cerrar", "ok", "continuar" }

local function has_any(text, words)
  local n = fieldmap.normalize(text)
  for i, w in ipairs(words) do
    if n:find(w, 1, true) then return i end
  end
  return nil
end

local function signature(snap)
  local parts = { snap.url, snap.uuid or "", table.concat(snap.alerts, "|") }
  for _, f in ipairs(snap.fields) do parts[#parts + 1] = f.sel .. "=" .. tostring(f.value) end
  for _, b in ipairs(snap.buttons) do parts[#parts + 1] = b.sel end
  return table.concat(parts, "\n")
end

local function forward_button(snap, pressed)
  local best, rank
  for _, b in ipairs(snap.buttons) do
    local r = has_any(b.text, FORWARD)
    local is_nav = b.tag == "a" and not b.download and not (b.text or ""):lower():find("xml")
    if r and not is_nav and not b.dialog and (rank == nil or r < rank) and not pressed[b.sel .. "|" .. signature(snap)] then
      best, rank = b, r
    end
  end
  return best
end

-- A page, waited for until it shows something to work with: fields, a
-- frame, a button that goes on, an outcome.
-- Until something has been typed, a button alone is not enough: pages built
-- by script (web components) show their button before their fields, and a
-- final button pressed on an empty form only earns an error.
local function settle(ctx, typed)
  local snap
  for _ = 1, 20 do
    snap = ctx:snapshot()
    if #snap.fields > 0 or #snap.frames > 0 or snap.uuid or #snap.alerts > 0 or snap.captcha or
       (typed and forward_button(snap, {})) then
      return snap
    end
    ctx:evaluate("new Promise(r => setTimeout(r, 150))")
  end
  return snap
end

-- Fields never typed into by the fallback, nor shown to an LLM as "in doubt".
local function never(f)
  if f.type == "password" then return true end
  local n = fieldmap.normalize(table.concat({ f.label or "", f.name or "", f.sel or "" }, " "))
  return n:find("captcha", 1, true) or n:find("robot", 1, true) or n:find("imagen", 1, true)
end

-- The keys the task has a value for, by the names the LLM may answer with.
local function available(task)
  local have, t, p = {}, task.ticket, task.profile
  for _, k in ipairs({ "folio", "amount", "date", "store", "web_id", "barcode" }) do
    if t[k] ~= nil then have["ticket." .. k] = true end
  end
  if t.date then have["ticket.date_day"], have["ticket.date_month"], have["ticket.date_year"] = true, true, true end
  for _, k in ipairs({ "rfc", "full_name", "postal_code", "fiscal_regime", "cfdi_use", "email" }) do
    if p[k] ~= nil then have["profile." .. k] = true end
  end
  if task:secret("username") then have["secret.username"] = true end
  if task:secret("password") then have["secret.password"] = true end
  return have
end

local function xml_link(snap)
  for _, b in ipairs(snap.buttons) do
    if (b.text or ""):lower():find("xml") then return b end
  end
  return nil
end

function M.run(task, page)
  local actions = {} -- for a saved recipe: {kind, sel, value, label, frame, download}
  local ctx, frame_sel = page, nil
  local submitted, stalls, pressed = false, 0, {}
  local unsure = {} -- labels of fields nobody could place (no LLM, or it had no answer)

  local function act(a)
    a.frame = frame_sel
    actions[#actions + 1] = a
  end

  for round = 1, ROUNDS do
    local snap = settle(ctx, #actions > 0)

    -- a form inside a frame: work there
    if #snap.fields == 0 and #snap.frames > 0 and not snap.uuid and frame_sel == nil then
      frame_sel = snap.frames[1].sel
      ctx = page:frame(frame_sel)
      task:log("the form is inside a frame; working there")
      snap = settle(ctx, #actions > 0)
    end

    if snap.captcha then
      task:need_human("captcha: the portal asks to prove a person is there")
    end
    if snap.password then
      if task:secret("password") == nil then
        task:need_human("login required: no portal credentials are stored for this user")
      end
    end

    -- issued: the UUID and its XML
    local link = snap.uuid and xml_link(snap)
    if link then
      task:log("invoice issued; downloading the XML")
      local path = ctx:download(link.sel)
      act({ kind = "click", sel = link.sel, text = link.text, download = true })
      -- what worked, as a recipe for next time (written with --save-recipe)
      task:save_recipe(draft.render(actions, { url = task.url, ticket = task.ticket,
                                               profile = task.profile, name = "learned",
                                               origin = "Recipe learned by the generic fallback" }))
      task:done{ xml = path }
    end

    -- the portal said no
    if submitted and #snap.alerts > 0 then
      if #unsure == 0 then task:fail(snap.alerts[1]) end
      task:fail(snap.alerts[1] .. " (without an LLM, fields not understood: " .. table.concat(unsure, ", ") .. ")")
    end

    -- a notice in a dialog: accept it
    local notice
    for _, b in ipairs(snap.buttons) do
      if b.dialog and has_any(b.text, NOTICE) then notice = b break end
    end
    if notice then
      ctx:click(notice.sel)
      act({ kind = "click", sel = notice.sel, text = notice.text })
    else
      -- fill what is asked and empty
      local unknown = {}
      for _, f in ipairs(snap.fields) do
        local key = fieldmap.classify(f)
        if (f.kind == "input" and not f.readonly or f.kind == "select") and (f.value or "") == ""
           and key == nil and not never(f) then
          unknown[#unknown + 1] = f
        end
        if f.kind == "input" and not f.readonly and (f.value or "") == "" and key then
          local v = fieldmap.value(key, f, task)
          if v then
            ctx:fill(f.sel, v)
            act({ kind = "fill", sel = f.sel, value = v, label = f.label })
          end
        elseif f.kind == "select" and (f.value or "") == "" and key then
          local code = fieldmap.code(key, task)
          local o = code and fieldmap.option(f.options, code)
          local v = not code and fieldmap.value(key, f, task)
          if v then o = fieldmap.option(f.options, v) end -- e.g. a store by its number
          if o then
            ctx:select(f.sel, { value = o.value })
            act({ kind = "select", sel = f.sel, value = o.value, label = f.label, option = o.text })
          end
        elseif f.kind == "listbox" and key then
          local code = fieldmap.code(key, task)
          if code and not tostring(f.value):find(code, 1, true) then
            ctx:click(f.sel)
            act({ kind = "click", sel = f.sel, text = f.label })
            local o
            for _ = 1, 20 do -- the list opens (and may load) after the click
              o = fieldmap.option(ctx:snapshot().options, code)
              if o then break end
              ctx:evaluate("new Promise(r => setTimeout(r, 100))")
            end
            if o == nil then task:fail("no option for " .. key .. " " .. code .. " in " .. (f.label or f.sel)) end
            ctx:click(o.sel)
            act({ kind = "click", sel = o.sel, text = o.text })
          end
        elseif f.kind == "checkbox" and not f.checked and key == "consent" then
          ctx:check(f.sel)
          act({ kind = "check", sel = f.sel, checked = true, label = f.label })
        end
      end
      -- fields the mapper cannot place: ask the LLM (af.guide), or say where it would have helped
      if #unknown > 0 then
        local names = {}
        for _, f in ipairs(unknown) do names[#names + 1] = (f.label or "") ~= "" and f.label or f.sel end
        local content, usage = task:llm(guide.request(snap, unknown, available(task)))
        local acts, why
        if content then acts, why = guide.parse(content, snap) else why = usage end
        if content and not acts then task:fail("the fallback could not use the LLM's answer: " .. why) end
        if not acts then
          task:log("no LLM help (" .. tostring(why) .. "); fields not understood: " .. table.concat(names, ", "))
          for _, n in ipairs(names) do unsure[#unsure + 1] = n end
        end
        local by_sel = {}
        for _, f in ipairs(snap.fields) do by_sel[f.sel] = f end
        for _, a in ipairs(acts or {}) do
          local f = by_sel[a.selector] or { sel = a.selector }
          if a.source == "secret" then
            local v = task:secret(a.key)
            if v == nil then task:need_human("login required: the portal asks for a " .. a.key .. " and none is stored") end
            ctx:fill(a.selector, v)
          elseif a.op == "select" then
            local code = fieldmap.code(a.key, task) or fieldmap.value(a.key, f, task)
            local o = code and fieldmap.option(f.options or {}, code)
            if o == nil then task:fail("no option for " .. a.key .. " in " .. (f.label or a.selector)) end
            ctx:select(a.selector, { value = o.value })
            act({ kind = "select", sel = a.selector, value = o.value, label = f.label, option = o.text })
          elseif a.op == "fill" then
            local v = fieldmap.value(a.key, f, task)
            if v == nil then task:fail("the ticket has no " .. a.key .. " for " .. (f.label or a.selector)) end
            ctx:fill(a.selector, v)
            act({ kind = "fill", sel = a.selector, value = v, label = f.label })
          end
        end
      end
      -- then move forward
      local before = signature(ctx:snapshot())
      local b = forward_button(snap, pressed)
      if b == nil then -- stuck: no button it knows; the LLM may name the one that goes on
        local content, why = task:llm(guide.request(snap, {}, available(task)))
        local acts = content and guide.parse(content, snap)
        for _, a in ipairs(acts or {}) do
          for _, cand in ipairs(snap.buttons) do
            if a.op == "click" and cand.sel == a.selector then b = cand end
          end
        end
        if b == nil then
          task:fail("the fallback found no button to go on with (round " .. round .. ")"
            .. (content and "" or "; without an LLM (" .. tostring(why) .. ")"))
        end
      end
      pressed[b.sel .. "|" .. signature(snap)] = true
      ctx:click(b.sel)
      act({ kind = "click", sel = b.sel, text = b.text })
      submitted = true
      -- wait for the page to change; twice nothing means stuck
      local changed = false
      for _ = 1, 30 do
        ctx:evaluate("new Promise(r => setTimeout(r, 100))")
        local ok, now = pcall(ctx.snapshot, ctx)
        if ok and signature(now) ~= before then changed = true break end
      end
      if not changed then
        stalls = stalls + 1
        if stalls >= 2 then task:fail("no progress: the page did not change after pressing " .. (b.text or b.sel)) end
      else
        stalls = 0
      end
    end
  end
  task:fail("the fallback gave up after " .. ROUNDS .. " rounds without an invoice")
end

return M
