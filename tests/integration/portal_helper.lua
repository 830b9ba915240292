-- Helpers for the integration specs that use the bundled test portals: start
-- tests/portals/server.js on a free port (parsing its "portal listening" line), stop it,
-- speak HTTP to it through curl (one cheap process per request), read files and JSON.
-- Specs run from the repository root.
local cjson = require "cjson"

local M = {}

function M.shq(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.read(path)
  local f = io.open(path, "rb")
  if f == nil then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.json_file(path)
  local text = M.read(path)
  assert(text ~= nil, "cannot read " .. path)
  return cjson.decode(text)
end

function M.tmpdir()
  local p = assert(io.popen("mktemp -d /tmp/af-portals.XXXXXX"))
  local dir = p:read("l")
  p:close()
  return dir
end

-- Start the portal server on a free port; returns { pid, port, base, dir }. $PPID of the
-- shell is this Lua process: the server exits by itself should the runner die mid-test.
function M.start()
  local dir = M.tmpdir()
  assert(os.execute(string.format(
    "node tests/portals/server.js --port 0 --parent $PPID >%s/out 2>%s/err & echo $! >%s/pid", dir, dir, dir)))
  for _ = 1, 400 do
    local pid = (M.read(dir .. "/pid") or ""):match("%d+")
    local port = (M.read(dir .. "/out") or ""):match("^portal listening http://127%.0%.0%.1:(%d+)\n$")
    if pid and port then
      return { pid = pid, port = tonumber(port), base = "http://127.0.0.1:" .. port, dir = dir }
    end
    os.execute("sleep 0.05")
  end
  error("portal server did not start: " .. (M.read(dir .. "/err") or ""))
end

function M.stop(srv)
  if srv and srv.pid then
    os.execute("kill " .. srv.pid .. " 2>/dev/null")
    srv.pid = nil
  end
end

-- True while the process exists.
function M.alive(pid)
  return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
end

-- One HTTP request through curl; opts: body (string or table, sent as form data),
-- json (table), cookie. Returns { status, headers (lower-case names), body }.
function M.http(method, url, opts)
  opts = opts or {}
  local args = { "curl -sS -i --max-time 20 -X", M.shq(method) }
  local body
  if opts.json then
    body = cjson.encode(opts.json)
    args[#args + 1] = "-H 'Content-Type: application/json'"
  elseif type(opts.body) == "table" then
    local parts = {}
    for k, v in pairs(opts.body) do
      local enc = tostring(v):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end)
      parts[#parts + 1] = k .. "=" .. enc
    end
    body = table.concat(parts, "&")
  else
    body = opts.body
  end
  if body then args[#args + 1] = "--data-binary " .. M.shq(body) end
  if opts.cookie then args[#args + 1] = "-H " .. M.shq("Cookie: " .. opts.cookie) end
  args[#args + 1] = M.shq(url)
  local p = assert(io.popen(table.concat(args, " ")))
  local out = p:read("a")
  assert(p:close(), "curl failed: " .. method .. " " .. url)
  local head, rest = out:match("^(.-)\r\n\r\n(.*)$")
  assert(head, "no HTTP response from " .. url)
  local res = { status = tonumber(head:match("^HTTP/[%d.]+ (%d+)")), headers = {}, body = rest }
  for name, value in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do
    res.headers[name:lower()] = value
  end
  return res
end

function M.get_json(srv, path)
  local r = M.http("GET", srv.base .. path)
  assert(r.status == 200, "GET " .. path .. " answered " .. r.status)
  return cjson.decode(r.body)
end

-- Receptor as the portals record it, from a profile fixture.
function M.receptor_of(profile)
  return {
    rfc = profile.rfc:upper():gsub("[%s%-]", ""),
    nombre = profile.full_name:upper():gsub("%s+", " "):match("^%s*(.-)%s*$"),
    cp = profile.postal_code,
    regimen = profile.fiscal_regime,
    uso = profile.cfdi_use:upper(),
    email = profile.email:lower(),
  }
end

-- Attribute of the first element named `elem` in an XML text (enough for our CFDIs).
function M.xml_attr(xml, elem, attr)
  local tag = xml:match("<" .. elem:gsub("%-", "%%-") .. "%s[^>]*>")
  return tag and tag:match("%s" .. attr .. "=\"([^\"]*)\"")
end

return M
