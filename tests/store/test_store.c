/*
 * test_store.c -- core/store.c against a real PostgreSQL 15 that each test
 * starts (tools/pg/start.sh) and migrates (sql/): the task record, batched
 * steps, identities and RLS, profile decryption, closing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "crypto.h"
#include "store.h"
#include "store_cmd.h"
#include "store_db.h"
#include "store_embed.h"
#include "test.h"

#define USER_A "aaaaaaaa-1111-4000-8000-00000000000a"
#define USER_B "bbbbbbbb-1111-4000-8000-00000000000b"
#define KEYS "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static char pg_dir[512];
static char pg_url[512];

static void pg_stop(void) {
  char cmd[700];
  if (!pg_dir[0]) return;
  snprintf(cmd, sizeof cmd, "%s/tools/pg/stop.sh '%s'", AF_SOURCE_DIR, pg_dir);
  if (system(cmd) != 0) fprintf(stderr, "  pg stop failed\n");
  pg_dir[0] = '\0';
}

/* Start a private PostgreSQL, migrate it, add users A and B; a blocking
 * connection for checks. */
static PGconn *pg_start(void) {
  char line[600], *err = NULL;
  FILE *p = popen(AF_SOURCE_DIR "/tools/pg/start.sh", "r");
  ASSERT_NOT_NULL(p);
  while (fgets(line, sizeof line, p)) {
    line[strcspn(line, ";")] = '\0';
    if (strncmp(line, "AF_PG_DIR=", 10) == 0) snprintf(pg_dir, sizeof pg_dir, "%.500s", line + 10);
    if (strncmp(line, "AF_DATABASE_URL=", 16) == 0) snprintf(pg_url, sizeof pg_url, "%.500s", line + 16);
  }
  ASSERT_INT_EQ(pclose(p), 0);
  atexit(pg_stop);
  PGconn *c = NULL;
  int applied = 0;
  if (af_store_db_connect(pg_url, &c, &err) != 0 ||
      af_store_migrate(c, AF_SOURCE_DIR "/sql", &applied, &err) != 0 ||
      af_store_db_exec(c, "INSERT INTO auth.users (id) VALUES ('" USER_A "'), ('" USER_B "')",
                       &err) != 0)
    AF__FAIL("set-up: %s", err);
  ASSERT_INT_GE(applied, 3);
  return c;
}

static char *scalar(PGconn *c, const char *sql) {
  char *err = NULL;
  PGresult *r = af_store_db_query(c, sql, 0, NULL, &err);
  if (r == NULL) AF__FAIL("%s: %s", sql, err);
  char *v = PQntuples(r) ? af_strdup(PQgetvalue(r, 0, 0)) : af_strdup("(none)");
  PQclear(r);
  return v;
}

#define ASSERT_SCALAR(c, sql, want)                                         \
  do {                                                                      \
    char *v_ = scalar((c), (sql));                                          \
    ASSERT_STR_EQ(v_, (want));                                              \
    af_free(v_);                                                            \
  } while (0)

/* Run one request to completion, keeping the first cell or the error. */
typedef struct waiter {
  int done;
  char val[256];
  char err[512];
  int rows;
} waiter;

static void on_done(void *data, const PGresult *res, const char *err) {
  waiter *w = data;
  w->done++;
  if (err) snprintf(w->err, sizeof w->err, "%s", err);
  if (res) {
    w->rows = PQntuples(res);
    if (w->rows && PQnfields(res)) snprintf(w->val, sizeof w->val, "%s", PQgetvalue(res, 0, 0));
  }
}

static void wait_for(uv_loop_t *loop, waiter *w) {
  while (!w->done) ASSERT(uv_run(loop, UV_RUN_ONCE) != 0 || w->done);
}

#define CALL(loop, w, expr)                                                 \
  do {                                                                      \
    char *e_ = NULL;                                                        \
    memset(&(w), 0, sizeof(w));                                             \
    if ((expr) != 0) AF__FAIL("%s: %s", #expr, e_);                        \
    wait_for((loop), &(w));                                                 \
  } while (0)

static void closed(void *data) { (*(int *)data)++; }

static af_store *open_store(uv_loop_t *loop) {
  af_store *s = NULL;
  char *err = NULL;
  if (af_store_open(loop, pg_url, &s, &err) != 0) AF__FAIL("open: %s", err);
  return s;
}

static void close_store(uv_loop_t *loop, af_store *s) {
  int n = 0;
  af_store_close(s, closed, &n);
  uv_run(loop, UV_RUN_DEFAULT);
  ASSERT_INT_EQ(n, 1);
  ASSERT_INT_EQ(uv_loop_close(loop), 0);
}

static void step_error(void *data, const char *err) {
  fprintf(stderr, "  step batch failed: %s\n", err);
  (*(int *)data)++;
}

/* The worker's sequence from DESIGN.md, with 150 steps written in batches. */
TEST(store_task_lifecycle) {
  PGconn *c = pg_start();
  uv_loop_t loop;
  uv_loop_init(&loop);
  af_store *s = open_store(&loop);
  waiter w;
  char task[64], session[64], sql[512];

  CALL(&loop, w, af_store_task_create(s, USER_A, "https://facturacion.example.com/x",
                                      "{\"folio\":\"F1\",\"amount\":10.5}", 10, on_done, &w, &e_));
  ASSERT_STR_EQ(w.err, "");
  snprintf(task, sizeof task, "%.36s", w.val);
  ASSERT(af_store_is_uuid(task));
  snprintf(sql, sizeof sql, "SELECT status || ' ' || bullmq_priority || ' ' || vendor_domain"
                            " FROM automation_tasks WHERE id = '%s'", task);
  ASSERT_SCALAR(c, sql, "PENDING 1 facturacion.example.com");

  CALL(&loop, w, af_store_task_set_status(s, task, AF_TASK_RUNNING, NULL, on_done, &w, &e_));
  ASSERT_STR_EQ(w.err, "");
  ASSERT_STR_EQ(w.val, "RUNNING");
  CALL(&loop, w, af_store_session_open(s, task, "local", NULL, "http://127.0.0.1:9/live",
                                       on_done, &w, &e_));
  snprintf(session, sizeof session, "%.36s", w.val);
  CALL(&loop, w, af_store_task_set_live_url(s, task, "http://127.0.0.1:9/live", on_done, &w, &e_));
  ASSERT_INT_EQ(w.rows, 1);

  af_store_steps *steps = NULL;
  int step_errors = 0;
  char *err = NULL;
  ASSERT_INT_EQ(af_store_steps_open(s, task, step_error, &step_errors, &steps, &err), 0);
  for (int i = 0; i < 150; i++) {
    char content[64];
    snprintf(content, sizeof content, "{\"i\":%d,\"note\":\"\\\"quoted\\\"\"}", i);
    ASSERT_INT_EQ(af_store_steps_add(steps, i % 2 ? "click" : "input", content,
                                     i == 0 ? "shots/0.png" : NULL, i, &err), 0);
  }
  /* Nothing waited on the database: rows are buffered or in flight. */
  ASSERT_INT_EQ(af_store_steps_unwritten(steps), 150);
  ASSERT_INT_EQ(af_store_steps_add(steps, "system_cleanup", NULL, NULL, 0, &err), -1);
  ASSERT_STR_CONTAINS(err, "step type: must be one of");
  af_free(err);
  err = NULL;

  CALL(&loop, w, af_store_task_set_status(s, task, AF_TASK_INTERVENTION_NEEDED, NULL, on_done,
                                          &w, &e_));
  ASSERT_STR_EQ(w.val, "INTERVENTION_NEEDED");
  CALL(&loop, w, af_store_task_set_status(s, task, AF_TASK_COMPLETED, NULL, on_done, &w, &e_));
  waiter closing = {0};
  af_store_steps_close(steps, on_done, &closing);
  wait_for(&loop, &closing);
  ASSERT_STR_EQ(closing.err, "");
  ASSERT_INT_EQ(step_errors, 0);
  CALL(&loop, w, af_store_session_terminate(s, session, on_done, &w, &e_));
  ASSERT_STR_EQ(w.err, "");

  snprintf(sql, sizeof sql, "SELECT count(*) || ' ' || min(seq) || ' ' || max(seq) || ' ' ||"
                            " count(DISTINCT seq) FROM task_steps WHERE task_id = '%s'", task);
  ASSERT_SCALAR(c, sql, "150 1 150 150");
  snprintf(sql, sizeof sql, "SELECT bool_and((content->>'i')::int = seq - 1 AND duration_ms = seq - 1)"
                            " AND bool_and(content->>'note' = '\"quoted\"')"
                            " FROM task_steps WHERE task_id = '%s'", task);
  ASSERT_SCALAR(c, sql, "t");
  snprintf(sql, sizeof sql, "SELECT screenshot_url FROM task_steps WHERE task_id = '%s' AND seq = 1", task);
  ASSERT_SCALAR(c, sql, "shots/0.png");
  /* Times are when steps happened, in order. */
  snprintf(sql, sizeof sql, "SELECT bool_and(d >= interval '0') FROM (SELECT \"timestamp\" - lag(\"timestamp\")"
                            " OVER (ORDER BY seq) AS d FROM task_steps WHERE task_id = '%s') x"
                            " WHERE d IS NOT NULL", task);
  ASSERT_SCALAR(c, sql, "t");
  snprintf(sql, sizeof sql, "SELECT status || ' ' || (completed_at IS NOT NULL) || ' ' ||"
                            " current_live_url FROM automation_tasks WHERE id = '%s'", task);
  ASSERT_SCALAR(c, sql, "COMPLETED true http://127.0.0.1:9/live");
  snprintf(sql, sizeof sql, "SELECT status || ' ' || (terminated_at IS NOT NULL)"
                            " FROM browser_sessions WHERE id = '%s'", session);
  ASSERT_SCALAR(c, sql, "terminated true");

  /* retry_count, and FAILED with its reason. */
  for (int i = 1; i <= 5; i++) {
    CALL(&loop, w, af_store_task_retry(s, task, on_done, &w, &e_));
    ASSERT_INT_EQ(atoi(w.val), i);
  }
  CALL(&loop, w, af_store_task_retry(s, task, on_done, &w, &e_));
  ASSERT_STR_CONTAINS(w.err, "max_retries");
  ASSERT_INT_EQ(af_store_task_set_status(s, task, AF_TASK_FAILED, NULL, on_done, &w, &err), -1);
  ASSERT_STR_EQ(err, "failure_reason: required when a task fails");
  af_free(err);
  CALL(&loop, w, af_store_task_set_status(s, task, AF_TASK_FAILED, "portal: folio not found",
                                          on_done, &w, &e_));
  snprintf(sql, sizeof sql, "SELECT status || ': ' || failure_reason FROM automation_tasks"
                            " WHERE id = '%s'", task);
  ASSERT_SCALAR(c, sql, "FAILED: portal: folio not found");

  close_store(&loop, s);
  PQfinish(c);
  return 0;
}

/* Requests made for a user see and change only that user's rows. */
TEST(store_user_isolation) {
  PGconn *c = pg_start();
  uv_loop_t loop;
  uv_loop_init(&loop);
  af_store *s = open_store(&loop);
  waiter w;
  char task[64], sql[1024];

  CALL(&loop, w, af_store_task_create(s, USER_A, "https://a.example.com", "{}", 5, on_done, &w, &e_));
  snprintf(task, sizeof task, "%.36s", w.val);
  CALL(&loop, w, af_store_exec(s, USER_B, "SELECT count(*) FROM automation_tasks", 0, NULL,
                               on_done, &w, &e_));
  ASSERT_STR_EQ(w.val, "0");
  CALL(&loop, w, af_store_exec(s, USER_A, "SELECT count(*) FROM automation_tasks", 0, NULL,
                               on_done, &w, &e_));
  ASSERT_STR_EQ(w.val, "1");
  CALL(&loop, w, af_store_exec(s, NULL, "SELECT count(*) FROM automation_tasks", 0, NULL,
                               on_done, &w, &e_));
  ASSERT_STR_EQ(w.val, "1");
  const char *p[] = {task};
  CALL(&loop, w, af_store_exec(s, USER_B, "DELETE FROM automation_tasks WHERE id = $1::uuid",
                               1, p, on_done, &w, &e_));
  ASSERT_STR_EQ(w.err, "");
  CALL(&loop, w, af_store_exec(s, USER_B, "UPDATE automation_tasks SET status = 'FAILED'", 0,
                               NULL, on_done, &w, &e_));
  ASSERT_STR_EQ(w.err, "permission denied for table automation_tasks");
  /* A user's request cannot claim another identity through its claims. */
  CALL(&loop, w, af_store_exec(s, USER_B, "SELECT auth.uid()", 0, NULL, on_done, &w, &e_));
  ASSERT_STR_EQ(w.val, USER_B);
  /* The failed request rolled back; the next one runs normally. */
  CALL(&loop, w, af_store_exec(s, USER_A, "SELECT current_user", 0, NULL, on_done, &w, &e_));
  ASSERT_STR_EQ(w.val, "authenticated");
  CALL(&loop, w, af_store_exec(s, NULL, "SELECT current_user", 0, NULL, on_done, &w, &e_));
  ASSERT_STR_EQ(w.val, "service_role");
  snprintf(sql, sizeof sql, "SELECT status FROM automation_tasks WHERE id = '%s'", task);
  ASSERT_SCALAR(c, sql, "PENDING");
  ASSERT_SCALAR(c, "SELECT current_setting('request.jwt.claims', true) IS NULL"
                   " OR current_setting('request.jwt.claims', true) = ''", "t");

  /* The matrix through the runtime: A owns a row in every table; B's
   * requests see none and change none. */
  char *err = NULL;
  snprintf(sql, sizeof sql,
           "DO $$ DECLARE ct bytea := decode('01027431' || repeat('00', 60), 'hex'); BEGIN"
           " INSERT INTO user_profiles (user_id, full_name, rfc, rfc_bidx, fiscal_regime,"
           "  postal_code, cfdi_use) VALUES ('" USER_A "', ct, ct, sha256('x'), '612', '06600', 'G03');"
           " INSERT INTO user_vendor_credentials (user_id, vendor_domain, username, password)"
           "  VALUES ('" USER_A "', 'a.example.com', ct, ct);"
           " INSERT INTO task_steps (task_id, seq, step_type) VALUES ('%s', 1, 'click');"
           " INSERT INTO browser_sessions (task_id) VALUES ('%s');"
           " INSERT INTO cfdi_documents (task_id, cfdi_uuid, xml, xml_sha256, verified, verification)"
           "  VALUES ('%s', gen_random_uuid(), ct, sha256('x'), true, '{}'); END $$", task, task, task);
  if (af_store_db_exec(c, sql, &err) != 0) AF__FAIL("%s", err);
  static const char *const tables[] = {"user_profiles", "user_vendor_credentials",
                                       "automation_tasks", "task_steps", "browser_sessions",
                                       "cfdi_documents"};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    char q[160];
    snprintf(q, sizeof q, "SELECT count(*) FROM %s", tables[i]);
    CALL(&loop, w, af_store_exec(s, USER_B, q, 0, NULL, on_done, &w, &e_));
    ASSERT_STR_EQ(w.val, "0");
    CALL(&loop, w, af_store_exec(s, USER_A, q, 0, NULL, on_done, &w, &e_));
    ASSERT_STR_EQ(w.val, "1");
    snprintf(q, sizeof q, "UPDATE %s SET id = id RETURNING id", tables[i]);
    CALL(&loop, w, af_store_exec(s, USER_B, q, 0, NULL, on_done, &w, &e_));
    ASSERT(w.rows == 0 && (w.err[0] == '\0' || strstr(w.err, "permission denied")));
    snprintf(q, sizeof q, "DELETE FROM %s RETURNING id", tables[i]);
    CALL(&loop, w, af_store_exec(s, USER_B, q, 0, NULL, on_done, &w, &e_));
    ASSERT(w.rows == 0 && (w.err[0] == '\0' || strstr(w.err, "permission denied")));
    snprintf(q, sizeof q, "SELECT count(*) FROM %s", tables[i]);
    CALL(&loop, w, af_store_exec(s, NULL, q, 0, NULL, on_done, &w, &e_));
    ASSERT_STR_EQ(w.val, "1");
  }
  ASSERT_INT_EQ(af_store_task_create(s, "not-a-uuid", "https://a.example.com", "{}", 5, on_done,
                                     &w, &err), -1);
  ASSERT_STR_EQ(err, "user_id: must be a UUID");
  af_free(err);
  ASSERT_INT_EQ(af_store_task_create(s, USER_A, "https://a.example.com", "{}", 11, on_done, &w,
                                     &err), -1);
  ASSERT_STR_EQ(err, "priority: must be 1-10 (10 runs first)");
  af_free(err);
  close_store(&loop, s);
  PQfinish(c);
  return 0;
}

typedef struct got_profile {
  int done;
  char rfc[32], name[64], regime[8], err[256];
  int has_email;
} got_profile;

static void on_profile(void *data, const af_store_profile *p, const char *err) {
  got_profile *g = data;
  g->done = 1;
  if (err) snprintf(g->err, sizeof g->err, "%s", err);
  if (p) {
    snprintf(g->rfc, sizeof g->rfc, "%s", p->rfc);
    snprintf(g->name, sizeof g->name, "%s", p->full_name);
    snprintf(g->regime, sizeof g->regime, "%s", p->fiscal_regime);
    g->has_email = p->email != NULL;
  }
}

static char *sealed(af_keyring *kr, const char *col, const char *id, const char *v) {
  af_crypto_ad ad = {"user_profiles", col, id};
  unsigned char *ct = NULL;
  size_t n = 0;
  char *err = NULL;
  if (af_crypto_encrypt(kr, &ad, v, strlen(v), &ct, &n, &err) != 0) AF__FAIL("%s", err);
  char *hex = af_crypto_bytea_hex(ct, n);
  af_free(ct);
  return hex;
}

/* The worker reads a user's profile as that user and decrypts it. */
TEST(store_profile_decrypt) {
  PGconn *c = pg_start();
  af_keyring *kr = NULL;
  char *err = NULL;
  ASSERT_INT_EQ(af_keyring_parse(KEYS, &kr, &err), 0);
  const char *id = "cccccccc-1111-4000-8000-00000000000c";
  unsigned char bidx[32];
  ASSERT_INT_EQ(af_crypto_blind_index(kr, 0, "XAXX010101000", bidx, &err), 0);
  char *name = sealed(kr, "full_name", id, "Ana López"), *rfc = sealed(kr, "rfc", id, "XAXX010101000");
  char *bhex = af_crypto_bytea_hex(bidx, 32);
  const char *p[] = {id, USER_A, name, rfc, bhex};
  PGresult *r = af_store_db_query(c, "INSERT INTO user_profiles (id, user_id, full_name, rfc,"
                                     " rfc_bidx, fiscal_regime, postal_code, cfdi_use)"
                                     " VALUES ($1, $2, $3, $4, $5, '612', '06600', 'G03')",
                                  5, p, &err);
  if (r == NULL) AF__FAIL("%s", err);
  PQclear(r);
  af_free(name);
  af_free(rfc);
  af_free(bhex);

  uv_loop_t loop;
  uv_loop_init(&loop);
  af_store *s = open_store(&loop);
  got_profile g = {0};
  ASSERT_INT_EQ(af_store_profile_get(s, kr, USER_A, on_profile, &g, &err), 0);
  while (!g.done) uv_run(&loop, UV_RUN_ONCE);
  ASSERT_STR_EQ(g.err, "");
  ASSERT_STR_EQ(g.rfc, "XAXX010101000");
  ASSERT_STR_EQ(g.name, "Ana López");
  ASSERT_STR_EQ(g.regime, "612");
  ASSERT_INT_EQ(g.has_email, 0);

  memset(&g, 0, sizeof g);
  ASSERT_INT_EQ(af_store_profile_get(s, kr, USER_B, on_profile, &g, &err), 0);
  while (!g.done) uv_run(&loop, UV_RUN_ONCE);
  ASSERT_STR_EQ(g.err, "profile: none for this user");
  ASSERT_STR_EQ(g.rfc, "");

  af_store_db_exec(c, "UPDATE user_profiles SET rfc = set_byte(rfc, 30, get_byte(rfc, 30) # 4)", &err);
  memset(&g, 0, sizeof g);
  ASSERT_INT_EQ(af_store_profile_get(s, kr, USER_A, on_profile, &g, &err), 0);
  while (!g.done) uv_run(&loop, UV_RUN_ONCE);
  ASSERT_STR_EQ(g.err, "user_profiles.rfc: ciphertext failed authentication (altered, or "
                       "copied from another row or column)");
  ASSERT_STR_EQ(g.rfc, "");

  close_store(&loop, s);
  af_keyring_free(kr);
  PQfinish(c);
  return 0;
}

/* A few steps are written by the timer, without a close or a full batch. */
TEST(store_steps_timer_flush) {
  PGconn *c = pg_start();
  uv_loop_t loop;
  uv_loop_init(&loop);
  af_store *s = open_store(&loop);
  waiter w;
  char task[64], sql[256], *err = NULL;
  CALL(&loop, w, af_store_task_create(s, USER_A, "https://a.example.com", "{}", 5, on_done, &w, &e_));
  snprintf(task, sizeof task, "%.36s", w.val);
  af_store_steps *steps = NULL;
  int errors = 0;
  ASSERT_INT_EQ(af_store_steps_open(s, task, step_error, &errors, &steps, &err), 0);
  ASSERT_INT_EQ(af_store_steps_add(steps, "navigate", "{\"url\":\"https://a.example.com\"}",
                                   NULL, -1, &err), 0);
  ASSERT_INT_EQ(af_store_steps_add(steps, "thinking", NULL, NULL, 3, &err), 0);
  uint64_t t0 = uv_now(&loop);
  while (af_store_steps_unwritten(steps) > 0) uv_run(&loop, UV_RUN_ONCE);
  ASSERT_INT_GE(uv_now(&loop) - t0, AF_STORE_STEPS_DELAY_MS - 5);
  snprintf(sql, sizeof sql, "SELECT string_agg(step_type || ':' || coalesce(duration_ms::text, '-'),"
                            " ',' ORDER BY seq) FROM task_steps WHERE task_id = '%s'", task);
  ASSERT_SCALAR(c, sql, "navigate:-,thinking:3");
  /* Invalid content JSON fails its batch, reported, and adds no row. */
  ASSERT_INT_EQ(af_store_steps_add(steps, "click", "{not json", NULL, 1, &err), 0);
  waiter closing = {0};
  af_store_steps_close(steps, on_done, &closing);
  wait_for(&loop, &closing);
  ASSERT_INT_EQ(errors, 1);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM task_steps WHERE task_id = '%s'", task);
  ASSERT_SCALAR(c, sql, "2");
  close_store(&loop, s);
  PQfinish(c);
  return 0;
}

/* Closing fails what is queued, then reports closed. */
TEST(store_close_fails_pending) {
  PGconn *c = pg_start();
  uv_loop_t loop;
  uv_loop_init(&loop);
  af_store *s = open_store(&loop);
  waiter a = {0}, b = {0};
  char *err = NULL;
  ASSERT_INT_EQ(af_store_exec(s, NULL, "SELECT pg_sleep(0.2)", 0, NULL, on_done, &a, &err), 0);
  ASSERT_INT_EQ(af_store_exec(s, NULL, "SELECT 1", 0, NULL, on_done, &b, &err), 0);
  ASSERT_INT_EQ(af_store_pending(s), 2);
  close_store(&loop, s);
  ASSERT_INT_EQ(a.done, 1);
  ASSERT_INT_EQ(b.done, 1);
  ASSERT_STR_EQ(a.err, "store closed");
  ASSERT_STR_EQ(b.err, "store closed");
  PQfinish(c);
  return 0;
}

static void touch(const char *path) {
  FILE *f = fopen(path, "w");
  ASSERT_NOT_NULL(f);
  fclose(f);
}

/* Retention, health check and file removal, run by the runtime. */
TEST(store_maintain) {
  PGconn *c = pg_start();
  char root[] = "/tmp/af-files-XXXXXX", outside[] = "/tmp/af-outside-XXXXXX";
  char path[600], sql[1024], *err = NULL;
  ASSERT_NOT_NULL(mkdtemp(root));
  ASSERT_NOT_NULL(mkdtemp(outside));
  snprintf(path, sizeof path, "%s/old.png", root);
  touch(path);
  snprintf(path, sizeof path, "%s/rel.png", root);
  touch(path);
  snprintf(path, sizeof path, "%s/x.pdf", outside);
  touch(path);
  snprintf(sql, sizeof sql,
           "WITH t AS (INSERT INTO automation_tasks (user_id, vendor_url, ticket_details, status,"
           " completed_at) VALUES ('" USER_A "', 'https://old.example.com', '{}', 'COMPLETED',"
           " now() - interval '2 years') RETURNING id)"
           " INSERT INTO task_steps (task_id, seq, step_type, screenshot_url)"
           " SELECT id, s, 'click', p FROM t, (VALUES (1, '%s/old.png'), (2, 'rel.png'),"
           " (3, '%s/x.pdf'), (4, '%s/../etc/passwd')) v(s, p)", root, outside, root);
  if (af_store_db_exec(c, sql, &err) != 0) AF__FAIL("%s", err);

  uv_loop_t loop;
  uv_loop_init(&loop);
  af_store *s = open_store(&loop);
  waiter w;
  ASSERT_INT_EQ(af_store_maintain(s, "relative/dir", on_done, &w, &err), -1);
  ASSERT_STR_EQ(err, "files_root: must be an absolute directory");
  af_free(err);
  CALL(&loop, w, af_store_maintain(s, root, on_done, &w, &e_));
  ASSERT_STR_EQ(w.err, "");
  snprintf(path, sizeof path, "%s/old.png", root);
  ASSERT(access(path, F_OK) != 0);
  snprintf(path, sizeof path, "%s/rel.png", root);
  ASSERT(access(path, F_OK) != 0);
  snprintf(path, sizeof path, "%s/x.pdf", outside);
  ASSERT(access(path, F_OK) == 0);
  ASSERT_SCALAR(c, "SELECT count(*) FROM automation_tasks", "0");
  ASSERT_SCALAR(c, "SELECT count(*) FROM file_deletions", "0");
  ASSERT_SCALAR(c, "SELECT string_agg(check_type, ',' ORDER BY check_type) FROM health_checks",
                "data_retention_cleanup,database_health");
  close_store(&loop, s);
  unlink(path);
  rmdir(outside);
  rmdir(root);
  PQfinish(c);
  return 0;
}

/* A lost connection fails what is pending and refuses what follows. */
TEST(store_connection_lost) {
  PGconn *c = pg_start();
  uv_loop_t loop;
  uv_loop_init(&loop);
  af_store *s = open_store(&loop);
  waiter w;
  char sql[128], *err = NULL;
  CALL(&loop, w, af_store_exec(s, NULL, "SELECT pg_backend_pid()", 0, NULL, on_done, &w, &e_));
  snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", atoi(w.val));
  ASSERT_SCALAR(c, sql, "t");
  CALL(&loop, w, af_store_exec(s, NULL, "SELECT 1", 0, NULL, on_done, &w, &e_));
  /* The server's own last words, or libpq's. */
  ASSERT(strstr(w.err, "terminating connection") || strstr(w.err, "store: connection lost"));
  ASSERT_INT_EQ(af_store_exec(s, NULL, "SELECT 1", 0, NULL, on_done, &w, &err), -1);
  ASSERT_STR_EQ(err, "store: connection lost (reopen the store)");
  af_free(err);
  ASSERT_INT_EQ(af_store_pending(s), 0);
  close_store(&loop, s);
  PQfinish(c);
  return 0;
}

/* The embedded default: created on first start, password-protected,
 * reused while running, its data kept across restarts. */
TEST(store_embedded) {
  char state[] = "/tmp/af-state-XXXXXX", cmd[128], *err = NULL;
  ASSERT_NOT_NULL(mkdtemp(state));
  chmod(state, 0755);
  af_store_embedded *e = NULL, *again = NULL;
  if (af_store_embedded_start(state, &e, &err) != 0) AF__FAIL("start: %s", err);
  const char *url = af_store_embedded_url(e);
  ASSERT_STR_CONTAINS(url, "postgresql://postgres:");
  PGconn *c = NULL;
  if (af_store_db_connect(url, &c, &err) != 0) AF__FAIL("connect: %s", err);
  ASSERT_INT_EQ(af_store_db_exec(c, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)", &err), 0);
  PQfinish(c);
  /* Without the password: refused. */
  char nopw[256];
  snprintf(nopw, sizeof nopw, "postgresql://postgres@127.0.0.1:%d/postgres",
           atoi(strrchr(url, ':') + 1));
  ASSERT_INT_EQ(af_store_db_connect(nopw, &c, &err), -1);
  ASSERT_STR_CONTAINS(err, "password");
  af_free(err);
  err = NULL;
  /* A second start while it runs reuses it and does not stop it. */
  if (af_store_embedded_start(state, &again, &err) != 0) AF__FAIL("again: %s", err);
  ASSERT_STR_EQ(af_store_embedded_url(again), url);
  ASSERT_INT_EQ(af_store_embedded_stop(again, &err), 0);
  if (af_store_db_connect(url, &c, &err) != 0) AF__FAIL("still up: %s", err);
  PQfinish(c);
  ASSERT_INT_EQ(af_store_embedded_stop(e, &err), 0);
  /* Restarted: same data. */
  if (af_store_embedded_start(state, &e, &err) != 0) AF__FAIL("restart: %s", err);
  if (af_store_db_connect(af_store_embedded_url(e), &c, &err) != 0) AF__FAIL("%s", err);
  ASSERT_SCALAR(c, "SELECT v FROM kept", "42");
  PQfinish(c);
  ASSERT_INT_EQ(af_store_embedded_stop(e, &err), 0);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", state);
  ASSERT_INT_EQ(system(cmd), 0);
  ASSERT_INT_EQ(af_store_embedded_start("relative", &e, &err), -1);
  ASSERT_STR_EQ(err, "AF_STATE_DIR: must be an absolute directory");
  af_free(err);
  return 0;
}

/* The issued invoice: XML encrypted under its row, hash kept, owner reads. */
TEST(store_invoice_put) {
  PGconn *c = pg_start();
  af_keyring *kr = NULL;
  char *err = NULL, sql[512];
  ASSERT_INT_EQ(af_keyring_parse(KEYS, &kr, &err), 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  af_store *s = open_store(&loop);
  waiter w;
  char task[64], id[64];
  CALL(&loop, w, af_store_task_create(s, USER_A, "https://a.example.com", "{}", 5, on_done, &w, &e_));
  snprintf(task, sizeof task, "%.36s", w.val);
  const char xml[] = "<cfdi:Comprobante Total=\"116.00\"><cfdi:Receptor Rfc=\"XAXX010101000\" "
                     "Nombre=\"ANA LOPEZ\"/></cfdi:Comprobante>";
  af_store_invoice inv = {task, "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", xml, sizeof xml - 1,
                          "invoices/a.pdf", "116.00", "2026-11-27T10:00:00Z", 1,
                          "{\"rfc\":true,\"total\":true}"};
  CALL(&loop, w, af_store_invoice_put(s, kr, &inv, on_done, &w, &e_));
  ASSERT_STR_EQ(w.err, "");
  snprintf(id, sizeof id, "%.36s", w.val);
  snprintf(sql, sizeof sql, "SELECT position('XAXX'::bytea IN xml) = 0 AND position('ANA'::bytea IN xml) = 0"
                            " AND xml_sha256 = sha256(convert_to('%s', 'UTF8')) AND total = 116"
                            " AND verified FROM cfdi_documents WHERE id = '%s'", xml, id);
  ASSERT_SCALAR(c, sql, "t");
  snprintf(sql, sizeof sql, "SELECT xml FROM cfdi_documents WHERE id = '%s'", id);
  char *hex = scalar(c, sql);
  unsigned char *ct = NULL, *pt = NULL;
  size_t n = 0, ptlen = 0;
  ASSERT_INT_EQ(af_crypto_bytea_unhex(hex, &ct, &n), 0);
  af_crypto_ad ad = {"cfdi_documents", "xml", id};
  ASSERT_INT_EQ(af_crypto_decrypt(kr, &ad, ct, n, &pt, &ptlen, &err), 0);
  ASSERT_STR_EQ((char *)pt, xml);
  af_free(pt);
  af_free(ct);
  af_free(hex);
  /* The same CFDI twice is refused, naming the rule. */
  CALL(&loop, w, af_store_invoice_put(s, kr, &inv, on_done, &w, &e_));
  ASSERT_STR_CONTAINS(w.err, "unique_cfdi");
  CALL(&loop, w, af_store_exec(s, USER_A, "SELECT cfdi_uuid FROM cfdi_documents", 0, NULL,
                               on_done, &w, &e_));
  ASSERT_STR_EQ(w.val, "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b");
  CALL(&loop, w, af_store_exec(s, USER_B, "SELECT count(*) FROM cfdi_documents", 0, NULL,
                               on_done, &w, &e_));
  ASSERT_STR_EQ(w.val, "0");
  close_store(&loop, s);
  af_keyring_free(kr);
  PQfinish(c);
  return 0;
}
