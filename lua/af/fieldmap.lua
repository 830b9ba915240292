-- af.fieldmap: what a form field asks for, read from its label, name,
-- selector and placeholder (Spanish and English), and the value to give it
-- from the ticket and the profile. Used by the generic fallback.
local fmt = require "af.fmt"

local M = {}

local ACCENTS = { ["á"] = "a", ["é"] = "e", ["í"] = "i", ["ó"] = "o", ["ú"] = "u", ["ü"] = "u",
                  ["ñ"] = "n", ["Á"] = "a", ["É"] = "e", ["Í"] = "i", ["Ó"] = "o", ["Ú"] = "u",
                  ["Ñ"] = "n" }

--- Lower case, no accents, punctuation as spaces, padded with spaces.
function M.normalize(s)
  s = tostring(s or ""):gsub("[\xC3][\x80-\xBF]", function(c) return ACCENTS[c] or c end)
  s = s:lower():gsub("[^%w#]+", " ")
  return " " .. s .. " "
end

-- In order: the first rule whose pattern matches names the field.
local RULES = {
  { "email_confirm", { "confirma.*correo", "confirma.*mail", "repite.*correo", "email2", "correo2" } },
  { "rfc", { " rfc " } },
  { "email", { "correo", "e mail", " email", " mail " } },
  { "postal_code", { "codigo postal", " c p ", " cp ", "postal", " zip" } },
  { "full_name", { "razon social", "nombre", " name " } },
  { "fiscal_regime", { "regimen" } },
  { "cfdi_use", { " uso ", "uso del cfdi", "uso cfdi", "uso de cfdi" } },
  { "date_day", { "fecha dia", " dia ", " day " } },
  { "date_month", { "fecha mes", " mes ", " month " } },
  { "date_year", { "fecha anio", " anio ", " ano ", " year " } },
  { "date", { "fecha", " date " } },
  { "amount", { "total", "importe", "monto", "amount" } },
  { "barcode", { " tc# ", " tc ", "codigo de barras", "barcode" } },
  { "web_id", { "web id", "webid", "codigo de facturacion", "clave de facturacion", "codigo facturacion" } },
  { "store", { "estacion", "sucursal", "tienda", " store ", "establecimiento" } },
  { "folio", { "folio", "ticket", "transaccion", "pedido", " tr# ", " tr ", "numero" } },
  { "consent", { "acepto", "aviso de privacidad", "terminos", "privacidad" } },
}

--- What a snapshot field asks for (a key such as "rfc"), or nil.
function M.classify(field)
  local hay = M.normalize(table.concat({ field.label or "", field.name or "", field.sel or "",
                                         field.placeholder or "" }, " "))
  for _, rule in ipairs(RULES) do
    for _, pat in ipairs(rule[2]) do
      if hay:find(pat) then return rule[1] end
    end
  end
  return nil
end

--- The text to type for key in field, or nil when the task has none.
function M.value(key, field, task)
  local t, p = task.ticket, task.profile
  if key == "rfc" then return p.rfc end
  if key == "email" or key == "email_confirm" then return p.email end
  if key == "postal_code" then return p.postal_code end
  if key == "full_name" then
    if #tostring(p.rfc) == 12 and cfdi then return cfdi.normalize_name(p.full_name) end
    return p.full_name
  end
  if key == "amount" then return fmt.amount(t.amount) end
  if key == "date" then
    local hint = M.normalize((field.placeholder or "") .. " " .. (field.label or ""))
    if field.type == "date" then return t.date end
    if hint:find("dd mm") or hint:find("dia mes") then return fmt.date(t.date, "DD/MM/YYYY") end
    if hint:find("mm dd") then return fmt.date(t.date, "MM/DD/YYYY") end
    return t.date
  end
  if key == "date_day" or key == "date_month" or key == "date_year" then
    local y, m, d = fmt.date_parts(t.date)
    return key == "date_day" and d or key == "date_month" and m or y
  end
  if key == "folio" or key == "store" or key == "web_id" or key == "barcode" then
    return t[key] ~= nil and tostring(t[key]) or nil
  end
  return nil
end

--- The SAT code a régimen or uso field wants, or nil.
function M.code(key, task)
  if key == "fiscal_regime" then return task.profile.fiscal_regime end
  if key == "cfdi_use" then return task.profile.cfdi_use end
  return nil
end

--- The option (of a native select or a listbox) carrying code: by value, or
--- by a text that starts with the code ("612 - Personas Físicas ...").
function M.option(options, code)
  code = tostring(code)
  for _, o in ipairs(options or {}) do
    if o.value == code then return o end
  end
  for _, o in ipairs(options or {}) do
    local text = tostring(o.text or "")
    if text:sub(1, #code) == code and not text:sub(#code + 1, #code + 1):match("%w") then return o end
  end
  return nil
end

return M
