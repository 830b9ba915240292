local fieldmap = require "af.fieldmap"

describe("af.fieldmap", function()
  local function k(label, extra)
    local f = extra or {}
    f.label = label
    return fieldmap.classify(f)
  end

  it("reads what a field asks for from Spanish and English labels", function()
    assert.equal("rfc", k("RFC"))
    assert.equal("full_name", k("Nombre o razón social"))
    assert.equal("postal_code", k("Código postal del domicilio fiscal"))
    assert.equal("postal_code", k("C.P."))
    assert.equal("fiscal_regime", k("Régimen fiscal"))
    assert.equal("cfdi_use", k("Uso del CFDI"))
    assert.equal("email", k("Correo electrónico"))
    assert.equal("email_confirm", k("Confirma tu correo electrónico"))
    assert.equal("amount", k("Total pagado"))
    assert.equal("amount", k("Importe"))
    assert.equal("date", k("Fecha de la compra"))
    assert.equal("store", k("Número de estación"))
    assert.equal("web_id", k("Código de facturación"))
    assert.equal("barcode", k("Número de ticket (TC#)"))
    assert.equal("folio", k("Número de transacción (TR#)"))
    assert.equal("folio", k("Número de pedido"))
    assert.equal("consent", k("He leído y acepto el aviso de privacidad."))
    assert.is_nil(k("Comentarios"))
  end)

  it("tells split date fields apart by their selector", function()
    assert.equal("date_day", k("Fecha del consumo", { sel = "#fecha-dia" }))
    assert.equal("date_month", k("Mes", { sel = "#fecha-mes" }))
    assert.equal("date_year", k("Año", { sel = "#fecha-anio" }))
  end)

  it("gives values in the field's format", function()
    local task = { ticket = { amount = 1287.4, date = "2026-10-18", folio = "04817" },
                   profile = { rfc = "ROVL850312HJ5", full_name = "LAURA", email = "l@x.mx",
                               fiscal_regime = "612", cfdi_use = "G03", postal_code = "44160" } }
    assert.equal("1287.40", fieldmap.value("amount", {}, task))
    assert.equal("2026-10-18", fieldmap.value("date", { type = "date" }, task))
    assert.equal("18/10/2026", fieldmap.value("date", { placeholder = "DD/MM/AAAA" }, task))
    assert.equal("18", fieldmap.value("date_day", {}, task))
    assert.equal("2026", fieldmap.value("date_year", {}, task))
    assert.equal("04817", fieldmap.value("folio", {}, task))
    assert.is_nil(fieldmap.value("web_id", {}, task))
  end)

  it("finds SAT codes among option texts", function()
    local options = { { value = "", text = "Selecciona" },
                      { value = "6", text = "601 - General de Ley Personas Morales" },
                      { value = "7", text = "612 - Personas Físicas con Actividades Empresariales" } }
    assert.equal("7", fieldmap.option(options, "612").value)
    assert.is_nil(fieldmap.option(options, "61"))
    assert.equal("G03", fieldmap.option({ { value = "G03", text = "Gastos" } }, "G03").value)
  end)
end)
