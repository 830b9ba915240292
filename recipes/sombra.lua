-- Recipe: ElectroHogar (bundled test portal /sombra/), built from web components.
-- Every control sits in an OPEN shadow root, three levels deep
-- (eh-portal > eh-seccion > eh-campo > input); the runtime's selectors pierce open
-- shadow roots, so plain ids work. The form posts by fetch(); errors appear in #alerta,
-- the result (UUID + XML link) in eh-resultado's shadow root.

local fmt = require "af.fmt"
local portal = require "af.portal"

return {
  name = "sombra",
  match = function(url) return url:match("^https?://[^/]+/sombra/") ~= nil end,

  run = function(task, page)
    local t, p = task.ticket, task.profile
    if t.web_id == nil then task:fail("el ticket no trae el código de facturación (web_id)") end

    -- The runtime has opened task.url; the components render after their catalog request.
    task:log("esperando el formulario")
    if not page:wait_for("#pedido", { timeout = 15000 }) then task:fail("el formulario no terminó de cargar") end

    -- Purchase data.
    task:log("capturando los datos de la compra")
    page:fill("#pedido", t.folio)
    page:fill("#total", fmt.amount(t.amount))
    page:fill("#codigo-facturacion", t.web_id)

    -- Fiscal data (native selects inside shadow roots, by SAT code).
    task:log("capturando los datos fiscales")
    page:fill("#rfc", p.rfc)
    page:fill("#cp", p.postal_code)
    page:fill("#nombre", p.full_name)
    page:select("#regimen", { value = p.fiscal_regime })
    page:select("#uso", { value = p.cfdi_use })
    page:fill("#email", p.email)

    -- Submit; #alerta becomes visible on a rejection.
    task:log("enviando la solicitud")
    page:click("#emitir")
    portal.step(task, page, "#uuid", "el portal no respondió a la solicitud de factura", "#alerta")

    task:log("factura generada; descargando el XML")
    local xml = page:download("#descargar-xml")
    task:done({ xml = xml })
  end,
}
