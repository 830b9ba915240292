-- Shared checks for the recipe specs (fast tier, no browser): load a recipe file in an
-- environment that behaves like the Recipe API v1 sandbox (only allowed globals, reading
-- an undefined global or creating a new one raises), list the globals its bytecode
-- touches (luac5.4 -l), and check the metadata every bundled-portal recipe must have.
local assert = require "luassert"

local M = {}

M.PORTALS = { "larga", "asistente", "spa", "marco", "sombra", "captcha", "vencido" }

-- Base functions and libraries the sandbox offers (no io, no load*/dofile; require only
-- for the runtime's own af.* modules, as core/script.c's sandbox_require).
M.ALLOWED = {}
for _, k in ipairs({ "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
  "tostring", "type", "xpcall", "setmetatable", "getmetatable", "rawequal", "rawget", "rawlen",
  "rawset", "string", "table", "math", "utf8", "os", "_VERSION" }) do
  M.ALLOWED[k] = true
end

M.ALLOWED.require = true
local function af_require(mod)
  assert(type(mod) == "string" and mod:match("^af%.[%w_.]+$"), "recipes may require only af.* modules")
  return require(mod)
end

function M.path(name)
  return "recipes/" .. name .. ".lua"
end

-- Load a recipe file in a strict sandbox-like environment and return its table.
function M.load(name)
  local env = setmetatable({}, {
    __index = function(_, k)
      if k == "require" then return af_require end
      if M.ALLOWED[k] then return _G[k] end
      error("recipe reads undefined global '" .. tostring(k) .. "'", 2)
    end,
    __newindex = function(_, k)
      error("recipe assigns new global '" .. tostring(k) .. "'", 2)
    end,
  })
  local chunk = assert(loadfile(M.path(name), "t", env))
  return chunk()
end

-- Names of the globals the compiled recipe reads and writes, from luac's listing.
function M.globals(name)
  local p = assert(io.popen("luac5.4 -p -l -l " .. M.path(name) .. " 2>&1"))
  local listing = p:read("a")
  assert.is_true(p:close(), "luac5.4 failed on " .. M.path(name) .. ": " .. listing)
  local reads, writes = {}, {}
  for op, g in listing:gmatch("([GS]ETTABUP)[^\n]-_ENV \"([^\"]+)\"") do
    if op == "GETTABUP" then reads[g] = true else writes[g] = true end
  end
  return reads, writes
end

-- The checks every portal recipe spec runs; `it` is busted's.
function M.common(name, it)
  local recipe = M.load(name)

  it("returns a table named after its portal with a run function", function()
    assert.is_table(recipe)
    assert.equal(name, recipe.name)
    assert.is_function(recipe.run)
    assert.is_function(recipe.match)
  end)

  it("claims its portal URL on 127.0.0.1 and on localhost", function()
    for _, base in ipairs({ "http://127.0.0.1:12345", "http://localhost:12345", "https://localhost:8443" }) do
      assert.is_true(recipe.match(base .. "/" .. name .. "/"), base .. "/" .. name .. "/")
      assert.is_true(recipe.match(base .. "/" .. name .. "/form?x=1"), base .. "/" .. name .. "/form?x=1")
    end
  end)

  it("refuses the other portals' URLs and look-alikes", function()
    for _, other in ipairs(M.PORTALS) do
      if other ~= name then
        assert.is_false(recipe.match("http://127.0.0.1:12345/" .. other .. "/"), other)
        assert.is_false(recipe.match("http://localhost:12345/" .. other .. "/"), other)
      end
    end
    assert.is_false(recipe.match("http://127.0.0.1:12345/"))
    assert.is_false(recipe.match("http://127.0.0.1:12345/x/" .. name .. "/"))
    assert.is_false(recipe.match("http://127.0.0.1:12345/" .. name .. "s/"))
  end)

  it("touches only globals the sandbox offers and creates none", function()
    local reads, writes = M.globals(name)
    for g in pairs(reads) do
      assert.is_true(M.ALLOWED[g] == true, "reads global '" .. g .. "'")
    end
    assert.same({}, writes)
  end)

  it("never logs the receptor's RFC, name or e-mail", function()
    local f = assert(io.open(M.path(name)))
    local src = f:read("a")
    f:close()
    for call in src:gmatch("task:log(%b())") do
      assert.is_nil(call:find("profile", 1, true), call)
      assert.is_nil(call:find("p%.%a"), call)
    end
  end)
end

return M
