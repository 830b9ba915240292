-- cfdi_cli_spec.lua -- `autofactura validate` and `autofactura verify`:
-- exit codes and the one-line messages on stderr.
local FIX = "tests/fixtures/cfdi/"

local function run(args)
  local bin = assert(os.getenv("AF_BIN"), "AF_BIN names the built binary")
  local err = os.tmpname()
  local p = io.popen(bin .. " " .. args .. " 2>" .. err)
  local out = p:read("a")
  local _, _, code = p:close()
  local f = io.open(err, "rb")
  local stderr = f:read("a")
  f:close()
  os.remove(err)
  return code, out, stderr
end

local function temp(content)
  local path = os.tmpname()
  local f = io.open(path, "wb")
  f:write(content)
  f:close()
  return path
end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

describe("autofactura validate", function()
  it("prints its usage with --help", function()
    local code, out = run("validate --help")
    assert.equal(0, code)
    assert.matches("usage: autofactura validate %-%-profile", out)
  end)

  it("accepts a valid profile and ticket", function()
    local code, out, err = run("validate --profile " .. FIX .. "profile_fisica.json --ticket "
                               .. FIX .. "ticket_fisica.json")
    assert.equal(0, code)
    assert.matches("^ok: CFDI 4.0 checks passed %(0 warning", out)
    assert.equal("", err)
  end)

  it("prints warnings and still exits 0", function()
    local code, _, err = run("validate --profile " .. FIX .. "profile_moral.json")
    assert.equal(0, code)
    assert.same({ "warning: profile.full_name: the régimen capital is left out of Nombre, "
                  .. "as CFDI 4.0 requires" }, lines(err))
  end)

  it("lists every error at once, one per line, and exits 2", function()
    local code, out, err = run("validate --profile " .. FIX .. "profile_bad.json")
    assert.equal(2, code)
    assert.equal("", out)
    assert.same({
      "error: profile.rfc: date part is not a real calendar date (RFC format)",
      "error: profile.cfdi_use: uso G01 is not allowed with régimen 605 (c_UsoCFDI)",
      "error: profile.postal_code: must be 5 digits (DomicilioFiscalReceptor)",
      "error: profile.email: is not an e-mail address",
      "autofactura validate: 4 error(s), 0 warning(s)",
    }, lines(err))
    assert.is_nil(err:find("PEGJ", 1, true)) -- the RFC never shows
  end)

  it("refuses a bad ticket and a missing or broken input", function()
    local ticket = temp('{"folio":"","amount":"12,50","date":"2026-13-01"}')
    local code, _, err = run("validate --profile " .. FIX .. "profile_fisica.json --ticket "
                             .. ticket)
    os.remove(ticket)
    assert.equal(2, code)
    assert.matches("error: ticket.folio: is required\n", err, 1, true)
    assert.matches("error: ticket.amount: must be a positive number", err, 1, true)
    assert.matches("error: ticket.date: must be a real date YYYY%-MM%-DD", err)

    code, _, err = run("validate")
    assert.equal(2, code)
    assert.matches("%-%-profile is required", err)
    local broken = temp("{not json")
    code, _, err = run("validate --profile " .. broken)
    os.remove(broken)
    assert.equal(2, code)
    assert.matches("%-%-profile: not a JSON object", err)
    code, _, err = run("validate --profile /nonexistent.json")
    assert.equal(2, code)
    assert.matches("/nonexistent.json", err, 1, true)
  end)
end)

describe("autofactura verify", function()
  it("prints the UUID of a matching CFDI and exits 0", function()
    local code, out, err = run("verify " .. FIX .. "fisica.xml --profile " .. FIX
                               .. "profile_fisica.json --ticket " .. FIX .. "ticket_fisica.json")
    assert.equal(0, code)
    assert.equal("5B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D\n", out)
    assert.equal("", err)
  end)

  it("names each differing field with both values and exits 3", function()
    local code, out, err = run("verify " .. FIX .. "fisica.xml --profile " .. FIX
                               .. "profile_moral.json --ticket " .. FIX .. "ticket_fisica.json")
    assert.equal(3, code)
    assert.equal("", out)
    assert.same({
      "mismatch: Receptor.Rfc: differs from profile.rfc",
      'mismatch: Receptor.Nombre: is "JUAN PÉREZ GÓMEZ", profile.full_name is '
        .. '"ABARROTES COMERCIALES DEL NORTE"',
      'mismatch: Receptor.DomicilioFiscalReceptor: is "06600", profile.postal_code is "64000"',
      'mismatch: Receptor.RegimenFiscalReceptor: is "612", profile.fiscal_regime is "601"',
      'mismatch: Receptor.UsoCFDI: is "G03", profile.cfdi_use is "G01"',
    }, lines(err))
    assert.is_nil(err:find("ACO0102034H6", 1, true))
    assert.is_nil(err:find("PEGJ850312QR3", 1, true))
  end)

  it("fails an unstamped or 3.3 CFDI with exit 3", function()
    local code, _, err = run("verify " .. FIX .. "unstamped.xml --profile " .. FIX
                             .. "profile_fisica.json")
    assert.equal(3, code)
    assert.matches("mismatch: TimbreFiscalDigital: is missing", err, 1, true)
    code, _, err = run("verify " .. FIX .. "cfdi33.xml --profile " .. FIX .. "profile_fisica.json")
    assert.equal(3, code)
    assert.matches('mismatch: Comprobante.Version: is "3.3", expected "4.0"', err, 1, true)
  end)

  it("refuses hostile or missing input with exit 2", function()
    local xxe = temp('<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                     .. '<c>&x;</c>')
    local code, _, err = run("verify " .. xxe .. " --profile " .. FIX .. "profile_fisica.json")
    os.remove(xxe)
    assert.equal(2, code)
    assert.equal("autofactura verify: xml: DOCTYPE and ENTITY declarations are not allowed "
                 .. "in a CFDI\n", err)
    code, _, err = run("verify --profile " .. FIX .. "profile_fisica.json")
    assert.equal(2, code)
    assert.matches("FILE.xml is required", err, 1, true)
    local partial = temp('{"rfc":"PEGJ850312QR3","full_name":"Juan"}')
    code, _, err = run("verify " .. FIX .. "fisica.xml --profile " .. partial)
    os.remove(partial)
    assert.equal(2, code)
    assert.equal("autofactura verify: profile.fiscal_regime: is required\n", err)
    code = run("verify --help")
    assert.equal(0, code)
  end)
end)
