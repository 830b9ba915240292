local draft = require "af.draft"

describe("af.draft", function()
  local ticket = { folio = "883917", amount = 850.37, date = "2026-11-03", store = "10427" }
  local profile = { rfc = "ROVL850312HJ5", full_name = "Laura Romero", fiscal_regime = "612" }

  it("writes ticket and profile values as task expressions", function()
    local text = draft.render({
      { kind = "fill", sel = "#folio", value = "8", label = "Folio" },
      { kind = "fill", sel = "#folio", value = "883917", label = "Folio" },
      { kind = "fill", sel = "#total", value = "850.37", label = "Total" },
      { kind = "fill", sel = "#fecha", value = "03/11/2026" },
      { kind = "fill", sel = "#nombre", value = "LAURA ROMERO" },
      { kind = "fill", sel = "#nota", value = "hola" },
      { kind = "select", sel = "#regimen", value = "612", label = "Régimen", option = "612 - Personas Físicas" },
      { kind = "check", sel = "#acepto", checked = true },
      { kind = "click", sel = "#facturar", text = "Facturar" },
      { kind = "click", sel = "#xml", text = "Descargar XML", download = true },
    }, { url = "http://127.0.0.1:8080/larga/?x=1", ticket = ticket, profile = profile })
    assert.matches('page:fill("#folio", task.ticket.folio) -- Folio', text, 1, true)
    assert.is_nil(text:find('"8"', 1, true), "an earlier value of the same field is dropped")
    assert.matches('page:fill("#total", fmt.amount(task.ticket.amount)) -- Total', text, 1, true)
    assert.matches('fmt.date(task.ticket.date, "DD/MM/YYYY")', text, 1, true)
    assert.matches("task.profile.full_name:upper()", text, 1, true)
    assert.matches('page:fill("#nota", "hola") -- (typed as recorded)', text, 1, true)
    assert.matches('page:select("#regimen", { value = task.profile.fiscal_regime })', text, 1, true)
    assert.matches('local xml = page:download("#xml")', text, 1, true)
    assert.matches("task:done{ xml = xml }", text, 1, true)
    assert.matches('url:sub(1, 28) == "http://127.0.0.1:8080/larga/"', text, 1, true)
    local chunk = assert(load(text, "=draft", "t", { require = function() return {} end }))
    local recipe = chunk()
    assert.is_function(recipe.run)
    assert.is_true(recipe.match("http://127.0.0.1:8080/larga/"))
  end)

  it("says so when no download was recorded", function()
    local text = draft.render({ { kind = "click", sel = "#go" } }, { url = "http://x/" })
    assert.matches("no invoice download was recorded", text, 1, true)
    assert.is_nil(text:find("require", 1, true))
  end)
end)
