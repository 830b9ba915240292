-- Recipe: GasExpress (bundled test portal /captcha/).
-- The form sits behind a CAPTCHA (distorted text drawn on a canvas plus a
-- "No soy un robot" checkbox) that software must not try to solve: detect it before
-- typing anything and hand the task to a person. Should the portal ever drop the
-- CAPTCHA, the rest fills the form normally.

local fmt = require "af.fmt"
local portal = require "af.portal"

return {
  name = "captcha",
  match = function(url) return url:match("^https?://[^/]+/captcha/") ~= nil end,

  run = function(task, page)
    local t, p = task.ticket, task.profile

    -- The runtime has opened task.url; look for the CAPTCHA before touching any field.
    task:log("esperando el formulario")
    if not page:wait_for("#form-captcha") then task:fail("no apareció el formulario de facturación") end
    if page:exists("#captcha-canvas") or page:exists("#no-robot") then
      task:log("el portal pide un CAPTCHA")
      task:need_human("captcha: el portal pide escribir el texto de una imagen y marcar \"No soy un robot\"")
    end

    -- No CAPTCHA: ticket and fiscal data.
    task:log("capturando los datos")
    page:fill("#estacion", t.store)
    page:fill("#folio", t.folio)
    page:fill("#codigo", t.web_id)
    page:fill("#total", fmt.amount(t.amount))
    page:fill("#rfc", p.rfc)
    page:fill("#nombre", p.full_name)
    page:fill("#cp", p.postal_code)
    page:select("#regimen", { value = p.fiscal_regime })
    page:select("#uso", { value = p.cfdi_use })
    page:fill("#email", p.email)

    task:log("enviando la solicitud")
    page:click("#enviar")
    portal.step(task, page, "#uuid", "el portal no respondió a la solicitud de factura")

    task:log("factura generada; descargando el XML")
    local xml = page:download("#descargar-xml")
    task:done({ xml = xml })
  end,
}
