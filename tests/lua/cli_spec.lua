-- The command line without a browser: help, and bad input refused with one
-- line naming the problem and exit code 2.
local cli = require "cli_helper"

local T = "tests/fixtures/ticket-larga.json"
local P = "tests/fixtures/profile-fisica.json"

describe("autofactura", function()
  it("prints help for itself and every subcommand, exit 0", function()
    for _, sub in ipairs({ "", "run ", "replay ", "record-recipe ", "validate ", "verify " }) do
      local r = cli.run(sub .. "--help")
      assert.equal(0, r.code, sub)
      assert.matches("usage: autofactura", r.stdout, 1, true)
    end
  end)

  it("refuses an unknown command with exit 2", function()
    local r = cli.run("frobnicate")
    assert.equal(2, r.code)
    assert.matches("unknown command 'frobnicate'", r.stderr, 1, true)
  end)
end)

describe("autofactura run refuses bad input before any browser starts", function()
  local dir
  before_each(function() dir = cli.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  local function refused(args, pattern)
    local r = cli.run("run " .. args .. " --out " .. dir .. "/out")
    assert.equal(2, r.code, r.stderr)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches(pattern, r.stderr, 1, true)
    assert.is_nil(io.open(dir .. "/out/result.json"), "no task ran")
    return r
  end

  it("names a missing option", function()
    refused("--ticket " .. T .. " --profile " .. P, "--url is required")
    refused("--url http://127.0.0.1:9/ --profile " .. P, "--ticket is required")
  end)

  it("refuses a URL that is not http(s)", function()
    refused("--url file:///etc/passwd --ticket " .. T .. " --profile " .. P,
            "--url must be an http:// or https:// URL")
  end)

  it("names an unreadable file", function()
    refused("--url http://127.0.0.1:9/ --ticket /nonexistent.json --profile " .. P,
            "ticket: cannot read /nonexistent.json")
  end)

  it("names malformed JSON", function()
    local t = cli.write(dir .. "/t.json", '{"folio": "1", "amount": ')
    refused("--url http://127.0.0.1:9/ --ticket " .. t .. " --profile " .. P,
            "ticket: malformed JSON")
  end)

  it("lists every missing or invalid field at once, without the RFC itself", function()
    local p = cli.write(dir .. "/p.json",
      '{"rfc": "GODE561231GR9", "full_name": "ERIKA", "fiscal_regime": "601", "email": "x"}')
    local r = refused("--url http://127.0.0.1:9/ --ticket " .. T .. " --profile " .. p,
                      "profile.postal_code")
    assert.matches("profile.cfdi_use", r.stderr, 1, true)
    assert.matches("profile.fiscal_regime", r.stderr, 1, true)
    assert.matches("profile.email", r.stderr, 1, true)
    assert.is_nil(r.stderr:find("GODE561231GR9", 1, true))
  end)

  it("refuses a bad AF_BROWSER by name", function()
    local r = cli.run("run --url http://127.0.0.1:9/ --ticket " .. T .. " --profile " .. P, "AF_BROWSER=firefox")
    assert.equal(2, r.code)
    assert.matches("AF_BROWSER: must be local or browserbase", r.stderr, 1, true)
  end)

  it("reports a recipe with a syntax error at its line", function()
    local rec = cli.write(dir .. "/bad.lua", "return {\n  run = function(task, page)\n    page:click(\n  end,\n}\n")
    refused("--url http://127.0.0.1:9/ --ticket " .. T .. " --profile " .. P .. " --recipe " .. rec,
            "bad.lua:4:")
  end)
end)

describe("autofactura record-recipe", function()
  it("needs a display, or --actions to record headless", function()
    local r = cli.run("record-recipe --url http://127.0.0.1:9/ --out /tmp/x.lua", "env -u DISPLAY -u WAYLAND_DISPLAY")
    assert.equal(2, r.code)
    assert.matches("pass --actions FILE to record headless", r.stderr, 1, true)
  end)

  it("names a missing --out", function()
    local r = cli.run("record-recipe --url http://127.0.0.1:9/")
    assert.equal(2, r.code)
    assert.matches("--out is required", r.stderr, 1, true)
  end)
end)
