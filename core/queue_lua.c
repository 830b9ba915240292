/*
 * queue_lua.c -- Lua job handlers (see queue_lua.h). One plain lua_State per
 * worker; the job table carries a light userdata to its af_queue_job that is
 * cleared when the call returns, so a kept job table cannot reach freed jobs.
 */
#include "queue_lua.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"

struct af_queue_lua {
  lua_State *L;
  int fn_ref; /* the handler function */
};

static const char JOB_KEY[] = "__job";

static af_queue_job *check_job(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, JOB_KEY);                       /* stack: job, ..., ud */
  af_queue_job *job = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!job) luaL_error(L, "job is finished: progress and log only work while it runs");
  return job;
}

/* job:progress(n | table) */
static int l_progress(lua_State *L) {
  af_queue_job *job = check_job(L);
  luaL_checkany(L, 2);
  char *json = af_json_encode(L, 2, NULL);
  if (!json) return luaL_error(L, "progress: cannot be encoded as JSON");
  int rc = af_queue_job_progress(job, json);
  af_free(json);
  lua_pushboolean(L, rc == 0);
  return 1;
}

/* job:log(text) */
static int l_log(lua_State *L) {
  af_queue_job *job = check_job(L);
  const char *text = luaL_tolstring(L, 2, NULL);     /* stack: job, v, text */
  lua_pushboolean(L, af_queue_job_log(job, text) == 0);
  return 1;
}

int af_queue_lua_new(const char *file, af_queue_lua **out, char **err) {
  int rc = -1;
  af_queue_lua *h = af_calloc(1, sizeof *h);
  if (!h || !(h->L = luaL_newstate())) {
    if (err) *err = af_strdup("handler: out of memory");
    goto done;
  }
  lua_State *L = h->L;
  static const luaL_Reg LIBS[] = {{LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string},
                                  {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                                  {NULL, NULL}};
  for (const luaL_Reg *l = LIBS; l->name; l++) {
    luaL_requiref(L, l->name, l->func, 1);
    lua_pop(L, 1);
  }
  af_json_open(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE); /* stack: loaded */
  lua_getfield(L, -1, "cjson");                      /* stack: loaded, cjson */
  lua_setglobal(L, "cjson");
  lua_pop(L, 1);
  if (luaL_loadfile(L, file) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    if (err) *err = af_asprintf("handler: %s", lua_tostring(L, -1));
    goto done;
  }
  if (!lua_isfunction(L, -1)) {                      /* stack: fn */
    if (err) *err = af_asprintf("handler: %s must return function(job)", file);
    goto done;
  }
  h->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  *out = h;
  h = NULL;
  rc = 0;
done:
  af_queue_lua_free(h);
  return rc;
}

void af_queue_lua_free(af_queue_lua *h) {
  if (!h) return;
  if (h->L) lua_close(h->L);
  af_free(h);
}

/* Builds the job table, calls the handler (pcall), settles the job. */
void af_queue_lua_run(af_queue_lua *h, af_queue_job *job) {
  lua_State *L = h->L;
  int top = lua_gettop(L);
  char *rv = NULL, *reason = NULL;
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->fn_ref);      /* stack: fn */
  lua_createtable(L, 0, 10);                         /* stack: fn, job */
  int jt = lua_gettop(L);
  lua_pushstring(L, job->id);
  lua_setfield(L, jt, "id");
  lua_pushstring(L, job->name);
  lua_setfield(L, jt, "name");
  lua_pushinteger(L, job->attempts_made);
  lua_setfield(L, jt, "attemptsMade");
  lua_pushinteger(L, job->attempts_started);
  lua_setfield(L, jt, "attemptsStarted");
  lua_pushinteger(L, job->timestamp);
  lua_setfield(L, jt, "timestamp");
  lua_pushcfunction(L, l_progress);
  lua_setfield(L, jt, "progress");
  lua_pushcfunction(L, l_log);
  lua_setfield(L, jt, "log");
  lua_pushlightuserdata(L, job);
  lua_setfield(L, jt, JOB_KEY);
  if (af_json_decode(L, job->data, job->data_len) != 0) { /* stack: fn, job, data|err */
    reason = af_asprintf("job data is not valid JSON: %s", lua_tostring(L, -1));
    goto done;
  }
  lua_setfield(L, jt, "data");                       /* stack: fn, job */
  lua_pushvalue(L, jt);                              /* stack: fn, job, job */
  lua_insert(L, top + 1);                            /* stack: job, fn, job */
  jt = top + 1;
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {             /* stack: job, err */
    reason = af_strdup(luaL_tolstring(L, -1, NULL));
    goto done;
  }
  if (lua_isnil(L, -1)) {                            /* stack: job, result */
    rv = af_strdup("null");
  } else if (!(rv = af_json_encode(L, -1, NULL))) {
    reason = af_asprintf("handler result cannot be encoded as JSON: %s",
                         lua_tostring(L, -1));
  }
done:
  lua_pushnil(L);
  lua_setfield(L, jt, JOB_KEY);                      /* the job table is dead now */
  lua_settop(L, top);
  if (rv) af_queue_job_complete(job, rv);
  else af_queue_job_fail(job, reason ? reason : "handler: out of memory");
  af_free(rv);
  af_free(reason);
}
