/*
 * store.c -- PostgreSQL on the loop: one non-blocking libpq connection per
 * af_store, polled on its socket (uv_poll_t); a FIFO of requests, each a
 * transaction under a user's or the service's identity; the task record
 * (tasks, sessions, batched steps, decrypted profiles) on top.
 * Relies on libpq, libuv, store_db.c (connect, error lines) and crypto.c.
 */
#include "store.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "store_db.h"

/* {=== connection and request queue ======================================== */

typedef struct req req;
typedef void (*req_done_fn)(req *r, const PGresult *res, const char *err);

struct req {
  req *next;
  char *prelude;    /* BEGIN and the identity: one simple query */
  char *sql;
  int nparams;
  char **params;
  int stage;        /* 0 prelude, 1 statement, 2 COMMIT or ROLLBACK */
  PGresult *result; /* the statement's */
  char *err;
  af_store_cb cb;
  void *data;
};

struct af_store {
  uv_loop_t *loop;
  PGconn *conn;
  uv_poll_t poll;
  int events;   /* what poll waits for */
  req *head, *tail;
  int inflight; /* head has been sent */
  int npending;
  int broken;   /* the connection was lost: requests are refused */
  int closing;
  void (*on_closed)(void *);
  void *closed_data;
};

static void req_free(req *r) {
  if (r == NULL) return;
  af_free(r->prelude);
  af_free(r->sql);
  for (int i = 0; i < r->nparams; i++) af_free(r->params[i]);
  af_free(r->params);
  PQclear(r->result);
  af_free(r->err);
  af_free(r);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void want(af_store *s, int events) {
  if (s->closing || events == s->events) return;
  s->events = events;
  uv_poll_start(&s->poll, events, on_poll);
}

/* Take the head off the queue and report it. */
static void complete(af_store *s) {
  req *r = s->head;
  s->head = r->next;
  if (s->head == NULL) s->tail = NULL;
  s->inflight = 0;
  s->npending--;
  if (r->cb) r->cb(r->data, r->err ? NULL : r->result, r->err);
  req_free(r);
}

static void start(af_store *s);

/* The connection is gone: every request fails with the reason. */
static void fail_all(af_store *s, const char *why) {
  while (s->head) {
    if (s->head->err == NULL) s->head->err = af_strdup(why);
    complete(s);
  }
}

static int send_stage(af_store *s) {
  req *r = s->head;
  int ok;
  if (r->stage == 0)
    ok = PQsendQuery(s->conn, r->prelude);
  else if (r->stage == 1)
    ok = PQsendQueryParams(s->conn, r->sql, r->nparams, NULL,
                           (const char *const *)r->params, NULL, NULL, 0);
  else
    ok = PQsendQuery(s->conn, r->err ? "ROLLBACK" : "COMMIT");
  if (!ok) return -1;
  int f = PQflush(s->conn);
  if (f < 0) return -1;
  want(s, f == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
  return 0;
}

static void connection_lost(af_store *s) {
  const char *m = PQerrorMessage(s->conn);
  /* A dead socket stays readable: stop polling it. */
  s->broken = 1;
  if (!s->closing) uv_poll_stop(&s->poll);
  s->events = 0;
  char *why = af_asprintf("store: connection lost: %.*s", (int)strcspn(m, "\n"), m);
  fail_all(s, why ? why : "store: connection lost");
  af_free(why);
}

static void start(af_store *s) {
  if (s->inflight || s->head == NULL || s->closing || s->broken) return;
  s->inflight = 1;
  if (send_stage(s) != 0) connection_lost(s);
}

/* One command of the current stage finished: go on, or finish. */
static void advance(af_store *s) {
  req *r = s->head;
  if (r->stage == 2) {
    complete(s);
    start(s);
    return;
  }
  r->stage = r->err ? 2 : r->stage + 1;
  if (send_stage(s) != 0) connection_lost(s);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  af_store *s = h->data;
  if (status < 0 || (events & UV_DISCONNECT)) {
    PQconsumeInput(s->conn);
    connection_lost(s);
    return;
  }
  if (events & UV_WRITABLE) {
    int f = PQflush(s->conn);
    if (f < 0) {
      connection_lost(s);
      return;
    }
    if (f == 0) want(s, UV_READABLE);
  }
  if (!(events & UV_READABLE)) return;
  if (!PQconsumeInput(s->conn)) {
    connection_lost(s);
    return;
  }
  while (s->head && s->inflight && !PQisBusy(s->conn)) {
    req *r = s->head;
    PGresult *res = PQgetResult(s->conn);
    if (res == NULL) {
      advance(s);
      continue;
    }
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      if (r->err == NULL)
        r->err = af_store_db_error(s->conn, res, r->stage == 1 ? r->sql : NULL);
      PQclear(res);
    } else if (r->stage == 1) {
      PQclear(r->result);
      r->result = res;
    } else {
      PQclear(res);
    }
  }
}

int af_store_open(uv_loop_t *loop, const char *url, af_store **out, char **err) {
  af_store *s = NULL;
  PGconn *c = NULL;
  *out = NULL;
  if (af_store_db_connect(url, &c, err) != 0) return -1;
  s = af_calloc(1, sizeof *s);
  if (s == NULL) {
    *err = af_strdup("out of memory");
    goto fail;
  }
  if (PQsetnonblocking(c, 1) != 0) {
    *err = af_strdup("store: cannot make the connection non-blocking");
    goto fail;
  }
  if (uv_poll_init(loop, &s->poll, PQsocket(c)) != 0) {
    *err = af_strdup("store: cannot poll the connection's socket");
    goto fail;
  }
  s->loop = loop;
  s->conn = c;
  s->poll.data = s;
  *out = s;
  return 0;
fail:
  af_free(s);
  PQfinish(c);
  return -1;
}

static void on_poll_closed(uv_handle_t *h) {
  af_store *s = h->data;
  void (*cb)(void *) = s->on_closed;
  void *data = s->closed_data;
  PQfinish(s->conn);
  af_free(s);
  if (cb) cb(data);
}

void af_store_close(af_store *s, void (*on_closed)(void *), void *data) {
  if (s == NULL || s->closing) return;
  fail_all(s, "store closed");
  s->closing = 1;
  s->on_closed = on_closed;
  s->closed_data = data;
  uv_close((uv_handle_t *)&s->poll, on_poll_closed);
}

int af_store_pending(const af_store *s) { return s->npending; }

static char *prelude_for(const char *user_id) {
  if (user_id == NULL) return af_strdup("BEGIN; SET LOCAL ROLE service_role");
  /* user_id is a checked UUID: nothing to escape. */
  return af_asprintf("BEGIN; SET LOCAL ROLE authenticated; SELECT set_config("
                     "'request.jwt.claims', '{\"sub\":\"%s\",\"role\":\"authenticated\"}', true)",
                     user_id);
}

int af_store_exec(af_store *s, const char *user_id, const char *sql, int nparams,
                  const char *const *params, af_store_cb cb, void *data, char **err) {
  req *r = NULL;
  if (s->closing || s->broken) {
    *err = af_strdup(s->closing ? "store closed" : "store: connection lost (reopen the store)");
    return -1;
  }
  if (user_id && !af_store_is_uuid(user_id)) {
    *err = af_strdup("user_id: must be a UUID");
    return -1;
  }
  r = af_calloc(1, sizeof *r);
  if (r == NULL) goto oom;
  r->prelude = prelude_for(user_id);
  r->sql = af_strdup(sql);
  if (!r->prelude || !r->sql) goto oom;
  if (nparams > 0) {
    r->params = af_calloc((size_t)nparams, sizeof(char *));
    if (r->params == NULL) goto oom;
    r->nparams = nparams;
    for (int i = 0; i < nparams; i++)
      if (params[i] && !(r->params[i] = af_strdup(params[i]))) goto oom;
  }
  r->cb = cb;
  r->data = data;
  if (s->tail) s->tail->next = r;
  else s->head = r;
  s->tail = r;
  s->npending++;
  start(s);
  return 0;
oom:
  req_free(r);
  *err = af_strdup("out of memory");
  return -1;
}

/* ===} */

/* {=== tasks and sessions ==================================================== */

static int need_uuid(const char *v, const char *field, char **err) {
  if (af_store_is_uuid(v)) return 0;
  *err = af_asprintf("%s: must be a UUID", field);
  return -1;
}

int af_store_task_create(af_store *s, const char *user_id, const char *vendor_url,
                         const char *ticket_json, int priority, af_store_cb cb,
                         void *data, char **err) {
  char prio[8];
  if (need_uuid(user_id, "user_id", err)) return -1;
  if (vendor_url == NULL || (strncmp(vendor_url, "https://", 8) && strncmp(vendor_url, "http://", 7))) {
    *err = af_strdup("vendor_url: must be an http(s) URL");
    return -1;
  }
  if (ticket_json == NULL) {
    *err = af_strdup("ticket: required");
    return -1;
  }
  if (priority < 1 || priority > 10) {
    *err = af_strdup("priority: must be 1-10 (10 runs first)");
    return -1;
  }
  snprintf(prio, sizeof prio, "%d", priority);
  const char *p[] = {user_id, vendor_url, ticket_json, prio};
  return af_store_exec(s, user_id,
                       "INSERT INTO automation_tasks (user_id, vendor_url, ticket_details, priority)"
                       " VALUES ($1, $2, $3::jsonb, $4::smallint) RETURNING id, bullmq_priority",
                       4, p, cb, data, err);
}

int af_store_task_set_status(af_store *s, const char *task_id, af_task_status st,
                             const char *failure_reason, af_store_cb cb, void *data,
                             char **err) {
  if (need_uuid(task_id, "task_id", err)) return -1;
  const char *name = af_task_status_name(st);
  if (name == NULL) {
    *err = af_strdup("status: unknown");
    return -1;
  }
  if (st == AF_TASK_FAILED && (failure_reason == NULL || *failure_reason == '\0')) {
    *err = af_strdup("failure_reason: required when a task fails");
    return -1;
  }
  const char *p[] = {task_id, name, st == AF_TASK_FAILED ? failure_reason : NULL};
  return af_store_exec(s, NULL,
                       "UPDATE automation_tasks SET status = $2::text,"
                       " completed_at = CASE WHEN $2::text = 'COMPLETED' THEN now() ELSE completed_at END,"
                       " failure_reason = coalesce($3, failure_reason)"
                       " WHERE id = $1::uuid RETURNING status",
                       3, p, cb, data, err);
}

int af_store_task_retry(af_store *s, const char *task_id, af_store_cb cb, void *data,
                        char **err) {
  if (need_uuid(task_id, "task_id", err)) return -1;
  const char *p[] = {task_id};
  return af_store_exec(s, NULL,
                       "UPDATE automation_tasks SET retry_count = retry_count + 1,"
                       " status = 'PENDING', completed_at = NULL, current_live_url = NULL"
                       " WHERE id = $1::uuid RETURNING retry_count",
                       1, p, cb, data, err);
}

int af_store_task_set_live_url(af_store *s, const char *task_id, const char *url,
                               af_store_cb cb, void *data, char **err) {
  if (need_uuid(task_id, "task_id", err)) return -1;
  const char *p[] = {task_id, url};
  return af_store_exec(s, NULL,
                       "UPDATE automation_tasks SET current_live_url = $2 WHERE id = $1::uuid"
                       " RETURNING id",
                       2, p, cb, data, err);
}

int af_store_session_open(af_store *s, const char *task_id, const char *provider,
                          const char *provider_session_id, const char *live_view_url,
                          af_store_cb cb, void *data, char **err) {
  if (need_uuid(task_id, "task_id", err)) return -1;
  if (provider == NULL || (strcmp(provider, "local") && strcmp(provider, "browserbase"))) {
    *err = af_strdup("provider: must be local or browserbase");
    return -1;
  }
  const char *p[] = {task_id, provider, provider_session_id, live_view_url};
  return af_store_exec(s, NULL,
                       "INSERT INTO browser_sessions (task_id, provider, browserbase_session_id,"
                       " live_view_url) VALUES ($1, $2, $3, $4) RETURNING id",
                       4, p, cb, data, err);
}

int af_store_session_terminate(af_store *s, const char *session_id, af_store_cb cb,
                               void *data, char **err) {
  if (need_uuid(session_id, "session_id", err)) return -1;
  const char *p[] = {session_id};
  return af_store_exec(s, NULL,
                       "UPDATE browser_sessions SET status = 'terminated', terminated_at = now()"
                       " WHERE id = $1::uuid RETURNING terminated_at",
                       1, p, cb, data, err);
}

/* ===} */

/* {=== batched steps ========================================================= */

struct af_store_steps {
  af_store *store;
  char task_id[37];
  uv_timer_t timer;
  af_buf rows;    /* JSON objects, comma-separated, not yet sent */
  int nrows;      /* in rows */
  int inflight;   /* rows in the INSERT being written */
  int closing;
  void (*on_error)(void *, const char *);
  void *data;
  af_store_cb close_cb;
  void *close_data;
};

static const char STEPS_SQL[] =
    "INSERT INTO task_steps (task_id, seq, step_type, content, screenshot_url,"
    " duration_ms, \"timestamp\")"
    " SELECT $1::uuid, base.m + x.ord, x.r->>'t', (x.r->>'c')::jsonb, x.r->>'s',"
    " (x.r->>'d')::int, (x.r->>'at')::timestamptz"
    " FROM (SELECT coalesce(max(seq), 0) AS m FROM task_steps WHERE task_id = $1::uuid) base,"
    " jsonb_array_elements($2::jsonb) WITH ORDINALITY AS x(r, ord)";

static const char *const STEP_TYPES[] = {"navigate", "input",    "click",    "select",
                                         "wait",     "extract",  "download", "thinking",
                                         "error",    "user_intervention", "completed"};

static void steps_flush(af_store_steps *w);

static void steps_on_timer(uv_timer_t *t) { steps_flush(t->data); }

static void steps_on_timer_closed(uv_handle_t *h) {
  af_store_steps *w = h->data;
  af_store_cb cb = w->close_cb;
  void *data = w->close_data;
  af_buf_free(&w->rows);
  af_free(w);
  if (cb) cb(data, NULL, NULL);
}

static void steps_maybe_finish(af_store_steps *w) {
  if (w->closing == 1 && w->inflight == 0 && w->nrows == 0) {
    w->closing = 2;
    uv_close((uv_handle_t *)&w->timer, steps_on_timer_closed);
  }
}

static void steps_written(void *data, const PGresult *res, const char *err) {
  af_store_steps *w = data;
  (void)res;
  w->inflight = 0;
  if (err && w->on_error) w->on_error(w->data, err);
  if (w->nrows >= AF_STORE_STEPS_BATCH || (w->closing && w->nrows > 0))
    steps_flush(w);
  else if (w->nrows > 0)
    uv_timer_start(&w->timer, steps_on_timer, AF_STORE_STEPS_DELAY_MS, 0);
  steps_maybe_finish(w);
}

/* Send the buffered rows as one INSERT (one at a time per writer). */
static void steps_flush(af_store_steps *w) {
  char *err = NULL;
  if (w->inflight || w->nrows == 0) return;
  uv_timer_stop(&w->timer);
  af_buf_puts(&w->rows, "]");
  if (w->rows.oom) {
    err = af_strdup("steps: out of memory");
  } else {
    const char *p[] = {w->task_id, w->rows.data};
    w->inflight = w->nrows;
    if (af_store_exec(w->store, NULL, STEPS_SQL, 2, p, steps_written, w, &err) != 0)
      w->inflight = 0;
  }
  if (err) {
    if (w->on_error) w->on_error(w->data, err);
    af_free(err);
  }
  af_buf_reset(&w->rows);
  w->nrows = 0;
}

int af_store_steps_open(af_store *s, const char *task_id,
                        void (*on_error)(void *data, const char *err), void *data,
                        af_store_steps **out, char **err) {
  *out = NULL;
  if (need_uuid(task_id, "task_id", err)) return -1;
  af_store_steps *w = af_calloc(1, sizeof *w);
  if (w == NULL) {
    *err = af_strdup("out of memory");
    return -1;
  }
  w->store = s;
  memcpy(w->task_id, task_id, 37);
  af_buf_init(&w->rows);
  w->on_error = on_error;
  w->data = data;
  uv_timer_init(s->loop, &w->timer);
  w->timer.data = w;
  *out = w;
  return 0;
}

static int step_type_ok(const char *t) {
  for (size_t i = 0; t && i < sizeof STEP_TYPES / sizeof STEP_TYPES[0]; i++)
    if (strcmp(t, STEP_TYPES[i]) == 0) return 1;
  return 0;
}

int af_store_steps_add(af_store_steps *w, const char *type, const char *content_json,
                       const char *screenshot, int duration_ms, char **err) {
  struct timespec ts;
  struct tm tm;
  char at[40];
  if (w->closing) {
    *err = af_strdup("steps: writer closed");
    return -1;
  }
  if (!step_type_ok(type)) {
    *err = af_strdup("step type: must be one of navigate, input, click, select, wait, "
                     "extract, download, thinking, error, user_intervention, completed");
    return -1;
  }
  if (duration_ms < -1) {
    *err = af_strdup("duration_ms: must be >= 0 (or -1 when unknown)");
    return -1;
  }
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(at + n, sizeof at - n, ".%06ldZ", ts.tv_nsec / 1000);

  af_buf *b = &w->rows;
  af_buf_puts(b, w->nrows ? "," : "[");
  af_buf_puts(b, "{\"t\":");
  af_buf_json_str(b, type, strlen(type));
  af_buf_printf(b, ",\"at\":\"%s\"", at);
  /* content travels as a string and is cast in SQL: it cannot add rows. */
  if (content_json) {
    af_buf_puts(b, ",\"c\":");
    af_buf_json_str(b, content_json, strlen(content_json));
  }
  if (screenshot) {
    af_buf_puts(b, ",\"s\":");
    af_buf_json_str(b, screenshot, strlen(screenshot));
  }
  if (duration_ms >= 0) af_buf_printf(b, ",\"d\":%d", duration_ms);
  af_buf_puts(b, "}");
  if (b->oom) {
    *err = af_strdup("out of memory");
    return -1;
  }
  w->nrows++;
  if (w->nrows >= AF_STORE_STEPS_BATCH) steps_flush(w);
  else if (w->nrows == 1) uv_timer_start(&w->timer, steps_on_timer, AF_STORE_STEPS_DELAY_MS, 0);
  return 0;
}

int af_store_steps_unwritten(const af_store_steps *w) { return w->nrows + w->inflight; }

void af_store_steps_close(af_store_steps *w, af_store_cb cb, void *data) {
  w->closing = 1;
  w->close_cb = cb;
  w->close_data = data;
  uv_timer_stop(&w->timer);
  steps_flush(w);
  steps_maybe_finish(w);
}

/* ===} */

/* {=== profiles ================================================================ */

typedef struct profile_req {
  const af_keyring *kr;
  af_store_profile_cb cb;
  void *data;
} profile_req;

static char *open_column(const af_keyring *kr, const PGresult *res, int col,
                         const char *name, const char *id, char **err) {
  unsigned char *ct = NULL, *pt = NULL;
  size_t ctlen = 0, ptlen = 0;
  af_crypto_ad ad = {"user_profiles", name, id};
  if (PQgetisnull(res, 0, col)) return NULL;
  if (af_crypto_bytea_unhex(PQgetvalue(res, 0, col), &ct, &ctlen) != 0) {
    *err = af_asprintf("user_profiles.%s: not a bytea value", name);
    return NULL;
  }
  af_crypto_decrypt(kr, &ad, ct, ctlen, &pt, &ptlen, err);
  af_free(ct);
  return (char *)pt;
}

static void wipe_free(char *s) {
  if (s == NULL) return;
  volatile char *v = s;
  while (*v) *v++ = 0;
  af_free(s);
}

static void profile_loaded(void *data, const PGresult *res, const char *err) {
  profile_req *pr = data;
  char *e = NULL, *name = NULL, *rfc = NULL, *email = NULL, *company = NULL;
  if (err) {
    pr->cb(pr->data, NULL, err);
    goto done;
  }
  if (PQntuples(res) == 0) {
    pr->cb(pr->data, NULL, "profile: none for this user");
    goto done;
  }
  const char *id = PQgetvalue(res, 0, 0);
  name = open_column(pr->kr, res, 1, "full_name", id, &e);
  if (!e) rfc = open_column(pr->kr, res, 2, "rfc", id, &e);
  if (!e) email = open_column(pr->kr, res, 3, "email", id, &e);
  if (!e) company = open_column(pr->kr, res, 4, "company_details", id, &e);
  if (e) {
    pr->cb(pr->data, NULL, e);
    goto done;
  }
  af_store_profile p = {rfc, name, PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6),
                        PQgetvalue(res, 0, 7), email, company};
  pr->cb(pr->data, &p, NULL);
done:
  af_free(e);
  wipe_free(name);
  wipe_free(rfc);
  wipe_free(email);
  wipe_free(company);
  af_free(pr);
}

int af_store_profile_get(af_store *s, const af_keyring *kr, const char *user_id,
                         af_store_profile_cb cb, void *data, char **err) {
  if (need_uuid(user_id, "user_id", err)) return -1;
  profile_req *pr = af_malloc(sizeof *pr);
  if (pr == NULL) {
    *err = af_strdup("out of memory");
    return -1;
  }
  *pr = (profile_req){kr, cb, data};
  const char *p[] = {user_id};
  if (af_store_exec(s, user_id,
                    "SELECT id, full_name, rfc, email, company_details, fiscal_regime,"
                    " postal_code, cfdi_use FROM user_profiles WHERE user_id = $1::uuid",
                    1, p, profile_loaded, pr, err) != 0) {
    af_free(pr);
    return -1;
  }
  return 0;
}

/* ===} */

/* {=== invoices =============================================================== */

/* A random (version 4) UUID: the row id is needed before the INSERT, since
 * the ciphertext is bound to it. */
static int new_uuid(char out[37]) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) return -1;
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
           b[13], b[14], b[15]);
  return 0;
}

int af_store_invoice_put(af_store *s, const af_keyring *kr, const af_store_invoice *inv,
                         af_store_cb cb, void *data, char **err) {
  char id[37];
  unsigned char *ct = NULL, sum[32];
  size_t ctlen = 0;
  unsigned int sumlen = 0;
  char *ct_hex = NULL, *sum_hex = NULL;
  int rc = -1;
  if (need_uuid(inv->task_id, "task_id", err) || need_uuid(inv->cfdi_uuid, "cfdi uuid", err))
    return -1;
  if (inv->xml == NULL || inv->xml_len == 0) {
    *err = af_strdup("cfdi xml: required");
    return -1;
  }
  if (inv->verification_json == NULL) {
    *err = af_strdup("verification: required (the verifier's report)");
    return -1;
  }
  if (new_uuid(id) != 0) {
    *err = af_strdup("invoice: no random bytes for its id");
    return -1;
  }
  af_crypto_ad ad = {"cfdi_documents", "xml", id};
  if (af_crypto_encrypt(kr, &ad, inv->xml, inv->xml_len, &ct, &ctlen, err) != 0) return -1;
  EVP_Digest(inv->xml, inv->xml_len, sum, &sumlen, EVP_sha256(), NULL);
  ct_hex = af_crypto_bytea_hex(ct, ctlen);
  sum_hex = af_crypto_bytea_hex(sum, sizeof sum);
  if (ct_hex == NULL || sum_hex == NULL) {
    *err = af_strdup("out of memory");
    goto done;
  }
  const char *p[] = {id,      inv->task_id, inv->cfdi_uuid, ct_hex, sum_hex, inv->pdf_path,
                     inv->total, inv->issued_at, inv->verified ? "true" : "false",
                     inv->verification_json};
  rc = af_store_exec(s, NULL,
                     "INSERT INTO cfdi_documents (id, task_id, cfdi_uuid, xml, xml_sha256, pdf_path,"
                     " total, issued_at, verified, verification) VALUES ($1, $2, $3, $4, $5, $6,"
                     " $7::numeric, $8::timestamptz, $9::boolean, $10::jsonb) RETURNING id",
                     10, p, cb, data, err);
done:
  af_free(ct);
  af_free(ct_hex);
  af_free(sum_hex);
  return rc;
}

/* ===} */

/* {=== maintenance ============================================================ */

typedef struct maint {
  af_store *store;
  char *root;
  af_store_cb cb;
  void *data;
} maint;

static void maint_end(maint *m, const char *err) {
  if (m->cb) m->cb(m->data, NULL, err);
  af_free(m->root);
  af_free(m);
}

/* The file of path, if it lies under root; NULL otherwise. */
static char *file_under(const char *root, const char *path) {
  size_t rl = strlen(root);
  if (strstr(path, "..") != NULL || *path == '\0') return NULL;
  if (path[0] != '/') return af_asprintf("%s/%s", root, path);
  if (strncmp(path, root, rl) == 0 && path[rl] == '/') return af_strdup(path);
  return NULL;
}

static void maint_files(void *data, const PGresult *res, const char *err) {
  maint *m = data;
  char *msg = NULL;
  if (err) {
    maint_end(m, err);
    return;
  }
  for (int i = 0; i < PQntuples(res); i++) {
    char *f = file_under(m->root, PQgetvalue(res, i, 0));
    /* Removing a small file is quick: done here, on the loop. */
    if (f && unlink(f) != 0 && errno != ENOENT && msg == NULL)
      msg = af_asprintf("maintenance: cannot remove %s: %s", f, strerror(errno));
    af_free(f);
  }
  maint_end(m, msg);
  af_free(msg);
}

static void maint_cleaned(void *data, const PGresult *res, const char *err) {
  maint *m = data;
  char *e = NULL;
  (void)res;
  if (err) {
    maint_end(m, err);
    return;
  }
  if (af_store_exec(m->store, NULL, "SELECT path FROM claim_file_deletions(1000) AS path", 0,
                    NULL, maint_files, m, &e) != 0) {
    maint_end(m, e);
    af_free(e);
  }
}

int af_store_maintain(af_store *s, const char *files_root, af_store_cb cb, void *data,
                      char **err) {
  if (files_root == NULL || files_root[0] != '/') {
    *err = af_strdup("files_root: must be an absolute directory");
    return -1;
  }
  maint *m = af_calloc(1, sizeof *m);
  if (m == NULL || !(m->root = af_strdup(files_root))) {
    af_free(m);
    *err = af_strdup("out of memory");
    return -1;
  }
  size_t n = strlen(m->root);
  while (n > 1 && m->root[n - 1] == '/') m->root[--n] = '\0';
  m->store = s;
  m->cb = cb;
  m->data = data;
  if (af_store_exec(s, NULL, "SELECT cleanup_old_data(), log_health_check()", 0, NULL,
                    maint_cleaned, m, err) != 0) {
    af_free(m->root);
    af_free(m);
    return -1;
  }
  return 0;
}

/* ===} */
