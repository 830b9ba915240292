-- The bundled test portals themselves (tests/portals/server.js), driven over HTTP without
-- a browser: they validate like real portals, refuse what real portals refuse with their
-- own Spanish messages, issue a well-formed CFDI 4.0 XML, and keep the records and
-- attempt counters the recipe integration tests rely on.
local cjson = require "cjson"
local H = require "integration.portal_helper"

local FISICA = H.json_file("tests/fixtures/profile-fisica.json")
local MORAL = H.json_file("tests/fixtures/profile-moral.json")

local function larga_form(over)
  local t = H.json_file("tests/fixtures/ticket-larga.json")
  local f = {
    estacion = t.store, folio = t.folio, webid = t.web_id, total = string.format("%.2f", t.amount),
    fecha = t.date, rfc = FISICA.rfc, razon_social = FISICA.full_name, codigo_postal = FISICA.postal_code,
    regimen_fiscal = FISICA.fiscal_regime, uso_cfdi = FISICA.cfdi_use, email = FISICA.email,
    email2 = FISICA.email, acepto = "1",
  }
  for k, v in pairs(over or {}) do f[k] = v end
  return f
end

local function cents(s) return math.floor(tonumber(s) * 100 + 0.5) end

describe("portal server", function()
  local srv
  setup(function() srv = H.start() end)
  teardown(function() H.stop(srv) end)
  before_each(function() assert.equal(200, H.http("POST", srv.base .. "/__reset").status) end)

  it("prints exactly one 'portal listening' line and lists the seven portals", function()
    assert.matches("^portal listening http://127%.0%.0%.1:%d+\n$", H.read(srv.dir .. "/out"))
    local r = H.http("GET", srv.base .. "/")
    assert.equal(200, r.status)
    for _, p in ipairs({ "larga", "asistente", "spa", "marco", "sombra", "captcha", "vencido" }) do
      assert.truthy(r.body:find('href="/' .. p .. '/"', 1, true), p)
      assert.equal(200, H.http("GET", srv.base .. "/" .. p .. "/").status, p)
    end
  end)

  it("issues a CFDI 4.0 whose XML, page and record agree (larga)", function()
    local r = H.http("POST", srv.base .. "/larga/facturar",
      { body = larga_form({ rfc = "rovl-850312 hj5", razon_social = "  laura romero   VALDÉS " }) })
    assert.equal(200, r.status)
    assert.truthy(r.body:find("Factura generada", 1, true))
    local uuid = r.body:match('id="uuid">([%x%-]+)<')
    assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89AB]%x%x%x%-%x+$", uuid)
    assert.equal(uuid, uuid:upper())

    local recs = H.get_json(srv, "/__records")
    assert.equal(1, #recs)
    assert.equal("larga", recs[1].portal)
    assert.equal(uuid, recs[1].uuid)
    assert.same(H.receptor_of(FISICA), recs[1].receptor)
    assert.equal("883917", recs[1].ticket.folio)
    assert.is_string(recs[1].at)

    local x = H.http("GET", srv.base .. "/larga/xml/" .. uuid)
    assert.equal(200, x.status)
    assert.equal('attachment; filename="' .. uuid .. '.xml"', x.headers["content-disposition"])
    local xml = x.body
    assert.truthy(xml:find('xmlns:cfdi="http://www.sat.gob.mx/cfd/4"', 1, true))
    assert.equal("4.0", H.xml_attr(xml, "cfdi:Comprobante", "Version"))
    assert.equal("850.37", H.xml_attr(xml, "cfdi:Comprobante", "Total"))
    for attr, want in pairs({ Moneda = "MXN", TipoDeComprobante = "I", Exportacion = "01", MetodoPago = "PUE" }) do
      assert.equal(want, H.xml_attr(xml, "cfdi:Comprobante", attr), attr)
    end
    local sub = H.xml_attr(xml, "cfdi:Comprobante", "SubTotal")
    local iva = H.xml_attr(xml, "cfdi:Impuestos", "TotalImpuestosTrasladados")
    assert.equal(cents("850.37"), cents(sub) + cents(iva))
    assert.equal(math.floor(cents(sub) * 0.16 + 0.5), cents(iva))
    assert.equal(sub, H.xml_attr(xml, "cfdi:Concepto", "Importe"))
    assert.equal("GLP090312K71", H.xml_attr(xml, "cfdi:Emisor", "Rfc"))
    assert.equal("ROVL850312HJ5", H.xml_attr(xml, "cfdi:Receptor", "Rfc"))
    assert.equal("LAURA ROMERO VALDÉS", H.xml_attr(xml, "cfdi:Receptor", "Nombre"))
    assert.equal("44160", H.xml_attr(xml, "cfdi:Receptor", "DomicilioFiscalReceptor"))
    assert.equal("612", H.xml_attr(xml, "cfdi:Receptor", "RegimenFiscalReceptor"))
    assert.equal("G03", H.xml_attr(xml, "cfdi:Receptor", "UsoCFDI"))
    assert.equal("1.1", H.xml_attr(xml, "tfd:TimbreFiscalDigital", "Version"))
    assert.equal(uuid, H.xml_attr(xml, "tfd:TimbreFiscalDigital", "UUID"))
    assert.equal(H.xml_attr(xml, "cfdi:Comprobante", "Sello"), H.xml_attr(xml, "tfd:TimbreFiscalDigital", "SelloCFD"))
    assert.truthy(H.xml_attr(xml, "tfd:TimbreFiscalDigital", "FechaTimbrado") >= H.xml_attr(xml, "cfdi:Comprobante", "Fecha"))
    assert.equal(404, H.http("GET", srv.base .. "/spa/xml/" .. uuid).status)
    assert.same({ total = 1, by_portal = { larga = 1 } }, H.get_json(srv, "/__attempts"))
  end)

  it("rejects bad receptor data with the rule in Spanish, records nothing, counts the attempt", function()
    local cases = {
      { { rfc = "ROVL850312HJ4" }, "El RFC no es válido: verifica la homoclave." },
      { { rfc = "ROVL851312HJ5" }, "El RFC contiene una fecha inválida." },
      { { rfc = "ROVL85031" }, "El RFC debe tener 12 caracteres (persona moral) o 13 caracteres (persona física)." },
      { { codigo_postal = "4416" }, "El código postal debe tener 5 dígitos." },
      { { regimen_fiscal = "601" }, "El régimen fiscal 601 no corresponde a una persona física (RFC de 13 caracteres)." },
      { { regimen_fiscal = "605" }, "El uso de CFDI G03 no es compatible con el régimen fiscal 605." },
      { { uso_cfdi = "P01" }, "El uso de CFDI P01 no existe en el catálogo del SAT." },
      { { rfc = MORAL.rfc, regimen_fiscal = "601", uso_cfdi = "D01" }, "El uso de CFDI D01 no aplica para personas morales." },
      { { rfc = MORAL.rfc, regimen_fiscal = "601", razon_social = "TALLERES ALFAREROS DE MORELOS S.A. DE C.V." },
        "Captura la razón social sin el régimen capital" },
      { { email2 = "otra@example.com" }, "Los correos electrónicos no coinciden." },
      { { acepto = "" }, "Debes aceptar el aviso de privacidad." },
      { { total = "850.38" }, "No encontramos un ticket con esos datos." },
      { { rfc = "XAXX010101000" }, "No es posible facturar a un RFC genérico." },
    }
    for i, c in ipairs(cases) do
      local form = larga_form(c[1])
      if c[1].acepto == "" then form.acepto = nil end
      local r = H.http("POST", srv.base .. "/larga/facturar", { body = form })
      assert.equal(422, r.status, c[2])
      assert.truthy(r.body:find('class="alert-error"', 1, true))
      assert.truthy(r.body:find(c[2], 1, true), c[2])
      assert.equal(i, H.get_json(srv, "/__attempts").total)
    end
    assert.same({}, H.get_json(srv, "/__records"))
  end)

  it("refuses to invoice the same ticket twice", function()
    assert.equal(200, H.http("POST", srv.base .. "/larga/facturar", { body = larga_form() }).status)
    local r = H.http("POST", srv.base .. "/larga/facturar", { body = larga_form() })
    assert.equal(409, r.status)
    assert.truthy(r.body:find("El ticket 883917 ya fue facturado.", 1, true))
    assert.equal(1, #H.get_json(srv, "/__records"))
  end)

  it("walks the asistente wizard with its session cookie, and refuses steps without one", function()
    local t = H.json_file("tests/fixtures/ticket-asistente.json")
    local expired = H.http("POST", srv.base .. "/asistente/paso2", { body = { rfc = MORAL.rfc } })
    assert.truthy(expired.body:find("Tu sesión expiró", 1, true))
    local r1 = H.http("POST", srv.base .. "/asistente/paso1",
      { body = { tc = t.barcode, tr = t.folio, total = string.format("%.2f", t.amount) } })
    assert.equal(303, r1.status)
    local cookie = r1.headers["set-cookie"]:match("^(sc_sesion=%x+)")
    local r2 = H.http("POST", srv.base .. "/asistente/paso2", { cookie = cookie, body = {
      rfc = MORAL.rfc, cp = MORAL.postal_code, nombre = MORAL.full_name, regimen = MORAL.fiscal_regime,
      uso = MORAL.cfdi_use, email = MORAL.email } })
    assert.equal(303, r2.status)
    local conf = H.http("GET", srv.base .. "/asistente/confirmar", { cookie = cookie })
    assert.truthy(conf.body:find("Confirmar y timbrar", 1, true))
    assert.same({}, H.get_json(srv, "/__records"))
    local r3 = H.http("POST", srv.base .. "/asistente/timbrar", { cookie = cookie, body = "paso=3" })
    assert.equal(303, r3.status)
    local done = H.http("GET", srv.base .. "/asistente/listo", { cookie = cookie })
    local recs = H.get_json(srv, "/__records")
    assert.equal(1, #recs)
    assert.truthy(done.body:find(recs[1].uuid, 1, true))
    assert.same(H.receptor_of(MORAL), recs[1].receptor)
  end)

  it("serves the spa's JSON API, filtering usos by régimen", function()
    local usos = H.get_json(srv, "/spa/api/usos?regimen=605").usos
    local codes = {}
    for _, u in ipairs(usos) do codes[u.clave] = true end
    assert.is_nil(codes.G03)
    assert.is_true(codes.D01)
    local t = H.json_file("tests/fixtures/ticket-spa.json")
    local y, m, d = t.date:match("(%d+)-(%d+)-(%d+)")
    local bad = H.http("POST", srv.base .. "/spa/api/tickets/buscar",
      { json = { folio = t.folio, total = "346.01", fecha = { dia = d, mes = m, anio = y } } })
    assert.equal(404, bad.status)
    local found = cjson.decode(H.http("POST", srv.base .. "/spa/api/tickets/buscar",
      { json = { folio = t.folio, total = "346.00", fecha = { dia = d, mes = m, anio = y } } }).body)
    assert.is_true(found.ok)
    local r = H.http("POST", srv.base .. "/spa/api/facturas", { json = { token = found.token, rfc = FISICA.rfc,
      nombre = FISICA.full_name, cp = FISICA.postal_code, regimen = FISICA.fiscal_regime, uso = "CN01", email = FISICA.email } })
    assert.equal(422, r.status)
    assert.truthy(cjson.decode(r.body).errores.uso:find("CN01 no es compatible con el régimen fiscal 612", 1, true))
  end)

  it("puts the marco form in a cross-origin iframe (127.0.0.1 <-> localhost, same port)", function()
    local a = H.http("GET", srv.base .. "/marco/")
    assert.truthy(a.body:find('src="http://localhost:' .. srv.port .. '/marco/form"', 1, true))
    local b = H.http("GET", "http://localhost:" .. srv.port .. "/marco/")
    assert.truthy(b.body:find('src="http://127.0.0.1:' .. srv.port .. '/marco/form"', 1, true))
  end)

  it("never passes the captcha portal without the text, and records nothing", function()
    local page = H.http("GET", srv.base .. "/captcha/")
    local token = page.body:match('name="captcha_token" value="(%x+)"')
    assert.is_string(token)
    local t = H.json_file("tests/fixtures/ticket-captcha.json")
    local r = H.http("POST", srv.base .. "/captcha/facturar", { body = {
      estacion = t.store, folio = t.folio, codigo = t.web_id, total = string.format("%.2f", t.amount),
      rfc = FISICA.rfc, nombre = FISICA.full_name, cp = FISICA.postal_code, regimen = FISICA.fiscal_regime,
      uso = FISICA.cfdi_use, email = FISICA.email, captcha_token = token, captcha_texto = "AAAAAA", no_robot = "1" } })
    assert.equal(422, r.status)
    assert.truthy(r.body:find("Verifica que no eres un robot.", 1, true))
    assert.same({}, H.get_json(srv, "/__records"))
    assert.same({ total = 1, by_portal = { captcha = 1 } }, H.get_json(srv, "/__attempts"))
  end)

  it("answers vencido lookups with the portal's own messages", function()
    local function lookup(name)
      local t = H.json_file("tests/fixtures/" .. name .. ".json")
      return H.http("POST", srv.base .. "/vencido/buscar",
        { body = { sucursal = t.store, ticket = t.folio, total = string.format("%.2f", t.amount) } })
    end
    assert.truthy(lookup("ticket-unknown").body:find(
      "El ticket 12345 no existe. Verifica los datos impresos en tu ticket.", 1, true))
    assert.truthy(lookup("ticket-expired").body:find(
      "El ticket excede el plazo para facturar: solo puedes facturar dentro del mes de tu compra.", 1, true))
    local ok = lookup("ticket-vencido")
    assert.equal(200, ok.status)
    assert.truthy(ok.body:find('id="form-fiscal"', 1, true))
    assert.same({ total = 0, by_portal = {} }, H.get_json(srv, "/__attempts"))
  end)

  it("issues through the sombra JSON endpoint", function()
    local t = H.json_file("tests/fixtures/ticket-sombra.json")
    local r = H.http("POST", srv.base .. "/sombra/api/emitir", { json = { folio = t.folio, codigo = t.web_id,
      total = "7499.50", rfc = FISICA.rfc, nombre = FISICA.full_name, cp = FISICA.postal_code,
      regimen = FISICA.fiscal_regime, uso = FISICA.cfdi_use, email = FISICA.email } })
    assert.equal(201, r.status)
    local body = cjson.decode(r.body)
    local xml = H.http("GET", srv.base .. body.xml_url).body
    assert.equal(body.uuid, H.xml_attr(xml, "tfd:TimbreFiscalDigital", "UUID"))
    assert.equal("7499.50", H.xml_attr(xml, "cfdi:Comprobante", "Total"))
  end)

  it("exits on SIGTERM", function()
    local other = H.start()
    assert.is_true(H.alive(other.pid))
    local pid = other.pid
    H.stop(other)
    for _ = 1, 100 do
      if not H.alive(pid) then break end
      os.execute("sleep 0.05")
    end
    assert.is_false(H.alive(pid))
  end)
end)
