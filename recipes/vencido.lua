-- Recipe: Restaurantes El Fogón (bundled test portal /vencido/).
-- Step 1 looks the ticket up by sucursal, número de ticket and total; the portal refuses
-- unknown tickets and tickets outside the month of purchase with its own message, which
-- becomes the failure reason. Step 2 takes the fiscal data and stamps.

local function money(n) return string.format("%.2f", n) end
local function flat(s) return (s:gsub("%s+", " ")) end

-- Wait for the next step's element or the portal's error box; fail with the portal's text.
local function step(task, page, want, what)
  local seen = page:wait_any({ want, ".alert-error" }, { timeout = 30000 })
  if seen == nil then task:fail("el portal no mostró " .. what) end
  if seen == ".alert-error" then task:fail(flat(page:text(".alert-error"))) end
end

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
    page:fill("#total", money(t.amount))
    page:click("#buscar")
    step(task, page, "#form-fiscal", "el formulario de datos fiscales")

    -- Step 2: fiscal data.
    task:log("capturando los datos fiscales")
    page:fill("#rfc", p.rfc)
    page:fill("#cp", p.postal_code)
    page:fill("#nombre", p.full_name)
    page:select("#regimen", { value = p.fiscal_regime })
    page:select("#uso", { value = p.cfdi_use })
    page:fill("#email", p.email)
    page:click("#facturar")
    step(task, page, "#uuid", "la factura generada")

    task:log("factura generada; descargando el XML")
    local xml = page:download("#descargar-xml")
    task:done({ xml = xml })
  end,
}
