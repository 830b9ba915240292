/*
 * test_queue_wire.c -- the pure parts of the bullmq wire format: Redis URLs,
 * key prefix, job options (validation and the stored opts JSON), keep rules,
 * backoff math, and the embedded scripts.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"
#include "queue_redis.h"
#include "queue_wire.h"
#include "test.h"

static lua_State *state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  af_json_open(L);
  return L;
}

TEST(queue_url_parse) {
  af_redis_url u;
  char *err = NULL;
  ASSERT_INT_EQ(af_queue_url_parse("redis://127.0.0.1:6390/3", &u, &err), 0);
  ASSERT_STR_EQ(u.host, "127.0.0.1");
  ASSERT_INT_EQ(u.port, 6390);
  ASSERT_INT_EQ(u.db, 3);
  ASSERT_NULL(u.password);
  ASSERT_INT_EQ(af_queue_url_parse("redis://:s3cret@cache", &u, &err), 0);
  ASSERT_STR_EQ(u.host, "cache");
  ASSERT_INT_EQ(u.port, 6379);
  ASSERT_STR_EQ(u.password, "s3cret");
  af_queue_url_free(&u);
  const char *bad[] = {"http://x", "redis://", "redis://h:0", "redis://h:99999",
                       "redis://h/x", "redis://h:12ab", NULL};
  for (const char **b = bad; *b; b++) {
    err = NULL;
    ASSERT_INT_EQ(af_queue_url_parse(*b, &u, &err), -1);
    ASSERT_STR_CONTAINS(err, "AF_REDIS_URL");
    af_free(err);
  }
  /* the password never shows in the error */
  ASSERT_INT_EQ(af_queue_url_parse("redis://:hunter2@h:bad", &u, &err), -1);
  ASSERT(strstr(err, "hunter2") == NULL);
  af_free(err);
  return 0;
}

TEST(queue_key_prefix) {
  char *p = af_queue_key_prefix(NULL, "automation-tasks");
  ASSERT_STR_EQ(p, "bull:automation-tasks:");
  af_free(p);
  p = af_queue_key_prefix("{af}", "q");
  ASSERT_STR_EQ(p, "{af}:q:");
  af_free(p);
  return 0;
}

TEST(queue_opts_stored_json) {
  lua_State *L = state();
  af_queue_job_opts o;
  char *stored = NULL, *err = NULL;
  ASSERT_INT_EQ(af_queue_job_opts_parse(L, "{\"jobId\":\"task-1\",\"backoff\":500,"
                                           "\"priority\":3,\"keepLogs\":5,\"removeOnComplete\":true}",
                                        &o, &stored, &err), 0);
  ASSERT_STR_EQ(o.job_id, "task-1");
  ASSERT_INT_EQ(o.attempts, 0);
  ASSERT_INT_EQ(o.backoff_type, AF_BACKOFF_FIXED);
  ASSERT_INT_EQ(o.backoff_delay, 500);
  ASSERT_INT_EQ(o.priority, 3);
  ASSERT_INT_EQ(o.keep_logs, 5);
  ASSERT_INT_EQ(o.has_keep_complete, 1);
  ASSERT_INT_EQ(o.keep_complete.count, 0);
  ASSERT_INT_EQ(o.has_keep_fail, 0);
  /* as bullmq's Job constructor: attempts defaulted, backoff normalized,
   * keepLogs under its compact name */
  ASSERT_INT_EQ(af_json_decode(L, stored, strlen(stored)), 0);
  double d;
  size_t n;
  ASSERT_INT_EQ(af_json_num(L, -1, "attempts", &d), 0);
  ASSERT_INT_EQ(d, 0);
  ASSERT_STR_EQ(af_json_str(L, -1, "backoff.type", &n), "fixed");
  ASSERT_INT_EQ(af_json_num(L, -1, "backoff.delay", &d), 0);
  ASSERT_INT_EQ(d, 500);
  ASSERT_INT_EQ(af_json_num(L, -1, "kl", &d), 0);
  ASSERT_INT_EQ(d, 5);
  ASSERT_INT_EQ(af_json_push(L, -1, "keepLogs"), LUA_TNIL);
  lua_pop(L, 2);
  af_free(stored);
  af_queue_job_opts_free(&o);
  lua_close(L);
  return 0;
}

TEST(queue_opts_refused) {
  lua_State *L = state();
  static const struct { const char *json, *msg; } CASES[] = {
      {"[1]", "opts: must be a JSON object"},
      {"{", "opts: not valid JSON"},
      {"{\"jobId\":\"42\"}", "opts.jobId: custom ids cannot be integers"},
      {"{\"jobId\":\"a:b\"}", "opts.jobId: custom ids cannot contain ':'"},
      {"{\"jobId\":7}", "opts.jobId: must be a string"},
      {"{\"attempts\":-1}", "opts.attempts"},
      {"{\"attempts\":1.5}", "opts.attempts"},
      {"{\"priority\":2097153}", "opts.priority: must be an integer between 0 and 2097152"},
      {"{\"priority\":1.5}", "opts.priority"},
      {"{\"delay\":-5}", "opts.delay"},
      {"{\"backoff\":{\"type\":\"custom\",\"delay\":1}}", "opts.backoff.type"},
      {"{\"backoff\":{\"type\":\"fixed\",\"delay\":1,\"jitter\":2}}", "opts.backoff.jitter"},
      {"{\"backoff\":\"soon\"}", "opts.backoff"},
      {"{\"removeOnFail\":\"yes\"}", "opts.removeOnFail"},
      {"{\"removeOnComplete\":{\"count\":-2}}", "opts.removeOnComplete"},
      {"{\"repeat\":{\"every\":1000}}", "opts.repeat: not supported"},
      {"{\"lifo\":1}", "opts.lifo: must be a boolean"},
  };
  for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
    af_queue_job_opts o;
    char *stored = NULL, *err = NULL;
    if (af_queue_job_opts_parse(L, CASES[i].json, &o, &stored, &err) != -1)
      AF__FAIL("accepted %s", CASES[i].json);
    ASSERT_STR_CONTAINS(err, CASES[i].msg);
    ASSERT(strchr(err, '\n') == NULL);
    ASSERT_NULL(stored);
    af_free(err);
  }
  ASSERT_INT_EQ(lua_gettop(L), 0);
  lua_close(L);
  return 0;
}

TEST(queue_opts_read_lenient) {
  lua_State *L = state();
  af_queue_job_opts o;
  /* as a Node producer stores them (cjson-encoded, \/ escapes) */
  const char *js = "{\"attempts\":3,\"backoff\":{\"delay\":1000,\"type\":\"exponential\"},"
                   "\"removeOnFail\":{\"age\":3600,\"count\":10},\"jobId\":\"a\\/b\","
                   "\"stackTraceLimit\":2,\"weird\":\"x\",\"priority\":\"high\"}";
  ASSERT_INT_EQ(af_queue_job_opts_read(L, js, strlen(js), &o), 0);
  ASSERT_INT_EQ(o.attempts, 3);
  ASSERT_INT_EQ(o.backoff_type, AF_BACKOFF_EXPONENTIAL);
  ASSERT_INT_EQ(o.backoff_delay, 1000);
  ASSERT_INT_EQ(o.has_keep_fail, 1);
  ASSERT_INT_EQ(o.keep_fail.count, 10);
  ASSERT_INT_EQ(o.keep_fail.age_s, 3600);
  ASSERT_INT_EQ(o.keep_fail.limit, 1000);
  ASSERT_INT_EQ(o.stack_limit, 2);
  ASSERT_INT_EQ(o.priority, 0);
  ASSERT_STR_EQ(o.job_id, "a/b");
  af_queue_job_opts_free(&o);
  ASSERT_INT_EQ(af_queue_job_opts_read(L, "not json", 8, &o), -1);
  ASSERT_INT_EQ(lua_gettop(L), 0);
  lua_close(L);
  return 0;
}

TEST(queue_backoff_math) {
  af_queue_job_opts o;
  af_queue_job_opts_init(&o);
  ASSERT_INT_EQ(af_queue_backoff_ms(&o, 1, 0.5), 0);
  o.backoff_type = AF_BACKOFF_EXPONENTIAL;
  o.backoff_delay = 1000;
  ASSERT_INT_EQ(af_queue_backoff_ms(&o, 1, 0.5), 1000);
  ASSERT_INT_EQ(af_queue_backoff_ms(&o, 2, 0.5), 2000);
  ASSERT_INT_EQ(af_queue_backoff_ms(&o, 3, 0.5), 4000);
  ASSERT_INT_EQ(af_queue_backoff_ms(&o, 11, 0.5), 1024000);
  o.backoff_jitter = 0.5; /* random in [max/2, max] */
  ASSERT_INT_EQ(af_queue_backoff_ms(&o, 3, 0.0), 2000);
  ASSERT_INT_EQ(af_queue_backoff_ms(&o, 3, 0.999), 3998);
  o.backoff_type = AF_BACKOFF_FIXED;
  o.backoff_jitter = 0;
  o.backoff_delay = 250;
  ASSERT_INT_EQ(af_queue_backoff_ms(&o, 7, 0.1), 250);
  /* retries: attemptsMade + 1 < attempts */
  o.attempts = 3;
  ASSERT_INT_EQ(af_queue_should_retry(&o, 0), 1);
  ASSERT_INT_EQ(af_queue_should_retry(&o, 1), 1);
  ASSERT_INT_EQ(af_queue_should_retry(&o, 2), 0);
  o.attempts = 0;
  ASSERT_INT_EQ(af_queue_should_retry(&o, 0), 0);
  return 0;
}

TEST(queue_scripts_embedded) {
  static const char *const NAMES[] = {"add", "fetch", "finish_many", "retry", "extend",
                                      "stalled", "progress", "log", NULL};
  for (const char *const *n = NAMES; *n; n++) {
    const char *sha = NULL, *text = af_redis_script_text(*n, &sha);
    ASSERT_NOT_NULL(text);
    ASSERT_STR_CONTAINS(text, "local function takeReady(");
    ASSERT_INT_EQ(strlen(sha), 40);
    ASSERT_INT_EQ(strspn(sha, "0123456789abcdef"), 40);
  }
  ASSERT_NULL(af_redis_script_text("prelude", NULL));
  ASSERT_NULL(af_redis_script_text("nope", NULL));
  return 0;
}
