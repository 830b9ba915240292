/*
 * script.c -- the sandboxed Lua 5.4 environment a recipe runs in: a custom
 * library list, an allow-listed and guarded _ENV, a counting allocator with
 * a cap, and a count hook enforcing instruction and wall-time limits.
 * Modelled on lua.c (laction/lstop), linit.c and Redis' script_lua.c.
 */
#include "script.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "fsutil.h"
#include "json.h"

#define HOOK_EVERY 1000

struct af_script {
  lua_State *L;     /* main state; owns everything below */
  lua_State *co;    /* the coroutine, anchored in the registry */
  int co_ref;
  int env_ref;
  size_t mem, max_mem;
  int mem_exceeded;
  int64_t instructions, max_instructions;
  uint64_t deadline_ns;
  int wall_ms;
  char *kill_reason; /* set: every hook call raises it */
  char *error;
  void *owner;
};

static const char KEY_SCRIPT = 's';

/* ---- allocator with a cap ------------------------------------------------ */

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  af_script *s = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    s->mem -= old;
    af_free(ptr);
    return NULL;
  }
  if (nsize > old && s->mem - old + nsize > s->max_mem) {
    s->mem_exceeded = 1;
    return NULL;
  }
  void *p = af_realloc(ptr, nsize);
  if (p) s->mem = s->mem - old + nsize;
  return p;
}

/* ---- the hook: instructions, wall time, kill ---------------------------- */

static af_script *get_script(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_SCRIPT);
  af_script *s = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return s;
}

static void hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  af_script *s = get_script(L);
  if (s->kill_reason == NULL) {
    s->instructions += HOOK_EVERY;
    if (s->instructions > s->max_instructions)
      af_script_kill(s, "instruction limit exceeded");
    else if (uv_hrtime() > s->deadline_ns)
      af_script_kill(s, "wall time limit exceeded");
  }
  if (s->kill_reason) {
    /* raise at every instruction from now on: pcall cannot swallow it */
    lua_sethook(L, hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "%s", s->kill_reason);
  }
}

void af_script_kill(af_script *s, const char *reason) {
  if (s->kill_reason) return;
  s->kill_reason = af_strdup(reason);
  if (s->kill_reason == NULL) s->kill_reason = "killed";
}

/* ---- sandbox ------------------------------------------------------------- */

static int strict_index(lua_State *L) {
  return luaL_error(L, "undefined global '%s'", luaL_optstring(L, 2, "?"));
}

static int strict_newindex(lua_State *L) {
  return luaL_error(L, "assignment to undeclared global '%s' (use local)",
                    luaL_optstring(L, 2, "?"));
}

/* load() for recipes: text chunks only, in the sandbox unless given an env. */
static int sandbox_load(lua_State *L) {
  size_t n;
  const char *src = luaL_checklstring(L, 1, &n);
  const char *name = luaL_optstring(L, 2, "=(load)");
  if (luaL_loadbufferx(L, src, n, name, "t") != LUA_OK) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;                                          /* stack: nil, err */
  }
  if (!lua_isnoneornil(L, 4)) lua_pushvalue(L, 4);
  else lua_rawgeti(L, LUA_REGISTRYINDEX, get_script(L)->env_ref);
  if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);        /* stack: ..., fn */
  return 1;
}

/* require() for recipes: only the runtime's own modules under lua/af/,
 * loaded as text into the sandbox and cached. */
static const char KEY_LOADED = 'l';

static int sandbox_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  size_t n = strlen(name);
  int ok = n > 3 && strncmp(name, "af.", 3) == 0 && n < 128;
  for (size_t i = 0; ok && i < n; i++)
    ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
         name[i] == '_' || (name[i] == '.' && name[i + 1] != '.' && name[i + 1]);
  if (!ok) return luaL_error(L, "module '%s' is not available to recipes (af.* only)", name);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_LOADED);      /* stack: name, loaded */
  if (lua_getfield(L, -1, name) != LUA_TNIL) return 1; /* stack: name, loaded, mod */
  lua_pop(L, 1);
  const char *dir = getenv("AF_LUA_DIR");
  if (dir == NULL || *dir == '\0') dir = AF_SOURCE_DIR "/lua";
  char rel[160], path[4096];
  snprintf(rel, sizeof rel, "%s", name);
  for (char *c = rel; *c; c++)
    if (*c == '.') *c = '/';
  snprintf(path, sizeof path, "%s/%s.lua", dir, rel);
  char *err = NULL;
  size_t len;
  char *src = af_fs_read(path, 1 << 20, &len, &err);
  if (src == NULL) {
    af_free(err);
    return luaL_error(L, "module '%s' not found", name);
  }
  lua_pushfstring(L, "@lua/%s.lua", rel);              /* stack: name, loaded, chunk */
  int st = luaL_loadbufferx(L, src, len, lua_tostring(L, -1), "t");
  af_free(src);
  if (st != LUA_OK) return lua_error(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, get_script(L)->env_ref);
  lua_setupvalue(L, -2, 1);                            /* _ENV = sandbox */
  lua_call(L, 0, 1);                                   /* stack: ..., mod */
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, 2, name);                            /* loaded[name] = mod */
  return 1;
}

static const char *const BASE_ALLOWED[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal",
    "rawlen", "rawget", "select", "setmetatable", "getmetatable", "tonumber",
    "tostring", "type", "xpcall", "_VERSION", NULL};

static void copy_fields(lua_State *L, int from, int to, const char *const *names) {
  from = lua_absindex(L, from);
  to = lua_absindex(L, to);
  for (; *names; names++) {
    lua_getfield(L, from, *names);
    lua_setfield(L, to, *names);
  }
}

/* Build the environment recipes see; leaves nothing on the stack. */
static void build_env(af_script *s) {
  lua_State *L = s->L;
  static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
                                  {LUA_STRLIBNAME, luaopen_string},
                                  {LUA_TABLIBNAME, luaopen_table},
                                  {LUA_MATHLIBNAME, luaopen_math},
                                  {LUA_UTF8LIBNAME, luaopen_utf8},
                                  {LUA_OSLIBNAME, luaopen_os},
                                  {NULL, NULL}};
  for (const luaL_Reg *l = libs; l->func; l++) {
    luaL_requiref(L, l->name, l->func, 1); /* into the real _G, never shown */
    lua_pop(L, 1);
  }
  /* no bytecode: string.dump goes, in the shared string table too */
  lua_getglobal(L, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);

  lua_newtable(L);                                     /* stack: env */
  int env = lua_gettop(L);
  lua_pushglobaltable(L);                              /* stack: env, G */
  copy_fields(L, env + 1, env, BASE_ALLOWED);
  const char *const libnames[] = {"string", "table", "math", "utf8", NULL};
  copy_fields(L, env + 1, env, libnames);
  lua_pop(L, 1);                                       /* stack: env */
  lua_pushcfunction(L, sandbox_load);
  lua_setfield(L, env, "load");
  lua_pushcfunction(L, sandbox_require);
  lua_setfield(L, env, "require");
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_LOADED);
  lua_newtable(L);                                     /* stack: env, os */
  lua_getglobal(L, "os");                              /* stack: env, os, G.os */
  const char *const osnames[] = {"time", "date", "clock", NULL};
  copy_fields(L, -1, -2, osnames);
  lua_pop(L, 1);                                       /* stack: env, os */
  lua_setfield(L, env, "os");                          /* stack: env */
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");
  lua_newtable(L);                                     /* stack: env, mt */
  lua_pushcfunction(L, strict_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, strict_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushliteral(L, "sandbox");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, env);                            /* stack: env */
  s->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);         /* stack: - */
}

/* ---- life cycle ---------------------------------------------------------- */

af_script *af_script_new(const af_script_limits *lim, char **err) {
  af_script *s = af_calloc(1, sizeof *s);
  if (s == NULL) {
    *err = af_strdup("out of memory");
    return NULL;
  }
  s->max_mem = lim && lim->max_memory ? lim->max_memory : (size_t)64 << 20;
  s->max_instructions = lim && lim->max_instructions ? lim->max_instructions : 200000000;
  s->wall_ms = lim && lim->max_wall_ms ? lim->max_wall_ms : 300000;
  s->co_ref = s->env_ref = LUA_NOREF;
  s->L = lua_newstate(l_alloc, s);
  if (s->L == NULL) {
    af_free(s);
    *err = af_strdup("cannot create a Lua state");
    return NULL;
  }
  lua_pushlightuserdata(s->L, s);
  lua_rawsetp(s->L, LUA_REGISTRYINDEX, &KEY_SCRIPT);
  af_json_open(s->L);
  build_env(s);
  return s;
}

void af_script_free(af_script *s) {
  if (s == NULL) return;
  lua_close(s->L);
  af_free(s->kill_reason);
  af_free(s->error);
  af_free(s);
}

lua_State *af_script_state(af_script *s) { return s->L; }
lua_State *af_script_thread(af_script *s) { return s->co; }
const char *af_script_error(af_script *s) { return s->error; }
void af_script_set_owner(af_script *s, void *owner) { s->owner = owner; }
void *af_script_owner(lua_State *L) { return get_script(L)->owner; }

void af_script_set_global(af_script *s, const char *name) {
  lua_State *L = s->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);       /* stack: v, env */
  lua_insert(L, -2);                                   /* stack: env, v */
  lua_pushstring(L, name);                             /* stack: env, v, name */
  lua_insert(L, -2);                                   /* stack: env, name, v */
  lua_rawset(L, -3);                                   /* past the strict guard */
  lua_pop(L, 1);
}

static void set_error(af_script *s, const char *msg) {
  char *e;
  if (s->mem_exceeded)
    e = af_asprintf("memory limit exceeded (%zu MiB)", s->max_mem >> 20);
  else if (s->kill_reason && strcmp(s->kill_reason, "instruction limit exceeded") == 0)
    e = af_asprintf("instruction limit exceeded (%lld)", (long long)s->max_instructions);
  else if (s->kill_reason && strcmp(s->kill_reason, "wall time limit exceeded") == 0)
    e = af_asprintf("wall time limit exceeded (%d s)", s->wall_ms / 1000);
  else if (s->kill_reason)
    e = af_strdup(s->kill_reason);
  else
    e = af_strdup(msg ? msg : "error");
  af_free(s->error);
  s->error = e;
}

/* Load src as text in the sandbox and run it; pushes its first result. */
static int run_chunk(af_script *s, const char *src, size_t n, const char *chunkname,
                     char **err) {
  lua_State *L = s->L;
  int top = lua_gettop(L);
  lua_pushfstring(L, "@%s", chunkname);                /* stack: name */
  int st = luaL_loadbufferx(L, src, n, lua_tostring(L, -1), "t"); /* stack: name, fn|err */
  if (st == LUA_OK) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);
    lua_setupvalue(L, -2, 1);                          /* _ENV = sandbox */
    lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
    s->deadline_ns = uv_hrtime() + (uint64_t)s->wall_ms * 1000000u;
    st = lua_pcall(L, 0, 1, 0);                        /* stack: name, v|err */
    lua_sethook(L, NULL, 0, 0);
  }
  if (st != LUA_OK) {
    set_error(s, lua_tostring(L, -1));
    *err = af_strdup(s->error);
    lua_settop(L, top);
    return -1;
  }
  lua_remove(L, -2);                                   /* stack: v */
  return 0;
}

int af_script_dofile(af_script *s, const char *path, const char *chunkname,
                     char **err) {
  size_t n;
  char *src = af_fs_read(path, 1 << 20, &n, err);
  if (src == NULL) return -1;
  int rc = run_chunk(s, src, n, chunkname, err);
  af_free(src);
  return rc;
}

int af_script_dostring(af_script *s, const char *src, const char *chunkname, char **err) {
  return run_chunk(s, src, strlen(src), chunkname, err);
}

static int finish(af_script *s, int st, int nres) {
  lua_State *co = s->co;
  if (st == LUA_YIELD) {
    lua_pop(co, nres); /* values a binding yielded are not used */
    return AF_SCRIPT_YIELDED;
  }
  if (st == LUA_OK) return AF_SCRIPT_RETURNED;
  set_error(s, lua_tostring(co, -1));
  return AF_SCRIPT_ERROR;
}

int af_script_start(af_script *s, int nargs) {
  lua_State *L = s->L;
  s->co = lua_newthread(L);                            /* stack: fn, args, co */
  s->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);          /* stack: fn, args */
  lua_xmove(L, s->co, nargs + 1);                      /* co stack: fn, args */
  lua_sethook(s->co, hook, LUA_MASKCOUNT, HOOK_EVERY);
  s->deadline_ns = uv_hrtime() + (uint64_t)s->wall_ms * 1000000u;
  int nres = 0;
  int st = lua_resume(s->co, L, nargs, &nres);
  return finish(s, st, nres);
}

int af_script_resume(af_script *s, int nres_in) {
  int nres = 0;
  if (s->kill_reason) { /* killed while waiting: end without running more */
    set_error(s, NULL);
    return AF_SCRIPT_ERROR;
  }
  int st = lua_resume(s->co, s->L, nres_in, &nres);
  return finish(s, st, nres);
}
