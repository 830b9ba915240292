/*
 * queue.c -- bullmq-compatible producer and worker (see queue.h).
 * Relies on queue_redis.c for connections and the embedded scripts
 * (core/queue_scripts/, one .lua per script), queue_wire.c for options and backoff math.
 *
 * Worker loop, as bullmq's: take jobs with `fetch` while slots are free; when
 * a take finds nothing, block on the marker zset (BZPOPMIN, own connection)
 * until a producer or a promotion marks work, or the next delayed job is due.
 * Each finish takes the next job in the same round trip. Locks are renewed
 * every quarter of their duration; every stalled interval one worker of the
 * queue recovers jobs whose lock expired (their worker died).
 */
#include "queue.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "json.h"
#include "queue_redis.h"

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static lua_State *json_state(void) {
  lua_State *L = luaL_newstate();
  if (!L) return NULL;
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  lua_pop(L, 1);
  af_json_open(L);
  return L;
}

static const char *reply_err(redisReply *rep) {
  if (!rep) return "lost the Redis connection";
  if (rep->type == REDIS_REPLY_ERROR) return rep->str;
  return NULL;
}

/* {=========== producer */

typedef struct pending_add {
  struct pending_add *prev, *next;
  af_queue *q;
  char *argv[9];
  size_t lens[9];
  int sent;
  af_queue_add_cb cb;
  void *arg;
} pending_add;

struct af_queue {
  uv_loop_t *loop;
  af_redis *r;
  char *prefix;
  lua_State *L;
  pending_add *head, *tail;
  int closing;
  af_queue_close_cb close_cb;
  uv_timer_t closer;
  void *data;
};

static void add_free(pending_add *p) {
  for (int i = 0; i < 9; i++) af_free(p->argv[i]);
  af_free(p);
}

static void add_unlink(af_queue *q, pending_add *p) {
  if (p->prev) p->prev->next = p->next; else q->head = p->next;
  if (p->next) p->next->prev = p->prev; else q->tail = p->prev;
}

static void queue_closed(uv_handle_t *h) {
  af_queue *q = h->data;
  if (q->close_cb) q->close_cb(q);
  af_free(q->prefix);
  if (q->L) lua_close(q->L);
  af_free(q);
}

static void queue_maybe_finish_close(af_queue *q) {
  if (!q->closing || q->head || uv_is_closing((uv_handle_t *)&q->closer)) return;
  af_redis_close(q->r);
  q->r = NULL;
  uv_close((uv_handle_t *)&q->closer, queue_closed);
}

static void add_send(af_queue *q, pending_add *p);

static void add_reply(af_redis *r, redisReply *rep, void *arg) {
  pending_add *p = arg;
  af_queue *q = p->q;
  (void)r;
  if (!rep && !q->closing) {
    p->sent = 0; /* resent when the connection is back */
    return;
  }
  add_unlink(q, p);
  char msg[96];
  const char *err = reply_err(rep), *id = NULL;
  if (!err && rep->type == REDIS_REPLY_STRING) id = rep->str;
  else if (!err) {
    snprintf(msg, sizeof msg, "queue: add refused by Redis (code %lld)",
             rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0LL);
    err = msg;
  }
  if (p->cb) p->cb(q, id, err, p->arg);
  add_free(p);
  queue_maybe_finish_close(q);
}

static void add_send(af_queue *q, pending_add *p) {
  if (p->sent || !q->r || !af_redis_is_up(q->r)) return;
  if (af_redis_script(q->r, "add", add_reply, p, 9, (const char **)p->argv, p->lens) == 0)
    p->sent = 1;
}

static void queue_state(af_redis *r, int up, const char *why, void *arg) {
  af_queue *q = arg;
  (void)r;
  (void)why;
  if (!up) return;
  for (pending_add *p = q->head; p; p = p->next) add_send(q, p);
}

int af_queue_open(uv_loop_t *loop, const char *redis_url, const char *prefix,
                  const char *queue, af_queue **out, char **err) {
  int rc = -1;
  af_redis_url url = {0};
  af_queue *q = af_calloc(1, sizeof *q);
  if (!q) goto oom;
  if (af_queue_url_parse(redis_url, &url, err) != 0) goto done;
  q->loop = loop;
  if (!(q->prefix = af_queue_key_prefix(prefix, queue)) || !(q->L = json_state())) goto oom;
  if (af_redis_open(loop, &url, NULL, queue_state, q, &q->r, err) != 0) goto done;
  uv_timer_init(loop, &q->closer);
  q->closer.data = q;
  *out = q;
  q = NULL;
  rc = 0;
  goto done;
oom:
  if (err) *err = af_strdup("queue: out of memory");
done:
  af_queue_url_free(&url);
  if (q) {
    af_free(q->prefix);
    if (q->L) lua_close(q->L);
    af_free(q);
  }
  return rc;
}

int af_queue_add(af_queue *q, const char *name, const char *data,
                 const char *opts, af_queue_add_cb cb, void *arg, char **err) {
  int rc = -1;
  af_queue_job_opts o;
  char *stored = NULL;
  pending_add *p = NULL;
  if (q->closing) {
    if (err) *err = af_strdup("queue: closing");
    return -1;
  }
  if (!name || !*name) {
    if (err) *err = af_strdup("name: must be a non-empty string");
    return -1;
  }
  if (af_queue_job_opts_parse(q->L, opts, &o, &stored, err) != 0) return -1;
  if (!data || !*data) data = "{}";
  if (af_json_decode(q->L, data, strlen(data)) != 0) {
    if (err) *err = af_asprintf("data: not valid JSON (%s)", lua_tostring(q->L, -1));
    lua_pop(q->L, 1);
    goto done;
  }
  lua_pop(q->L, 1);
  if (!(p = af_calloc(1, sizeof *p))) goto oom;
  p->q = q;
  p->cb = cb;
  p->arg = arg;
  p->argv[0] = af_strdup(q->prefix);
  p->argv[1] = af_strdup(o.job_id ? o.job_id : "");
  p->argv[2] = af_strdup(name);
  p->argv[3] = af_asprintf("%lld", o.timestamp ? o.timestamp : now_ms());
  p->argv[4] = af_strdup(data);
  p->argv[5] = stored;
  stored = NULL;
  p->argv[6] = af_asprintf("%lld", o.delay);
  p->argv[7] = af_asprintf("%lld", o.priority);
  p->argv[8] = af_strdup(o.lifo ? "1" : "0");
  for (int i = 0; i < 9; i++) {
    if (!p->argv[i]) goto oom;
    p->lens[i] = strlen(p->argv[i]);
  }
  p->prev = q->tail;
  if (q->tail) q->tail->next = p; else q->head = p;
  q->tail = p;
  add_send(q, p);
  p = NULL;
  rc = 0;
  goto done;
oom:
  if (err) *err = af_strdup("queue: out of memory");
done:
  if (p) add_free(p);
  af_free(stored);
  af_queue_job_opts_free(&o);
  return rc;
}

void af_queue_close(af_queue *q, af_queue_close_cb cb) {
  if (q->closing) return;
  q->closing = 1;
  q->close_cb = cb;
  /* Adds that never reached Redis cannot be answered once we stop waiting. */
  if (!af_redis_is_up(q->r)) {
    while (q->head) {
      pending_add *p = q->head;
      add_unlink(q, p);
      if (p->sent) { /* its reply (NULL) still comes; answered there */
        p->prev = p->next = NULL;
        continue;
      }
      if (p->cb) p->cb(q, NULL, "queue: Redis unreachable, job not added", p->arg);
      add_free(p);
    }
  }
  queue_maybe_finish_close(q);
}

void *af_queue_get_data(const af_queue *q) { return q->data; }
void af_queue_set_data(af_queue *q, void *data) { q->data = data; }

/* }=========== */

/* {=========== worker */

typedef struct job_impl {
  af_queue_job pub;            /* first: af_queue_job * <-> job_impl * */
  struct job_impl *prev, *next;
  char *id, *name, *data, *token, *defa, *deid;
  char **fin_argv;             /* the settle command, kept to resend after a reconnect */
  size_t *fin_lens;
  int fin_argc;
  const char *fin_script;      /* "finish_many" or "retry"; NULL while running */
  const char *fin_state;       /* "completed", "failed", "retry" */
  int fin_sent;
  int batched;                 /* a finish waiting for the iteration's finish_many */
} job_impl;

struct af_queue_worker {
  uv_loop_t *loop;
  af_queue_worker_opts o;      /* strings owned */
  char *prefix, *marker_key, *lock_ms;
  af_redis *cmd, *blk;
  lua_State *L;
  af_queue_handler_cb handler;
  af_queue_error_cb on_error;
  af_queue_settled_cb on_settled;
  char token_base[40];
  unsigned long long token_seq;
  job_impl *jobs;              /* live jobs (running or being settled) */
  char *last_opts;             /* the last options JSON read, and its parse */
  af_queue_job_opts last_parsed;
  int running, fetching, blocking, drained, started, closing;
  long long next_delayed;      /* ms of the earliest delayed job, 0 = none known */
  uv_timer_t renew, stalled, wake;
  int open_handles;
  af_queue_worker_close_cb close_cb;
  void *data;
};

static void pump(af_queue_worker *w);
static void start_job(af_queue_worker *w, redisReply *rep, char *token);
static void on_wake(uv_timer_t *t);

static void werror(af_queue_worker *w, const char *fmt, const char *a, const char *b) {
  if (!w->on_error) return;
  char msg[512];
  snprintf(msg, sizeof msg, fmt, a, b ? b : "");
  w->on_error(w, msg);
}

void af_queue_worker_opts_init(af_queue_worker_opts *o) {
  memset(o, 0, sizeof *o);
  o->concurrency = 1;
  o->lock_duration_ms = 30000;
  o->stalled_interval_ms = 30000;
  o->max_stalled_count = 1;
  o->drain_delay_ms = 5000;
  o->keep_complete = o->keep_fail = (af_queue_keep){-1, -1, 1000};
}

/* Decimal text of v, right-aligned in buf (at least 21 bytes); returns its start. */
static char *ll_text(long long v, char *buf, size_t size) {
  char *p = buf + size;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  *--p = 0;
  do *--p = (char)('0' + u % 10); while ((u /= 10) > 0);
  if (v < 0) *--p = '-';
  return p;
}

static char *ll_dup(long long v) {
  char buf[24];
  return af_strdup(ll_text(v, buf, sizeof buf));
}

static char *new_token(af_queue_worker *w) {
  char buf[24];
  const char *seq = ll_text((long long)w->token_seq++, buf, sizeof buf);
  size_t a = strlen(w->token_base), b = strlen(seq);
  char *t = af_malloc(a + 1 + b + 1);
  if (!t) return NULL;
  memcpy(t, w->token_base, a);
  t[a] = ':';
  memcpy(t + a + 1, seq, b + 1);
  return t;
}

static void job_free(af_queue_worker *w, job_impl *j) {
  if (j->prev) j->prev->next = j->next; else w->jobs = j->next;
  if (j->next) j->next->prev = j->prev;
  w->running--;
  for (int i = 0; i < j->fin_argc; i++) af_free(j->fin_argv[i]);
  af_free(j->fin_argv);
  af_free(j->fin_lens);
  af_queue_job_opts_free(&j->pub.opts);
  af_free(j->id);
  af_free(j->name);
  af_free(j->data);
  af_free(j->token);
  af_free(j->defa);
  af_free(j->deid);
  af_free(j);
}

/* {=========== teardown */

/* What a worker owns besides its handles. */
static void worker_free(af_queue_worker *w) {
  af_free((char *)w->o.redis_url);
  af_free((char *)w->o.prefix);
  af_free((char *)w->o.queue);
  af_free((char *)w->o.name);
  af_free(w->prefix);
  af_free(w->marker_key);
  af_free(w->lock_ms);
  af_free(w->last_opts);
  af_queue_job_opts_free(&w->last_parsed);
  if (w->L) lua_close(w->L);
  af_free(w);
}

static void worker_handle_closed(uv_handle_t *h) {
  af_queue_worker *w = h->data;
  if (--w->open_handles > 0) return;
  if (w->close_cb) w->close_cb(w);
  worker_free(w);
}

static void worker_maybe_finish_close(af_queue_worker *w) {
  if (!w->closing || w->jobs || w->fetching || uv_is_closing((uv_handle_t *)&w->renew))
    return;
  af_redis_close(w->cmd);
  af_redis_close(w->blk);
  w->cmd = w->blk = NULL;
  uv_close((uv_handle_t *)&w->renew, worker_handle_closed);
  uv_close((uv_handle_t *)&w->stalled, worker_handle_closed);
  uv_close((uv_handle_t *)&w->wake, worker_handle_closed);
}

/* }=========== */

/* {=========== settling a job */

/* A finish's values in finish_many's ARGV, per job (see finish_many.lua). */
enum { FIN_NEXT_TOKEN = 9, FIN_VALUES = 11 };

static void settle_send(af_queue_worker *w, job_impl *j);

/* One job's settle result; rep is its reply, NULL when the connection went
 * away first (the job is then sent again on reconnect: its lock check makes
 * a repeat harmless). The caller pumps afterwards. */
static void settle_result(af_queue_worker *w, job_impl *j, redisReply *rep) {
  if (!rep && !w->closing) {
    j->fin_sent = 0;
    return;
  }
  const char *err = reply_err(rep);
  if (err) {
    werror(w, "job %s: could not be settled: %s", j->id, err);
  } else if (rep->type == REDIS_REPLY_INTEGER && rep->integer < 0) {
    static const char *const why[] = {"", "the job is gone", "its lock expired",
                                      "it is not active", "", "", "another worker holds its lock"};
    long long c = -rep->integer;
    werror(w, "job %s: not settled: %s (it will be retried as stalled)", j->id,
           c < 7 ? why[c] : "unknown code");
  } else {
    if (w->on_settled) w->on_settled(w, j->id, j->fin_state);
    if (rep->type == REDIS_REPLY_ARRAY) {
      w->fetching++; /* the job taken in the same round trip fills this slot */
      char *token = j->fin_argv[FIN_NEXT_TOKEN];
      j->fin_argv[FIN_NEXT_TOKEN] = NULL;
      job_free(w, j);
      start_job(w, rep, token);
      return;
    }
  }
  job_free(w, j);
}

static void settle_reply(af_redis *r, redisReply *rep, void *arg) {
  job_impl *j = arg;
  af_queue_worker *w = j->pub.worker;
  (void)r;
  settle_result(w, j, rep);
  pump(w);
  worker_maybe_finish_close(w);
}

static void settle_send(af_queue_worker *w, job_impl *j) {
  if (j->fin_sent || !w->cmd || !af_redis_is_up(w->cmd)) return;
  if (af_redis_script(w->cmd, j->fin_script, settle_reply, j, j->fin_argc,
                      (const char **)j->fin_argv, j->fin_lens) == 0)
    j->fin_sent = 1;
}

/* {=========== batched finishes
 * The finishes of one loop iteration leave as finish_many calls (one job or
 * several), just before the iteration's commands are written. */

typedef struct batch {
  int n;
  job_impl *jobs[];
} batch;

static void batch_reply(af_redis *r, redisReply *rep, void *arg) {
  batch *b = arg;
  af_queue_worker *w = af_redis_get_data(r);
  int per_job = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)b->n;
  for (int i = 0; i < b->n; i++)
    settle_result(w, b->jobs[i], per_job ? rep->element[i] : rep);
  af_free(b);
  pump(w);
  worker_maybe_finish_close(w);
}

/* Send up to max of the waiting finishes as one finish_many call; returns
 * how many it sent (0 when out of memory or down: they wait for the next flush). */
static int batch_send(af_redis *r, af_queue_worker *w, int max) {
  char now[24];
  snprintf(now, sizeof now, "%lld", now_ms());
  batch *b = af_malloc(sizeof *b + sizeof b->jobs[0] * (size_t)max);
  const char **argv = af_malloc(sizeof *argv * (size_t)(4 + FIN_VALUES * max));
  size_t *lens = af_malloc(sizeof *lens * (size_t)(4 + FIN_VALUES * max));
  int sent = 0;
  if (!b || !argv || !lens) goto done;
  int k = 0;
  argv[k++] = w->prefix;
  argv[k++] = now;
  argv[k++] = w->lock_ms;
  argv[k++] = w->o.name ? w->o.name : "";
  b->n = 0;
  for (job_impl *j = w->jobs; j && b->n < max; j = j->next) {
    if (!j->batched || j->fin_sent) continue;
    for (int i = 0; i < FIN_VALUES; i++, k++) {
      argv[k] = j->fin_argv[i];
      lens[k] = j->fin_lens[i];
    }
    b->jobs[b->n++] = j;
  }
  for (int i = 0; i < 4; i++) lens[i] = strlen(argv[i]);
  if (af_redis_script(r, "finish_many", batch_reply, b, k, argv, lens) == 0) {
    for (int i = 0; i < b->n; i++) b->jobs[i]->fin_sent = 1;
    sent = b->n;
    b = NULL;
  }
done:
  af_free(b);
  af_free(argv);
  af_free(lens);
  return sent;
}

/* Several smaller calls rather than one: Redis runs the first while the
 * worker still handles the replies of the one before. */
enum { BATCH_MAX = 16 };
static void batch_flush(af_redis *r, void *arg) {
  af_queue_worker *w = arg;
  int n = 0;
  for (job_impl *j = w->jobs; j; j = j->next) n += j->batched && !j->fin_sent;
  while (n > 0) {
    int sent = batch_send(r, w, n < BATCH_MAX ? n : BATCH_MAX);
    if (sent == 0) return;
    n -= sent;
  }
}

/* }=========== */

/* Keep the settle command (argv strings are taken over). */
static void settle(af_queue_worker *w, job_impl *j, const char *script,
                   const char *state, int argc, char **argv, int batchable) {
  j->fin_script = script;
  j->fin_state = state;
  j->fin_argc = argc;
  j->fin_argv = af_malloc(sizeof *argv * (size_t)argc);
  j->fin_lens = af_malloc(sizeof *j->fin_lens * (size_t)argc);
  int ok = j->fin_argv && j->fin_lens;
  for (int i = 0; i < argc; i++) {
    if (!argv[i]) ok = 0;
    if (j->fin_argv) j->fin_argv[i] = argv[i];
    else af_free(argv[i]);
    if (ok) j->fin_lens[i] = strlen(argv[i]);
  }
  if (!ok) {
    /* Out of memory: leave the job to the stalled check. */
    if (!j->fin_argv) j->fin_argc = 0;
    werror(w, "job %s: out of memory while settling%s", j->id, NULL);
    job_free(w, j);
    pump(w);
    worker_maybe_finish_close(w);
    return;
  }
  if (batchable) {
    j->batched = 1;
    if (w->cmd) af_redis_want_flush(w->cmd);
    return;
  }
  settle_send(w, j);
}

static const af_queue_keep *keep_rule(af_queue_worker *w, job_impl *j, int completed) {
  if (completed) return j->pub.opts.has_keep_complete ? &j->pub.opts.keep_complete : &w->o.keep_complete;
  return j->pub.opts.has_keep_fail ? &j->pub.opts.keep_fail : &w->o.keep_fail;
}

/* Settle through finish_many. */
static void finish(af_queue_worker *w, job_impl *j, const char *target, const char *value) {
  const af_queue_keep *k = keep_rule(w, j, target[0] == 'c');
  char *argv[FIN_VALUES] = {
      af_strdup(j->id), af_strdup(j->token), af_strdup(target), af_strdup(value),
      ll_dup(k->count), ll_dup(k->age_s), ll_dup(k->limit), ll_dup(j->pub.opts.attempts),
      ll_dup(j->pub.opts.stack_limit),
      w->closing ? af_strdup("") : new_token(w), af_strdup(j->deid ? j->deid : "")};
  settle(w, j, "finish_many", target, FIN_VALUES, argv, 1);
}

void af_queue_job_complete(af_queue_job *job, const char *returnvalue) {
  job_impl *j = (job_impl *)job;
  if (j->fin_script) return;
  finish(job->worker, j, "completed", returnvalue ? returnvalue : "null");
}

void af_queue_job_fail(af_queue_job *job, const char *reason) {
  job_impl *j = (job_impl *)job;
  af_queue_worker *w = job->worker;
  if (j->fin_script) return;
  if (!reason) reason = "";
  if (j->defa || !af_queue_should_retry(&job->opts, job->attempts_made)) {
    finish(w, j, "failed", reason);
    return;
  }
  long long delay = af_queue_backoff_ms(&job->opts, job->attempts_made + 1,
                                        (double)rand() / ((double)RAND_MAX + 1));
  char *argv[8] = {af_strdup(w->prefix), af_strdup(j->id), af_asprintf("%lld", now_ms()),
                   af_strdup(j->token), af_asprintf("%lld", delay), af_strdup(reason),
                   af_asprintf("%lld", job->opts.stack_limit),
                   af_strdup(job->opts.lifo ? "1" : "0")};
  settle(w, j, "retry", "retry", 8, argv, 0);
}

int af_queue_job_progress(af_queue_job *job, const char *progress_json) {
  job_impl *j = (job_impl *)job;
  af_queue_worker *w = job->worker;
  if (!w->cmd) return -1;
  const char *argv[3] = {w->prefix, j->id, progress_json ? progress_json : "0"};
  return af_redis_script(w->cmd, "progress", NULL, NULL, 3, argv, NULL);
}

int af_queue_job_log(af_queue_job *job, const char *text) {
  job_impl *j = (job_impl *)job;
  af_queue_worker *w = job->worker;
  if (!w->cmd) return -1;
  char kl[24] = "";
  if (job->opts.keep_logs >= 0) snprintf(kl, sizeof kl, "%lld", job->opts.keep_logs);
  const char *argv[4] = {w->prefix, j->id, text ? text : "", kl};
  return af_redis_script(w->cmd, "log", NULL, NULL, 4, argv, NULL);
}

/* }=========== */

/* {=========== taking jobs */

static char *elem_str(redisReply *a, size_t i) {
  if (i >= a->elements || a->element[i]->type != REDIS_REPLY_STRING) return NULL;
  return af_strndup(a->element[i]->str, a->element[i]->len);
}

static long long elem_ll(redisReply *a, size_t i, long long dflt) {
  if (i >= a->elements) return dflt;
  redisReply *e = a->element[i];
  if (e->type == REDIS_REPLY_INTEGER) return e->integer;
  if (e->type == REDIS_REPLY_STRING) return atoll(e->str);
  return dflt;
}

/* A producer's jobs mostly carry the same options JSON: reuse the last parse. */
static void opts_read(af_queue_worker *w, const char *json, af_queue_job_opts *o) {
  if (json && w->last_opts && strcmp(json, w->last_opts) == 0) {
    *o = w->last_parsed;
    o->job_id = NULL;
    if (w->last_parsed.job_id && !(o->job_id = af_strdup(w->last_parsed.job_id)))
      af_queue_job_opts_init(o);
    return;
  }
  if (af_queue_job_opts_read(w->L, json, json ? strlen(json) : 0, o) != 0 || !json) return;
  char *copy = af_strdup(json);
  char *id = o->job_id ? af_strdup(o->job_id) : NULL;
  if (!copy || (o->job_id && !id)) {
    af_free(copy);
    return;
  }
  af_free(w->last_opts);
  af_queue_job_opts_free(&w->last_parsed);
  w->last_opts = copy;
  w->last_parsed = *o;
  w->last_parsed.job_id = id;
}

/* A take result {fields, id, rateLimitTtl, nextDelayedMs} for a take made
 * with `token` (taken over); frees one fetching slot and, when the result
 * carries a job, hands it to the handler. */
static void start_job(af_queue_worker *w, redisReply *rep, char *token) {
  job_impl *j = NULL;
  char *opts = NULL;
  w->fetching--;
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 4 ||
      rep->element[0]->type != REDIS_REPLY_ARRAY) {
    long long ttl = rep->type == REDIS_REPLY_ARRAY ? elem_ll(rep, 2, 0) : 0;
    w->drained = 1;
    w->next_delayed = rep->type == REDIS_REPLY_ARRAY ? elem_ll(rep, 3, 0) : 0;
    if (ttl > 0) uv_timer_start(&w->wake, on_wake, (uint64_t)ttl, 0);
    goto done;
  }
  redisReply *fields = rep->element[0];
  if (!(j = af_calloc(1, sizeof *j))) goto oom;
  j->next = w->jobs;
  if (w->jobs) w->jobs->prev = j;
  w->jobs = j;
  w->running++;
  /* JOB_FIELDS: name data opts atm attemptsMade ats defa timestamp deid */
  j->id = elem_str(rep, 1);
  j->name = elem_str(fields, 0);
  j->data = elem_str(fields, 1);
  opts = elem_str(fields, 2);
  j->defa = elem_str(fields, 6);
  j->deid = elem_str(fields, 8);
  j->token = token;
  token = NULL;
  opts_read(w, opts, &j->pub.opts);
  j->pub.attempts_made = elem_ll(fields, 3, elem_ll(fields, 4, 0));
  j->pub.attempts_started = elem_ll(fields, 5, 1);
  j->pub.timestamp = elem_ll(fields, 7, 0);
  if (!j->name) j->name = af_strdup("");
  if (!j->data) j->data = af_strdup("{}");
  if (!j->id || !j->name || !j->data) goto oom;
  j->pub.id = j->id;
  j->pub.name = j->name;
  j->pub.data = j->data;
  j->pub.data_len = strlen(j->data);
  j->pub.worker = w;
  if (j->defa) /* stalled too often: fail without running (bullmq's deferred failure) */
    af_queue_job_fail(&j->pub, j->defa);
  else
    w->handler(w, &j->pub);
  j = NULL;
  goto done;
oom:
  werror(w, "out of memory taking a job%s%s", "", NULL);
  if (j) job_free(w, j); /* its lock expires; the stalled check recovers it */
done:
  af_free(opts);
  af_free(token);
}

static void fetch_reply(af_redis *r, redisReply *rep, void *arg) {
  af_queue_worker *w = af_redis_get_data(r);
  char *token = arg;
  const char *err = reply_err(rep);
  if (err) {
    w->fetching--;
    af_free(token);
    if (rep) werror(w, "taking a job failed: %s%s", err, NULL);
  } else {
    start_job(w, rep, token);
  }
  pump(w);
  worker_maybe_finish_close(w);
}

static void block_reply(af_redis *r, redisReply *rep, void *arg) {
  af_queue_worker *w = arg;
  (void)r;
  w->blocking = 0;
  if (!rep) return; /* connection lost: pumped again when it is back */
  if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
      rep->element[1]->type == REDIS_REPLY_STRING && strcmp(rep->element[1]->str, "1") == 0)
    w->next_delayed = elem_ll(rep, 2, 0);
  w->drained = 0;
  pump(w);
}

/* Wait on the marker zset until work is marked, the next delayed job is due
 * or drain_delay passes. */
static void block(af_queue_worker *w) {
  if (w->blocking || !w->blk || !af_redis_is_up(w->blk)) return;
  double t = w->o.drain_delay_ms / 1000.0;
  if (w->next_delayed > 0) {
    double until = (double)(w->next_delayed - now_ms()) / 1000.0;
    if (until < t) t = until;
  }
  if (t < 0.001) t = 0.001;
  char ts[32];
  snprintf(ts, sizeof ts, "%.3f", t);
  const char *argv[3] = {"BZPOPMIN", w->marker_key, ts};
  if (af_redis_cmd(w->blk, block_reply, w, 3, argv, NULL) == 0) w->blocking = 1;
}

static void pump(af_queue_worker *w) {
  if (w->closing || !w->started || !w->cmd || !af_redis_is_up(w->cmd)) return;
  while (!w->drained && w->running + w->fetching < w->o.concurrency) {
    char now[24];
    snprintf(now, sizeof now, "%lld", now_ms());
    char *token = new_token(w);
    if (!token) return;
    const char *argv[5] = {w->prefix, now, token, w->lock_ms, w->o.name ? w->o.name : ""};
    if (af_redis_script(w->cmd, "fetch", fetch_reply, token, 5, argv, NULL) != 0) {
      af_free(token);
      return;
    }
    w->fetching++;
  }
  if (w->drained && w->running + w->fetching < w->o.concurrency) block(w);
}

static void on_wake(uv_timer_t *t) {
  af_queue_worker *w = t->data;
  w->drained = 0;
  pump(w);
}

/* }=========== */

/* {=========== locks and stalled jobs */

static void renew_reply(af_redis *r, redisReply *rep, void *arg) {
  af_queue_worker *w = arg;
  (void)r;
  if (!rep || rep->type != REDIS_REPLY_ARRAY) return;
  for (size_t i = 0; i < rep->elements; i++)
    if (rep->element[i]->type == REDIS_REPLY_STRING)
      werror(w, "job %s: lock lost (taken over by another worker?)%s",
             rep->element[i]->str, NULL);
}

static void on_renew(uv_timer_t *t) {
  af_queue_worker *w = t->data;
  int n = 0;
  for (job_impl *j = w->jobs; j; j = j->next)
    if (!j->fin_script) n++;
  if (n == 0 || !w->cmd || !af_redis_is_up(w->cmd)) return;
  const char **argv = af_malloc(sizeof *argv * (size_t)(2 + 2 * n));
  if (!argv) return;
  int k = 0;
  argv[k++] = w->prefix;
  argv[k++] = w->lock_ms;
  for (job_impl *j = w->jobs; j; j = j->next) {
    if (j->fin_script) continue;
    argv[k++] = j->id;
    argv[k++] = j->token;
  }
  af_redis_script(w->cmd, "extend", renew_reply, w, k, argv, NULL);
  af_free(argv);
}

static void stalled_reply(af_redis *r, redisReply *rep, void *arg) {
  af_queue_worker *w = arg;
  (void)r;
  const char *err = reply_err(rep);
  if (err && rep) werror(w, "stalled-job check failed: %s%s", err, NULL);
}

static void on_stalled(uv_timer_t *t) {
  af_queue_worker *w = t->data;
  if (!w->cmd || !af_redis_is_up(w->cmd)) return;
  char max[16], now[24], iv[16];
  snprintf(max, sizeof max, "%d", w->o.max_stalled_count);
  snprintf(now, sizeof now, "%lld", now_ms());
  snprintf(iv, sizeof iv, "%d", w->o.stalled_interval_ms);
  const char *argv[4] = {w->prefix, max, now, iv};
  af_redis_script(w->cmd, "stalled", stalled_reply, w, 4, argv, NULL);
}

/* }=========== */

/* {=========== lifecycle */

static void worker_state(af_redis *r, int up, const char *why, void *arg) {
  af_queue_worker *w = arg;
  if (!up) {
    werror(w, "%s%s", why, " (reconnecting)");
    return;
  }
  if (r == w->cmd) {
    on_stalled(&w->stalled);
    for (job_impl *j = w->jobs; j; j = j->next)
      if (j->batched) af_redis_want_flush(r);
      else if (j->fin_script) settle_send(w, j);
  }
  w->drained = 0;
  pump(w);
}

int af_queue_worker_new(uv_loop_t *loop, const af_queue_worker_opts *opts,
                        af_queue_worker **out, char **err) {
  int rc = -1;
  af_redis_url url = {0};
  af_queue_worker *w = NULL;
  if (!opts->queue || !*opts->queue) {
    if (err) *err = af_strdup("queue: a queue name is required");
    goto done;
  }
  if (opts->concurrency < 1 || opts->concurrency > 10000) {
    if (err) *err = af_strdup("concurrency: must be between 1 and 10000");
    goto done;
  }
  if (opts->lock_duration_ms < 100 || opts->stalled_interval_ms < 100) {
    if (err) *err = af_strdup("lock_duration_ms, stalled_interval_ms: must be >= 100");
    goto done;
  }
  if (af_queue_url_parse(opts->redis_url, &url, err) != 0) goto done;
  if (!(w = af_calloc(1, sizeof *w))) goto oom;
  w->loop = loop;
  w->o = *opts;
  w->o.redis_url = af_strdup(opts->redis_url);
  w->o.prefix = af_strdup(opts->prefix ? opts->prefix : "bull");
  w->o.queue = af_strdup(opts->queue);
  w->o.name = opts->name ? af_strdup(opts->name) : NULL;
  if (!w->o.redis_url || !w->o.prefix || !w->o.queue || (opts->name && !w->o.name)) goto oom;
  if (!(w->prefix = af_queue_key_prefix(w->o.prefix, w->o.queue))) goto oom;
  if (!(w->marker_key = af_asprintf("%smarker", w->prefix))) goto oom;
  if (!(w->lock_ms = af_asprintf("%d", w->o.lock_duration_ms))) goto oom;
  if (!(w->L = json_state())) goto oom;
  unsigned char rnd[16];
  if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0) goto oom;
  for (int i = 0; i < 16; i++) sprintf(w->token_base + 2 * i, "%02x", rnd[i]);
  srand((unsigned)(rnd[0] | rnd[1] << 8 | rnd[2] << 16));
  uv_timer_init(loop, &w->renew);
  uv_timer_init(loop, &w->stalled);
  uv_timer_init(loop, &w->wake);
  w->renew.data = w->stalled.data = w->wake.data = w;
  w->open_handles = 3;
  *out = w;
  w = NULL;
  rc = 0;
  goto done;
oom:
  if (err) *err = af_strdup("queue: out of memory");
done:
  af_queue_url_free(&url);
  if (w) worker_free(w);
  return rc;
}

void af_queue_worker_on_error(af_queue_worker *w, af_queue_error_cb cb) { w->on_error = cb; }
void af_queue_worker_on_settled(af_queue_worker *w, af_queue_settled_cb cb) { w->on_settled = cb; }

int af_queue_worker_start(af_queue_worker *w, af_queue_handler_cb handler) {
  int rc = -1;
  af_redis_url url = {0};
  char *b64 = NULL, *name = NULL;
  if (w->started || w->closing || !handler) return -1;
  if (af_queue_url_parse(w->o.redis_url, &url, NULL) != 0) goto done;
  /* Dashboards list workers by client name bull:<base64(queue)>[:w:<name>]. */
  static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(w->o.queue);
  if (!(b64 = af_malloc(4 * (n / 3 + 1) + 1))) goto done;
  size_t k = 0;
  const unsigned char *s = (const unsigned char *)w->o.queue;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = s[i] << 16 | (i + 1 < n ? s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
    b64[k++] = B64[v >> 18 & 63];
    b64[k++] = B64[v >> 12 & 63];
    b64[k++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
    b64[k++] = i + 2 < n ? B64[v & 63] : '=';
  }
  b64[k] = '\0';
  if (!(name = w->o.name ? af_asprintf("%s:%s:w:%s", w->o.prefix, b64, w->o.name)
                         : af_asprintf("%s:%s", w->o.prefix, b64)))
    goto done;
  w->handler = handler;
  if (af_redis_open(w->loop, &url, NULL, worker_state, w, &w->cmd, NULL) != 0) goto done;
  if (af_redis_open(w->loop, &url, name, worker_state, w, &w->blk, NULL) != 0) goto done;
  af_redis_set_data(w->cmd, w);
  af_redis_on_flush(w->cmd, batch_flush, w);
  af_redis_set_data(w->blk, w);
  uint64_t renew = (uint64_t)w->o.lock_duration_ms / 4;
  uv_timer_start(&w->renew, on_renew, renew, renew);
  uv_timer_start(&w->stalled, on_stalled, (uint64_t)w->o.stalled_interval_ms,
                 (uint64_t)w->o.stalled_interval_ms);
  w->started = 1;
  rc = 0;
done:
  af_queue_url_free(&url);
  af_free(b64);
  af_free(name);
  return rc;
}

void af_queue_worker_close(af_queue_worker *w, af_queue_worker_close_cb cb) {
  if (w->closing) return;
  w->closing = 1;
  w->close_cb = cb;
  uv_timer_stop(&w->stalled);
  uv_timer_stop(&w->wake);
  if (!w->jobs) uv_timer_stop(&w->renew);
  if (w->blk) {
    af_redis_close(w->blk);
    w->blk = NULL;
  }
  worker_maybe_finish_close(w);
}

int af_queue_worker_running(const af_queue_worker *w) { return w->running; }
void *af_queue_worker_get_data(const af_queue_worker *w) { return w->data; }
void af_queue_worker_set_data(af_queue_worker *w, void *data) { w->data = data; }

/* }=========== */
