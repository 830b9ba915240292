-- Recipe: Cafés Aurora (bundled test portal /spa/), a JS-rendered single-page app.
-- Everything is built by script after load and talks to a JSON API. Screen 1: ticket
-- number, total and a date split in day / month / year. Screen 2: fiscal data with two
-- CUSTOM listboxes (button[role=combobox] + ul[role=listbox] > li[role=option][data-value]);
-- the uso list is loaded after a régimen is chosen. Errors show in #errores.

local fmt = require "af.fmt"
local portal = require "af.portal"

-- Open a custom listbox and click the option with the given SAT code.
local function choose(task, page, id, code, what)
  page:click("#" .. id .. "-trigger")
  local opt = "#" .. id .. '-listbox [role=option][data-value="' .. code .. '"]'
  if not page:wait_for(opt, { timeout = 8000 }) then task:fail("el portal no ofrece " .. what .. " " .. code) end
  page:click(opt)
  if page:evaluate("document.getElementById('" .. id .. "-trigger').dataset.value") ~= code then
    task:fail("no se pudo elegir " .. what .. " " .. code)
  end
end

return {
  name = "spa",
  match = function(url) return url:match("^https?://[^/]+/spa/") ~= nil end,

  run = function(task, page)
    local t, p = task.ticket, task.profile
    local y, m, d = tostring(t.date):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
    if y == nil then task:fail("la fecha del ticket debe ser AAAA-MM-DD") end

    -- The runtime has opened task.url; the app renders after load: wait for its first field.
    task:log("esperando el formulario")
    if not page:wait_for("#folio", { timeout = 15000 }) then task:fail("la aplicación no terminó de cargar") end

    -- Screen 1: ticket lookup.
    task:log("buscando el ticket")
    page:fill("#folio", t.folio)
    page:fill("#total", fmt.amount(t.amount))
    page:fill("#fecha-dia", d)
    page:fill("#fecha-mes", m)
    page:fill("#fecha-anio", y)
    page:click("#buscar")
    portal.step(task, page, "#rfc", "el portal no mostró los datos de facturación", "#errores")

    -- Screen 2: fiscal data; régimen first, since it decides the uso list.
    task:log("capturando los datos fiscales")
    page:fill("#rfc", p.rfc)
    page:fill("#cp", p.postal_code)
    page:fill("#nombre", p.full_name)
    choose(task, page, "regimen", p.fiscal_regime, "el régimen fiscal")
    choose(task, page, "uso", p.cfdi_use, "el uso de CFDI")
    page:fill("#email", p.email)
    page:click("#generar")
    portal.step(task, page, "#uuid", "el portal no mostró la factura generada", "#errores")

    -- Success screen: download the XML.
    task:log("factura generada; descargando el XML")
    local xml = page:download("#descargar-xml")
    task:done({ xml = xml })
  end,
}
