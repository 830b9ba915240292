-- Run the built `autofactura` (AF_BIN) as a person would, capturing what it
-- prints and how it exits. Shared by the CLI specs of both tiers.
local M = {}

M.bin = assert(os.getenv("AF_BIN"), "AF_BIN must name the built autofactura binary")

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end
M.read = read

function M.tmpdir()
  local p = assert(io.popen("mktemp -d /tmp/af-cli.XXXXXX"))
  local d = p:read("l")
  p:close()
  return d
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- run("run --url ...") → { code, stdout, stderr }
function M.run(args, env)
  local dir = M.tmpdir()
  local cmd = string.format("%s%s %s >%s/out 2>%s/err", env and (env .. " ") or "",
    M.bin, args, dir, dir)
  local _, _, code = os.execute(cmd)
  local r = { code = code, stdout = read(dir .. "/out"), stderr = read(dir .. "/err") }
  os.execute("rm -rf " .. dir)
  return r
end

function M.lines(s)
  local n = 0
  for _ in s:gmatch("[^\n]+") do n = n + 1 end
  return n
end

return M
