-- Recipe: Farmacias del Valle (bundled test portal /marco/).
-- The vendor page embeds its invoicing provider's form in a CROSS-ORIGIN iframe
-- (#facturacion): every field, the submit, the result and the download are inside it.
-- Date format on this form: DD/MM/AAAA.

local fmt = require "af.fmt"
local portal = require "af.portal"

return {
  name = "marco",
  match = function(url) return url:match("^https?://[^/]+/marco/") ~= nil end,

  run = function(task, page)
    local t, p = task.ticket, task.profile
    local y, m, d = tostring(t.date):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
    if y == nil or t.store == nil then task:fail("el ticket debe traer sucursal (store) y fecha AAAA-MM-DD") end

    -- The runtime has opened the outer page; find the provider's frame.
    task:log("esperando el formulario")
    if not page:wait_for("#facturacion") then task:fail("no apareció el marco de facturación") end
    local f = page:frame("#facturacion")
    if not f:wait_for("#form-marco", { timeout = 15000 }) then task:fail("el formulario del marco no cargó") end

    -- Purchase data.
    task:log("capturando los datos de la compra")
    f:fill("#sucursal", t.store)
    f:fill("#ticket", t.folio)
    f:fill("#importe", fmt.amount(t.amount))
    f:fill("#fecha_compra", d .. "/" .. m .. "/" .. y)

    -- Receptor data (native selects inside the frame, by SAT code).
    task:log("capturando los datos fiscales")
    f:fill("#rfc", p.rfc)
    f:fill("#cp", p.postal_code)
    f:fill("#nombre", p.full_name)
    f:select("#regimen", { value = p.fiscal_regime })
    f:select("#uso", { value = p.cfdi_use })
    f:fill("#email", p.email)

    -- Submit inside the frame; the frame navigates to its result page or back with errors.
    task:log("enviando la solicitud")
    f:click("#solicitar")
    portal.step(task, f, "#uuid", "el portal no respondió a la solicitud de factura")

    -- The download link lives in the frame too.
    task:log("factura generada; descargando el XML")
    local xml = f:download("#descargar-xml")
    task:done({ xml = xml })
  end,
}
