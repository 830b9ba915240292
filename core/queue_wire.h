/*
 * queue_wire.h -- the pure parts of the bullmq wire format: Redis URLs, key
 * names, job options (parse, validate, the stored `opts` JSON), keep-jobs
 * rules and backoff math. No I/O; queue.c and the unit tests use it.
 */
#ifndef AF_QUEUE_WIRE_H
#define AF_QUEUE_WIRE_H

#include <lua.h>

/* bullmq's PRIORITY_LIMIT: valid priorities are 0..2^21-1 (1 runs first). */
#define AF_QUEUE_PRIORITY_LIMIT 2097152

typedef struct af_redis_url {
  char host[256];
  int port;     /* default 6379 */
  int db;       /* default 0 */
  char *password; /* owned, NULL when absent */
} af_redis_url;

/* Parse redis://[:password@]host[:port][/db]. 0, or -1 with *err. */
int af_queue_url_parse(const char *url, af_redis_url *out, char **err);
void af_queue_url_free(af_redis_url *u);

/* "bull:<queue>:" -- the key prefix every key of the queue starts with. */
char *af_queue_key_prefix(const char *prefix, const char *queue);

/* How many finished jobs to keep (removeOnComplete / removeOnFail). */
typedef struct af_queue_keep {
  long long count; /* -1 keep all, 0 keep none, N keep the newest N */
  long long age_s; /* -1 no age limit, else seconds */
  long long limit; /* max removals by age per call (bullmq default 1000) */
} af_queue_keep;

enum { AF_BACKOFF_NONE = 0, AF_BACKOFF_FIXED, AF_BACKOFF_EXPONENTIAL };

/* The job options bullmq stores in the job hash's `opts` field, as this
 * runtime understands them. */
typedef struct af_queue_job_opts {
  char *job_id;            /* owned; NULL = auto id */
  long long attempts;      /* 0 or 1 = one attempt */
  int backoff_type;        /* AF_BACKOFF_* */
  long long backoff_delay; /* ms */
  double backoff_jitter;   /* 0..1 */
  long long priority;      /* 0 = none */
  long long delay;         /* ms */
  long long timestamp;     /* ms; 0 = now */
  int lifo;
  int has_keep_complete, has_keep_fail;
  af_queue_keep keep_complete, keep_fail;
  long long stack_limit;   /* -1 unset */
  long long keep_logs;     /* -1 unset */
} af_queue_job_opts;

void af_queue_job_opts_init(af_queue_job_opts *o);
void af_queue_job_opts_free(af_queue_job_opts *o);

/* Parse options JSON (NULL or "" = none) as Queue.add takes them. With
 * `stored` set, *stored gets the JSON to store in the job hash: the same
 * options with `attempts` defaulted to 0 and a numeric backoff normalized to
 * {type:"fixed",delay}, as bullmq's Job constructor does. Refuses what bullmq
 * refuses, with a one-line message naming the option. 0 or -1 with *err. */
int af_queue_job_opts_parse(lua_State *L, const char *json, af_queue_job_opts *o,
                            char **stored, char **err);

/* Parse the `opts` field of a job hash written by any producer; lenient
 * (unknown or odd values are ignored). 0, or -1 when it is not JSON. */
int af_queue_job_opts_read(lua_State *L, const char *json, size_t n,
                           af_queue_job_opts *o);

/* The backoff before retry number `attempt` (1 = after the first failure),
 * bullmq's builtin strategies; rnd in [0,1) is used only with jitter.
 * Returns ms (0 = retry at once). */
long long af_queue_backoff_ms(const af_queue_job_opts *o, long long attempt,
                              double rnd);

/* Whether a failed attempt is retried: attempts_made (before this failure)
 * + 1 < attempts. */
int af_queue_should_retry(const af_queue_job_opts *o, long long attempts_made);

#endif
