-- record-recipe, headless with a scripted list of actions: the draft names
-- the ticket and profile fields and completes the portal on its own.
local cli = require "cli_helper"
local portals = require "integration.portal_helper"

describe("autofactura record-recipe", function()
  local srv, dir
  setup(function() srv = portals.start() end)
  teardown(function() portals.stop(srv) end)
  before_each(function() dir = cli.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  it("turns scripted actions into a draft that completes the portal", function()
    local draft = dir .. "/draft.lua"
    local r = cli.run(string.format("record-recipe --url %s/larga/ --out %s --actions tests/fixtures/actions-larga.json"
      .. " --ticket tests/fixtures/ticket-larga.json --profile tests/fixtures/profile-fisica.json --name larga-draft",
      srv.base, draft))
    assert.equal(0, r.code, r.stderr)
    assert.matches("15 actions recorded", r.stderr, 1, true)
    local text = cli.read(draft)
    assert.matches('page:fill("#rfc", task.profile.rfc) -- RFC', text, 1, true)
    assert.matches('page:fill("#total", fmt.amount(task.ticket.amount))', text, 1, true)
    assert.matches('page:select("#regimen_fiscal", { value = task.profile.fiscal_regime })', text, 1, true)
    assert.matches('local xml = page:download("#descargar-xml")', text, 1, true)
    assert.is_nil(text:find("ROVL850312HJ5", 1, true), "no literal profile value")
    os.execute("curl -s -X POST " .. srv.base .. "/__reset >/dev/null")
    local run = cli.run(string.format("run --url %s/larga/ --ticket tests/fixtures/ticket-larga.json"
      .. " --profile tests/fixtures/profile-fisica.json --recipe %s --out %s --quiet", srv.base, draft, dir .. "/out"))
    assert.equal(0, run.code, run.stdout .. run.stderr)
    assert.matches("^COMPLETED uuid=", run.stdout)
  end)
end)
