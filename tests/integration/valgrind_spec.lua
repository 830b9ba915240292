-- One whole `autofactura run` (real Chromium, bundled CFDI form) under
-- valgrind memcheck, through tools/valgrind-run.sh: no memory errors and no
-- definite leaks in our process. About 10 s.
describe("autofactura under valgrind", function()
  it("completes a run with no memory errors and no definite leaks", function()
    local p = assert(io.popen("tools/valgrind-run.sh 2 2>&1"))
    local out = p:read("a")
    local _, _, code = p:close()
    assert.matches("definitely lost: 0 bytes in 0 blocks", out, 1, true)
    assert.matches("ERROR SUMMARY: 0 errors", out, 1, true)
    assert.equal(0, code, out)
  end)
end)
