-- The generic fallback's LLM guidance on /enigma/, a bundled portal whose ticket fields
-- ("Dato 1", "Dato 2") a label mapper cannot place, against tests/llm/server.js: a local
-- stand-in for an OpenAI-compatible endpoint that checks each request (API key, model,
-- messages, no profile or ticket values) and answers from a script.
local H = require "integration.portal_helper"
local cjson = require "cjson"

local BIN = os.getenv("AF_BIN")
local KEY = "sk-test-4f1c9a"

local function start_llm(replies)
  local dir = H.tmpdir()
  local f = assert(io.open(dir .. "/script.json", "w"))
  f:write(cjson.encode(replies))
  f:close()
  assert(os.execute(string.format("node tests/llm/server.js --script %s/script.json --key %s --forbid ROVL850312HJ5"
    .. " --forbid PC-77120 --forbid 'LAURA ROMERO' --parent $PPID >%s/out 2>%s/err & echo $! >%s/pid",
    dir, KEY, dir, dir, dir)))
  for _ = 1, 200 do
    local pid = (H.read(dir .. "/pid") or ""):match("%d+")
    local port = (H.read(dir .. "/out") or ""):match("^llm listening http://127%.0%.0%.1:(%d+)\n$")
    if pid and port then return { pid = pid, base = "http://127.0.0.1:" .. port } end
    os.execute("sleep 0.05")
  end
  error("llm stand-in did not start: " .. (H.read(dir .. "/err") or ""))
end

local function run(srv, llm, recipe, save)
  local out = H.tmpdir()
  local env = llm and string.format("AF_LLM_BASE_URL=%s/v1 AF_LLM_API_KEY=%s AF_LLM_MODEL=test-model",
    llm.base, KEY) or "env -u AF_LLM_BASE_URL"
  local cmd = string.format("%s timeout 240 %s run --url %s/enigma/ --ticket tests/fixtures/ticket-enigma.json"
    .. " --profile tests/fixtures/profile-fisica.json --out %s --recipe %s%s >%s/log 2>&1",
    env, H.shq(BIN), srv.base, out, H.shq(recipe), save and (" --save-recipe " .. H.shq(save)) or "", out)
  local _, _, code = os.execute(cmd)
  local text = H.read(out .. "/result.json")
  local log = "exit " .. tostring(code) .. "\n" .. (H.read(out .. "/log") or "") .. "\nresult.json: " .. tostring(text)
  return code, text and cjson.decode(text), log
end

local ANSWER = cjson.encode({ actions = {
  { op = "fill", selector = "#d1", value_key = "ticket.folio" },
  { op = "fill", selector = "#d2", value_key = "ticket.amount" },
} })

local function thinking(res)
  local out = {}
  for _, s in ipairs(res.steps) do if s.type == "thinking" then out[#out + 1] = s end end
  return out
end

describe("the generic fallback with LLM guidance", function()
  local srv, llm
  setup(function() assert(BIN, "AF_BIN names the built autofactura binary") end)
  before_each(function() srv = H.start() end)
  after_each(function()
    H.stop(srv)
    if llm then os.execute("kill " .. llm.pid .. " 2>/dev/null") end
    llm = nil
  end)

  it("without an endpoint: fails with the portal's message and names the fields it could not place", function()
    local code, res, log = run(srv, nil, "generic")
    assert.equal(3, code, log)
    assert.truthy(res.failure_reason:find("Dato 1", 1, true), log)
    assert.truthy(res.failure_reason:find("without an LLM", 1, true), log)
    assert.same({}, thinking(res))
    assert.same({}, H.get_json(srv, "/__records"))
  end)

  it("asks once, fills what the answer names with the task's real values, and learns a recipe", function()
    llm = start_llm({ { status = 200, content = ANSWER } })
    local learned = H.tmpdir() .. "/learned-enigma.lua"
    local code, res, log = run(srv, llm, "generic", learned)
    assert.equal(0, code, log)
    assert.equal("COMPLETED", res.status, log)
    local records = H.get_json(srv, "/__records")
    assert.equal(1, #records)
    assert.equal("PC-77120", records[1].ticket.folio)

    local reqs = H.get_json(llm, "/__requests")
    assert.equal(1, #reqs)
    assert.is_true(reqs[1].ok, tostring(reqs[1].problem))
    assert.equal("test-model", reqs[1].body.model)
    assert.equal("json_schema", reqs[1].body.response_format.type)
    local th = thinking(res)
    assert.equal(1, #th, log)
    assert.truthy(th[1].detail:find("prompt %+ %d+ completion tokens, 1 attempt"), th[1].detail)
    assert.is_nil(log:find(KEY, 1, true), "the API key reached the log")
    assert.is_nil(H.read(learned):find(KEY, 1, true))

    -- The learned recipe completes the portal again with no LLM at all.
    H.http("POST", srv.base .. "/__reset")
    local text = H.read(learned)
    assert.truthy(text:find("#d1", 1, true), text)
    assert.is_nil(text:find("PC-77120", 1, true), text)
    local code2, res2, log2 = run(srv, nil, learned)
    assert.equal(0, code2, log2)
    assert.same({}, thinking(res2))
    assert.equal(1, #H.get_json(srv, "/__records"))
  end)

  it("retries a failing endpoint and records the attempts", function()
    llm = start_llm({ { status = 503 }, { status = 200, content = ANSWER } })
    local code, res, log = run(srv, llm, "generic")
    assert.equal(0, code, log)
    local th = thinking(res)
    assert.equal(1, #th, log)
    assert.truthy(th[1].detail:find("2 attempts", 1, true), th[1].detail)
    assert.equal(2, #H.get_json(llm, "/__requests"))
  end)

  it("refuses an answer naming a selector that is not on the page", function()
    llm = start_llm({ { status = 200, content = cjson.encode({ actions = {
      { op = "fill", selector = "#nope", value_key = "ticket.folio" } } }) } })
    local code, res, log = run(srv, llm, "generic")
    assert.equal(3, code, log)
    assert.truthy(res.failure_reason:find("#nope", 1, true), log)
    assert.same({ total = 0, by_portal = {} }, H.get_json(srv, "/__attempts"))
  end)

  it("asks the LLM which button goes on when none says so", function()
    llm = start_llm({ { status = 200, content = ANSWER },
                      { status = 200, content = cjson.encode({ actions = { { op = "click", selector = "#facturar" } } }) } })
    local out = H.tmpdir()
    local cmd = string.format("AF_LLM_BASE_URL=%s/v1 AF_LLM_API_KEY=%s AF_LLM_MODEL=test-model timeout 240 %s run"
      .. " --url '%s/enigma/?boton=raro' --ticket tests/fixtures/ticket-enigma.json --profile tests/fixtures/profile-fisica.json"
      .. " --out %s --recipe generic >%s/log 2>&1", llm.base, KEY, H.shq(BIN), srv.base, out, out)
    local _, _, code = os.execute(cmd)
    local text = H.read(out .. "/result.json")
    assert.equal(0, code, (H.read(out .. "/log") or "") .. tostring(text))
    local res = cjson.decode(text)
    assert.equal("COMPLETED", res.status)
    assert.equal(2, #thinking(res), "one question for the fields, one for the button")
  end)
end)
