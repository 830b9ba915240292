-- The generic fallback, with no per-portal code and no LLM: it completes
-- every bundled portal that a hand-written recipe completes, stops on the
-- CAPTCHA before submitting anything, fails expired and unknown tickets with
-- the portal's message, and each recipe it learns completes its portal.
local H = require "integration.portal_helper"
local cli = require "cli_helper"
local cjson = require "cjson"

local function run(srv, portal, ticket, profile, extra, out)
  local r = cli.run(string.format("run --url %s/%s/ --ticket tests/fixtures/%s.json --profile tests/fixtures/%s.json --out %s --quiet %s",
    srv.base, portal, ticket, profile, out, extra))
  local text = cli.read(out .. "/result.json")
  return r, text and cjson.decode(text)
end

describe("the generic fallback", function()
  local srv, dir
  setup(function() srv = H.start() end)
  teardown(function() H.stop(srv) end)
  before_each(function()
    dir = cli.tmpdir()
    os.execute("curl -s -X POST " .. srv.base .. "/__reset >/dev/null")
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  for _, case in ipairs({
    { "larga", "ticket-larga", "profile-fisica" },
    { "asistente", "ticket-asistente", "profile-moral" },
    { "spa", "ticket-spa", "profile-fisica" },
    { "marco", "ticket-marco", "profile-moral" },
    { "sombra", "ticket-sombra", "profile-fisica" },
    { "vencido", "ticket-vencido", "profile-moral" },
  }) do
    local portal, ticket, profile = case[1], case[2], case[3]
    it(portal .. ": completes, and the recipe it learns completes too", function()
      local learned = dir .. "/learned.lua"
      local r, res = run(srv, portal, ticket, profile, "--recipe generic --save-recipe " .. learned, dir .. "/fallback")
      assert.equal(0, r.code, r.stdout .. r.stderr)
      assert.equal("COMPLETED", res.status)
      assert.equal("lua/af/generic.lua", res.recipe)
      assert.is_true(res.verification.ok)
      local text = cli.read(learned)
      assert.truthy(text and text:find("task.profile.rfc", 1, true), "the learned recipe names its fields")
      -- the portal issues one invoice per ticket: start afresh for the learned recipe
      os.execute("curl -s -X POST " .. srv.base .. "/__reset >/dev/null")
      local r2, res2 = run(srv, portal, ticket, profile, "--recipe " .. learned, dir .. "/learned")
      assert.equal(0, r2.code, r2.stdout .. r2.stderr)
      assert.equal("COMPLETED", res2.status)
      for _, s in ipairs(res2.steps) do assert.not_equal("snapshot", s.action) end
    end)
  end

  it("captcha: INTERVENTION_NEEDED before anything is submitted", function()
    local p = io.popen("curl -s " .. srv.base .. "/__attempts")
    local a0 = cjson.decode(p:read("a"))
    p:close()
    local r, res = run(srv, "captcha", "ticket-captcha", "profile-moral", "--recipe generic", dir .. "/c")
    assert.equal(4, r.code, r.stdout .. r.stderr)
    assert.equal("INTERVENTION_NEEDED", res.status)
    assert.matches("captcha", res.intervention_reason, 1, true)
    p = io.popen("curl -s " .. srv.base .. "/__attempts")
    local a1 = cjson.decode(p:read("a"))
    p:close()
    assert.equal(a0.total, a1.total)
  end)

  for _, t in ipairs({ { "ticket-expired", "excede el plazo" }, { "ticket-unknown", "no existe" } }) do
    it(t[1] .. ": FAILED with the portal's own message", function()
      local r, res = run(srv, "vencido", t[1], "profile-fisica", "--recipe generic", dir .. "/v")
      assert.equal(3, r.code, r.stdout .. r.stderr)
      assert.equal("FAILED", res.status)
      assert.matches(t[2], res.failure_reason, 1, true)
    end)
  end

  it("runs for a URL no recipe claims", function()
    local empty = dir .. "/no-recipes"
    os.execute("mkdir -p " .. empty)
    local r = cli.run(string.format("run --url %s/larga/ --ticket tests/fixtures/ticket-larga.json --profile tests/fixtures/profile-fisica.json --out %s --quiet",
      srv.base, dir .. "/u"), "AF_RECIPES_DIR=" .. empty)
    assert.equal(0, r.code, r.stdout .. r.stderr)
    assert.equal("lua/af/generic.lua", cjson.decode(cli.read(dir .. "/u/result.json")).recipe)
  end)
end)
