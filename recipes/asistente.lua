-- Recipe: SuperCompras México (bundled test portal /asistente/), a Walmart-like wizard.
-- An "Aviso" modal must be accepted first; step 1 finds the ticket by TC# (the ticket's
-- barcode number), TR# (its folio) and total; step 2 takes the fiscal data; step 3 shows
-- them for confirmation ("Confirmar y timbrar"); the last page offers the XML.

local fmt = require "af.fmt"
local portal = require "af.portal"
local function norm_rfc(s) return (s:upper():gsub("[%s%-]", "")) end

return {
  name = "asistente",
  match = function(url) return url:match("^https?://[^/]+/asistente/") ~= nil end,

  run = function(task, page)
    local t, p = task.ticket, task.profile
    if t.barcode == nil or t.folio == nil then task:fail("el ticket no trae TC# (barcode) y TR# (folio)") end

    -- The runtime has opened task.url. Accept the notice dialog that covers the form.
    task:log("esperando el formulario")
    if page:wait_for("#aviso-aceptar", { timeout = 5000 }) then page:click("#aviso-aceptar") end
    if not page:wait_for("#aviso", { state = "hidden" }) then task:fail("el aviso inicial no se cerró") end

    -- Step 1: ticket lookup.
    task:log("paso 1: buscando el ticket")
    page:fill("#tc", t.barcode)
    page:fill("#tr", t.folio)
    page:fill("#total", fmt.amount(t.amount))
    page:click("#buscar-ticket")
    portal.step(task, page, "#form-fiscal", "el portal no mostró el formulario de datos fiscales")

    -- Step 2: fiscal data (native selects, by SAT code).
    task:log("paso 2: capturando los datos fiscales")
    page:fill("#rfc", p.rfc)
    page:fill("#cp", p.postal_code)
    page:fill("#nombre", p.full_name)
    page:select("#regimen", { value = p.fiscal_regime })
    page:select("#uso", { value = p.cfdi_use })
    page:fill("#email", p.email)
    page:click("#continuar")
    portal.step(task, page, "#confirmar", "el portal no mostró la confirmación")

    -- Step 3: the invoice cannot be corrected after stamping, so check what the portal
    -- is about to stamp before confirming.
    task:log("paso 3: revisando la confirmación")
    if norm_rfc(page:text("#conf-rfc") or "") ~= norm_rfc(p.rfc)
      or not (page:text("#conf-regimen") or ""):find(p.fiscal_regime, 1, true)
      or not (page:text("#conf-uso") or ""):find(p.cfdi_use, 1, true) then
      task:fail("la confirmación no coincide con los datos capturados")
    end
    page:click("#confirmar")
    portal.step(task, page, "#uuid", "el portal no mostró la factura generada")

    -- Done page: download the XML.
    task:log("factura timbrada; descargando el XML")
    local xml = page:download("#descargar-xml")
    task:done({ xml = xml })
  end,
}
