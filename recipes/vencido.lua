-- Recipe: Restaurantes El Fogón (bundled test portal /vencido/).
-- Step 1 looks the ticket up by sucursal, número de ticket and total; the portal refuses
-- unknown tickets and tickets outside the month of purchase with its own message, which
-- becomes the failure reason. Step 2 takes the fiscal data and stamps.

local fmt = require "af.fmt"
local portal = require "af.portal"

return {
  name = "vencido",
  match = function(url) return url:match("^https?://[^/]+/vencido/") ~= nil end,

  run = function(task, page)
    local t, p = task.ticket, task.profile

    -- The runtime has opened task.url: wait for the lookup form.
    task:log("esperando el formulario")
    if not page:wait_for("#form-buscar") then task:fail("no apareció el formulario de búsqueda") end

    -- Step 1: the sucursal must be one the portal lists.
    task:log("buscando el ticket")
    local store = tostring(t.store or "")
    if not page:exists('#sucursal option[value="' .. store .. '"]') then
      task:fail("el portal no tiene la sucursal " .. store)
    end
    page:select("#sucursal", { value = store })
    page:fill("#ticket", t.folio)
    page:fill("#total", fmt.amount(t.amount))
    page:click("#buscar")
    portal.step(task, page, "#form-fiscal", "el portal no mostró el formulario de datos fiscales")

    -- Step 2: fiscal data.
    task:log("capturando los datos fiscales")
    page:fill("#rfc", p.rfc)
    page:fill("#cp", p.postal_code)
    page:fill("#nombre", p.full_name)
    page:select("#regimen", { value = p.fiscal_regime })
    page:select("#uso", { value = p.cfdi_use })
    page:fill("#email", p.email)
    page:click("#facturar")
    portal.step(task, page, "#uuid", "el portal no mostró la factura generada")

    task:log("factura generada; descargando el XML")
    local xml = page:download("#descargar-xml")
    task:done({ xml = xml })
  end,
}
