/*
 * test_script.c -- the recipe sandbox: what is absent, strict globals,
 * and the instruction, memory and wall-time limits; coroutines that yield
 * on a timer interleave on one loop.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "script.h"
#include "test.h"

/* Run src as a recipe body; returns the AF_SCRIPT_* status. */
static int run_src(const char *src, const af_script_limits *lim, char *errbuf, size_t n) {
  char path[] = "/tmp/af-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  ASSERT((size_t)write(fd, src, strlen(src)) == strlen(src));
  close(fd);
  char *err = NULL;
  af_script *s = af_script_new(lim, &err);
  ASSERT_NOT_NULL(s);
  int st;
  if (af_script_dofile(s, path, "recipe.lua", &err) != 0) {
    st = AF_SCRIPT_ERROR;
    snprintf(errbuf, n, "%s", err);
  } else {
    st = af_script_start(s, 0);
    snprintf(errbuf, n, "%s", st == AF_SCRIPT_ERROR ? af_script_error(s) : "");
  }
  af_free(err);
  af_script_free(s);
  unlink(path);
  return st;
}

TEST(sandbox_hides_dangerous_globals) {
  char err[256];
  const char *src =
      "return function()\n"
      "  for _, name in ipairs({'io', 'debug', 'package', 'dofile',\n"
      "                         'loadfile', 'collectgarbage', 'coroutine'}) do\n"
      "    local ok = pcall(function() return _G[name] end)\n"
      "    assert(not ok, name .. ' is reachable')\n"
      "  end\n"
      "  assert(os.execute == nil and os.exit == nil and os.getenv == nil, 'os')\n"
      "  assert(os.time() > 0)\n"
      "  assert(string.dump == nil and (''):rep(2) == '', 'dump')\n"
      "  local f, e = load('\\27Lua\\84\\0')\n"
      "  assert(f == nil and e:find('binary'), 'bytecode loaded')\n"
      "  assert(load('return 1 + 1')() == 2)\n"
      "  assert(require('af.fmt').date('2026-03-07', 'DD/MM/YYYY') == '07/03/2026')\n"
      "  assert(require('af.fmt') == require('af.fmt'), 'cached')\n"
      "  assert(not pcall(require, 'os'), 'only af.*')\n"
      "  assert(not pcall(require, 'af..x'), 'no path tricks')\n"
      "  assert(not pcall(require, 'af.nonexistent'))\n"
      "end\n";
  ASSERT_INT_EQ(run_src(src, NULL, err, sizeof err), AF_SCRIPT_RETURNED);
  return 0;
}

TEST(sandbox_strict_globals) {
  char err[256];
  ASSERT_INT_EQ(run_src("return function() x = 1 end", NULL, err, sizeof err),
                AF_SCRIPT_ERROR);
  ASSERT_STR_CONTAINS(err, "recipe.lua:1: assignment to undeclared global 'x'");
  ASSERT_INT_EQ(run_src("return function() return undefined_thing end", NULL, err,
                        sizeof err), AF_SCRIPT_ERROR);
  ASSERT_STR_CONTAINS(err, "undefined global 'undefined_thing'");
  return 0;
}

TEST(sandbox_instruction_limit) {
  char err[256];
  af_script_limits lim = {1000000, 0, 0};
  /* pcall must not swallow the limit */
  const char *src = "return function() while true do pcall(function() while true do end "
                    "end) end end";
  ASSERT_INT_EQ(run_src(src, &lim, err, sizeof err), AF_SCRIPT_ERROR);
  ASSERT_STR_EQ(err, "instruction limit exceeded (1000000)");
  return 0;
}

TEST(sandbox_memory_limit) {
  char err[256];
  af_script_limits lim = {0, 8u << 20, 0};
  const char *src = "return function() local t = {} for i = 1, 1e8 do "
                    "t[i] = ('x'):rep(64) .. i end end";
  ASSERT_INT_EQ(run_src(src, &lim, err, sizeof err), AF_SCRIPT_ERROR);
  ASSERT_STR_EQ(err, "memory limit exceeded (8 MiB)");
  return 0;
}

TEST(sandbox_wall_limit) {
  char err[256];
  af_script_limits lim = {(int64_t)1 << 50, 0, 200};
  uint64_t t0 = uv_hrtime();
  ASSERT_INT_EQ(run_src("return function() while true do end end", &lim, err, sizeof err),
                AF_SCRIPT_ERROR);
  ASSERT_STR_EQ(err, "wall time limit exceeded (0 s)");
  ASSERT((uv_hrtime() - t0) / 1000000 < 2000);
  return 0;
}

/* ---- two coroutines yielding on timers interleave on one loop ---------- */

typedef struct sleeper {
  af_script *s;
  uv_timer_t timer;
  int status;
} sleeper;

static char order[64];

static void on_wake(uv_timer_t *t) {
  sleeper *sl = t->data;
  sl->status = af_script_resume(sl->s, 0);
}

static int l_sleep(lua_State *L) {
  sleeper *sl = af_script_owner(L);
  uv_timer_start(&sl->timer, on_wake, (uint64_t)luaL_checkinteger(L, 1), 0);
  return lua_yield(L, 0);
}

static int l_mark(lua_State *L) {
  strncat(order, luaL_checkstring(L, 1), sizeof order - strlen(order) - 1);
  return 0;
}

static void start_sleeper(sleeper *sl, const char *path) {
  char *err = NULL;
  sl->s = af_script_new(NULL, &err);
  ASSERT_NOT_NULL(sl->s);
  af_script_set_owner(sl->s, sl);
  uv_timer_init(uv_default_loop(), &sl->timer);
  sl->timer.data = sl;
  lua_State *L = af_script_state(sl->s);
  lua_pushcfunction(L, l_sleep);
  af_script_set_global(sl->s, "sleep");
  lua_pushcfunction(L, l_mark);
  af_script_set_global(sl->s, "mark");
  ASSERT_INT_EQ(af_script_dofile(sl->s, path, "r.lua", &err), 0);
  sl->status = af_script_start(sl->s, 0);
}

TEST(script_coroutines_interleave) {
  char a[] = "/tmp/af-a-XXXXXX", b[] = "/tmp/af-b-XXXXXX";
  int fa = mkstemp(a), fb = mkstemp(b);
  const char *ra = "return function() for i = 1, 3 do mark('a') sleep(20) end end";
  const char *rb = "return function() for i = 1, 3 do mark('b') sleep(20) end end";
  ASSERT(write(fa, ra, strlen(ra)) > 0 && write(fb, rb, strlen(rb)) > 0);
  close(fa);
  close(fb);
  sleeper sa = {0}, sb = {0};
  start_sleeper(&sa, a);
  start_sleeper(&sb, b);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  ASSERT_INT_EQ(sa.status, AF_SCRIPT_RETURNED);
  ASSERT_INT_EQ(sb.status, AF_SCRIPT_RETURNED);
  ASSERT_STR_EQ(order, "ababab");
  uv_close((uv_handle_t *)&sa.timer, NULL);
  uv_close((uv_handle_t *)&sb.timer, NULL);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  af_script_free(sa.s);
  af_script_free(sb.s);
  unlink(a);
  unlink(b);
  return 0;
}
