/*
 * lrecipe.c -- Recipe API v1: the `task` and `page` objects a recipe sees
 * (docs/recipes.md). Page methods start a page request (page.c) and yield
 * the coroutine; the request's callback resumes it, and the continuation
 * turns the result into Lua values ("try now, else yield", as OpenResty's
 * cosockets do). Actions raise on failure; queries return nil, reason.
 */
#include <lauxlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "llm_lua.h"
#include "task_impl.h"

#define PAGE_MT "af.page"
#define SECRET_MT "af.secret"
#define TASK_MT "af.task"

typedef struct lpage {
  af_task *t;
  af_frame *frame; /* NULL: the main frame */
} lpage;

/* What a continuation returns for each kind of call. */
enum { R_ACTION, R_BOOL, R_VALUE, R_STRING, R_DOWNLOAD, R_FRAME, R_SHOT };

/* ---- helpers ------------------------------------------------------------- */

static af_task *task_of(lua_State *L) { return af_script_owner(L); }

static lpage *check_page(lua_State *L) {
  return luaL_checkudata(L, 1, PAGE_MT);
}

static int opt_timeout(lua_State *L, int idx, int dflt) {
  if (lua_isnoneornil(L, idx)) return dflt;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "timeout");                     /* stack: ..., timeout */
  int ms = (int)luaL_optinteger(L, -1, dflt);
  lua_pop(L, 1);
  if (ms <= 0) luaL_argerror(L, idx, "timeout must be a positive number of ms");
  return ms;
}

/* The text to type: a string, a number or a secret from task:secret(). */
static const char *fill_value(lua_State *L, int idx, int *secret) {
  af_task *t = task_of(L);
  int *slot = luaL_testudata(L, idx, SECRET_MT);
  if (slot) {
    *secret = 1;
    return t->secrets[*slot];
  }
  *secret = 0;
  if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
    luaL_argerror(L, idx, "expected a string, a number or a secret");
  return lua_tostring(L, idx);
}

static void push_json(lua_State *L, const char *json) {
  if (json == NULL || af_json_decode(L, json, strlen(json)) != 0) {
    lua_settop(L, lua_gettop(L) - (json ? 1 : 0));
    lua_pushnil(L);
  } else if (lua_islightuserdata(L, -1)) { /* cjson.null */
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

/* ---- yield and resume ---------------------------------------------------- */

static int page_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  af_task *t = task_of(L);
  af_page_req *r = &t->req;
  int kind = (int)ctx;
  if (r->status != AF_PAGE_OK) {
    const char *err = r->error ? r->error : "failed";
    if (kind != R_ACTION && kind != R_DOWNLOAD && kind != R_FRAME && kind != R_SHOT) {
      lua_pushnil(L);
      lua_pushstring(L, r->status == AF_PAGE_ETIMEOUT ? "timeout" : err);
      return 2;
    }
    char *msg = af__task_redact(t, err);
    luaL_where(L, 1); /* the recipe's file:line */
    lua_pushfstring(L, "%s %s: %s", t->op_action ? t->op_action : "page",
                    t->op_target ? t->op_target : "", msg ? msg : err);
    af_free(msg);
    lua_concat(L, 2);
    return lua_error(L);
  }
  switch (kind) {
    case R_ACTION:
      return 0;
    case R_BOOL:
      push_json(L, r->value);
      lua_pushboolean(L, lua_toboolean(L, -1));
      return 1;
    case R_STRING:
    case R_VALUE:
      push_json(L, r->value);
      if (kind == R_STRING && lua_isnil(L, -1)) {
        lua_pushliteral(L, "not found");
        return 2;
      }
      return 1;
    case R_SHOT:
      push_json(L, r->value);
      return 1;
    case R_DOWNLOAD:
      push_json(L, r->value);                          /* stack: {path, filename} */
      lua_getfield(L, -1, "path");
      lua_getfield(L, -2, "filename");
      return 2;
    case R_FRAME:
      af__lrecipe_push_page(L, t, r->frame_out);
      return 1;
  }
  return 0;
}

/* Called by page.c when t->req completes. */
void af__lrecipe_on_req(af_page_req *req) {
  af_task *t = req->data;
  t->req_busy = 0;
  if (t->ending) return;
  char *detail = NULL;
  if (req->status != AF_PAGE_OK) detail = af__task_redact(t, req->error);
  af__task_op_end(t, req->status == AF_PAGE_OK, detail);
  af_free(detail);
  af__task_after_run(t, af_script_resume(t->script, 0));
}

/* Start bookkeeping for a call and check it may yield. */
static af_task *begin_op(lua_State *L, const char *type, const char *action,
                         const char *target, const char *detail) {
  af_task *t = task_of(L);
  if (!lua_isyieldable(L))
    luaL_error(L, "page:%s cannot be called here (not inside the recipe's "
                  "coroutine, or across a C call such as a metamethod)", action);
  if (t->req_busy) luaL_error(L, "page:%s: another page call is in flight", action);
  af__task_op_begin(t, type, action, target, detail);
  luaL_where(L, 1);                                    /* stack: ..., "file:line: " */
  size_t wn;
  const char *w = lua_tolstring(L, -1, &wn);
  while (wn > 0 && (w[wn - 1] == ' ' || w[wn - 1] == ':')) wn--;
  af_free(t->op_where);
  t->op_where = wn ? af_strndup(w, wn) : NULL;
  lua_pop(L, 1);
  t->req.data = t;
  return t;
}

static int yield_for(lua_State *L, af_task *t, int rc, int kind) {
  if (rc != 0) {
    af__task_op_end(t, 0, "out of memory");
    return luaL_error(L, "out of memory");
  }
  t->req_busy = 1;
  return lua_yieldk(L, 0, (lua_KContext)kind, page_k);
}

/* Build {"sel": sel, ...} arguments for page.js operations. */
static char *sel_args(const char *sel, const char *extra) {
  af_buf b;
  af_buf_init(&b);
  af_buf_puts(&b, "{\"sel\":");
  af_buf_json_str(&b, sel, strlen(sel));
  if (extra) af_buf_puts(&b, extra);
  af_buf_puts(&b, "}");
  return af_buf_steal(&b, NULL);
}

/* page.js operation with JSON args; rc of the start. */
static int run_js(lua_State *L, lpage *p, af_task *t, const char *op,
                  char *args, int timeout, int kind) {
  int rc = args ? af_page_js(&t->req, t->page, p->frame, op, args, timeout,
                             af__lrecipe_on_req) : -1;
  af_free(args);
  return yield_for(L, t, rc, kind);
}

/* ---- page methods ------------------------------------------------------- */

static int l_navigate(lua_State *L) {
  lpage *p = check_page(L);
  const char *url = luaL_checkstring(L, 2);
  if (p->frame) return luaL_error(L, "page:navigate works on the page, not a frame");
  int timeout = opt_timeout(L, 3, 30000);
  af_task *t = begin_op(L, "navigate", "navigate", url, NULL);
  return yield_for(L, t, af_page_navigate(&t->req, t->page, url, timeout, af__lrecipe_on_req),
                   R_ACTION);
}

static int l_fill(lua_State *L) {
  lpage *p = check_page(L);
  const char *sel = luaL_checkstring(L, 2);
  int secret;
  const char *v = fill_value(L, 3, &secret);
  int timeout = opt_timeout(L, 4, 10000);
  char detail[64];
  snprintf(detail, sizeof detail, secret ? "(secret)" : "(%zu characters)", strlen(v));
  af_task *t = begin_op(L, "input", "fill", sel, detail);
  af_buf extra;
  af_buf_init(&extra);
  af_buf_puts(&extra, ",\"value\":");
  af_buf_json_str(&extra, v, strlen(v));
  char *args = extra.oom ? NULL : sel_args(sel, extra.data);
  af_buf_free(&extra);
  return run_js(L, p, t, "fill", args, timeout, R_ACTION);
}

static int l_select(lua_State *L) {
  lua_settop(L, 4); /* values pushed below stay above the arguments */
  lpage *p = check_page(L);
  const char *sel = luaL_checkstring(L, 2);
  const char *key = NULL, *val = NULL;
  if (lua_type(L, 3) == LUA_TSTRING) {
    key = "value";
    val = lua_tostring(L, 3);
  } else {
    luaL_checktype(L, 3, LUA_TTABLE);
    const char *keys[] = {"value", "label", "label_contains"};
    for (int i = 0; i < 3 && key == NULL; i++) {
      if (lua_getfield(L, 3, keys[i]) != LUA_TNIL) {   /* stack: ..., v */
        key = keys[i];
        val = luaL_tolstring(L, -1, NULL);             /* stays on the stack */
      } else {
        lua_pop(L, 1);
      }
    }
    if (val == NULL)
      return luaL_argerror(L, 3, "expected {value=...}, {label=...} or {label_contains=...}");
  }
  int timeout = opt_timeout(L, 4, 10000);
  af_task *t = begin_op(L, "input", "select", sel, key);
  af_buf extra;
  af_buf_init(&extra);
  af_buf_printf(&extra, ",\"%s\":", key);
  af_buf_json_str(&extra, val, strlen(val));
  char *args = extra.oom ? NULL : sel_args(sel, extra.data);
  af_buf_free(&extra);
  return run_js(L, p, t, "select", args, timeout, R_ACTION);
}

static int l_check(lua_State *L) {
  lpage *p = check_page(L);
  const char *sel = luaL_checkstring(L, 2);
  int on = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
  int timeout = opt_timeout(L, 4, 10000);
  af_task *t = begin_op(L, "input", "check", sel, on ? "on" : "off");
  return run_js(L, p, t, "check", sel_args(sel, on ? ",\"checked\":true" : ",\"checked\":false"),
                timeout, R_ACTION);
}

static int l_click(lua_State *L) {
  lpage *p = check_page(L);
  const char *sel = luaL_checkstring(L, 2);
  int timeout = opt_timeout(L, 3, 10000);
  af_task *t = begin_op(L, "click", "click", sel, NULL);
  return yield_for(L, t, af_page_click(&t->req, t->page, p->frame, sel, timeout,
                                       af__lrecipe_on_req), R_ACTION);
}

static int l_press(lua_State *L) {
  lpage *p = check_page(L);
  const char *sel = luaL_checkstring(L, 2);
  const char *key = luaL_checkstring(L, 3);
  if (key[0] == '\0') return luaL_argerror(L, 3, "empty key name");
  int timeout = opt_timeout(L, 4, 10000);
  af_task *t = begin_op(L, "input", "press", sel, key);
  return yield_for(L, t, af_page_press(&t->req, t->page, p->frame, sel, key, timeout,
                                       af__lrecipe_on_req), R_ACTION);
}

static int l_download(lua_State *L) {
  lpage *p = check_page(L);
  const char *sel = luaL_checkstring(L, 2);
  int timeout = opt_timeout(L, 3, 30000);
  af_task *t = begin_op(L, "download", "download", sel, NULL);
  return yield_for(L, t, af_page_download(&t->req, t->page, p->frame, sel,
                                          t->o.out_dir, timeout, af__lrecipe_on_req),
                   R_DOWNLOAD);
}

static int l_screenshot(lua_State *L) {
  check_page(L);
  const char *name = luaL_optstring(L, 2, NULL);
  af_task *t = task_of(L);
  char fallback[32];
  snprintf(fallback, sizeof fallback, "step-%03zu", t->nsteps + 1);
  if (name == NULL) name = fallback;
  for (const char *c = name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
          (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
      return luaL_argerror(L, 2, "screenshot names use letters, digits, - and _");
  char *path = af_asprintf("%s/%s.png", t->o.out_dir, name);
  begin_op(L, "screenshot", "screenshot", name, NULL);
  int rc = path ? af_page_screenshot(&t->req, t->page, path, 10000, af__lrecipe_on_req) : -1;
  af_free(path);
  return yield_for(L, t, rc, R_SHOT);
}

static int l_wait_for(lua_State *L) {
  lpage *p = check_page(L);
  const char *sel = luaL_checkstring(L, 2);
  const char *state = "visible";
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "state");
    state = luaL_optstring(L, -1, "visible");
    lua_pop(L, 1);
    if (strcmp(state, "visible") && strcmp(state, "attached") && strcmp(state, "hidden"))
      return luaL_argerror(L, 3, "state must be visible, attached or hidden");
  }
  int timeout = opt_timeout(L, 3, 10000);
  af_task *t = begin_op(L, "wait", "wait_for", sel, state);
  char extra[48];
  snprintf(extra, sizeof extra, ",\"state\":\"%s\"", state);
  return run_js(L, p, t, "wait", sel_args(sel, extra), timeout, R_BOOL);
}

static int l_wait_for_text(lua_State *L) {
  lpage *p = check_page(L);
  size_t n;
  const char *text = luaL_checklstring(L, 2, &n);
  int timeout = opt_timeout(L, 3, 10000);
  af_task *t = begin_op(L, "wait", "wait_for_text", text, NULL);
  af_buf b;
  af_buf_init(&b);
  af_buf_puts(&b, "{\"text\":");
  af_buf_json_str(&b, text, n);
  af_buf_puts(&b, "}");
  return run_js(L, p, t, "wait_text", af_buf_steal(&b, NULL), timeout, R_BOOL);
}

static int l_wait_any(lua_State *L) {
  lpage *p = check_page(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  int timeout = opt_timeout(L, 3, 10000);
  lua_Integer n = luaL_len(L, 2);
  if (n == 0) return luaL_argerror(L, 2, "expected a list of selectors");
  af_buf b, names;
  af_buf_init(&b);
  af_buf_init(&names);
  af_buf_puts(&b, "{\"sels\":[");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 2, i);
    const char *s = lua_tostring(L, -1);
    if (s == NULL) {
      af_buf_free(&b);
      af_buf_free(&names);
      return luaL_argerror(L, 2, "selectors must be strings");
    }
    if (i > 1) af_buf_puts(&b, ","), af_buf_puts(&names, " | ");
    af_buf_json_str(&b, s, strlen(s));
    af_buf_puts(&names, s);
    lua_pop(L, 1);
  }
  af_buf_puts(&b, "]}");
  af_task *t = begin_op(L, "wait", "wait_any", names.data ? names.data : "", NULL);
  af_buf_free(&names);
  return run_js(L, p, t, "wait_any", af_buf_steal(&b, NULL), timeout, R_VALUE);
}

static int query(lua_State *L, const char *op, const char *action, int kind) {
  lpage *p = check_page(L);
  const char *sel = luaL_checkstring(L, 2);
  int timeout = opt_timeout(L, 3, 10000);
  af_task *t = begin_op(L, "read", action, sel, NULL);
  return run_js(L, p, t, op, sel_args(sel, NULL), timeout, kind);
}

static int l_exists(lua_State *L) { return query(L, "exists", "exists", R_BOOL); }
static int l_text(lua_State *L) { return query(L, "text", "text", R_STRING); }
static int l_value(lua_State *L) { return query(L, "value", "value", R_STRING); }

static int l_url(lua_State *L) {
  lpage *p = check_page(L);
  af_task *t = begin_op(L, "read", "url", "", NULL);
  return run_js(L, p, t, "url", af_strdup("{}"), 10000, R_VALUE);
}

static int l_evaluate(lua_State *L) {
  lpage *p = check_page(L);
  const char *expr = luaL_checkstring(L, 2);
  int timeout = opt_timeout(L, 3, 10000);
  af_task *t = begin_op(L, "evaluate", "evaluate", NULL, NULL);
  int rc = af_page_eval(&t->req, t->page, p->frame, expr, timeout, af__lrecipe_on_req);
  if (rc != 0) return yield_for(L, t, rc, R_ACTION);
  t->req_busy = 1;
  return lua_yieldk(L, 0, (lua_KContext)R_VALUE, page_k);
}

static int l_frame(lua_State *L) {
  lpage *p = check_page(L);
  const char *sel = luaL_checkstring(L, 2);
  int timeout = opt_timeout(L, 3, 10000);
  af_task *t = begin_op(L, "wait", "frame", sel, NULL);
  return yield_for(L, t, af_page_frame(&t->req, t->page, p->frame, sel, timeout,
                                       af__lrecipe_on_req), R_FRAME);
}

static int l_snapshot(lua_State *L) {
  lpage *p = check_page(L);
  af_task *t = begin_op(L, "read", "snapshot", NULL, NULL);
  return run_js(L, p, t, "snapshot", af_strdup("{}"), 10000, R_VALUE);
}

static int l_last_dialog(lua_State *L) {
  af_task *t = task_of(L);
  check_page(L);
  const char *d = af_page_last_dialog(t->page);
  if (d) lua_pushstring(L, d); else lua_pushnil(L);
  return 1;
}

static int l_page_tostring(lua_State *L) {
  lpage *p = check_page(L);
  lua_pushstring(L, p->frame ? "frame" : "page");
  return 1;
}

static const luaL_Reg page_methods[] = {
    {"navigate", l_navigate}, {"fill", l_fill},
    {"select", l_select},     {"check", l_check},
    {"click", l_click},       {"press", l_press},
    {"download", l_download}, {"screenshot", l_screenshot},
    {"wait_for", l_wait_for}, {"wait_for_text", l_wait_for_text},
    {"wait_any", l_wait_any}, {"exists", l_exists},
    {"text", l_text},         {"value", l_value},
    {"url", l_url},           {"evaluate", l_evaluate},
    {"frame", l_frame},       {"last_dialog", l_last_dialog},
    {"snapshot", l_snapshot},
    {NULL, NULL}};

void af__lrecipe_push_page(lua_State *L, af_task *t, af_frame *f) {
  lpage *p = lua_newuserdatauv(L, sizeof *p, 0);       /* stack: page */
  p->t = t;
  p->frame = f;
  if (luaL_newmetatable(L, PAGE_MT)) {                 /* stack: page, mt */
    luaL_newlib(L, page_methods);                      /* stack: page, mt, methods */
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_page_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "page");
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);                             /* stack: page */
}

/* ---- task methods ------------------------------------------------------- */

static int end_with(lua_State *L, int status, const char *reason) {
  af_task *t = task_of(L);
  if (!lua_isyieldable(L))
    return luaL_error(L, "the task can only end inside the recipe's run function");
  af__task_end(t, status, reason);
  return lua_yield(L, 0); /* never resumed */
}

static int l_log(lua_State *L) {
  af_task *t = task_of(L);
  const char *msg = luaL_checkstring(L, 2);
  char *red = af__task_redact(t, msg);
  af__task_step(t, "log", "log", NULL, red ? red : "", 1);
  af_free(red);
  return 0;
}

static int l_fail(lua_State *L) {
  const char *reason = luaL_checkstring(L, 2);
  return end_with(L, AF_TASK_FAILED, reason);
}

static int l_need_human(lua_State *L) {
  const char *reason = luaL_checkstring(L, 2);
  return end_with(L, AF_TASK_INTERVENTION_NEEDED, reason);
}

static int l_done(lua_State *L) {
  af_task *t = task_of(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "xml");
  const char *xml = lua_tostring(L, -1);
  if (xml == NULL) return luaL_argerror(L, 2, "task:done needs {xml = path of the CFDI XML}");
  char *err = NULL;
  if (af__task_set_invoice(t, L, xml, &err) != 0) {
    luaL_where(L, 1);
    lua_pushstring(L, err ? err : "cannot read the CFDI XML");
    af_free(err);
    lua_concat(L, 2);
    return lua_error(L);
  }
  if (t->mismatches) {
    char *why = af_asprintf("the portal's CFDI does not match the request: %s", t->mismatches);
    lua_pushstring(L, why ? why : "the portal's CFDI does not match the request");
    af_free(why);
    return end_with(L, AF_TASK_FAILED, lua_tostring(L, -1));
  }
  return end_with(L, AF_TASK_COMPLETED, NULL);
}

static int l_secret(lua_State *L) {
  af_task *t = task_of(L);
  const char *name = luaL_checkstring(L, 2);
  if (strcmp(name, "username") != 0 && strcmp(name, "password") != 0)
    return luaL_argerror(L, 2, "secrets are 'username' and 'password'");
  int idx = name[0] == 'u' ? t->cred_user : t->cred_pass;
  if (idx < 0) {
    lua_pushnil(L);
    return 1;
  }
  int *slot = lua_newuserdatauv(L, sizeof *slot, 0);   /* stack: ..., secret */
  *slot = idx;
  if (luaL_newmetatable(L, SECRET_MT)) {               /* stack: ..., secret, mt */
    lua_pushliteral(L, "secret");
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);                             /* stack: ..., secret */
  return 1;
}

/* Keep a recipe the run learned (the generic fallback's); `run
 * --save-recipe FILE` writes it once the task has COMPLETED. */
static int l_save_recipe(lua_State *L) {
  af_task *t = task_of(L);
  size_t n;
  const char *text = luaL_checklstring(L, 2, &n);
  if (n > (1u << 20)) return luaL_argerror(L, 2, "a recipe of more than 1 MiB");
  char *copy = af_strndup(text, n);
  if (copy == NULL) return luaL_error(L, "out of memory");
  af_free(t->learned);
  t->learned = copy;
  return 0;
}

static const luaL_Reg task_methods[] = {
    {"log", l_log},   {"fail", l_fail}, {"need_human", l_need_human},
    {"done", l_done}, {"secret", l_secret}, {"save_recipe", l_save_recipe},
    {"llm", af_llm_lua_ask},  {NULL, NULL}};

void af__lrecipe_push_task(lua_State *L, af_task *t) {
  (void)t;
  /* stack: task table (ticket, profile, url, _credentials set by task.c) */
  if (luaL_newmetatable(L, TASK_MT)) {                 /* stack: task, mt */
    luaL_newlib(L, task_methods);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "task");
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);                             /* stack: task */
}
