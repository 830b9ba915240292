-- Recipe: Gasolinera Los Pinos (bundled test portal /larga/).
-- One long server-rendered form: ticket data (estación, folio, Web ID, total, fecha),
-- then the receptor's fiscal data, a privacy checkbox and "Facturar"; the result page
-- shows the UUID and an XML download link.

local fmt = require "af.fmt"
local portal = require "af.portal"

return {
  name = "larga",
  match = function(url) return url:match("^https?://[^/]+/larga/") ~= nil end,

  run = function(task, page)
    local t, p = task.ticket, task.profile
    for _, k in ipairs({ "store", "folio", "web_id", "amount", "date" }) do
      if t[k] == nil then task:fail("el ticket no trae el campo " .. k .. " que pide este portal") end
    end

    -- The runtime has opened task.url: wait for the invoicing form.
    task:log("esperando el formulario")
    if not page:wait_for("#form-factura") then task:fail("no apareció el formulario de facturación") end
    if page:exists("#captcha-canvas") or page:exists(".g-recaptcha") then
      task:need_human("captcha: el portal pide verificar que no eres un robot")
    end

    -- Ticket block. The date input is type=date: its value is YYYY-MM-DD.
    task:log("capturando los datos del ticket")
    page:fill("#estacion", t.store)
    page:fill("#folio", t.folio)
    page:fill("#webid", t.web_id)
    page:fill("#total", fmt.amount(t.amount))
    page:fill("#fecha", t.date)

    -- Receptor block: native selects, chosen by SAT code (the option value).
    task:log("capturando los datos fiscales")
    page:fill("#rfc", p.rfc)
    page:fill("#razon_social", p.full_name)
    page:fill("#codigo_postal", p.postal_code)
    page:select("#regimen_fiscal", { value = p.fiscal_regime })
    page:select("#uso_cfdi", { value = p.cfdi_use })
    page:fill("#email", p.email)
    page:fill("#email2", p.email)
    page:check("#acepto")

    -- Submit; the portal answers with the result page or re-renders the form with an error box.
    task:log("enviando la solicitud")
    page:click("#facturar")
    portal.step(task, page, "#uuid", "el portal no respondió a la solicitud de factura")

    -- Download the stamped XML; the runtime reads and verifies the UUID from it.
    task:log("factura generada; descargando el XML")
    local xml = page:download("#descargar-xml")
    task:done({ xml = xml })
  end,
}
