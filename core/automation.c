/*
 * automation.c -- the automation-tasks worker: takes jobs from the queue
 * (queue.c), runs each as a task (task.c) on one shared browser, and keeps
 * the task record in the store (store.c): RUNNING, the decrypted profile,
 * a browser_sessions row, batched task_steps, then COMPLETED with the
 * invoice, FAILED with its reason or INTERVENTION_NEEDED; the session is
 * terminated. SIGTERM stops taking jobs and lets running ones finish within
 * a grace period, then fails them so that bullmq retries them elsewhere.
 */
#include "automation.h"

#include <getopt.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "browser.h"
#include "buf.h"
#include "cli.h"
#include "config.h"
#include "crypto.h"
#include "fsutil.h"
#include "json.h"
#include "queue.h"
#include "queue_redis.h"
#include "queue_wire.h"
#include "store.h"
#include "task.h"
#include "ws.h"

static const char USAGE[] =
    "usage: autofactura worker [--queue automation-tasks] [--concurrency N]\n"
    "                          [--grace SECONDS] [--out DIR]\n"
    "       autofactura worker --queue NAME --handler FILE.lua [--concurrency N]\n"
    "\n"
    "Without --handler: run the jobs of the automation-tasks queue (the seed's\n"
    "AutomationJobData: taskId, userId, vendorUrl, ticketData) with the recipe\n"
    "that claims each vendor URL, on one local Chromium, recording each task in\n"
    "the store. Needs AF_REDIS_URL, AF_DATABASE_URL and AF_ENCRYPTION_KEYS.\n"
    "SIGTERM stops taking jobs; running ones get --grace seconds (default 30)\n"
    "to finish, then fail so that another worker retries them. Retention and\n"
    "health checks run at start and every AF_MAINTENANCE_INTERVAL seconds (3600).\n"
    "\n"
    "  --out DIR   where invoices and screenshots go, one folder per task\n"
    "              (default: $AF_STATE_DIR/files, else ./autofactura-files)\n";

typedef struct worker {
  uv_loop_t *loop;
  af_queue_worker *qw;
  af_store *store;
  af_keyring *kr;
  af_browser *browser;
  lua_State *L;            /* job data decoding */
  af_redis *redis;         /* per-user limits, session and metrics keys */
  const char *out;
  int grace_s, running, stopping;
  int per_hour, at_once;   /* the seed's per-user limits */
  uv_signal_t sigterm, sigint;
  uv_timer_t grace;
  uv_timer_t maintain;     /* retention and health checks (no pg_cron) */
  struct job *jobs;        /* running */
} worker;

typedef struct job {
  struct job *next;
  worker *w;
  af_queue_job *qjob;
  af_task *task;
  af_store_steps *steps;
  char *task_id, *user_id, *url, *ticket, *session_id, *dir;
  int status;
  int slot;                /* holds one of the user's running slots */
  uv_timer_t wait;         /* waiting for a running slot */
  int timer_ready;
} job;

/* ---- Redis side: limits, session keys, metrics ------------------------------- */

static void redis_cmd(worker *w, int argc, const char **argv) {
  if (af_redis_cmd(w->redis, NULL, NULL, argc, argv, NULL) != 0)
    fprintf(stderr, "autofactura worker: redis: cannot send %s\n", argv[0]);
}

static void metric(worker *w, const char *event) {
  const char *argv[] = {event};
  af_redis_script(w->redis, "taskMetrics", NULL, NULL, 1, argv, NULL);
}

/* session:<task>:<name>, one hour. */
static void session_key(job *j, const char *name, const char *value) {
  char key[96];
  snprintf(key, sizeof key, "session:%s:%s", j->task_id, name);
  const char *argv[] = {"SET", key, value, "EX", "3600"};
  redis_cmd(j->w, 5, argv);
}

static void release_slot(job *j) {
  if (!j->slot) return;
  j->slot = 0;
  char key[96];
  snprintf(key, sizeof key, "rate_limit:user:%s:concurrent", j->user_id);
  const char *argv[] = {"SREM", key, j->task_id};
  redis_cmd(j->w, 3, argv);
}

/* ---- ending a job ---------------------------------------------------------- */

static void unlink_job(job *j) {
  for (job **p = &j->w->jobs; *p; p = &(*p)->next)
    if (*p == j) {
      *p = j->next;
      break;
    }
}

static void free_job_now(job *j) {
  char *strs[] = {j->task_id, j->user_id, j->url, j->ticket, j->session_id, j->dir};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) af_free(strs[i]);
  af_free(j);
}

static void on_wait_closed(uv_handle_t *h) { free_job_now(h->data); }

static void free_job(job *j) {
  unlink_job(j);
  release_slot(j);
  if (j->task) af_task_free(j->task);
  j->task = NULL;
  j->w->running--;
  if (j->timer_ready) uv_close((uv_handle_t *)&j->wait, on_wait_closed);
  else free_job_now(j);
}

/* Settle the bullmq job and free j. */
static void settle(job *j, int status, const char *reason, const char *uuid) {
  if (j->slot) {
    session_key(j, "status", af_task_status_name(status));
    metric(j->w, status == AF_TASK_FAILED ? "failed" : "completed");
  }
  if (status == AF_TASK_FAILED) {
    af_queue_job_fail(j->qjob, reason ? reason : "failed");
  } else {
    af_buf b;
    af_buf_init(&b);
    af_buf_printf(&b, "{\"taskId\":");
    af_buf_json_str(&b, j->task_id, strlen(j->task_id));
    af_buf_printf(&b, ",\"status\":\"%s\",\"uuid\":", af_task_status_name(status));
    if (uuid) af_buf_json_str(&b, uuid, strlen(uuid));
    else af_buf_puts(&b, "null");
    af_buf_puts(&b, "}");
    af_queue_job_complete(j->qjob, b.oom ? NULL : b.data);
    af_buf_free(&b);
  }
  free_job(j);
}

static void on_store_error(void *data, const PGresult *res, const char *err) {
  (void)data;
  (void)res;
  if (err) fprintf(stderr, "autofactura worker: store: %s\n", err);
}

/* Record the end in the store, then settle. Store errors are logged: the
 * job's outcome stands. */
static void finish_job(job *j, int status, const char *reason) {
  char *err = NULL;
  worker *w = j->w;
  if (af_store_task_set_status(w->store, j->task_id, status, reason, on_store_error, NULL,
                               &err) != 0) {
    fprintf(stderr, "autofactura worker: task %s: %s\n", j->task_id, err);
    af_free(err);
    err = NULL;
  }
  if (j->session_id) {
    metric(w, "session-");
    if (af_store_session_terminate(w->store, j->session_id, on_store_error, NULL, &err) != 0) {
      af_free(err);
      err = NULL;
    }
  }
  const char *uuid = j->task ? af_task_uuid(j->task) : NULL;
  const char *xml_path = j->task ? af_task_xml_path(j->task) : NULL;
  if (uuid && xml_path) { /* verified or not: the invoice and the verdict */
    size_t n = 0;
    char *xml = af_fs_read(xml_path, 4u << 20, &n, &err);
    const char *mism = af_task_mismatches(j->task);
    af_buf v;
    af_buf_init(&v);
    af_buf_printf(&v, "{\"ok\":%s,\"mismatches\":", mism ? "false" : "true");
    if (mism) af_buf_json_str(&v, mism, strlen(mism));
    else af_buf_puts(&v, "null");
    af_buf_puts(&v, "}");
    af_store_invoice inv = {j->task_id, uuid, xml, n, NULL, NULL, NULL, mism == NULL, v.data};
    if (xml == NULL || v.oom ||
        af_store_invoice_put(w->store, w->kr, &inv, on_store_error, NULL, &err) != 0)
      fprintf(stderr, "autofactura worker: task %s: invoice not stored: %s\n", j->task_id,
              err ? err : "?");
    af_buf_free(&v);
    af_free(xml);
    af_free(err);
  }
  settle(j, status, reason, uuid);
}

static void on_steps_closed(void *data, const PGresult *res, const char *err) {
  job *j = data;
  (void)res;
  if (err) fprintf(stderr, "autofactura worker: task %s: steps: %s\n", j->task_id, err);
  finish_job(j, af_task_get_status(j->task), af_task_reason(j->task));
}

static void on_task_done(af_task *t, void *data) {
  job *j = data;
  (void)t;
  if (j->steps) {
    af_store_steps *s = j->steps;
    j->steps = NULL;
    af_store_steps_close(s, on_steps_closed, j);
  } else {
    on_steps_closed(j, NULL, NULL);
  }
}

/* ---- running a job ----------------------------------------------------------- */

/* task_steps.step_type for a task step's type. */
static const char *db_step_type(const char *type) {
  static const char *const map[][2] = {
      {"read", "extract"},      {"evaluate", "extract"}, {"screenshot", "extract"},
      {"log", "thinking"},      {"navigate", "navigate"}, {"input", "input"},
      {"click", "click"},       {"wait", "wait"},        {"download", "download"},
      {"error", "error"},       {"user_intervention", "user_intervention"},
      {"completed", "completed"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(type, map[i][0]) == 0) return map[i][1];
  return "thinking";
}

static void on_step(af_task *t, const af_step *s, void *data) {
  job *j = data;
  (void)t;
  if (j->steps == NULL) return;
  af_buf b;
  af_buf_init(&b);
  const char *keys[] = {"action", "target", "detail"};
  const char *vals[] = {s->action, s->target, s->detail};
  af_buf_puts(&b, "{");
  for (int i = 0; i < 3; i++) {
    af_buf_printf(&b, "%s\"%s\":", i ? "," : "", keys[i]);
    if (vals[i]) af_buf_json_str(&b, vals[i], strlen(vals[i]));
    else af_buf_puts(&b, "null");
  }
  af_buf_printf(&b, ",\"ok\":%s,\"at_ms\":%lld}", s->ok ? "true" : "false", (long long)s->at_ms);
  if (!b.oom) session_key(j, "agent_state", b.data); /* what the task does now */
  char *err = NULL;
  char *shot = strcmp(s->type, "screenshot") == 0 && s->ok && s->target
                   ? af_asprintf("%s/%s.png", j->task_id, s->target) : NULL;
  if (!b.oom && af_store_steps_add(j->steps, db_step_type(s->type), b.data, shot,
                                   (int)s->duration_ms, &err) != 0) {
    fprintf(stderr, "autofactura worker: task %s: step: %s\n", j->task_id, err);
    af_free(err);
  }
  af_buf_free(&b);
}

/* The tab is open: its live view becomes the task's current_live_url. */
static void on_page(af_task *t, void *data) {
  job *j = data;
  char *url = af_browser_live_url(j->w->browser, af_task_target(t));
  char *err = NULL;
  if (url && af_store_task_set_live_url(j->w->store, j->task_id, url, on_store_error, NULL,
                                        &err) != 0)
    af_free(err);
  if (url) session_key(j, "live_view_url", url);
  af_free(url);
}

static void on_steps_error(void *data, const char *err) {
  job *j = data;
  fprintf(stderr, "autofactura worker: task %s: steps: %s\n", j->task_id, err);
}

static void on_session(void *data, const PGresult *res, const char *err) {
  job *j = data;
  char *e = NULL;
  metric(j->w, "session+");
  if (err == NULL && res && PQntuples(res) == 1) j->session_id = af_strdup(PQgetvalue(res, 0, 0));
  if (af_store_steps_open(j->w->store, j->task_id, on_steps_error, j, &j->steps, &e) != 0) {
    fprintf(stderr, "autofactura worker: task %s: %s\n", j->task_id, e);
    af_free(e);
  }
  af_task_start(j->task, j->w->browser, on_task_done, j);
}

static void on_profile(void *data, const af_store_profile *p, const char *err) {
  job *j = data;
  worker *w = j->w;
  char *e = NULL;
  if (p == NULL) {
    char *reason = af_asprintf("profile: %s", err ? err : "cannot read it");
    finish_job(j, AF_TASK_FAILED, reason);
    af_free(reason);
    return;
  }
  af_buf b;
  af_buf_init(&b);
  const char *keys[] = {"rfc", "full_name", "fiscal_regime", "postal_code", "cfdi_use", "email"};
  const char *vals[] = {p->rfc, p->full_name, p->fiscal_regime, p->postal_code, p->cfdi_use,
                        p->email};
  af_buf_puts(&b, "{");
  for (int i = 0; i < 6; i++) {
    af_buf_printf(&b, "%s\"%s\":", i ? "," : "", keys[i]);
    if (vals[i]) af_buf_json_str(&b, vals[i], strlen(vals[i]));
    else af_buf_puts(&b, "null");
  }
  af_buf_puts(&b, "}");
  af_task_opts o;
  memset(&o, 0, sizeof o);
  o.url = j->url;
  o.ticket_json = j->ticket;
  o.profile_json = b.data;
  o.out_dir = j->dir;
  o.on_step = on_step;
  o.on_page = on_page;
  o.step_data = j;
  j->task = b.oom ? NULL : af_task_new(&o, &e);
  af_buf_free(&b); /* the task keeps its own copy; wipe ours */
  if (j->task == NULL) {
    finish_job(j, AF_TASK_FAILED, e ? e : "out of memory");
    af_free(e);
    return;
  }
  if (af_store_session_open(w->store, j->task_id, "local", NULL, NULL, on_session, j, &e) != 0) {
    af_free(e);
    on_session(j, NULL, "cannot record the session");
  }
}

static void on_running(void *data, const PGresult *res, const char *err) {
  job *j = data;
  char *e = NULL;
  (void)res;
  if (err) {
    char *reason = af_asprintf("task record: %s", err);
    settle(j, AF_TASK_FAILED, reason, NULL); /* the record could not move: leave it */
    af_free(reason);
    return;
  }
  if (af_store_profile_get(j->w->store, j->w->kr, j->user_id, on_profile, j, &e) != 0) {
    finish_job(j, AF_TASK_FAILED, e);
    af_free(e);
  }
}

static int is_uuid(const char *s) {
  if (s == NULL || strlen(s) != 36) return 0;
  for (int i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i])) return 0;
  }
  return 1;
}

/* Read AutomationJobData; NULL, or the first problem found. */
static const char *parse_job(worker *w, job *j, const af_queue_job *q) {
  lua_State *L = w->L;
  const char *problem = NULL;
  lua_settop(L, 0);
  if (af_json_decode(L, q->data, q->data_len) != 0 || !lua_istable(L, -1))
    return "job data: not a JSON object";
  const char *id = af_json_str(L, 1, "taskId", NULL);
  const char *user = af_json_str(L, 1, "userId", NULL);
  const char *url = af_json_str(L, 1, "vendorUrl", NULL);
  if (!is_uuid(id)) problem = "job data: taskId must be a UUID";
  else if (!is_uuid(user)) problem = "job data: userId must be a UUID";
  else if (url == NULL || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
    problem = "job data: vendorUrl must be an http(s) URL";
  else if (af_json_push(L, 1, "ticketData") != LUA_TTABLE)
    problem = "job data: ticketData must be an object";
  if (problem) return problem;
  j->task_id = af_strdup(id);
  j->user_id = af_strdup(user);
  j->url = af_strdup(url);
  j->ticket = af_json_encode(L, -1, NULL);
  j->dir = af_asprintf("%s/%s", w->out, id);
  if (!j->task_id || !j->user_id || !j->url || !j->ticket || !j->dir) return "out of memory";
  if (af_fs_mkdirs(j->dir) != 0) return "cannot create the task's output directory";
  return NULL;
}

static void take_slot(job *j);
static void take_slot_timer(uv_timer_t *t);

static void on_job(af_queue_worker *qw, af_queue_job *q) {
  worker *w = af_queue_worker_get_data(qw);
  job *j = af_calloc(1, sizeof *j);
  if (j == NULL) {
    af_queue_job_fail(q, "out of memory");
    return;
  }
  j->w = w;
  j->qjob = q;
  j->next = w->jobs;
  w->jobs = j;
  w->running++;
  const char *problem = parse_job(w, j, q);
  if (problem) {
    af_queue_job_fail(q, problem);
    free_job(j);
    return;
  }
  take_slot(j);
}

/* ---- the user's slot, then RUNNING -------------------------------------------- */

static void start_job(job *j) {
  worker *w = j->w;
  char *err = NULL;
  session_key(j, "status", "RUNNING");
  metric(w, "start");
  /* a retry by bullmq: the record counts it (and is PENDING again) */
  if (j->qjob->attempts_made > 0 &&
      af_store_task_retry(w->store, j->task_id, on_store_error, NULL, &err) != 0) {
    af_free(err);
    err = NULL;
  }
  if (af_store_task_set_status(w->store, j->task_id, AF_TASK_RUNNING, NULL, on_running, j,
                               &err) != 0) {
    char *reason = af_asprintf("task record: %s", err);
    settle(j, AF_TASK_FAILED, reason ? reason : "task record", NULL);
    af_free(reason);
    af_free(err);
  }
}

static void on_slot(af_redis *r, redisReply *reply, void *arg) {
  job *j = arg;
  (void)r;
  if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
    settle(j, AF_TASK_FAILED, "per-user limits: Redis did not answer", NULL);
    return;
  }
  if (reply->integer == 1) {
    j->slot = 1;
    start_job(j);
  } else if (reply->integer == 0) { /* the user's running limit: wait */
    if (!j->timer_ready) {
      uv_timer_init(j->w->loop, &j->wait);
      j->wait.data = j;
      j->timer_ready = 1;
    }
    uv_timer_start(&j->wait, take_slot_timer, 500, 0);
  } else {
    char *reason = af_asprintf("rate limit: at most %d tasks per hour per user; try again later",
                               j->w->per_hour);
    char *err = NULL;
    if (af_store_task_set_status(j->w->store, j->task_id, AF_TASK_FAILED, reason,
                                 on_store_error, NULL, &err) != 0)
      af_free(err);
    settle(j, AF_TASK_FAILED, reason ? reason : "rate limit", NULL);
    af_free(reason);
  }
}

static void take_slot(job *j) {
  char per_hour[16], at_once[16], now[24];
  snprintf(per_hour, sizeof per_hour, "%d", j->w->per_hour);
  snprintf(at_once, sizeof at_once, "%d", j->w->at_once);
  snprintf(now, sizeof now, "%llu", (unsigned long long)(uv_hrtime() / 1000000));
  const char *argv[] = {j->user_id, j->task_id, per_hour, at_once, now};
  if (j->w->stopping ||
      af_redis_script(j->w->redis, "userSlot", on_slot, j, 5, argv, NULL) != 0)
    settle(j, AF_TASK_FAILED, "per-user limits: cannot reach Redis", NULL);
}

static void take_slot_timer(uv_timer_t *t) { take_slot(t->data); }

/* ---- the service ---------------------------------------------------------------- */

static void on_maintained(void *data, const PGresult *res, const char *err) {
  (void)data;
  (void)res;
  if (err) fprintf(stderr, "autofactura worker: maintenance: %s\n", err);
}

/* The seed scheduled these with pg_cron; the worker runs them itself. */
static void on_maintain(uv_timer_t *t) {
  worker *w = t->data;
  char *err = NULL;
  if (af_store_maintain(w->store, w->out, on_maintained, w, &err) != 0) {
    fprintf(stderr, "autofactura worker: maintenance: %s\n", err);
    af_free(err);
  }
}

static void on_queue_error(af_queue_worker *qw, const char *msg) {
  (void)qw;
  fprintf(stderr, "autofactura worker: queue: %s\n", msg);
}

static void on_store_closed(void *data) {
  worker *w = data;
  uv_close((uv_handle_t *)&w->maintain, NULL);
  af_redis_close(w->redis);
  w->redis = NULL;
  uv_close((uv_handle_t *)&w->sigterm, NULL);
  uv_close((uv_handle_t *)&w->sigint, NULL);
  uv_close((uv_handle_t *)&w->grace, NULL);
  af_ws_shutdown();
}

static void on_browser_closed(void *data) {
  worker *w = data;
  af_store_close(w->store, on_store_closed, w);
}

static void on_queue_closed(af_queue_worker *qw) {
  worker *w = af_queue_worker_get_data(qw);
  fprintf(stderr, "autofactura worker: stopped\n");
  if (w->browser) af_browser_close(w->browser, on_browser_closed, w);
  else on_browser_closed(w);
}

static void on_grace(uv_timer_t *t) {
  worker *w = t->data;
  for (job *j = w->jobs; j; j = j->next)
    if (j->task) af_task_cancel(j->task, "the worker is shutting down; retried elsewhere");
}

static void stop(worker *w) {
  if (w->stopping) return;
  w->stopping = 1;
  uv_timer_stop(&w->maintain);
  fprintf(stderr, "autofactura worker: stopping: no new jobs; %d running get %d s\n",
          w->running, w->grace_s);
  uv_timer_start(&w->grace, on_grace, (uint64_t)w->grace_s * 1000, 0);
  af_queue_worker_close(w->qw, on_queue_closed);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  stop(h->data);
}

static void on_browser(af_browser *b, const char *err, void *data) {
  worker *w = data;
  char *e = NULL;
  if (b == NULL) {
    fprintf(stderr, "autofactura worker: cannot start the browser: %s\n", err);
    af_store_close(w->store, on_store_closed, w);
    return;
  }
  w->browser = b;
  if (af_queue_worker_start(w->qw, on_job) != 0) {
    fprintf(stderr, "autofactura worker: cannot start taking jobs\n");
    stop(w);
    af_free(e);
    return;
  }
  fprintf(stderr, "autofactura worker: taking jobs from automation-tasks\n");
}

int af_automation_cmd_worker(int argc, char **argv) {
  static const struct option opts[] = {
      {"queue", required_argument, 0, 'q'}, {"concurrency", required_argument, 0, 'c'},
      {"grace", required_argument, 0, 'g'}, {"out", required_argument, 0, 'o'},
      {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
  const char *queue = "automation-tasks", *out = NULL;
  int concurrency = 3, grace = 30, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'q': queue = optarg; break;
      case 'c': concurrency = atoi(optarg); break;
      case 'g': grace = atoi(optarg); break;
      case 'o': out = optarg; break;
      case 'h': fputs(USAGE, stdout); return 0;
      default:
        fprintf(stderr, "autofactura worker: unknown or incomplete option '%s' (see --help)\n",
                argv[optind - 1]);
        return AF_EXIT_BAD_INPUT;
    }
  }
  if (concurrency < 1 || concurrency > 64 || grace < 0) {
    fprintf(stderr, "autofactura worker: --concurrency is 1 to 64, --grace >= 0 seconds\n");
    return AF_EXIT_BAD_INPUT;
  }
  char *cerr = NULL;
  if (af_config_check_browser(&cerr) != 0) {
    fprintf(stderr, "autofactura worker: %s\n", cerr);
    af_free(cerr);
    return AF_EXIT_BAD_INPUT;
  }
  const char *redis = getenv("AF_REDIS_URL");
  if (redis == NULL || *redis == '\0') {
    fprintf(stderr, "autofactura worker: AF_REDIS_URL is not set (redis://host:port)\n");
    return AF_EXIT_BAD_INPUT;
  }
  worker w;
  memset(&w, 0, sizeof w);
  char *err = NULL, *outdir = NULL;
  int rc = AF_EXIT_BAD_INPUT;
  if (af_keyring_from_env(&w.kr, &err) != 0) {
    fprintf(stderr, "autofactura worker: %s\n", err);
    goto done;
  }
  const char *state = getenv("AF_STATE_DIR");
  outdir = out ? af_strdup(out) : state && *state ? af_asprintf("%s/files", state)
                                                  : af_strdup("autofactura-files");
  w.out = outdir;
  w.grace_s = grace;
  w.loop = uv_default_loop();
  if (af_store_open(w.loop, NULL, &w.store, &err) != 0) {
    fprintf(stderr, "autofactura worker: %s\n", err);
    goto done;
  }
  af_queue_worker_opts qo;
  af_queue_worker_opts_init(&qo);
  qo.redis_url = redis;
  qo.queue = queue;
  qo.concurrency = concurrency;
  qo.name = "autofactura-automation";
  if (af_queue_worker_new(w.loop, &qo, &w.qw, &err) != 0) {
    fprintf(stderr, "autofactura worker: %s\n", err);
    af_store_close(w.store, NULL, NULL);
    uv_run(w.loop, UV_RUN_DEFAULT);
    goto done;
  }
  af_queue_worker_set_data(w.qw, &w);
  af_redis_url ru;
  if (af_queue_url_parse(redis, &ru, &err) != 0 ||
      af_redis_open(w.loop, &ru, "autofactura-limits", NULL, NULL, &w.redis, &err) != 0) {
    fprintf(stderr, "autofactura worker: AF_REDIS_URL: %s\n", err);
    goto done;
  }
  af_free(ru.password);
  const char *ph = getenv("AF_USER_TASKS_PER_HOUR"), *ao = getenv("AF_USER_RUNNING_MAX");
  w.per_hour = ph && *ph ? atoi(ph) : 10;
  w.at_once = ao && *ao ? atoi(ao) : 3;
  if (w.per_hour < 1 || w.at_once < 1) {
    fprintf(stderr, "autofactura worker: AF_USER_TASKS_PER_HOUR and AF_USER_RUNNING_MAX must "
                    "be whole numbers of at least 1\n");
    goto done;
  }
  af_queue_worker_on_error(w.qw, on_queue_error);
  w.L = luaL_newstate();
  af_json_open(w.L);
  uv_signal_init(w.loop, &w.sigterm);
  uv_signal_init(w.loop, &w.sigint);
  uv_timer_init(w.loop, &w.grace);
  uv_timer_init(w.loop, &w.maintain);
  w.sigterm.data = w.sigint.data = w.grace.data = w.maintain.data = &w;
  const char *mi = getenv("AF_MAINTENANCE_INTERVAL");
  int every = mi && *mi ? atoi(mi) : 3600;
  if (every < 1) {
    fprintf(stderr, "autofactura worker: AF_MAINTENANCE_INTERVAL must be a number of seconds "
                    "of at least 1\n");
    every = 3600;
  }
  uv_timer_start(&w.maintain, on_maintain, 0, (uint64_t)every * 1000);
  uv_signal_start(&w.sigterm, on_signal, SIGTERM);
  uv_signal_start(&w.sigint, on_signal, SIGINT);
  atexit(af_browser_kill_all);
  af_browser_opts bo = {.headless = 1};
  if (af_browser_launch(w.loop, &bo, on_browser, &w, &err) != 0) {
    fprintf(stderr, "autofactura worker: cannot start the browser: %s\n", err);
    stop(&w);
  }
  uv_run(w.loop, UV_RUN_DEFAULT);
  af_ws_shutdown();
  rc = 0;
done:
  if (w.L) lua_close(w.L);
  af_keyring_free(w.kr);
  af_free(outdir);
  af_free(err);
  return rc;
}
