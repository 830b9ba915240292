-- Every bundled recipe replayed against its cassettes, with no browser:
-- the same result.json as the live run that recorded it.
local replay = require "replay"
local cjson = require "cjson"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function cassettes()
  local list = {}
  for name in io.popen("ls recipes/cassettes/*.cassette"):lines() do list[#list + 1] = name end
  return list
end

local FIELDS = { "status", "uuid", "failure_reason", "intervention_reason", "recipe", "url" }

describe("recipes replayed against their cassettes", function()
  for _, cassette in ipairs(cassettes()) do
    local name = cassette:match("([^/]+)%.cassette$")
    it(name .. " gives the live run's result.json without a browser", function()
      local live = cjson.decode(read("recipes/cassettes/" .. name .. ".result.json"))
      local r = replay.run { cassette = cassette }
      assert.is_nil(r.divergence, r.stderr)
      assert.is_not_nil(r.result, r.stderr)
      for _, k in ipairs(FIELDS) do assert.same(live[k], r.result[k], k) end
      assert.same(live.verification, r.result.verification)
      assert.same(live.steps, r.result.steps) -- calls, targets, details and recorded times
      local expect = ({ COMPLETED = 0, FAILED = 3, INTERVENTION_NEEDED = 4 })[live.status]
      assert.equal(expect, r.code)
    end)
  end

  it("covers every recipe with at least one cassette", function()
    local covered = {}
    for _, cassette in ipairs(cassettes()) do covered[replay.meta(cassette).recipe] = true end
    for file in io.popen("ls recipes/*.lua"):lines() do
      assert.is_true(covered[file] == true, file .. " has no cassette in recipes/cassettes/")
    end
  end)
end)

describe("a recipe that left its recording", function()
  local dir
  before_each(function() dir = io.popen("mktemp -d /tmp/af-diverge.XXXXXX"):read("l") end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  it("stops with the step, both commands and the recipe's file:line", function()
    local src = read("recipes/larga.lua")
    local changed, n = src:gsub('page:click%("#facturar"%)', 'page:click("#facturar-ahora")')
    assert.equal(1, n, "recipes/larga.lua clicks #facturar once")
    local recipe = dir .. "/larga.lua"
    local f = assert(io.open(recipe, "wb"))
    f:write(changed)
    f:close()
    local line = 0
    for l in changed:gmatch("([^\n]*)\n") do
      line = line + 1
      if l:find("#facturar-ahora", 1, true) then break end
    end
    local r = replay.run { cassette = "recipes/cassettes/larga.cassette", recipe = recipe }
    assert.equal(5, r.code, r.stderr)
    assert.is_not_nil(r.divergence, r.stderr)
    assert.matches("click #facturar%-ahora", r.divergence.step)
    assert.equal(recipe .. ":" .. line, r.divergence.recipe)
    assert.matches('"sel\\":\\"#facturar\\"', r.divergence.expected, 1, true)
    assert.matches('"sel\\":\\"#facturar-ahora\\"', r.divergence.sent, 1, true)
    assert.equal("FAILED", r.result.status)
    assert.matches("replay diverged at step", r.result.failure_reason, 1, true)
  end)

  it("refuses a file that is not a cassette", function()
    local bad = dir .. "/bad.cassette"
    local f = assert(io.open(bad, "wb"))
    f:write("hello\n")
    f:close()
    local r = replay.run { cassette = bad }
    assert.equal(2, r.code)
    assert.matches("not an autofactura cassette", r.stderr, 1, true)
  end)
end)
