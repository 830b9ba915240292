/*
 * test_task.c -- task input validation, secret redaction, recipe URL
 * matching, and (live) two tasks interleaving on one browser and loop.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "recipe.h"
#include "task_impl.h"
#include "test.h"
#include "ws.h"

static const char TICKET[] =
    "{\"folio\":\"A-1\",\"amount\":150.5,\"date\":\"2026-11-02\",\"concept\":\"Gasolina\"}";
static const char PROFILE[] =
    "{\"rfc\":\"COSC8001137NA\",\"full_name\":\"CARLOS CORTES SOTO\",\"fiscal_regime\":\"612\","
    "\"postal_code\":\"52176\",\"cfdi_use\":\"G03\",\"email\":\"carlos@example.mx\"}";

static char *write_tmp(const char *content) {
  char tmpl[] = "/tmp/af-recipe-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT(fd >= 0);
  ASSERT(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
  close(fd);
  return af_strdup(tmpl);
}

TEST(recipe_url_host) {
  char *h = af_recipe_url_host("https://User@Factura.Example.MX:8443/a?b");
  ASSERT_STR_EQ(h, "factura.example.mx");
  af_free(h);
  h = af_recipe_url_host("http://127.0.0.1:9/");
  ASSERT_STR_EQ(h, "127.0.0.1");
  af_free(h);
  ASSERT_NULL(af_recipe_url_host("not a url"));
  return 0;
}

static char *new_task_error(const char *ticket, const char *profile, const char *recipe) {
  af_task_opts o;
  memset(&o, 0, sizeof o);
  o.url = "http://127.0.0.1:1/";
  o.ticket_json = ticket;
  o.profile_json = profile;
  o.recipe_path = recipe;
  char *err = NULL;
  af_task *t = af_task_new(&o, &err);
  if (t) {
    af_task_free(t);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  }
  return err;
}

TEST(task_rejects_bad_input) {
  char *recipe = write_tmp("return { run = function() end }");
  char *err = new_task_error("{\"folio\": ", PROFILE, recipe);
  ASSERT_STR_CONTAINS(err, "ticket: malformed JSON");
  af_free(err);
  err = new_task_error("{\"folio\":\"1\",\"amount\":\"mucho\",\"date\":\"2026-02-30\"}",
                       PROFILE, recipe);
  ASSERT_STR_CONTAINS(err, "ticket.amount: must be a positive number");
  ASSERT_STR_CONTAINS(err, "ticket.date: must be a real date YYYY-MM-DD");
  af_free(err);
  /* every rule at once, and the RFC itself never in the message */
  err = new_task_error(TICKET,
                       "{\"rfc\":\"COSC800230ZZ1\",\"full_name\":\"X\",\"fiscal_regime\":\"605\","
                       "\"postal_code\":\"5217\",\"cfdi_use\":\"G01\",\"email\":\"c@x.mx\"}",
                       recipe);
  ASSERT_STR_CONTAINS(err, "profile.rfc:");
  ASSERT_STR_CONTAINS(err, "profile.postal_code:");
  ASSERT_STR_CONTAINS(err, "profile.cfdi_use:");
  ASSERT(strstr(err, "COSC800230ZZ1") == NULL);
  af_free(err);
  err = new_task_error(TICKET, "[1,2]", recipe);
  ASSERT_STR_EQ(err, "profile: expected a JSON object");
  af_free(err);
  char *bad = write_tmp("return 42");
  err = new_task_error(TICKET, PROFILE, bad);
  ASSERT_STR_CONTAINS(err, "a recipe returns a table with a run(task, page) function");
  af_free(err);
  char *syntax = write_tmp("return {\nrun = function( end }");
  err = new_task_error(TICKET, PROFILE, syntax);
  ASSERT_STR_CONTAINS(err, ":2:");
  af_free(err);
  err = new_task_error(TICKET, PROFILE, recipe);
  ASSERT_NULL(err);
  unlink(recipe);
  unlink(bad);
  unlink(syntax);
  af_free(recipe);
  af_free(bad);
  af_free(syntax);
  return 0;
}

TEST(task_redacts_secrets) {
  char *recipe = write_tmp("return { run = function() end }");
  af_task_opts o;
  memset(&o, 0, sizeof o);
  o.url = "http://127.0.0.1:1/";
  o.ticket_json = TICKET;
  o.profile_json = PROFILE;
  o.credentials_json = "{\"username\":\"carlos77\",\"password\":\"s3cr3t-pass\"}";
  o.recipe_path = recipe;
  char *err = NULL;
  af_task *t = af_task_new(&o, &err);
  ASSERT_NOT_NULL(t);
  char *r = af__task_redact(t, "El RFC cosc8001137na de CARLOS CORTES SOTO con s3cr3t-pass");
  ASSERT_STR_EQ(r, "El RFC [redacted] de [redacted] con [redacted]");
  af_free(r);
  af_task_free(t);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  unlink(recipe);
  af_free(recipe);
  return 0;
}

/* ---- live: two tasks on one browser --------------------------------------- */

typedef struct live {
  af_browser *browser;
  af_task *tasks[2];
  int done;
  char order[64];
} live;

static void on_step(af_task *t, const af_step *s, void *data) {
  live *l = data;
  if (strcmp(s->type, "log") == 0)
    strncat(l->order, t == l->tasks[0] ? "A" : "B", sizeof l->order - strlen(l->order) - 1);
}

static void on_closed(void *data) {
  (void)data;
  af_ws_shutdown(); /* the loop ends once lws has closed its handles */
}

static void on_done(af_task *t, void *data) {
  live *l = data;
  ASSERT_INT_EQ(af_task_get_status(t), AF_TASK_FAILED);
  ASSERT_STR_EQ(af_task_reason(t), "finished on purpose");
  if (++l->done == 2) af_browser_close(l->browser, on_closed, l);
}

static void on_browser(af_browser *b, const char *err, void *data) {
  live *l = data;
  if (b == NULL) AF__FAIL("browser: %s", err);
  l->browser = b;
  af_task_start(l->tasks[0], b, on_done, l);
  af_task_start(l->tasks[1], b, on_done, l);
}

TEST(live_two_tasks_interleave) {
  char *recipe = write_tmp(
      "return { run = function(task, page)\n"
      "  for i = 1, 8 do\n"
      "    assert(page:evaluate('new Promise(r => setTimeout(() => r(document.title), 40))') == 'x')\n"
      "    task:log('step ' .. i)\n"
      "  end\n"
      "  task:fail('finished on purpose')\n"
      "end }\n");
  live l;
  memset(&l, 0, sizeof l);
  for (int i = 0; i < 2; i++) {
    af_task_opts o;
    memset(&o, 0, sizeof o);
    o.url = "data:text/html,<title>x</title><p>hola</p>";
    o.ticket_json = TICKET;
    o.profile_json = PROFILE;
    o.recipe_path = recipe;
    o.out_dir = "/tmp";
    o.on_step = on_step;
    o.step_data = &l;
    char *err = NULL;
    l.tasks[i] = af_task_new(&o, &err);
    ASSERT_NOT_NULL(l.tasks[i]);
  }
  af_browser_opts bo = {.headless = 1};
  char *err = NULL;
  ASSERT_INT_EQ(af_browser_launch(uv_default_loop(), &bo, on_browser, &l, &err), 0);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  ASSERT_INT_EQ(l.done, 2);
  ASSERT_INT_EQ(strlen(l.order), 16);
  /* both ran at once: neither finished all its steps before the other began */
  ASSERT(strncmp(l.order, "AAAAAAAA", 8) != 0 && strncmp(l.order, "BBBBBBBB", 8) != 0);
  af_task_free(l.tasks[0]);
  af_task_free(l.tasks[1]);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  af_ws_shutdown();
  unlink(recipe);
  af_free(recipe);
  return 0;
}
