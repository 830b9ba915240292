/*
 * test_buf_json.c -- af_buf building and JSON through lua-cjson.
 */
#include <lauxlib.h>
#include <lualib.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"
#include "test.h"

TEST(buf_json_escape) {
  af_buf b;
  af_buf_init(&b);
  af_buf_json_str(&b, "a\"b\\c\n\x01\xc3\x91", 9);
  ASSERT_STR_EQ(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\x91\"");
  af_buf_free(&b);
  return 0;
}

static int fail_allocs;
static void *failing_realloc(void *p, size_t n) {
  (void)p; (void)n;
  fail_allocs++;
  return NULL;
}

TEST(buf_oom_sticks) {
  af_buf b;
  af_buf_init(&b);
  af_allocator a = {malloc, calloc, failing_realloc, free};
  af_alloc_set(&a);
  ASSERT_INT_EQ(af_buf_puts(&b, "hello"), -1);
  ASSERT_INT_EQ(af_buf_puts(&b, "again"), -1);
  af_alloc_reset();
  ASSERT(b.oom);
  ASSERT_INT_EQ(fail_allocs, 1);
  ASSERT_NULL(b.data);
  af_buf_free(&b);
  return 0;
}

TEST(json_decode_paths) {
  lua_State *L = luaL_newstate();
  af_json_open(L);
  const char *msg = "{\"id\":7,\"result\":{\"result\":{\"value\":\"ok\",\"n\":2.5,"
                    "\"b\":true}}}";
  ASSERT_INT_EQ(af_json_decode(L, msg, strlen(msg)), 0);
  double id = 0, n = 0;
  int b = 0;
  ASSERT_INT_EQ(af_json_num(L, -1, "id", &id), 0);
  ASSERT_INT_EQ((int)id, 7);
  ASSERT_STR_EQ(af_json_str(L, -1, "result.result.value", NULL), "ok");
  ASSERT_INT_EQ(af_json_num(L, -1, "result.result.n", &n), 0);
  ASSERT(n == 2.5);
  ASSERT_INT_EQ(af_json_bool(L, -1, "result.result.b", &b), 0);
  ASSERT(b);
  ASSERT_NULL(af_json_str(L, -1, "result.missing.value", NULL));
  ASSERT_INT_EQ(af_json_num(L, -1, "result.result.value", &n), -1);
  size_t len;
  char *enc = af_json_encode(L, -1, &len);
  ASSERT_NOT_NULL(enc);
  ASSERT_STR_CONTAINS(enc, "\"id\":7");
  af_free(enc);
  ASSERT_INT_EQ(lua_gettop(L), 1);
  lua_close(L);
  return 0;
}

TEST(json_decode_error) {
  lua_State *L = luaL_newstate();
  af_json_open(L);
  ASSERT_INT_EQ(af_json_decode(L, "{\"a\":", 5), -1);
  ASSERT_STR_CONTAINS(lua_tostring(L, -1), "Expected");
  lua_close(L);
  return 0;
}
