-- The fixtures the recipes and the integration tier use (tests/fixtures/) agree with the
-- portals' own data (tests/portals/tickets.json) and with SAT's rules: profile RFCs carry a
-- valid check digit, régimen fits the person type and uso fits the régimen (catalogs in
-- tests/portals/data/).
local cjson = require "cjson"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local function json(path) return cjson.decode(read(path)) end

-- Minimal CSV reader for the two catalogs (quoted fields may hold commas).
local function csv(path)
  local rows, head = {}, nil
  for line in read(path):gmatch("[^\r\n]+") do
    local cells, pos = {}, 1
    while pos <= #line + 1 do
      if line:sub(pos, pos) == '"' then
        local close = line:find('"', pos + 1, true)
        cells[#cells + 1] = line:sub(pos + 1, close - 1)
        pos = close + 2
      else
        local comma = line:find(",", pos, true) or (#line + 1)
        cells[#cells + 1] = line:sub(pos, comma - 1)
        pos = comma + 1
      end
    end
    if head == nil then head = cells else
      local row = {}
      for i, h in ipairs(head) do row[h] = cells[i] end
      rows[row.code] = row
    end
  end
  return rows
end

-- SAT RFC check digit (cfdi-domain.md §1.3); utf8-aware for Ñ.
local TABLE = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"
local VALUE = {}
do
  local i = 0
  for _, c in utf8.codes(TABLE) do VALUE[utf8.char(c)] = i; i = i + 1 end
end
local function check_digit(rfc)
  local chars = {}
  for _, c in utf8.codes(rfc) do chars[#chars + 1] = utf8.char(c) end
  table.remove(chars)
  if #chars == 11 then table.insert(chars, 1, " ") end
  local sum = 0
  for i, ch in ipairs(chars) do sum = sum + VALUE[ch] * (14 - i) end
  local r = sum % 11
  return r == 0 and "0" or r == 1 and "A" or tostring(11 - r)
end

local REG = csv("tests/portals/data/c_RegimenFiscal.csv")
local USO = csv("tests/portals/data/c_UsoCFDI.csv")
local TICKETS = json("tests/portals/tickets.json")

describe("the RFC check digit used to make the fixtures", function()
  it("matches SAT's published vectors", function()
    for rfc in ("COSC8001137NA SAT970701NN3 CAMA911215CJ0 SORC591116FJ6 DIM8701081LA A&A050908GT0 AÑÑ801231JK0"):gmatch("%S+") do
      assert.equal(rfc:sub(-1), check_digit(rfc), rfc)
    end
    assert.not_equal("0", check_digit("XAXX010101000"))
  end)
end)

describe("profile fixtures", function()
  for _, case in ipairs({ { "profile-fisica", 13, "fisica" }, { "profile-moral", 12, "moral" } }) do
    local name, len, kind = case[1], case[2], case[3]
    local p = json("tests/fixtures/" .. name .. ".json")

    it(name .. " has a well-formed RFC with a valid check digit", function()
      assert.equal(len, utf8.len(p.rfc))
      assert.truthy(p.rfc:match("^[A-Z&]+%d%d%d%d%d%d[A-Z%d][A-Z%d][A%d]$"))
      assert.equal(p.rfc:sub(-1), check_digit(p.rfc))
    end)

    it(name .. " has a régimen for its person type and a uso allowed for that régimen", function()
      assert.is_table(REG[p.fiscal_regime])
      assert.equal("1", REG[p.fiscal_regime][kind])
      assert.is_table(USO[p.cfdi_use])
      assert.equal("1", USO[p.cfdi_use][kind])
      assert.truthy(("|" .. USO[p.cfdi_use].regimenes .. "|"):find("|" .. p.fiscal_regime .. "|", 1, true))
    end)

    it(name .. " has an upper-case name, a 5-digit CP and an e-mail", function()
      assert.truthy(#p.full_name > 0)
      assert.equal(p.full_name:upper(), p.full_name)
      assert.is_nil(p.full_name:find("S%.?A%.? DE C%.?V"))
      assert.truthy(p.postal_code:match("^%d%d%d%d%d$"))
      assert.truthy(p.email:match("^[^@%s]+@[^@%s]+%.[a-z]+$"))
    end)
  end
end)

describe("ticket fixtures", function()
  local function known(portal, t)
    for _, k in ipairs(TICKETS[portal]) do
      local same = true
      for key, v in pairs(t) do
        if key == "date" and k.date == "today" then
          same = same and v:match("^%d%d%d%d%-%d%d%-%d%d$") ~= nil
        elseif k[key] ~= v then
          same = false
        end
      end
      if same then return k end
    end
    return nil
  end

  for _, portal in ipairs({ "larga", "asistente", "spa", "marco", "sombra", "captcha", "vencido" }) do
    it("ticket-" .. portal .. " is a ticket its portal knows, amount with cents", function()
      local t = json("tests/fixtures/ticket-" .. portal .. ".json")
      assert.is_table(known(portal, t), "not in tickets.json")
      assert.is_number(t.amount)
      assert.equal(t.amount, tonumber(string.format("%.2f", t.amount)))
      assert.truthy(t.date:match("^%d%d%d%d%-%d%d%-%d%d$"))
      assert.is_string(t.folio)
      assert.is_string(t.concept)
    end)
  end

  it("ticket-expired is a known vencido ticket dated before the current month", function()
    local t = json("tests/fixtures/ticket-expired.json")
    local k = known("vencido", t)
    assert.is_table(k)
    assert.truthy(k.date < os.date("!%Y-%m", os.time() - 6 * 3600))
  end)

  it("ticket-unknown is not a vencido ticket", function()
    local t = json("tests/fixtures/ticket-unknown.json")
    for _, k in ipairs(TICKETS.vencido) do assert.not_equal(k.folio, t.folio) end
  end)
end)
