/*
 * test_queue_live.c -- the C API against a real redis-server this test starts
 * (af_tests --live): an asynchronous handler that settles its job later from
 * a timer, holding it longer than the lock duration, so only lock renewal
 * keeps the second worker's stalled check from taking it.
 */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "queue.h"
#include "test.h"

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

static pid_t start_redis(int port) {
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execlp("redis-server", "redis-server", "--port", ps, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    redisContext *c = redisConnect("127.0.0.1", port);
    int ok = c && !c->err;
    redisFree(c);
    if (ok) return pid;
    usleep(10000);
  }
  return -1;
}

typedef struct ctx {
  uv_loop_t *loop;
  af_queue *q;
  af_queue_worker *w[2];
  uv_timer_t timer, deadline;
  af_queue_job *held;
  int runs, completed, closed;
  char id[64];
} ctx;

static void on_closed(af_queue_worker *w) {
  ctx *c = af_queue_worker_get_data(w);
  if (++c->closed < 2) return;
  uv_close((uv_handle_t *)&c->timer, NULL);
  uv_close((uv_handle_t *)&c->deadline, NULL);
}

static void release(uv_timer_t *t) {
  ctx *c = t->data;
  af_queue_job_progress(c->held, "100");
  af_queue_job_complete(c->held, "\"late\"");
  c->held = NULL;
}

static void handler(af_queue_worker *w, af_queue_job *job) {
  ctx *c = af_queue_worker_get_data(w);
  if (c->runs++) { /* a second run: the lock was lost (asserted below) */
    af_queue_job_complete(job, "\"second\"");
    return;
  }
  c->held = job;
  /* three lock durations: renewal has to keep the lock alive */
  uv_timer_start(&c->timer, release, 1200, 0);
}

static void settled(af_queue_worker *w, const char *id, const char *state) {
  ctx *c = af_queue_worker_get_data(w);
  if (strcmp(state, "completed") == 0 && strcmp(id, c->id) == 0) c->completed++;
  af_queue_worker_close(c->w[0], on_closed);
  af_queue_worker_close(c->w[1], on_closed);
}

/* A lost lock means a second run that never settles: stop and report. */
static void too_late(uv_timer_t *t) { uv_stop(t->loop); }

static void added(af_queue *q, const char *id, const char *err, void *arg) {
  ctx *c = arg;
  ASSERT_NULL(err);
  snprintf(c->id, sizeof c->id, "%s", id);
  af_queue_close(q, NULL);
}

TEST(live_queue_async_handler_lock_renewal) {
  int port = free_port();
  pid_t redis = start_redis(port);
  ASSERT(redis > 0);
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  ctx c = {.loop = uv_default_loop()};
  char *err = NULL;
  ASSERT_INT_EQ(af_queue_open(c.loop, url, NULL, "live", &c.q, &err), 0);
  ASSERT_INT_EQ(af_queue_add(c.q, "slow", "{\"n\":1}", "{\"jobId\":\"slow-1\"}", added, &c, &err), 0);
  uv_timer_init(c.loop, &c.timer);
  c.timer.data = &c;
  uv_timer_init(c.loop, &c.deadline);
  uv_timer_start(&c.deadline, too_late, 8000, 0);
  for (int i = 0; i < 2; i++) {
    af_queue_worker_opts o;
    af_queue_worker_opts_init(&o);
    o.redis_url = url;
    o.queue = "live";
    o.name = i ? "w2" : "w1";
    o.lock_duration_ms = 400;
    o.stalled_interval_ms = 150;
    ASSERT_INT_EQ(af_queue_worker_new(c.loop, &o, &c.w[i], &err), 0);
    af_queue_worker_set_data(c.w[i], &c);
    af_queue_worker_on_settled(c.w[i], settled);
    ASSERT_INT_EQ(af_queue_worker_start(c.w[i], handler), 0);
  }
  uv_run(c.loop, UV_RUN_DEFAULT);
  if (c.runs != 1) kill(redis, SIGKILL);
  ASSERT_INT_EQ(c.runs, 1);
  ASSERT_INT_EQ(c.completed, 1);
  ASSERT_INT_EQ(c.closed, 2);

  redisContext *rc = redisConnect("127.0.0.1", port);
  redisReply *r = redisCommand(rc, "HMGET bull:live:slow-1 returnvalue ats stc progress");
  ASSERT_STR_EQ(r->element[0]->str, "\"late\"");
  ASSERT_STR_EQ(r->element[1]->str, "1");
  ASSERT_INT_EQ(r->element[2]->type, REDIS_REPLY_NIL); /* never recovered as stalled */
  ASSERT_STR_EQ(r->element[3]->str, "100");
  freeReplyObject(r);
  r = redisCommand(rc, "XRANGE bull:live:events - +");
  int stalled = 0;
  for (size_t i = 0; i < r->elements; i++) {
    redisReply *f = r->element[i]->element[1];
    if (strcmp(f->element[1]->str, "stalled") == 0) stalled++;
  }
  ASSERT_INT_EQ(stalled, 0);
  freeReplyObject(r);
  redisFree(rc);
  kill(redis, SIGKILL);
  waitpid(redis, NULL, 0);
  uv_loop_close(c.loop);
  return 0;
}
