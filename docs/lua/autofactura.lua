---@meta autofactura
-- LuaLS definitions of Recipe API v1 (docs/recipes.md). Point your editor's
-- Lua language server at this file ("workspace.library": ["docs/lua"]) to get
-- completion and type checks while writing recipes. Nothing here runs.

---@class Ticket
---@field folio string|number  ticket number as printed
---@field amount number         total paid, with cents
---@field date string           purchase date, YYYY-MM-DD
---@field concept string        what was bought
---@field store? string         tienda / sucursal / estación, where the portal asks
---@field web_id? string        código o clave de facturación
---@field barcode? string

---@class Profile
---@field rfc string            12 (moral) or 13 (física) characters
---@field full_name string      name or razón social, as on the CSF
---@field fiscal_regime string  SAT c_RegimenFiscal code, e.g. "612"
---@field postal_code string    5 digits, the CSF's domicilio fiscal
---@field cfdi_use string       SAT c_UsoCFDI code, e.g. "G03"
---@field email string

---@class Secret
-- An opaque portal credential. Only page:fill accepts it; its value never
-- reaches Lua, step records or logs.

---@class Options
---@field timeout? integer      milliseconds (default 10000; navigate and download 30000)

---@class WaitOptions: Options
---@field state? "visible"|"attached"|"hidden"

---@class SelectChoice
---@field value? string          the option's value attribute
---@field label? string          the option's visible text, exactly (trimmed)
---@field label_contains? string a substring of the visible text

---@class Task
---@field ticket Ticket
---@field profile Profile
---@field url string             the URL the task started on
local Task = {}

--- Record a log step (secrets in msg are redacted).
---@param msg string
function Task:log(msg) end

--- A stored portal credential, or nil when the user stored none.
---@param name "username"|"password"
---@return Secret?
function Task:secret(name) end

--- End the task INTERVENTION_NEEDED (a CAPTCHA, a login without credentials).
--- Never returns.
---@param reason string
function Task:need_human(reason) end

--- End the task FAILED with the portal's own reason. Never returns.
---@param reason string
function Task:fail(reason) end

--- Keep a recipe this run learned; `run --save-recipe FILE` writes it once
--- the task COMPLETED (the generic fallback uses it).
---@param text string
function Task:save_recipe(text) end

--- Ask the configured OpenAI-compatible chat-completions endpoint (AF_LLM_BASE_URL,
--- AF_LLM_API_KEY, AF_LLM_MODEL). `request` is the request body without `model`
--- (messages, response_format...). Yields while it runs; recorded as a 'thinking' step
--- with tokens and latency. Returns the first choice's content and the usage table, or
--- nil and a reason (no endpoint configured, HTTP error after retries).
---@param request {messages: {role: string, content: string}[], response_format?: table}
---@return string? content, table|string usage_or_reason
function Task:llm(request) end

--- End the task COMPLETED with the CFDI XML the portal issued (a path that
--- page:download returned). The runtime reads its UUID. Never returns.
---@param result {xml: string}
function Task:done(result) end

---@class Page
-- The task's browser tab (or, from page:frame, one of its frames).
-- Selectors are CSS and pierce open shadow roots. Actions raise an error
-- when they fail (the task ends FAILED with your file:line); queries return
-- nil and a reason such as "timeout".
local Page = {}

--- Navigate and wait for the load event. Not on frames.
---@param url string
---@param opts? Options
function Page:navigate(url, opts) end

--- Set an input's or textarea's value, firing input and change events.
---@param selector string
---@param value string|number|Secret
---@param opts? Options
function Page:fill(selector, value, opts) end

--- Choose an option of a native <select>; a string means {value = string}.
---@param selector string
---@param choice SelectChoice|string
---@param opts? Options
function Page:select(selector, choice, opts) end

--- Tick (or, with false, untick) a checkbox or radio button.
---@param selector string
---@param checked? boolean
---@param opts? Options
function Page:check(selector, checked, opts) end

--- Real mouse click at the element's centre, once visible and uncovered.
---@param selector string
---@param opts? Options
function Page:click(selector, opts) end

--- Focus the element and press a key: "Enter", "Tab", "Escape",
--- "Backspace", "Delete", "ArrowUp", "ArrowDown", "ArrowLeft",
--- "ArrowRight", "Home", "End", "Space" or a single character.
---@param selector string
---@param key string
---@param opts? Options
function Page:press(selector, key, opts) end

--- Click and wait for the file the click produces.
---@param selector string
---@param opts? Options
---@return string path      where the file was saved (in the task's --out)
---@return string filename  the name the portal suggested
function Page:download(selector, opts) end

--- Save a PNG of the viewport into the task's --out directory.
---@param name? string  letters, digits, - and _ (default: step-NNN)
---@return string path
function Page:screenshot(name) end

---@param selector string
---@param opts? WaitOptions
---@return true|nil ok
---@return string? reason  "timeout"
function Page:wait_for(selector, opts) end

--- Wait for text anywhere in the page, shadow roots included.
---@param text string
---@param opts? Options
---@return true|nil ok
---@return string? reason
function Page:wait_for_text(text, opts) end

--- Wait until one of the selectors is visible; returns that selector.
---@param selectors string[]
---@param opts? Options
---@return string|nil selector
---@return string? reason
function Page:wait_any(selectors, opts) end

--- Whether an element matches now (visible or not).
---@param selector string
---@return boolean
function Page:exists(selector) end

--- The element's visible text, whitespace collapsed.
---@param selector string
---@return string|nil text
---@return string? reason  "not found"
function Page:text(selector) end

--- An input's current value.
---@param selector string
---@return string|nil value
---@return string? reason
function Page:value(selector) end

--- Evaluate a JavaScript expression (promises are awaited); returns its
--- JSON-able value.
---@param expression string
---@param opts? Options
---@return any
function Page:evaluate(expression, opts) end

---@return string
function Page:url() end

--- A frame object for an <iframe>, same- or cross-origin.
---@param selector string
---@param opts? Options
---@return Page
function Page:frame(selector, opts) end

--- What the generic fallback reads of a page (docs/fallback.md): visible
--- fields with labels and options, buttons, open listbox options, frames,
--- alert texts, a UUID, CAPTCHA and password cues.
---@return table
function Page:snapshot() end

--- The message of the last JavaScript dialog (alert/confirm), which the
--- runtime accepts automatically; nil if none appeared.
---@return string?
function Page:last_dialog() end

---@class Recipe
---@field name string
---@field domains? string[]            hosts (and their subdomains) it claims
---@field match? fun(url: string): boolean
---@field run fun(task: Task, page: Page)
