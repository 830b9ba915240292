/*
 * llm_lua.c -- owns task:llm: encodes the recipe's request (adding the
 * model), yields the recipe's coroutine while core/llm.c runs it on the loop,
 * records a 'thinking' step (model, tokens, attempts; duration = latency) and
 * resumes the recipe with the answer's content and usage.
 */
#include "llm_lua.h"

#include <lauxlib.h>
#include <string.h>

#include "alloc.h"
#include "browser.h"
#include "json.h"
#include "llm.h"
#include "script.h"
#include "task_impl.h"

typedef struct ask {
  af_task *t;
  int ok;
  char *body, *err;
} ask;

static void on_answer(void *data, int ok, const char *body, const char *err,
                      uint64_t ms, int attempts) {
  (void)ms;
  ask *a = data;
  af_task *t = a->t;
  t->req_busy = 0;
  a->ok = ok;
  a->body = body ? af_strdup(body) : NULL;
  a->err = err ? af_strdup(err) : NULL;
  if (t->ending) {
    af_free(a->body);
    af_free(a->err);
    af_free(a);
    return;
  }
  char detail[160];
  lua_State *L = af_script_state(t->script);
  double pt = 0, ct = 0;
  if (ok && a->body && af_json_decode(L, a->body, strlen(a->body)) == 0) {
    af_json_num(L, -1, "usage.prompt_tokens", &pt);
    af_json_num(L, -1, "usage.completion_tokens", &ct);
    lua_pop(L, 1);
  }
  snprintf(detail, sizeof detail, "%.0f prompt + %.0f completion tokens, %d attempt%s%s%s",
           pt, ct, attempts, attempts == 1 ? "" : "s", ok ? "" : "; ", ok ? "" : (err ? err : "failed"));
  af__task_op_end(t, ok, detail);
  af__task_after_run(t, af_script_resume(t->script, 0));
}

static int ask_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  ask *a = (ask *)ctx;
  int n = 2;
  if (!a->ok || a->body == NULL || af_json_decode(L, a->body, strlen(a->body)) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, a->err ? a->err : "the LLM endpoint answered something that is not JSON");
  } else {                                              /* stack: resp */
    size_t len = 0;
    const char *content = NULL;
    if (af_json_push(L, -1, "choices") == LUA_TTABLE) { /* stack: resp, choices */
      lua_rawgeti(L, -1, 1);                            /* stack: resp, choices, c1 */
      content = af_json_str(L, -1, "message.content", &len); /* held by resp */
      lua_pop(L, 2);                                    /* stack: resp */
    } else {
      lua_pop(L, 1);
    }
    if (content == NULL) {
      lua_pop(L, 1);
      lua_pushnil(L);
      lua_pushliteral(L, "the LLM answer has no choices[1].message.content");
    } else {
      lua_pushlstring(L, content, len);                 /* stack: resp, content */
      if (af_json_push(L, -2, "usage") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
      }
      lua_remove(L, -3);                                /* stack: content, usage */
    }
  }
  af_free(a->body);
  af_free(a->err);
  af_free(a);
  return n;
}

int af_llm_lua_ask(lua_State *L) {
  af_task *t = af_script_owner(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  af_llm_cfg cfg;
  if (!af_llm_config(&cfg)) {
    lua_pushnil(L);
    lua_pushliteral(L, "no LLM endpoint configured (AF_LLM_BASE_URL)");
    return 2;
  }
  if (!lua_isyieldable(L)) return luaL_error(L, "task:llm cannot be called here (not inside the recipe's coroutine)");
  if (t->req_busy) return luaL_error(L, "task:llm: another call is in flight");
  lua_pushstring(L, cfg.model);
  lua_setfield(L, 2, "model");
  size_t len;
  char *body = af_json_encode(L, 2, &len);
  if (body == NULL) return luaL_error(L, "task:llm: the request cannot be encoded as JSON");
  ask *a = af_calloc(1, sizeof *a);
  char *err = NULL;
  if (a == NULL) {
    af_free(body);
    return luaL_error(L, "out of memory");
  }
  a->t = t;
  af__task_op_begin(t, "thinking", "llm", cfg.model, NULL);
  uv_loop_t *loop = af_browser_loop(t->browser);
  int rc = af_llm_chat(loop, &cfg, body, on_answer, a, &err);
  af_free(body);
  if (rc != 0) {
    af__task_op_end(t, 0, err);
    af_free(a);
    lua_pushnil(L);
    lua_pushstring(L, err ? err : "out of memory");
    af_free(err);
    return 2;
  }
  t->req_busy = 1;
  return lua_yieldk(L, 0, (lua_KContext)a, ask_k);
}
