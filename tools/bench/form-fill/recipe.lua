-- recipe.lua -- the form-fill benchmark and valgrind recipe: fills and
-- submits the CFDI form of server.js ROUNDS times (ROUNDS from the URL's
-- ?rounds=N, default 1), logging "form I start" / "form I done" around each
-- round so that result.json's steps time every form; then downloads the
-- stamped XML of the last round and completes.
return { name = "form-fill-bench", run = function(task, page)
  local rounds = tonumber(task.url:match("[?&]rounds=(%d+)")) or 1
  local t, p = task.ticket, task.profile
  for i = 1, rounds do
    task:log("form " .. i .. " start")
    page:navigate(task.url)
    page:fill("#folio", t.folio)
    page:fill("#total", string.format("%.2f", t.amount))
    page:fill("#fecha", t.date)
    page:fill("#rfc", p.rfc)
    page:fill("#nombre", p.full_name)
    page:fill("#cp", p.postal_code)
    page:select("#regimen", {value = p.fiscal_regime})
    page:select("#uso", {value = p.cfdi_use})
    page:fill("#email", p.email)
    page:check("#acepto")
    page:click("#enviar")
    local ok, err = page:wait_for("#uuid")
    if not ok then task:fail("no UUID after submitting form " .. i .. ": " .. tostring(err)) end
    task:log("form " .. i .. " done")
  end
  local path = page:download("#xml")
  task:done{xml = path}
end }
