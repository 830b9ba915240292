-- replay: run a recipe against a cassette from a busted spec.
--
--   local replay = require "replay"
--   local r = replay.run { cassette = "recipes/cassettes/larga.cassette" }
--   assert.equal(0, r.code)
--   assert.equal("COMPLETED", r.result.status)
--   assert.equal("click", r.result.steps[20].action)
--
-- Options: cassette (required), recipe, profile, ticket (paths). The
-- replay runs with no browser reachable (PATH and AF_CHROMIUM point
-- nowhere). Returns { code, result (result.json decoded, or nil), stderr,
-- divergence = { step, recipe, line, expected, sent } when the recipe left
-- the recording }.
local cjson = require "cjson"

local M = {}

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.bin()
  local bin = os.getenv("AF_BIN")
  if bin then return bin end
  local here = io.popen("pwd"):read("l")
  return here .. "/build/autofactura"
end

function M.run(opts)
  assert(opts and opts.cassette, "replay.run needs { cassette = path }")
  local out = io.popen("mktemp -d /tmp/af-replay.XXXXXX"):read("l")
  local args = { "replay", "--cassette", shq(opts.cassette), "--out", shq(out), "--quiet" }
  for _, k in ipairs({ "recipe", "profile", "ticket" }) do
    if opts[k] then
      args[#args + 1] = "--" .. k
      args[#args + 1] = shq(opts[k])
    end
  end
  local cmd = string.format("env PATH=/nonexistent AF_CHROMIUM=/nonexistent/chromium %s %s >%s/stdout 2>%s/stderr",
    shq(M.bin()), table.concat(args, " "), shq(out), shq(out))
  local _, _, code = os.execute(cmd)
  local r = { code = code, stderr = read(out .. "/stderr") or "", stdout = read(out .. "/stdout") or "" }
  local text = read(out .. "/result.json")
  r.result = text and cjson.decode(text) or nil
  if code == 5 then
    r.divergence = {
      step = r.stderr:match("step:%s+([^\n]+)"),
      recipe = r.stderr:match("recipe:%s+([^\n]+)"),
      line = tonumber(r.stderr:match("cassette: line (%d+)")),
      expected = r.stderr:match("expected:%s+([^\n]+)"),
      sent = r.stderr:match("sent:%s+([^\n]+)"),
    }
  end
  os.execute("rm -rf " .. shq(out))
  return r
end

-- The meta record of a cassette, decoded.
function M.meta(cassette)
  for line in io.lines(cassette) do
    local m = line:match("^meta (.*)$")
    if m then return cjson.decode(m) end
  end
end

return M
