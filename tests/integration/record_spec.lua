-- Recording: what a cassette must never hold (profile secrets, portal
-- credentials, cookie values), and that a fresh recording replays to the
-- live run's result.
local cli = require "cli_helper"
local portals = require "integration.portal_helper"
local replay = require "replay"
local cjson = require "cjson"

local T = "tests/fixtures/ticket-larga.json"
local P = "tests/fixtures/profile-fisica.json"

describe("autofactura run --record", function()
  local srv, dir
  setup(function() srv = portals.start() end)
  teardown(function() portals.stop(srv) end)
  before_each(function()
    dir = cli.tmpdir()
    os.execute("curl -s -X POST " .. srv.base .. "/__reset >/dev/null")
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  it("writes no secret, credential or cookie value", function()
    local creds = cli.write(dir .. "/creds.json",
      '{"username": "laura.portal.user", "password": "Contraseña-Muy-Secreta-42"}')
    local recipe = cli.write(dir .. "/leaky.lua", table.concat({
      "return { run = function(task, page)",
      "  local cookie = page:evaluate('document.cookie')",
      "  task:log(cookie:find('sc_visita=', 1, true) and 'visit cookie read' or 'no visit cookie')",
      "  page:fill('#email', task:secret('password'))",
      "  page:fill('#email2', task:secret('username'))",
      "  page:fill('#rfc', task.profile.rfc)",
      "  page:fill('#razon_social', task.profile.full_name)",
      "  assert(page:value('#rfc') == task.profile.rfc)",
      "  task:fail('recorded')",
      "end }" }, "\n"))
    local cassette = dir .. "/leaky.cassette"
    local r = cli.run(string.format("run --url %s/larga/ --ticket %s --profile %s --credentials %s --recipe %s --record %s --out %s --quiet",
      srv.base, T, P, creds, recipe, cassette, dir .. "/out"))
    assert.equal(3, r.code, r.stderr)
    local steps = cjson.decode(cli.read(dir .. "/out/result.json")).steps
    assert.equal("visit cookie read", steps[3].detail, "the live run read the cookie")
    local text = cli.read(cassette)
    assert.truthy(#text > 1000)
    local profile = cjson.decode(cli.read(P))
    for _, secret in ipairs({ "laura.portal.user", "Contraseña-Muy-Secreta-42", profile.rfc,
                              profile.full_name, profile.email, "sc_visita=" }) do
      assert.is_nil(text:find(secret, 1, true), "the cassette holds " .. secret)
    end
    assert.truthy(text:find("{{credentials.password}}", 1, true))
    assert.truthy(text:find("{{profile.rfc}}", 1, true))
    assert.truthy(text:find("[redacted]", 1, true))
    -- and it replays, given a profile, with the secrets standing in again
    local rp = replay.run { cassette = cassette, profile = P }
    assert.is_nil(rp.divergence, rp.stderr)
  end)

  it("replays a fresh recording to the live run's result, at least 50 times faster", function()
    local cassette = dir .. "/larga.cassette"
    local t0 = os.time()
    local clock0 = io.popen("date +%s%N"):read("l")
    local r = cli.run(string.format("run --url %s/larga/ --ticket %s --profile %s --record %s --record-profile %s --out %s --quiet",
      srv.base, T, P, cassette, P, dir .. "/live"))
    local live_ns = tonumber(io.popen("date +%s%N"):read("l")) - tonumber(clock0)
    assert.equal(0, r.code, r.stderr)
    local live = cjson.decode(cli.read(dir .. "/live/result.json"))
    local c1 = io.popen("date +%s%N"):read("l")
    local timed = cli.run(string.format("replay --cassette %s --out %s --quiet", cassette, dir .. "/replayed"),
                          "PATH=/nonexistent")
    local replay_ns = tonumber(io.popen("date +%s%N"):read("l")) - tonumber(c1)
    assert.equal(0, timed.code, timed.stderr)
    local rp = replay.run { cassette = cassette }
    assert.equal(0, rp.code, rp.stderr)
    assert.equal(live.uuid, rp.result.uuid)
    assert.same(live.steps, rp.result.steps)
    assert.truthy(os.time() - t0 < 120)
    -- both timed through the same shell launch
    assert.truthy(live_ns / replay_ns >= 50, string.format("live %.0f ms, replay %.0f ms",
      live_ns / 1e6, replay_ns / 1e6))
  end)
end)
