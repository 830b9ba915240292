-- End to end: the autofactura binary ($AF_BIN) runs the bundled recipe of each test portal
-- (chosen by the recipe's match on the URL) in real Chromium, against a fresh
-- tests/portals/server.js. The portal's own records are the witness: the invoice the run
-- reports must be the one the portal issued, to the receptor in the profile.
local H = require "integration.portal_helper"

local BIN = os.getenv("AF_BIN")

-- The recipes of this checkout, whatever the binary's built-in default directory is.
local RECIPES = (function()
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir .. "/recipes"
end)()

-- Run one task; returns exit code, decoded result.json (or nil) and the run's log text.
local function run(srv, portal, ticket, profile)
  local out = H.tmpdir()
  local cmd = string.format("AF_RECIPES_DIR=%s timeout 240 %s run --url %s --ticket tests/fixtures/%s.json"
    .. " --profile tests/fixtures/%s.json --out %s >%s/log 2>&1",
    H.shq(RECIPES), H.shq(BIN), H.shq(srv.base .. "/" .. portal .. "/"), ticket, profile, out, out)
  local _, _, code = os.execute(cmd)
  local text = H.read(out .. "/result.json")
  local log = "exit " .. tostring(code) .. "\n" .. (H.read(out .. "/log") or "") .. "\nresult.json: " .. tostring(text)
  return code, text and require("cjson").decode(text), log
end

-- Start a server, run `body(srv)`, always stop the server.
local function with_portal(body)
  local srv = H.start()
  finally(function() H.stop(srv) end)
  body(srv)
end

describe("recipes against the bundled portals", function()
  setup(function()
    assert(BIN, "AF_BIN names the built autofactura binary")
  end)

  for _, case in ipairs({
    { "larga", "ticket-larga", "profile-fisica" },
    { "asistente", "ticket-asistente", "profile-moral" },
    { "spa", "ticket-spa", "profile-fisica" },
    { "marco", "ticket-marco", "profile-moral" },
    { "sombra", "ticket-sombra", "profile-fisica" },
    { "vencido", "ticket-vencido", "profile-moral" },
  }) do
    local portal, ticket, profile = case[1], case[2], case[3]
    it(portal .. ": completes with the invoice the portal issued to the profile's receptor", function()
      with_portal(function(srv)
        local code, res, log = run(srv, portal, ticket, profile)
        assert.equal(0, code, log)
        assert.equal("COMPLETED", res.status, log)
        assert.is_string(res.uuid, log)
        local xml = H.read(res.cfdi_xml)
        assert.is_string(xml, "result.cfdi_xml is not readable: " .. tostring(res.cfdi_xml))
        local xml_uuid = H.xml_attr(xml, "tfd:TimbreFiscalDigital", "UUID")
        assert.equal(xml_uuid:upper(), res.uuid:upper())
        local t = H.json_file("tests/fixtures/" .. ticket .. ".json")
        assert.equal(string.format("%.2f", t.amount), H.xml_attr(xml, "cfdi:Comprobante", "Total"))

        local records = H.get_json(srv, "/__records")
        assert.equal(1, #records)
        assert.equal(portal, records[1].portal)
        assert.equal(res.uuid:upper(), records[1].uuid)
        assert.same(H.receptor_of(H.json_file("tests/fixtures/" .. profile .. ".json")), records[1].receptor)
      end)
    end)
  end

  it("captcha: stops for a human before submitting anything", function()
    with_portal(function(srv)
      local code, res, log = run(srv, "captcha", "ticket-captcha", "profile-fisica")
      assert.equal(4, code, log)
      assert.equal("INTERVENTION_NEEDED", res.status, log)
      assert.same({ total = 0, by_portal = {} }, H.get_json(srv, "/__attempts"))
      assert.same({}, H.get_json(srv, "/__records"))
    end)
  end)

  for _, case in ipairs({
    { "ticket-expired", "El ticket excede el plazo para facturar: solo puedes facturar dentro del mes de tu compra." },
    { "ticket-unknown", "El ticket 12345 no existe. Verifica los datos impresos en tu ticket." },
  }) do
    it("vencido with " .. case[1] .. ": fails with the portal's own message", function()
      with_portal(function(srv)
        local code, res, log = run(srv, "vencido", case[1], "profile-fisica")
        assert.equal(3, code, log)
        assert.equal("FAILED", res.status, log)
        assert.is_string(res.failure_reason, log)
        assert.truthy(res.failure_reason:find(case[2], 1, true), log)
        assert.same({}, H.get_json(srv, "/__records"))
        assert.same({ total = 0, by_portal = {} }, H.get_json(srv, "/__attempts"))
      end)
    end)
  end
end)
