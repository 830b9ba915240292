-- The command line with a real browser: an unreachable portal, a recipe
-- error reported at its file:line, and clean-up on SIGINT and SIGTERM.
local cli = require "cli_helper"
local portals = require "integration.portal_helper"
local cjson = require "cjson"

local T = "tests/fixtures/ticket-larga.json"
local P = "tests/fixtures/profile-fisica.json"

local function browser_dirs()
  local p = io.popen("ls -d /tmp/af-browser-* 2>/dev/null")
  local set = {}
  for line in p:lines() do set[line] = true end
  p:close()
  return set
end

describe("autofactura run in a real browser", function()
  local srv, dir
  setup(function() srv = portals.start() end)
  teardown(function() portals.stop(srv) end)
  before_each(function() dir = cli.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  it("fails with one line when the portal cannot be reached", function()
    -- port 9 (discard) has no listener on this machine's loopback
    local r = cli.run(string.format("run --url http://127.0.0.1:9/ --ticket %s --profile %s --out %s --recipe recipes/larga.lua --quiet", T, P, dir))
    assert.equal(3, r.code, r.stderr)
    assert.equal(1, cli.lines(r.stdout))
    assert.matches("cannot reach the portal: cannot load http://127.0.0.1:9/: net::ERR_", r.stdout, 1, true)
    local res = cjson.decode(cli.read(dir .. "/result.json"))
    assert.equal("FAILED", res.status)
    assert.matches("net::ERR_", res.failure_reason, 1, true)
  end)

  it("ends FAILED with the recipe's file:line when an action fails", function()
    local rec = cli.write(dir .. "/broken.lua", table.concat({
      "return { run = function(task, page)",
      "  page:fill('#no-such-field', 'x', { timeout = 300 })",
      "end }" }, "\n"))
    local r = cli.run(string.format("run --url %s/larga/ --ticket %s --profile %s --out %s --recipe %s --quiet",
      srv.base, T, P, dir, rec))
    assert.equal(3, r.code, r.stderr)
    local res = cjson.decode(cli.read(dir .. "/result.json"))
    assert.matches("broken.lua:2: fill #no-such-field: timeout", res.failure_reason, 1, true)
  end)

  for _, sig in ipairs({ "INT", "TERM" }) do
    it("removes the browser and its profile on SIG" .. sig, function()
      local rec = cli.write(dir .. "/slow.lua", table.concat({
        "return { run = function(task, page)",
        "  task:log('waiting')",
        "  page:wait_for('#never', { timeout = 60000 })",
        "end }" }, "\n"))
      local before = browser_dirs()
      os.execute(string.format(
        "%s run --url %s/larga/ --ticket %s --profile %s --out %s/out --recipe %s >%s/stdout 2>%s/stderr & echo $! >%s/pid",
        cli.bin, srv.base, T, P, dir, rec, dir, dir, dir))
      local pid = cli.read(dir .. "/pid"):match("%d+")
      for _ = 1, 200 do -- until the recipe is waiting
        if cli.read(dir .. "/stderr"):find("waiting", 1, true) then break end
        os.execute("sleep 0.05")
      end
      assert.truthy(cli.read(dir .. "/stderr"):find("waiting", 1, true), "the recipe never started")
      local new
      for d in pairs(browser_dirs()) do if not before[d] then new = d end end
      assert.truthy(new, "a browser profile directory exists while running")
      os.execute("kill -" .. sig .. " " .. pid)
      for _ = 1, 200 do
        if not portals.alive(pid) then break end
        os.execute("sleep 0.05")
      end
      assert.is_false(portals.alive(pid), "autofactura did not exit")
      assert.is_nil(io.open(new .. "/profile"), "the profile was left behind: " .. new)
      -- [u]: the pattern does not match the shell running this very command
      local p = io.popen("ps -eo args | grep -c -- '[u]ser-data-dir=" .. new .. "/profile'")
      local count = tonumber(p:read("a"):match("%d+"))
      p:close()
      assert.equal(0, count, "chromium processes survived")
      local res = cjson.decode(cli.read(dir .. "/out/result.json"))
      assert.equal("FAILED", res.status)
      assert.equal("interrupted", res.failure_reason)
    end)
  end
end)
