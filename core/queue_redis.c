/*
 * queue_redis.c -- a reconnecting hiredis async connection on a libuv loop,
 * and the registry of the queue's embedded scripts (core/queue_scripts/, one .lua each,
 * compiled in by tools/cmake/embed_scripts.cmake).
 */
#include "queue_redis.h"

#include <hiredis/async.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

/* {=========== script registry
 * Every script is prelude + body. They are loaded two ways on each connect:
 * with SCRIPT LOAD (called by EVALSHA), and as one Redis 7 function library
 * (called by FCALL) whose helpers are built once at load rather than on every
 * call. FCALL is used once Redis has accepted the library; a Redis without
 * functions, or a user not allowed FUNCTION LOAD, keeps EVALSHA. The library
 * and function names carry a hash of the scripts, so workers of different
 * versions can share a Redis. */

struct af__queue_script { const char *name; const char *src; };
extern const struct af__queue_script af__queue_scripts[];

typedef struct script {
  const char *name;
  char *text;       /* prelude + body; owned for the process lifetime */
  char sha[41];
  char *fname;      /* its function in the library */
} script;

static script *g_scripts;
static int g_nscripts = -1;
static char *g_library; /* NULL when the prelude cannot be made a library */

static void sha1_hex(const char *text, char out[41]) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)text, strlen(text), md);
  for (int k = 0; k < SHA_DIGEST_LENGTH; k++) sprintf(out + 2 * k, "%02x", md[k]);
}

/* The library: redis.call does not exist while a library loads, so the
 * prelude's `local rcall = redis.call` becomes `local rcall`, set by each
 * function when it runs. */
static char *library_build(const char *prelude) {
  static const char RCALL[] = "\nlocal rcall = redis.call\n";
  const char *at = strstr(prelude, RCALL);
  if (!at) return NULL;
  char all[41], ver[13];
  af_buf b;
  af_buf_init(&b);
  for (int i = 0; i < g_nscripts; i++) af_buf_puts(&b, g_scripts[i].sha);
  if (b.oom) return NULL;
  sha1_hex(b.data, all);
  af_buf_reset(&b);
  memcpy(ver, all, 12);
  ver[12] = 0;
  af_buf_printf(&b, "#!lua name=autofactura_%s\n", ver);
  af_buf_append(&b, prelude, (size_t)(at - prelude));
  af_buf_puts(&b, "\nlocal rcall\n");
  af_buf_puts(&b, at + sizeof RCALL - 1);
  for (int i = 0; i < g_nscripts; i++) {
    script *sc = &g_scripts[i];
    if (!(sc->fname = af_asprintf("af_%s_%s", sc->name, ver))) b.oom = 1;
    else
      af_buf_printf(&b, "\nredis.register_function('%s', function(KEYS, ARGV)\n"
                        "rcall = redis.call\n%s\nend)\n",
                    sc->fname, sc->text + strlen(prelude) + 1);
  }
  if (b.oom) {
    af_buf_free(&b);
    return NULL;
  }
  return af_buf_steal(&b, NULL);
}

static int scripts_init(void) {
  if (g_nscripts >= 0) return 0;
  const char *prelude = NULL;
  int n = 0;
  for (const struct af__queue_script *s = af__queue_scripts; s->name; s++) {
    if (strcmp(s->name, "prelude") == 0) prelude = s->src;
    else n++;
  }
  g_scripts = af_calloc((size_t)n, sizeof *g_scripts);
  if (!g_scripts || !prelude) return -1;
  int i = 0;
  for (const struct af__queue_script *s = af__queue_scripts; s->name; s++) {
    if (strcmp(s->name, "prelude") == 0) continue;
    script *sc = &g_scripts[i++];
    sc->name = s->name;
    sc->text = af_asprintf("%s\n%s", prelude, s->src);
    if (!sc->text) return -1;
    sha1_hex(sc->text, sc->sha);
  }
  g_nscripts = n;
  g_library = library_build(prelude);
  return 0;
}

static const script *script_find(const char *name) {
  if (scripts_init() != 0) return NULL;
  for (int i = 0; i < g_nscripts; i++)
    if (strcmp(g_scripts[i].name, name) == 0) return &g_scripts[i];
  return NULL;
}

const char *af_redis_script_text(const char *name, const char **sha) {
  const script *s = script_find(name);
  if (s && sha) *sha = s->sha;
  return s ? s->text : NULL;
}

/* }=========== */

/* {=========== libuv adapter
 * As hiredis/adapters/libuv.h, with two differences:
 * - that header drops poll errors (status < 0), and libuv reports a refused
 *   connect or a reset socket only that way, then stops the handle, so the
 *   context would hang forever; here an error is handed to hiredis as the
 *   readiness it waits for, and hiredis finds the socket error;
 * - commands queued during a loop iteration are written at its end (a check
 *   handle) instead of arming EPOLLOUT and waiting one more iteration: one
 *   write(2) for all of them and no epoll_ctl per command. Only when the
 *   socket is full (or still connecting) does it wait for writability. */

typedef struct uv_events {
  redisAsyncContext *ac; /* NULL once hiredis let go */
  uv_poll_t poll;
  uv_check_t flush;
  int events;
  int flushing;
  int open;              /* handles not yet closed */
} uv_events;

static void ev_poll(uv_poll_t *h, int status, int events) {
  uv_events *p = h->data;
  if (status < 0 && p->ac) {
    if (p->ac->c.flags & REDIS_CONNECTED) redisAsyncHandleRead(p->ac);
    else redisAsyncHandleWrite(p->ac);
    return;
  }
  if (p->ac && (events & UV_READABLE)) redisAsyncHandleRead(p->ac);
  if (p->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

static void ev_update(uv_events *p, int add, int what) {
  int ev = add ? p->events | what : p->events & ~what;
  if (ev == p->events) return;
  p->events = ev;
  if (ev) uv_poll_start(&p->poll, ev, ev_poll);
  else uv_poll_stop(&p->poll);
}

static void run_flush_hook(redisAsyncContext *ac);

static void ev_flush(uv_check_t *c) {
  uv_events *p = c->data;
  uv_check_stop(c);
  if (!p->ac) return;
  p->flushing = 1;
  run_flush_hook(p->ac);
  if (p->ac) redisAsyncHandleWrite(p->ac); /* re-arms through ev_add_write if the socket is full */
  p->flushing = 0;
}

static void ev_add_read(void *d) { ev_update(d, 1, UV_READABLE); }
static void ev_del_read(void *d) { ev_update(d, 0, UV_READABLE); }
static void ev_add_write(void *d) {
  uv_events *p = d;
  if (p->ac && (p->ac->c.flags & REDIS_CONNECTED) && !p->flushing)
    uv_check_start(&p->flush, ev_flush);
  else
    ev_update(p, 1, UV_WRITABLE);
}
static void ev_del_write(void *d) {
  uv_events *p = d;
  uv_check_stop(&p->flush);
  ev_update(p, 0, UV_WRITABLE);
}

static void ev_closed(uv_handle_t *h) {
  uv_events *p = h->data;
  if (--p->open == 0) af_free(p);
}

static void ev_cleanup(void *d) {
  uv_events *p = d;
  p->ac = NULL;
  uv_close((uv_handle_t *)&p->poll, ev_closed);
  uv_close((uv_handle_t *)&p->flush, ev_closed);
}

static int ev_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  if (ac->ev.data) return -1;
  uv_events *p = af_calloc(1, sizeof *p);
  if (!p) return -1;
  if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
    af_free(p);
    return -1;
  }
  uv_check_init(loop, &p->flush);
  p->poll.data = p->flush.data = p;
  p->open = 2;
  p->ac = ac;
  ac->ev.data = p;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  return 0;
}

/* }=========== */

/* {=========== connection */

struct af_redis {
  uv_loop_t *loop;
  af_redis_url url;        /* owned copy */
  char *client_name;       /* owned, may be NULL */
  af_redis_state_cb state_cb;
  void *state_arg;
  redisAsyncContext *ac;   /* NULL while down */
  uv_timer_t retry;        /* reconnect backoff */
  unsigned backoff_ms;
  int up, closing;
  int fcall;               /* Redis took the function library: FCALL, else EVALSHA */
  int loading;             /* scripts sent, the library's reply not in yet */
  int told_down;           /* the state callback heard of this outage */
  af_redis_flush_cb flush_cb;
  void *flush_arg;
  void *data;              /* user slot */
};

typedef struct req {
  af_redis *r;
  af_redis_reply_cb cb;
  void *arg;
  char *cmd;     /* a script call's RESP, kept to send again; owned */
  size_t len;
  int resent;
} req;

static void do_connect(af_redis *r);
static void on_retry(uv_timer_t *t);

static void schedule_retry(af_redis *r) {
  if (r->closing) return;
  uv_timer_start(&r->retry, on_retry, r->backoff_ms, 0);
  r->backoff_ms = r->backoff_ms * 2 > 5000 ? 5000 : r->backoff_ms * 2;
}

static void on_retry(uv_timer_t *t) { do_connect(t->data); }

/* Tell the owner once per outage. */
static void tell_down(af_redis *r, const char *why) {
  if (r->told_down || r->closing) return;
  r->told_down = 1;
  if (r->state_cb) r->state_cb(r, 0, why, r->state_arg);
}

static void scripts_load(af_redis *r);

/* Scripts or functions flushed behind our back (SCRIPT FLUSH, FUNCTION
 * FLUSH, a failover). */
static int scripts_gone(const redisReply *rep) {
  return rep && rep->type == REDIS_REPLY_ERROR && rep->str &&
         (strncmp(rep->str, "NOSCRIPT", 8) == 0 || strstr(rep->str, "Function not found"));
}

static void req_free(req *q) {
  af_free(q->cmd);
  af_free(q);
}

static void reply_trampoline(redisAsyncContext *ac, void *reply, void *priv) {
  req *q = priv;
  af_redis *r = q->r;
  if (q->cmd && !q->resent && scripts_gone(reply) && r->ac && !r->closing) {
    /* load them again, then the same call behind them */
    if (!r->loading) scripts_load(r);
    q->resent = 1;
    if (redisAsyncFormattedCommand(ac, reply_trampoline, q, q->cmd, q->len) == REDIS_OK) return;
  }
  if (q->cb) q->cb(r, reply, q->arg);
  req_free(q);
}

/* Append "<c><n>\r\n" at p; returns the end. */
static char *resp_head(char *p, char c, size_t n) {
  char buf[24], *d = buf + sizeof buf;
  do *--d = (char)('0' + n % 10); while ((n /= 10) > 0);
  *p++ = c;
  size_t k = (size_t)(buf + sizeof buf - d);
  memcpy(p, d, k);
  p += k;
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

/* The command as RESP, formatted here in one allocation (hiredis's own
 * formatter grows an sds string piece by piece). NULL when out of memory. */
static char *resp_format(int argc, const char **argv, const size_t *lens, size_t *len) {
  size_t total = 1 + 20 + 2;
  for (int i = 0; i < argc; i++)
    total += 1 + 20 + 2 + (lens ? lens[i] : strlen(argv[i])) + 2;
  char *out = af_malloc(total), *p = out;
  if (!out) return NULL;
  p = resp_head(p, '*', (size_t)argc);
  for (int i = 0; i < argc; i++) {
    size_t n = lens ? lens[i] : strlen(argv[i]);
    p = resp_head(p, '$', n);
    memcpy(p, argv[i], n);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
  }
  *len = (size_t)(p - out);
  return out;
}

/* keep: a script call, whose text stays with the request to be resent. */
static int send_cmd(af_redis *r, af_redis_reply_cb cb, void *arg, int argc,
                    const char **argv, const size_t *lens, int keep) {
  if (!r->ac || r->closing) return -1;
  size_t len = 0;
  char *cmd = resp_format(argc, argv, lens, &len);
  req *q = af_malloc(sizeof *q);
  int rc = -1;
  if (!cmd || !q) goto done;
  *q = (req){r, cb, arg, NULL, len, 0};
  if (redisAsyncFormattedCommand(r->ac, reply_trampoline, q, cmd, len) == REDIS_OK) {
    if (keep) q->cmd = cmd, cmd = NULL;
    q = NULL;
    rc = 0;
  }
done:
  af_free(cmd);
  af_free(q);
  return rc;
}

static int send_argv(af_redis *r, af_redis_reply_cb cb, void *arg, int argc,
                     const char **argv, const size_t *lens) {
  return send_cmd(r, cb, arg, argc, argv, lens, 0);
}

/* Until this reply, and for good when it is an error, scripts go by EVALSHA. */
static void on_library(af_redis *r, redisReply *rep, void *arg) {
  (void)arg;
  r->loading = 0;
  if (rep && rep->type != REDIS_REPLY_ERROR && r->ac) r->fcall = 1;
}

/* Send every script, and the library, ahead of anything queued after. */
static void scripts_load(af_redis *r) {
  r->fcall = 0;
  r->loading = 1;
  for (int i = 0; i < g_nscripts; i++) {
    const char *a[] = {"SCRIPT", "LOAD", g_scripts[i].text};
    send_argv(r, NULL, NULL, 3, a, NULL);
  }
  if (g_library) {
    const char *a[] = {"FUNCTION", "LOAD", "REPLACE", g_library};
    send_argv(r, on_library, NULL, 4, a, NULL);
  } else {
    r->loading = 0;
  }
}

static void on_connected(const redisAsyncContext *ac, int status) {
  af_redis *r = ac->data;
  if (status != REDIS_OK) {
    /* hiredis frees the context after this callback. */
    r->ac = NULL;
    char why[512];
    snprintf(why, sizeof why, "cannot connect to Redis at %s:%d: %s", r->url.host,
             r->url.port, ac->errstr);
    tell_down(r, why);
    schedule_retry(r);
    return;
  }
  r->backoff_ms = 100;
  if (r->url.password) {
    const char *a[] = {"AUTH", r->url.password};
    send_argv(r, NULL, NULL, 2, a, NULL);
  }
  if (r->url.db) {
    char db[16];
    snprintf(db, sizeof db, "%d", r->url.db);
    const char *a[] = {"SELECT", db};
    send_argv(r, NULL, NULL, 2, a, NULL);
  }
  if (r->client_name) {
    const char *a[] = {"CLIENT", "SETNAME", r->client_name};
    send_argv(r, NULL, NULL, 3, a, NULL);
  }
  scripts_load(r);
  r->up = 1;
  r->told_down = 0;
  if (r->state_cb) r->state_cb(r, 1, NULL, r->state_arg);
}

static void on_disconnected(const redisAsyncContext *ac, int status) {
  af_redis *r = ac->data;
  r->ac = NULL;
  int was_up = r->up;
  r->up = 0;
  r->fcall = 0;
  if (r->closing) return;
  char why[512];
  snprintf(why, sizeof why, "lost the Redis connection: %s",
           status == REDIS_OK ? "closed" : ac->errstr);
  if (was_up) r->told_down = 0;
  tell_down(r, why);
  schedule_retry(r);
}

static void do_connect(af_redis *r) {
  if (r->closing || r->ac) return;
  redisAsyncContext *ac = redisAsyncConnect(r->url.host, r->url.port);
  if (!ac || ac->err || ev_attach(ac, r->loop) != 0) {
    char why[512];
    snprintf(why, sizeof why, "cannot connect to Redis at %s:%d: %s", r->url.host,
             r->url.port, ac && ac->err ? ac->errstr : "out of memory");
    if (ac) redisAsyncFree(ac);
    tell_down(r, why);
    schedule_retry(r);
    return;
  }
  ac->data = r;
  redisAsyncSetConnectCallback(ac, on_connected);
  redisAsyncSetDisconnectCallback(ac, on_disconnected);
  r->ac = ac;
}

int af_redis_open(uv_loop_t *loop, const af_redis_url *url, const char *client_name,
                  af_redis_state_cb cb, void *arg, af_redis **out, char **err) {
  int rc = -1;
  af_redis *r = NULL;
  if (scripts_init() != 0) {
    if (err) *err = af_strdup("queue: cannot prepare the embedded scripts");
    goto done;
  }
  r = af_calloc(1, sizeof *r);
  if (!r) goto oom;
  r->loop = loop;
  r->url = *url;
  r->url.password = NULL;
  if (url->password && !(r->url.password = af_strdup(url->password))) goto oom;
  if (client_name && !(r->client_name = af_strdup(client_name))) goto oom;
  r->state_cb = cb;
  r->state_arg = arg;
  r->backoff_ms = 100;
  uv_timer_init(loop, &r->retry);
  r->retry.data = r;
  uv_timer_start(&r->retry, on_retry, 0, 0);
  *out = r;
  r = NULL;
  rc = 0;
  goto done;
oom:
  if (err) *err = af_strdup("queue: out of memory");
done:
  if (r) {
    af_queue_url_free(&r->url);
    af_free(r->client_name);
    af_free(r);
  }
  return rc;
}

int af_redis_is_up(const af_redis *r) { return r->up; }

static void run_flush_hook(redisAsyncContext *ac) {
  af_redis *r = ac->data;
  if (r && r->flush_cb && !r->closing) r->flush_cb(r, r->flush_arg);
}

void af_redis_on_flush(af_redis *r, af_redis_flush_cb cb, void *arg) {
  r->flush_cb = cb;
  r->flush_arg = arg;
}

void af_redis_want_flush(af_redis *r) {
  if (!r->ac || !r->up || r->closing) return;
  uv_events *p = r->ac->ev.data;
  if (!p->flushing) uv_check_start(&p->flush, ev_flush);
}
void *af_redis_get_data(const af_redis *r) { return r->data; }
void af_redis_set_data(af_redis *r, void *data) { r->data = data; }

int af_redis_cmd(af_redis *r, af_redis_reply_cb cb, void *arg, int argc,
                 const char **argv, const size_t *lens) {
  return send_argv(r, cb, arg, argc, argv, lens);
}

int af_redis_script(af_redis *r, const char *name, af_redis_reply_cb cb, void *arg,
                    int argc, const char **argv, const size_t *lens) {
  const script *s = script_find(name);
  if (!s) return -1;
  const char *sav[64], **av = sav;
  size_t slv[64], *lv = slv;
  if (argc > 61) {
    av = af_malloc(sizeof *av * (size_t)(argc + 3));
    lv = af_malloc(sizeof *lv * (size_t)(argc + 3));
  }
  int rc = -1;
  if (!av || !lv) goto done;
  if (r->fcall) {
    av[0] = "FCALL";  lv[0] = 5;
    av[1] = s->fname; lv[1] = strlen(s->fname);
  } else {
    av[0] = "EVALSHA"; lv[0] = 7;
    av[1] = s->sha;    lv[1] = 40;
  }
  av[2] = "0"; lv[2] = 1;
  for (int i = 0; i < argc; i++) {
    av[3 + i] = argv[i];
    lv[3 + i] = lens ? lens[i] : strlen(argv[i]);
  }
  rc = send_cmd(r, cb, arg, argc + 3, av, lv, 1);
done:
  if (av != sav) af_free(av);
  if (lv != slv) af_free(lv);
  return rc;
}

static void on_timer_closed(uv_handle_t *h) {
  af_redis *r = h->data;
  af_queue_url_free(&r->url);
  af_free(r->client_name);
  af_free(r);
}

void af_redis_close(af_redis *r) {
  if (!r || r->closing) return;
  r->closing = 1;
  r->up = 0;
  if (r->ac) {
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    redisAsyncFree(ac);
  }
  uv_close((uv_handle_t *)&r->retry, on_timer_closed);
}

/* }=========== */
