/*
 * queue_cli.c -- `autofactura enqueue` and `autofactura worker --handler`:
 * option parsing, the loop, signals, and the summary line of --max-jobs.
 * Relies on queue.c (producer, worker) and queue_lua.c (Lua handlers).
 */
#include "queue_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cli.h"
#include "queue.h"
#include "queue_lua.h"

static const char ENQUEUE_USAGE[] =
    "usage: autofactura enqueue --queue NAME --data JSON [--opts JSON] [--name JOBNAME]\n"
    "  Adds one job to a bullmq queue on AF_REDIS_URL (redis://host:port[/db]).\n"
    "  --opts takes bullmq's job options: jobId, attempts, backoff (ms or\n"
    "  {type: fixed|exponential, delay, jitter}), priority (1 runs first), delay,\n"
    "  lifo, removeOnComplete, removeOnFail (true, false, N or {count, age}).\n"
    "  Prints the job id.\n";

static const char WORKER_USAGE[] =
    "usage: autofactura worker --queue NAME --handler FILE.lua [--concurrency N]\n"
    "                          [--name NAME] [--lock-duration MS] [--stalled-interval MS]\n"
    "                          [--max-stalled-count N] [--max-jobs N]\n"
    "  Runs bullmq jobs from AF_REDIS_URL with a Lua handler: FILE returns\n"
    "  function(job) (job.id, job.name, job.data, job.attemptsMade,\n"
    "  job:progress(n), job:log(text)); its return value is the job's\n"
    "  returnvalue, an error fails the attempt. SIGINT/SIGTERM stop it after the\n"
    "  running jobs. A job whose worker died is retried as stalled up to\n"
    "  --max-stalled-count times (default 1), then failed. --max-jobs N stops after N settled jobs and prints\n"
    "  {\"jobs\",\"seconds\",\"jobs_per_sec\"} (for benchmarks).\n";

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --flag VALUE lookup; sets *bad when a flag lacks its value. */
static const char *opt(int argc, char **argv, const char *flag, int *bad) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], flag) != 0) continue;
    if (i + 1 >= argc) {
      fprintf(stderr, "autofactura: %s needs a value\n", flag);
      *bad = 1;
      return NULL;
    }
    return argv[i + 1];
  }
  return NULL;
}

static int unknown_flags(int argc, char **argv, const char *const *known) {
  for (int i = 1; i < argc; i += 2) {
    int ok = 0;
    for (const char *const *k = known; *k; k++) ok |= strcmp(argv[i], *k) == 0;
    if (!ok) {
      fprintf(stderr, "autofactura: unknown option '%s' (see --help)\n", argv[i]);
      return 1;
    }
  }
  return 0;
}

static int wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  return 0;
}

static int int_opt(const char *v, const char *flag, int lo, int hi, int *out) {
  char *end;
  long n = v ? strtol(v, &end, 10) : 0;
  if (!v || *end || n < lo || n > hi) {
    fprintf(stderr, "autofactura: %s must be an integer between %d and %d\n", flag, lo, hi);
    return -1;
  }
  *out = (int)n;
  return 0;
}

static const char *redis_url(void) {
  const char *u = getenv("AF_REDIS_URL");
  if (!u || !*u) fprintf(stderr, "autofactura: AF_REDIS_URL: not set (redis://host:port[/db])\n");
  return u && *u ? u : NULL;
}

/* {=========== enqueue */

typedef struct enqueue_ctx {
  int rc;
  uv_timer_t deadline;
} enqueue_ctx;

static void enqueue_done(af_queue *q, const char *id, const char *err, void *arg) {
  enqueue_ctx *c = arg;
  if (id) {
    printf("%s\n", id);
    c->rc = AF_EXIT_COMPLETED;
  } else {
    fprintf(stderr, "autofactura enqueue: %s\n", err);
  }
  if (!uv_is_closing((uv_handle_t *)&c->deadline)) uv_close((uv_handle_t *)&c->deadline, NULL);
  af_queue_close(q, NULL);
}

static void enqueue_timeout(uv_timer_t *t) {
  af_queue *q = t->data;
  uv_close((uv_handle_t *)t, NULL);
  af_queue_close(q, NULL);
}

int af_queue_cli_enqueue(int argc, char **argv) {
  static const char *const KNOWN[] = {"--queue", "--data", "--opts", "--name", NULL};
  if (wants_help(argc, argv)) {
    fputs(ENQUEUE_USAGE, stdout);
    return 0;
  }
  int bad = 0;
  const char *queue = opt(argc, argv, "--queue", &bad), *data = opt(argc, argv, "--data", &bad),
             *opts = opt(argc, argv, "--opts", &bad), *name = opt(argc, argv, "--name", &bad);
  if (bad || unknown_flags(argc, argv, KNOWN)) return AF_EXIT_BAD_INPUT;
  if (!queue || !*queue || !data) {
    fputs(ENQUEUE_USAGE, stderr);
    return AF_EXIT_BAD_INPUT;
  }
  const char *url = redis_url();
  if (!url) return AF_EXIT_BAD_INPUT;
  uv_loop_t *loop = uv_default_loop();
  af_queue *q = NULL;
  char *err = NULL;
  enqueue_ctx c = {.rc = AF_EXIT_INTERNAL};
  if (af_queue_open(loop, url, NULL, queue, &q, &err) != 0) {
    fprintf(stderr, "autofactura enqueue: %s\n", err);
    af_free(err);
    return AF_EXIT_BAD_INPUT;
  }
  if (af_queue_add(q, name ? name : "job", data, opts, enqueue_done, &c, &err) != 0) {
    fprintf(stderr, "autofactura enqueue: %s\n", err);
    af_free(err);
    af_queue_close(q, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return AF_EXIT_BAD_INPUT;
  }
  /* Redis may be away for a while: wait for it up to 30 s. */
  uv_timer_init(loop, &c.deadline);
  c.deadline.data = q;
  uv_timer_start(&c.deadline, enqueue_timeout, 30000, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  return c.rc;
}

/* }=========== */

/* {=========== worker */

typedef struct worker_ctx {
  af_queue_lua *lua;
  uv_signal_t sigint, sigterm;
  long max_jobs, settled;
  double t_first, t_last;
} worker_ctx;

static void on_job(af_queue_worker *w, af_queue_job *job) {
  worker_ctx *c = af_queue_worker_get_data(w);
  if (c->t_first == 0) c->t_first = mono_s();
  af_queue_lua_run(c->lua, job);
}

static void on_error(af_queue_worker *w, const char *msg) {
  (void)w;
  fprintf(stderr, "autofactura worker: %s\n", msg);
}

static void on_closed(af_queue_worker *w) {
  worker_ctx *c = af_queue_worker_get_data(w);
  uv_close((uv_handle_t *)&c->sigint, NULL);
  uv_close((uv_handle_t *)&c->sigterm, NULL);
  af_queue_lua_close(c->lua);
}

static void on_settled(af_queue_worker *w, const char *id, const char *state) {
  worker_ctx *c = af_queue_worker_get_data(w);
  (void)id;
  if (strcmp(state, "retry") == 0) return;
  c->settled++;
  c->t_last = mono_s();
  if (c->max_jobs > 0 && c->settled == c->max_jobs) af_queue_worker_close(w, on_closed);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  af_queue_worker_close(s->data, on_closed);
}

int af_queue_cli_worker(int argc, char **argv) {
  static const char *const KNOWN[] = {"--queue", "--handler", "--concurrency", "--name",
                                      "--lock-duration", "--stalled-interval", "--max-jobs",
                                      "--max-stalled-count", NULL};
  if (wants_help(argc, argv)) {
    fputs(WORKER_USAGE, stdout);
    return 0;
  }
  int bad = 0;
  af_queue_worker_opts o;
  af_queue_worker_opts_init(&o);
  o.queue = opt(argc, argv, "--queue", &bad);
  o.name = opt(argc, argv, "--name", &bad);
  const char *handler = opt(argc, argv, "--handler", &bad);
  const char *conc = opt(argc, argv, "--concurrency", &bad),
             *lock = opt(argc, argv, "--lock-duration", &bad),
             *stall = opt(argc, argv, "--stalled-interval", &bad),
             *maxj = opt(argc, argv, "--max-jobs", &bad),
             *maxst = opt(argc, argv, "--max-stalled-count", &bad);
  if (bad || unknown_flags(argc, argv, KNOWN)) return AF_EXIT_BAD_INPUT;
  if (!o.queue || !*o.queue || !handler) {
    fputs(WORKER_USAGE, stderr);
    return AF_EXIT_BAD_INPUT;
  }
  int maxjobs = 0;
  if ((conc && int_opt(conc, "--concurrency", 1, 10000, &o.concurrency) != 0) ||
      (lock && int_opt(lock, "--lock-duration", 100, 3600000, &o.lock_duration_ms) != 0) ||
      (stall && int_opt(stall, "--stalled-interval", 100, 3600000, &o.stalled_interval_ms) != 0) ||
      (maxj && int_opt(maxj, "--max-jobs", 1, 2000000000, &maxjobs) != 0) ||
      (maxst && int_opt(maxst, "--max-stalled-count", 0, 1000000, &o.max_stalled_count) != 0))
    return AF_EXIT_BAD_INPUT;
  if (!(o.redis_url = redis_url())) return AF_EXIT_BAD_INPUT;

  int rc = AF_EXIT_INTERNAL;
  char *err = NULL;
  worker_ctx c = {.max_jobs = maxjobs};
  af_queue_worker *w = NULL;
  uv_loop_t *loop = uv_default_loop();
  if (af_queue_lua_new(loop, handler, &c.lua, &err) != 0 ||
      af_queue_worker_new(loop, &o, &w, &err) != 0) {
    fprintf(stderr, "autofactura worker: %s\n", err);
    rc = AF_EXIT_BAD_INPUT;
    goto done;
  }
  af_queue_worker_set_data(w, &c);
  af_queue_worker_on_error(w, on_error);
  af_queue_worker_on_settled(w, on_settled);
  uv_signal_init(loop, &c.sigint);
  uv_signal_init(loop, &c.sigterm);
  c.sigint.data = c.sigterm.data = w;
  uv_signal_start(&c.sigint, on_signal, SIGINT);
  uv_signal_start(&c.sigterm, on_signal, SIGTERM);
  if (af_queue_worker_start(w, on_job) != 0) {
    fprintf(stderr, "autofactura worker: cannot start\n");
    goto done;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  if (c.max_jobs > 0) {
    double s = c.t_last > c.t_first ? c.t_last - c.t_first : 0;
    printf("{\"jobs\":%ld,\"seconds\":%.3f,\"jobs_per_sec\":%.0f}\n", c.settled, s,
           s > 0 ? (double)c.settled / s : 0.0);
  }
  rc = AF_EXIT_COMPLETED;
done:
  af_free(err);
  af_queue_lua_close(c.lua);
  uv_run(loop, UV_RUN_NOWAIT); /* the closes of a start that failed */
  af_queue_lua_free(c.lua);
  return rc;
}

/* }=========== */
