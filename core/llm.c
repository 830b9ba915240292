/*
 * llm.c -- owns one chat-completions HTTP request at a time per call: a
 * libcurl multi handle driven by uv_poll (its sockets) and a uv_timer (its
 * timeouts), as in curl's docs/examples/multi-uv.c, plus a retry timer. The
 * API key goes only into the Authorization header, never into a message.
 */
#include "llm.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

typedef struct llm_req {
  uv_loop_t *loop;
  CURLM *multi;
  CURL *easy;
  struct curl_slist *headers;
  uv_timer_t timer, retry;
  int closing;
  af_buf resp;
  char *url, *body;
  long timeout_ms;
  int attempt, attempts;
  uint64_t t0;
  af_llm_cb cb;
  void *data;
} llm_req;

typedef struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  llm_req *r;
} sock_ctx;

int af_llm_config(af_llm_cfg *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->base_url = getenv("AF_LLM_BASE_URL");
  if (cfg->base_url == NULL || *cfg->base_url == '\0') return 0;
  cfg->api_key = getenv("AF_LLM_API_KEY");
  cfg->model = getenv("AF_LLM_MODEL");
  if (cfg->model == NULL || *cfg->model == '\0') cfg->model = "gpt-4o-mini";
  const char *t = getenv("AF_LLM_TIMEOUT_MS");
  cfg->timeout_ms = t && atol(t) > 0 ? atol(t) : 30000;
  cfg->attempts = 3;
  return 1;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  llm_req *r = ud;
  af_buf_append(&r->resp, p, size * n);
  return size * n;
}

static void on_handle_closed(uv_handle_t *h) {
  llm_req *r = h->data;
  if (--r->closing > 0) return;
  af_buf_free(&r->resp);
  af_free(r->url);
  af_free(r->body);
  af_free(r);
}

static void on_sock_closed(uv_handle_t *h) { af_free(h->data); }

static void finish(llm_req *r, int ok, const char *err) {
  r->cb(r->data, ok, ok ? (r->resp.data ? r->resp.data : "") : NULL, err,
        uv_now(r->loop) - r->t0, r->attempt);
  curl_multi_remove_handle(r->multi, r->easy);
  curl_easy_cleanup(r->easy);
  curl_multi_cleanup(r->multi);
  curl_slist_free_all(r->headers);
  r->closing = 2;
  uv_close((uv_handle_t *)&r->timer, on_handle_closed);
  uv_close((uv_handle_t *)&r->retry, on_handle_closed);
}

static void on_retry(uv_timer_t *h) {
  llm_req *r = h->data;
  af_buf_free(&r->resp);
  af_buf_init(&r->resp);
  curl_multi_add_handle(r->multi, r->easy);
}

static void check_done(llm_req *r) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    CURLcode rc = m->data.result;
    r->attempt++;
    if (rc == CURLE_OK && code >= 200 && code < 300) {
      finish(r, 1, NULL);
      return;
    }
    int retryable = rc != CURLE_OK || code == 429 || code >= 500;
    if (retryable && r->attempt < r->attempts) {
      curl_multi_remove_handle(r->multi, r->easy);
      uv_timer_start(&r->retry, on_retry, 500u * (uint64_t)r->attempt, 0);
      return;
    }
    char msg[160];
    if (rc != CURLE_OK) snprintf(msg, sizeof msg, "LLM endpoint: %s", curl_easy_strerror(rc));
    else snprintf(msg, sizeof msg, "LLM endpoint answered HTTP %ld", code);
    finish(r, 0, msg);
    return;
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  sock_ctx *c = p->data;
  llm_req *r = c->r;
  int flags = status < 0 ? CURL_CSELECT_ERR : 0;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  curl_multi_socket_action(r->multi, c->fd, flags, &running);
  check_done(r);
}

static void on_timeout(uv_timer_t *h) {
  llm_req *r = h->data;
  int running;
  curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(r);
}

static int on_socket(CURL *e, curl_socket_t s, int action, void *ud, void *sp) {
  (void)e;
  llm_req *r = ud;
  sock_ctx *c = sp;
  if (action == CURL_POLL_REMOVE) {
    if (c) {
      uv_poll_stop(&c->poll);
      c->poll.data = c;
      uv_close((uv_handle_t *)&c->poll, on_sock_closed);
      curl_multi_assign(r->multi, s, NULL);
    }
    return 0;
  }
  if (c == NULL) {
    c = af_calloc(1, sizeof *c);
    if (c == NULL) return -1;
    c->fd = s;
    c->r = r;
    uv_poll_init_socket(r->loop, &c->poll, s);
    c->poll.data = c;
    curl_multi_assign(r->multi, s, c);
  }
  int ev = 0;
  if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) ev |= UV_READABLE;
  if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) ev |= UV_WRITABLE;
  uv_poll_start(&c->poll, ev, on_poll);
  return 0;
}

static int on_timer(CURLM *m, long ms, void *ud) {
  (void)m;
  llm_req *r = ud;
  if (ms < 0) uv_timer_stop(&r->timer);
  else uv_timer_start(&r->timer, on_timeout, (uint64_t)ms, 0);
  return 0;
}

int af_llm_chat(uv_loop_t *loop, const af_llm_cfg *cfg, const char *body,
                af_llm_cb cb, void *data, char **err) {
  static int curl_ready;
  if (!curl_ready) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl_ready = 1;
  }
  llm_req *r = af_calloc(1, sizeof *r);
  char *auth = NULL;
  if (r == NULL) goto oom;
  r->loop = loop;
  r->cb = cb;
  r->data = data;
  r->attempts = cfg->attempts > 0 ? cfg->attempts : 1;
  r->timeout_ms = cfg->timeout_ms;
  af_buf_init(&r->resp);
  size_t n = strlen(cfg->base_url);
  while (n > 0 && cfg->base_url[n - 1] == '/') n--;
  r->url = af_asprintf("%.*s/chat/completions", (int)n, cfg->base_url);
  r->body = af_strdup(body);
  r->multi = curl_multi_init();
  r->easy = curl_easy_init();
  if (!r->url || !r->body || !r->multi || !r->easy) goto oom;
  r->headers = curl_slist_append(NULL, "Content-Type: application/json");
  if (cfg->api_key && *cfg->api_key) {
    auth = af_asprintf("Authorization: Bearer %s", cfg->api_key);
    if (auth == NULL) goto oom;
    r->headers = curl_slist_append(r->headers, auth);
    af_free(auth);
  }
  curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
  curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
  curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, r->timeout_ms);
  curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_multi_setopt(r->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(r->multi, CURLMOPT_SOCKETDATA, r);
  curl_multi_setopt(r->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(r->multi, CURLMOPT_TIMERDATA, r);
  uv_timer_init(loop, &r->timer);
  uv_timer_init(loop, &r->retry);
  r->timer.data = r->retry.data = r;
  r->t0 = uv_now(loop);
  curl_multi_add_handle(r->multi, r->easy);
  return 0;
oom:
  if (r) {
    if (r->easy) curl_easy_cleanup(r->easy);
    if (r->multi) curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->headers);
    af_buf_free(&r->resp);
    af_free(r->url);
    af_free(r->body);
    af_free(r);
  }
  *err = af_strdup("out of memory");
  return -1;
}
