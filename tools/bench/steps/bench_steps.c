/*
 * bench_steps.c -- task_steps rows written per second through core/store.c:
 * the batched step writer versus one INSERT (one transaction) per step.
 * Usage: af_bench_steps N   (AF_DATABASE_URL: a migrated database)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "store.h"
#include "store_db.h"

#define USER "dddddddd-2222-4000-8000-00000000000d"

typedef struct run {
  int done, failed;
  char val[64];
} run;

static void on_done(void *data, const PGresult *res, const char *err) {
  run *r = data;
  r->done++;
  if (err) {
    r->failed++;
    fprintf(stderr, "bench: %s\n", err);
  } else if (res && PQntuples(res)) {
    snprintf(r->val, sizeof r->val, "%.36s", PQgetvalue(res, 0, 0));
  }
}

static void step_error(void *data, const char *err) {
  (*(int *)data)++;
  fprintf(stderr, "bench: %s\n", err);
}

static char *new_task(uv_loop_t *loop, af_store *s) {
  run r = {0};
  char *err = NULL;
  if (af_store_task_create(s, USER, "https://bench.example.com", "{}", 5, on_done, &r, &err)) {
    fprintf(stderr, "bench: %s\n", err);
    exit(1);
  }
  while (!r.done) uv_run(loop, UV_RUN_ONCE);
  if (r.failed) exit(1);
  return strdup(r.val);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 5000;
  uv_loop_t loop;
  af_store *s = NULL;
  PGconn *c = NULL;
  char *err = NULL;
  uv_loop_init(&loop);
  if (n < 1 || af_store_db_connect(NULL, &c, &err) != 0 ||
      af_store_db_exec(c, "INSERT INTO auth.users (id) VALUES ('" USER "') ON CONFLICT DO NOTHING",
                       &err) != 0 ||
      af_store_open(&loop, NULL, &s, &err) != 0) {
    fprintf(stderr, "bench: %s\n", err ? err : "usage: af_bench_steps N");
    return 1;
  }
  const char *content = "{\"selector\":\"#rfc\",\"value_len\":13,\"frame\":0}";

  /* One INSERT per step: each its own transaction, as a naive logger. */
  char *task = new_task(&loop, s);
  run r = {0};
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < n; i++) {
    char seq[16];
    snprintf(seq, sizeof seq, "%d", i + 1);
    const char *p[] = {task, seq, content};
    if (af_store_exec(s, NULL, "INSERT INTO task_steps (task_id, seq, step_type, content,"
                               " duration_ms) VALUES ($1, $2, 'input', $3::jsonb, 12)",
                      3, p, on_done, &r, &err) != 0) {
      fprintf(stderr, "bench: %s\n", err);
      return 1;
    }
  }
  while (r.done < n) uv_run(&loop, UV_RUN_ONCE);
  double single = (double)(uv_hrtime() - t0) / 1e9;
  free(task);

  /* The batched writer. */
  task = new_task(&loop, s);
  af_store_steps *w = NULL;
  int errors = 0;
  run closed = {0};
  t0 = uv_hrtime();
  if (af_store_steps_open(s, task, step_error, &errors, &w, &err) != 0) return 1;
  for (int i = 0; i < n; i++) {
    if (af_store_steps_add(w, "input", content, NULL, 12, &err) != 0) return 1;
    if (i % 16 == 15) uv_run(&loop, UV_RUN_NOWAIT); /* a task does other work between steps */
  }
  af_store_steps_close(w, on_done, &closed);
  while (!closed.done) uv_run(&loop, UV_RUN_ONCE);
  double batched = (double)(uv_hrtime() - t0) / 1e9;

  char sql[200];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM task_steps WHERE task_id = '%s'", task);
  PGresult *res = af_store_db_query(c, sql, 0, NULL, &err);
  int written = res ? atoi(PQgetvalue(res, 0, 0)) : -1;
  PQclear(res);
  free(task);
  if (r.failed || errors || written != n) {
    fprintf(stderr, "bench: failures (%d single, %d batches, %d/%d rows)\n", r.failed, errors,
                    written, n);
    return 1;
  }
  printf("steps: %d rows\n", n);
  printf("  one INSERT per step: %8.3f s  %9.0f rows/s\n", single, n / single);
  printf("  batched (%d/batch):  %8.3f s  %9.0f rows/s  (x%.1f)\n", AF_STORE_STEPS_BATCH, batched,
         n / batched, single / batched);
  af_store_close(s, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  PQfinish(c);
  return 0;
}
