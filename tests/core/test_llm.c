/*
 * test_llm.c -- the chat-completions client on a private libuv loop: the
 * environment configuration, an answer from a minimal local HTTP server (libuv
 * TCP), and retries against a port nobody listens on.
 */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "llm.h"
#include "test.h"

typedef struct result {
  int calls, ok, attempts;
  char *body, *err;
} result;

static void on_done(void *data, int ok, const char *body, const char *err, uint64_t ms,
                    int attempts) {
  (void)ms;
  result *r = data;
  r->calls++;
  r->ok = ok;
  r->attempts = attempts;
  r->body = body ? af_strdup(body) : NULL;
  r->err = err ? af_strdup(err) : NULL;
}

TEST(llm_config_env) {
  af_llm_cfg c;
  unsetenv("AF_LLM_BASE_URL");
  ASSERT_INT_EQ(af_llm_config(&c), 0);
  setenv("AF_LLM_BASE_URL", "http://127.0.0.1:9/v1", 1);
  unsetenv("AF_LLM_MODEL");
  unsetenv("AF_LLM_TIMEOUT_MS");
  ASSERT_INT_EQ(af_llm_config(&c), 1);
  ASSERT_STR_EQ(c.model, "gpt-4o-mini");
  ASSERT_INT_EQ(c.timeout_ms, 30000);
  ASSERT_INT_EQ(c.attempts, 3);
  unsetenv("AF_LLM_BASE_URL");
  return 0;
}

/* A one-shot HTTP server: answers the first bytes it reads with a fixed reply. */
static const char REPLY[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
    "Connection: close\r\n\r\n{\"answer\":42}";
static uv_tcp_t server, peer;
static uv_write_t wreq;
static char rbuf[8192];

static void on_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  (void)h; (void)n;
  *b = uv_buf_init(rbuf, sizeof rbuf);
}
static void on_written(uv_write_t *w, int st) {
  (void)st;
  uv_close((uv_handle_t *)w->handle, NULL);
  uv_close((uv_handle_t *)&server, NULL);
}
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n <= 0) return;
  uv_read_stop(s);
  uv_buf_t out = uv_buf_init((char *)REPLY, sizeof REPLY - 1);
  uv_write(&wreq, s, &out, 1, on_written);
}
static void on_conn(uv_stream_t *s, int st) {
  (void)st;
  uv_tcp_init(s->loop, &peer);
  uv_accept(s, (uv_stream_t *)&peer);
  uv_read_start((uv_stream_t *)&peer, on_alloc, on_read);
}

TEST(llm_answer_on_loop) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(&loop, &server);
  ASSERT_INT_EQ(uv_tcp_bind(&server, (const struct sockaddr *)&a, 0), 0);
  ASSERT_INT_EQ(uv_listen((uv_stream_t *)&server, 4, on_conn), 0);
  struct sockaddr_in got;
  int len = sizeof got;
  uv_tcp_getsockname(&server, (struct sockaddr *)&got, &len);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/", ntohs(got.sin_port));
  af_llm_cfg c = {url, "sk-secret", "m", 5000, 3};
  result r = {0};
  char *err = NULL;
  ASSERT_INT_EQ(af_llm_chat(&loop, &c, "{\"messages\":[]}", on_done, &r, &err), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_INT_EQ(r.calls, 1);
  ASSERT_INT_EQ(r.ok, 1);
  ASSERT_INT_EQ(r.attempts, 1);
  ASSERT_STR_EQ(r.body, "{\"answer\":42}");
  ASSERT_STR_CONTAINS(rbuf, "POST /v1/chat/completions ");
  ASSERT_STR_CONTAINS(rbuf, "Authorization: Bearer sk-secret");
  ASSERT_INT_EQ(uv_loop_close(&loop), 0);
  af_free(r.body);
  return 0;
}

TEST(llm_retries_then_fails) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  /* a port that was free a moment ago: connections are refused */
  uv_tcp_t t;
  struct sockaddr_in a, got;
  int len = sizeof got;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(&loop, &t);
  uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
  uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(got.sin_port));
  af_llm_cfg c = {url, NULL, "m", 2000, 3};
  result r = {0};
  char *err = NULL;
  ASSERT_INT_EQ(af_llm_chat(&loop, &c, "{}", on_done, &r, &err), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_INT_EQ(r.calls, 1);
  ASSERT_INT_EQ(r.ok, 0);
  ASSERT_INT_EQ(r.attempts, 3);
  ASSERT_STR_CONTAINS(r.err, "LLM endpoint");
  ASSERT_INT_EQ(uv_loop_close(&loop), 0);
  af_free(r.err);
  return 0;
}
