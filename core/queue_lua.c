/*
 * queue_lua.c -- Lua job handlers (see queue_lua.h). One plain lua_State per
 * worker; each job runs in its own coroutine, which a count hook suspends
 * every SLICE_NS of work so the loop can renew locks and run the other jobs;
 * an idle handle resumes the suspended ones in turn. The job table carries a
 * light userdata to its af_queue_job that is cleared when the call returns,
 * so a kept job table cannot reach freed jobs.
 */
#include "queue_lua.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "json.h"

enum { SLICE_NS = 10 * 1000 * 1000, HOOK_COUNT = 10000 };

typedef struct run {
  af_queue_lua *h;
  af_queue_job *job;
  lua_State *co;      /* the job's coroutine, anchored by co_ref */
  int co_ref, job_ref;
  uint64_t slice_end; /* uv_hrtime() after which the hook yields */
  struct run *next;   /* in h->suspended */
} run;

struct af_queue_lua {
  lua_State *L;
  int fn_ref;         /* the handler function */
  uv_idle_t idle;     /* active while some run is suspended */
  run *suspended, *last;
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

int af_queue_lua_new(uv_loop_t *loop, const char *file, af_queue_lua **out, char **err) {
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
  uv_idle_init(loop, &h->idle);
  h->idle.data = h;
  *out = h;
  h = NULL;
  rc = 0;
done:
  af_queue_lua_free(h);
  return rc;
}

void af_queue_lua_free(af_queue_lua *h) {
  if (!h) return;
  for (run *r = h->suspended, *next; r; r = next) { /* only if the loop stopped early */
    next = r->next;
    af_free(r);
  }
  if (h->L) lua_close(h->L);
  af_free(h);
}

void af_queue_lua_close(af_queue_lua *h) {
  if (h && !uv_is_closing((uv_handle_t *)&h->idle)) uv_close((uv_handle_t *)&h->idle, NULL);
}

/* Suspend the handler once its slice is used, where Lua allows it. */
static void slice_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  run *r = *(run **)lua_getextraspace(L);
  if (r && uv_hrtime() >= r->slice_end && lua_isyieldable(L)) lua_yield(L, 0);
}

static void step(run *r);

static void on_idle(uv_idle_t *i) {
  af_queue_lua *h = i->data;
  run *r = h->suspended;
  if (!r) {
    uv_idle_stop(i);
    return;
  }
  h->suspended = r->next;
  if (!h->suspended) h->last = NULL;
  step(r);
}

/* Settle the job with what the coroutine left (status and nres from lua_resume). */
static void settle(run *r, int status, int nres) {
  lua_State *co = r->co, *L = r->h->L;
  char *rv = NULL, *reason = NULL;
  if (status != LUA_OK) {
    reason = af_strdup(luaL_tolstring(co, -1, NULL));
  } else if (nres == 0 || lua_isnil(co, -1)) {
    rv = af_strdup("null");
  } else if (!(rv = af_json_encode(co, -1, NULL))) {
    reason = af_asprintf("handler result cannot be encoded as JSON: %s", lua_tostring(co, -1));
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->job_ref);     /* L: job */
  lua_pushnil(L);
  lua_setfield(L, -2, JOB_KEY);                      /* the job table is dead now */
  lua_pop(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, r->job_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, r->co_ref);
  af_queue_job *job = r->job;
  af_free(r);
  if (rv) af_queue_job_complete(job, rv);
  else af_queue_job_fail(job, reason ? reason : "handler: out of memory");
  af_free(rv);
  af_free(reason);
}

/* Run the coroutine for one slice; suspended, it waits its turn on the idle. */
static void step(run *r) {
  int nres = 0, nargs = lua_status(r->co) == LUA_YIELD ? 0 : 1;
  r->slice_end = uv_hrtime() + SLICE_NS;
  int status = lua_resume(r->co, r->h->L, nargs, &nres);
  if (status == LUA_YIELD) {
    af_queue_lua *h = r->h;
    r->next = NULL;
    if (h->last) h->last->next = r;
    else h->suspended = r;
    h->last = r;
    uv_idle_start(&h->idle, on_idle);
    return;
  }
  settle(r, status, nres);
}

/* Builds the job table in a new coroutine and starts the handler there. */
void af_queue_lua_run(af_queue_lua *h, af_queue_job *job) {
  lua_State *L = h->L;
  run *r = af_calloc(1, sizeof *r);
  lua_State *co = r ? lua_newthread(L) : NULL;       /* stack: co */
  if (!co) {
    af_free(r);
    af_queue_job_fail(job, "handler: out of memory");
    return;
  }
  r->h = h;
  r->job = job;
  r->co = co;
  r->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);        /* stack: (empty) */
  *(run **)lua_getextraspace(co) = r;
  lua_sethook(co, slice_hook, LUA_MASKCOUNT, HOOK_COUNT);
  lua_rawgeti(co, LUA_REGISTRYINDEX, h->fn_ref);     /* co: fn */
  lua_createtable(co, 0, 10);                        /* co: fn, job */
  int jt = lua_gettop(co);
  lua_pushstring(co, job->id);
  lua_setfield(co, jt, "id");
  lua_pushstring(co, job->name);
  lua_setfield(co, jt, "name");
  lua_pushinteger(co, job->attempts_made);
  lua_setfield(co, jt, "attemptsMade");
  lua_pushinteger(co, job->attempts_started);
  lua_setfield(co, jt, "attemptsStarted");
  lua_pushinteger(co, job->timestamp);
  lua_setfield(co, jt, "timestamp");
  lua_pushcfunction(co, l_progress);
  lua_setfield(co, jt, "progress");
  lua_pushcfunction(co, l_log);
  lua_setfield(co, jt, "log");
  lua_pushlightuserdata(co, job);
  lua_setfield(co, jt, JOB_KEY);
  lua_pushvalue(co, jt);
  r->job_ref = luaL_ref(co, LUA_REGISTRYINDEX);      /* co: fn, job */
  if (af_json_decode(co, job->data, job->data_len) != 0) { /* co: fn, job, data|err */
    lua_pushfstring(co, "job data is not valid JSON: %s", lua_tostring(co, -1));
    settle(r, LUA_ERRRUN, 1);
    return;
  }
  lua_setfield(co, jt, "data");                      /* co: fn, job */
  step(r);
}
