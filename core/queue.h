/*
 * queue.h -- a producer and a worker wire-compatible with bullmq 6.x (Node)
 * on Redis, running on the process's libuv loop (hiredis async).
 *
 * Handles and requests in libuv's style: an af_queue (producer) or an
 * af_queue_worker is created on a loop, runs callbacks on that loop, and is
 * closed asynchronously (its close callback is the last call; its memory is
 * gone after it). Jobs handed to a handler are owned by the worker until the
 * handler settles them with af_queue_job_complete() or af_queue_job_fail(),
 * which it may do later, from any callback on the same loop.
 */
#ifndef AF_QUEUE_H
#define AF_QUEUE_H

#include <stddef.h>

#include <uv.h>

#include "queue_wire.h"

/* {=========== producer */

typedef struct af_queue af_queue;

/* Result of an add: id of the job (the existing one when opts.jobId was
 * already taken), or NULL with err. Both strings live for the call only. */
typedef void (*af_queue_add_cb)(af_queue *q, const char *id, const char *err,
                                void *arg);
typedef void (*af_queue_close_cb)(af_queue *q);

/* redis_url: redis://host[:port][/db]; prefix NULL = "bull". 0 or -1 with *err. */
int af_queue_open(uv_loop_t *loop, const char *redis_url, const char *prefix,
                  const char *queue, af_queue **out, char **err);
/* Add a job: data is JSON text (NULL = {}), opts JSON as bullmq's Queue.add
 * takes it (jobId, attempts, backoff, priority, delay, lifo, timestamp,
 * removeOnComplete, removeOnFail, stackTraceLimit, keepLogs). Bad options are
 * refused at once (-1, *err names the option); else 0 and cb runs once the
 * job is stored (commands wait for Redis while it is unreachable). */
int af_queue_add(af_queue *q, const char *name, const char *data,
                 const char *opts, af_queue_add_cb cb, void *arg, char **err);
/* Close after the pending adds have been answered. */
void af_queue_close(af_queue *q, af_queue_close_cb cb);
void *af_queue_get_data(const af_queue *q);
void af_queue_set_data(af_queue *q, void *data);

/* }=========== */

/* {=========== worker */

typedef struct af_queue_worker af_queue_worker;

typedef struct af_queue_job {
  /* public, read-only */
  const char *id;
  const char *name;
  const char *data;           /* JSON text as the producer stored it */
  size_t data_len;
  long long attempts_made;    /* finished attempts before this one (atm) */
  long long attempts_started; /* including this one (ats) */
  long long timestamp;        /* ms, when it was added */
  af_queue_job_opts opts;     /* parsed from the stored opts */
  af_queue_worker *worker;
  /* public, read-write */
  void *data_ptr;             /* user slot */
} af_queue_job;

/* Called for each job taken. The handler (or whatever it starts) must call
 * af_queue_job_complete or af_queue_job_fail exactly once. */
typedef void (*af_queue_handler_cb)(af_queue_worker *w, af_queue_job *job);
/* Problems that are not a job's (Redis down, lock lost); for logs. */
typedef void (*af_queue_error_cb)(af_queue_worker *w, const char *msg);
/* A job was settled in Redis: state "completed", "failed" or "retry". */
typedef void (*af_queue_settled_cb)(af_queue_worker *w, const char *id,
                                    const char *state);
typedef void (*af_queue_worker_close_cb)(af_queue_worker *w);

typedef struct af_queue_worker_opts {
  const char *redis_url;     /* required */
  const char *prefix;        /* NULL = "bull" */
  const char *queue;         /* required */
  const char *name;          /* worker name (job field pb, CLIENT SETNAME); may be NULL */
  int concurrency;           /* jobs at once on this loop; default 1 */
  int lock_duration_ms;      /* default 30000; renewed every quarter */
  int stalled_interval_ms;   /* default 30000 */
  int max_stalled_count;     /* default 1 */
  int drain_delay_ms;        /* longest idle block on the marker; default 5000 */
  af_queue_keep keep_complete, keep_fail; /* when the job has no rule; default keep all */
} af_queue_worker_opts;

void af_queue_worker_opts_init(af_queue_worker_opts *o);
int af_queue_worker_new(uv_loop_t *loop, const af_queue_worker_opts *opts,
                        af_queue_worker **out, char **err);
void af_queue_worker_on_error(af_queue_worker *w, af_queue_error_cb cb);
void af_queue_worker_on_settled(af_queue_worker *w, af_queue_settled_cb cb);
/* Start taking jobs (connects first; reconnects with backoff). */
int af_queue_worker_start(af_queue_worker *w, af_queue_handler_cb handler);
/* Stop taking jobs; once the running jobs are settled by their handlers and
 * written to Redis, close the connections and call cb. A caller that cannot
 * wait fails its jobs (or exits: their locks expire and another worker
 * recovers them as stalled). */
void af_queue_worker_close(af_queue_worker *w, af_queue_worker_close_cb cb);
int af_queue_worker_running(const af_queue_worker *w);
void *af_queue_worker_get_data(const af_queue_worker *w);
void af_queue_worker_set_data(af_queue_worker *w, void *data);

/* Settle a job. returnvalue: JSON text (NULL = null). reason: the
 * failedReason (plain text). A failed attempt is retried per the job's
 * attempts and backoff. The job pointer is invalid after either call. */
void af_queue_job_complete(af_queue_job *job, const char *returnvalue);
void af_queue_job_fail(af_queue_job *job, const char *reason);
/* While the job runs: progress (JSON text, e.g. "42") with a progress event,
 * and a line in the job's log. Fire and forget; 0 or -1 when Redis is down. */
int af_queue_job_progress(af_queue_job *job, const char *progress_json);
int af_queue_job_log(af_queue_job *job, const char *text);

/* }=========== */

#endif
