/*
 * task.c -- the life of one invoice request: input validation, recipe
 * loading and selection (recipe.c), the page it runs on, the coroutine
 * that runs it (script.c, lrecipe.c), step records, secret redaction,
 * the wall-time limit and the result.
 */
#include "task_impl.h"

#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cfdi.h"
#include "json.h"
#include "recipe.h"

static const char *const STATUS_NAMES[] = {"PENDING", "RUNNING", "PAUSED",
                                           "INTERVENTION_NEEDED", "COMPLETED", "FAILED"};

const char *af_task_status_name(int status) {
  return status >= 0 && status <= AF_TASK_FAILED ? STATUS_NAMES[status] : NULL;
}

/* ---- secrets ------------------------------------------------------------ */

static int add_secret(af_task *t, const char *v) {
  if (v == NULL || strlen(v) < 3) return -1; /* too short to redact usefully */
  char **s = af_realloc(t->secrets, (t->nsecrets + 1) * sizeof *s);
  if (s == NULL) return -1;
  t->secrets = s;
  if ((s[t->nsecrets] = af_strdup(v)) == NULL) return -1;
  return (int)t->nsecrets++;
}

/* Case-insensitive search, so "xaxx..." is caught as well as "XAXX...". */
static const char *find_ci(const char *hay, const char *needle, size_t n) {
  for (; *hay; hay++)
    if (strncasecmp(hay, needle, n) == 0) return hay;
  return NULL;
}

char *af__task_redact(const af_task *t, const char *s) {
  if (s == NULL) return NULL;
  af_buf b;
  af_buf_init(&b);
  const char *p = s;
  while (*p) {
    const char *best = NULL;
    size_t blen = 0;
    for (size_t i = 0; i < t->nsecrets; i++) {
      size_t n = strlen(t->secrets[i]);
      const char *f = find_ci(p, t->secrets[i], n);
      if (f && (best == NULL || f < best || (f == best && n > blen))) {
        best = f;
        blen = n;
      }
    }
    if (best == NULL) {
      af_buf_puts(&b, p);
      break;
    }
    af_buf_append(&b, p, (size_t)(best - p));
    af_buf_puts(&b, "[redacted]");
    p = best + blen;
  }
  return af_buf_steal(&b, NULL);
}

/* ---- steps --------------------------------------------------------------- */

uint64_t af__task_now(const af_task *t) {
  if (t->o.clock) return t->o.clock(t->o.clock_data);
  return t->timer_ready ? uv_now(t->timer.loop) : 0;
}

static int64_t since_start(const af_task *t) {
  return t->timer_ready ? (int64_t)(af__task_now(t) - t->t0) : 0;
}

static void push_step(af_task *t, const char *type, const char *action,
                      const char *target, const char *detail, int ok,
                      int64_t at, int64_t dur) {
  if (t->nsteps == t->capsteps) {
    size_t cap = t->capsteps ? t->capsteps * 2 : 32;
    af_step *s = af_realloc(t->steps, cap * sizeof *s);
    if (s == NULL) return;
    t->steps = s;
    t->capsteps = cap;
  }
  af_step *s = &t->steps[t->nsteps++];
  s->type = type;
  s->action = af_strdup(action);
  s->target = af_strdup(target);
  s->detail = af_strdup(detail);
  s->at_ms = at;
  s->duration_ms = dur;
  s->ok = ok;
  if (t->o.on_step) t->o.on_step(t, s, t->o.step_data);
}

void af__task_step(af_task *t, const char *type, const char *action,
                   const char *target, const char *detail, int ok) {
  push_step(t, type, action, target, detail, ok, since_start(t), 0);
}

void af__task_op_begin(af_task *t, const char *type, const char *action,
                       const char *target, const char *detail) {
  t->op_type = type;
  af_free(t->op_action);
  af_free(t->op_target);
  af_free(t->op_detail);
  t->op_action = af_strdup(action);
  t->op_target = af_strdup(target);
  t->op_detail = af_strdup(detail);
  t->op_start = af__task_now(t);
}

void af_task_current_step(const af_task *t, size_t *index, const char **action,
                          const char **target, const char **where) {
  *index = t->nsteps + 1;
  *action = t->op_action;
  *target = t->op_target;
  *where = t->op_where;
}

void af__task_op_end(af_task *t, int ok, const char *detail) {
  int64_t now = since_start(t);
  int64_t start = t->timer_ready ? (int64_t)(t->op_start - t->t0) : 0;
  push_step(t, t->op_type ? t->op_type : "?", t->op_action, t->op_target,
            detail ? detail : t->op_detail, ok, start, now - start);
}

/* ---- input --------------------------------------------------------------- */

/* Decode JSON text into a table on L; pushes it, or returns -1 with *err. */
static int decode_object(lua_State *L, const char *what, const char *json, char **err) {
  const char *first = json + strspn(json, " \t\r\n");
  if (*first != '{' && af_json_decode(L, json, strlen(json)) == 0) {
    lua_pop(L, 1);
    *err = af_asprintf("%s: expected a JSON object", what);
    return -1;
  }
  if (af_json_decode(L, json, strlen(json)) != 0) {
    *err = af_asprintf("%s: malformed JSON (%s)", what, lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  if (!lua_istable(L, -1)) {
    *err = af_asprintf("%s: expected a JSON object", what);
    lua_pop(L, 1);
    return -1;
  }
  return 0;
}

/* Credentials are two non-empty strings; appends problems to b. */
static void check_credentials(lua_State *L, af_buf *b) {
  const char *const names[] = {"username", "password"};
  for (int i = 0; i < 2; i++) {
    lua_getfield(L, -1, names[i]);                     /* stack: creds, v */
    if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
      af_buf_printf(b, "%scredentials.%s: must be a non-empty string", b->len ? "; " : "",
                    names[i]);
    lua_pop(L, 1);
  }
}

static char *field_copy(lua_State *L, const char *name) {
  lua_getfield(L, -1, name);
  char *v = lua_isstring(L, -1) ? af_strdup(lua_tostring(L, -1)) : NULL;
  lua_pop(L, 1);
  return v;
}

/* Build the task table in the script's registry from the JSON inputs. */
static int build_inputs(af_task *t, char **err) {
  lua_State *L = af_script_state(t->script);
  af_buf probs;
  af_buf_init(&probs);
  int rc = -1;
  lua_newtable(L);                                     /* stack: task */
  if (decode_object(L, "ticket", t->o.ticket_json, err) != 0) goto done;
  if (decode_object(L, "profile", t->o.profile_json, err) != 0) goto done;
  /* stack: task, ticket, profile */
  af_cfdi_report rep;
  af_cfdi_report_init(&rep);
  if (af_cfdi_validate_lua(L, -1, -2, &rep) < 0) {
    af_cfdi_report_free(&rep);
    *err = af_strdup("out of memory");
    goto done;
  }
  if (rep.errors) {
    char *list = af_cfdi_report_join(&rep, "; ", 1);
    af_buf_puts(&probs, list ? list : "invalid input");
    af_free(list);
  }
  if (rep.warnings) t->warnings = af_cfdi_report_join(&rep, "\n", 0);
  af_cfdi_report_free(&rep);
  lua_insert(L, -2);                                   /* stack: task, profile, ticket */
  lua_setfield(L, -3, "ticket");                       /* stack: task, profile */
  const char *secret_fields[] = {"rfc", "full_name", "email"};
  for (int i = 0; i < 3; i++) {
    char *v = field_copy(L, secret_fields[i]);
    add_secret(t, v);
    af_free(v);
  }
  lua_setfield(L, -2, "profile");
  t->cred_user = t->cred_pass = -1;
  if (t->o.credentials_json) {
    if (decode_object(L, "credentials", t->o.credentials_json, err) != 0) goto done;
    check_credentials(L, &probs);
    char *u = field_copy(L, "username"), *p = field_copy(L, "password");
    t->cred_user = add_secret(t, u);
    t->cred_pass = add_secret(t, p);
    af_free(u);
    af_free(p);
    lua_pop(L, 1);
  }
  if (probs.len) {
    *err = af_buf_steal(&probs, NULL);
    goto done;
  }
  lua_pushstring(L, t->o.url);
  lua_setfield(L, -2, "url");
  af__lrecipe_push_task(L, t);                         /* stack: task */
  t->task_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  rc = 0;
done:
  if (rc != 0) lua_settop(L, 0);
  af_buf_free(&probs);
  return rc;
}

static int load_recipe(af_task *t, char **err) {
  lua_State *L = af_script_state(t->script);
  char *path = NULL;
  int rc = -1;
  if (t->o.recipe_path && strcmp(t->o.recipe_path, "generic") == 0) {
    path = af_generic_recipe_path();
  } else if (t->o.recipe_path) {
    path = af_strdup(t->o.recipe_path);
  } else if (af_recipe_find(t->o.url, &path, err) != 0) {
    return -1;
  } else if (path == NULL) { /* no recipe claims the URL: the fallback */
    path = af_generic_recipe_path();
  }
  t->recipe_name = af_recipe_display_name(path);
  if (path == NULL || t->recipe_name == NULL) {
    *err = af_strdup("out of memory");
    goto done;
  }
  if (af_script_dofile(t->script, path, t->recipe_name, err) != 0) goto done;
  /* stack: recipe */
  if (!lua_istable(L, -1) || lua_getfield(L, -1, "run") != LUA_TFUNCTION) {
    *err = af_asprintf("%s: a recipe returns a table with a run(task, page) function",
                       t->recipe_name);
    lua_settop(L, 0);
    goto done;
  }
  t->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);         /* stack: recipe */
  lua_pop(L, 1);
  rc = 0;
done:
  af_free(path);
  return rc;
}

static char *dup_opt(const char *s) { return s ? af_strdup(s) : NULL; }

af_task *af_task_new(const af_task_opts *o, char **err) {
  af_task *t = af_calloc(1, sizeof *t);
  if (t == NULL) {
    *err = af_strdup("out of memory");
    return NULL;
  }
  t->o = *o;
  t->o.url = dup_opt(o->url);
  t->o.ticket_json = dup_opt(o->ticket_json);
  t->o.profile_json = dup_opt(o->profile_json);
  t->o.credentials_json = dup_opt(o->credentials_json);
  t->o.recipe_path = dup_opt(o->recipe_path);
  t->o.out_dir = dup_opt(o->out_dir ? o->out_dir : ".");
  t->task_ref = t->run_ref = LUA_NOREF;
  t->status = AF_TASK_PENDING;
  if (t->o.url == NULL || t->o.ticket_json == NULL || t->o.profile_json == NULL) {
    *err = af_strdup("a task needs a URL, a ticket and a profile");
    goto fail;
  }
  if ((t->script = af_script_new(&o->limits, err)) == NULL) goto fail;
  af_script_set_owner(t->script, t);
  /* recipes get the CFDI rules; reading files stays the runtime's job */
  lua_State *L = af_script_state(t->script);
  luaopen_af_cfdi(L);                                  /* stack: cfdi */
  lua_pushnil(L);
  lua_setfield(L, -2, "verify_xml");
  af_script_set_global(t->script, "cfdi");
  if (build_inputs(t, err) != 0 || load_recipe(t, err) != 0) goto fail;
  return t;
fail:
  af_task_free(t);
  return NULL;
}

/* ---- running ----------------------------------------------------------- */

static void on_finish(uv_timer_t *h) {
  af_task *t = h->data;
  if (t->page) {
    af_page_close(t->page);
    t->page = NULL;
  }
  t->ended = 1;
  if (t->done) t->done(t, t->done_data);
}

void af__task_end(af_task *t, int status, const char *reason) {
  if (t->ending) return;
  t->ending = 1;
  t->status = status;
  af_free(t->reason);
  t->reason = af__task_redact(t, reason);
  if (t->req_busy) {
    af_page_req_cleanup(&t->req);
    t->req_busy = 0;
  }
  const char *type = status == AF_TASK_COMPLETED ? "completed"
                     : status == AF_TASK_INTERVENTION_NEEDED ? "user_intervention" : "error";
  af__task_step(t, type, af_task_status_name(status), NULL,
                status == AF_TASK_COMPLETED ? t->uuid : t->reason, status == AF_TASK_COMPLETED);
  /* finish from the loop, never from inside a CDP or Lua callback */
  uv_timer_stop(&t->timer);
  uv_timer_start(&t->timer, on_finish, 0, 0);
}

void af__task_after_run(af_task *t, int st) {
  if (t->ending) return;
  if (st == AF_SCRIPT_YIELDED) {
    if (!t->req_busy) af__task_end(t, AF_TASK_FAILED, "the recipe yielded outside a page call");
  } else if (st == AF_SCRIPT_RETURNED) {
    af__task_end(t, AF_TASK_FAILED,
                 "the recipe returned without task:done, task:fail or task:need_human");
  } else {
    af__task_end(t, AF_TASK_FAILED, af_script_error(t->script));
  }
}

static void on_wall(uv_timer_t *h) {
  af_task *t = h->data;
  char msg[64];
  int ms = t->o.limits.max_wall_ms ? t->o.limits.max_wall_ms : 300000;
  snprintf(msg, sizeof msg, "wall time limit exceeded (%d s)", ms / 1000);
  af_script_kill(t->script, msg);
  af__task_end(t, AF_TASK_FAILED, msg);
}

static void start_recipe(af_task *t) {
  lua_State *L = af_script_state(t->script);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->run_ref);       /* stack: run */
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->task_ref);      /* stack: run, task */
  af__lrecipe_push_page(L, t, NULL);                   /* stack: run, task, page */
  af__task_after_run(t, af_script_start(t->script, 2));
}

static void on_first_load(af_page_req *r) {
  af_task *t = r->data;
  t->req_busy = 0;
  if (t->ending) return;
  if (r->status != AF_PAGE_OK) {
    char *msg = af_asprintf("cannot reach the portal: %s", r->error ? r->error : "error");
    af__task_op_end(t, 0, r->error);
    af__task_end(t, AF_TASK_FAILED, msg ? msg : "cannot reach the portal");
    af_free(msg);
    return;
  }
  af__task_op_end(t, 1, NULL);
  start_recipe(t);
}

static void on_page_open(af_page *p, const char *err, void *data) {
  af_task *t = data;
  if (t->ending) {
    if (p) af_page_close(p);
    return;
  }
  if (p == NULL) {
    char *msg = af_asprintf("browser: %s", err);
    af__task_end(t, AF_TASK_FAILED, msg ? msg : err);
    af_free(msg);
    return;
  }
  t->page = p;
  if (t->o.on_page) t->o.on_page(t, t->o.step_data);
  af__task_op_begin(t, "navigate", "navigate", t->o.url, NULL);
  t->req.data = t;
  t->req_busy = 1;
  if (af_page_navigate(&t->req, p, t->o.url, 30000, on_first_load) != 0) {
    t->req_busy = 0;
    af__task_end(t, AF_TASK_FAILED, "out of memory");
  }
}

int af_task_start(af_task *t, af_browser *b, af_task_done_cb done, void *data) {
  uv_loop_t *loop = af_browser_loop(b);
  t->browser = b;
  t->done = done;
  t->done_data = data;
  uv_timer_init(loop, &t->timer);
  t->timer.data = t;
  t->timer_ready = 1;
  t->t0 = af__task_now(t);
  t->status = AF_TASK_RUNNING;
  int ms = t->o.limits.max_wall_ms ? t->o.limits.max_wall_ms : 300000;
  uv_timer_start(&t->timer, on_wall, (uint64_t)ms, 0);
  char *dl = af_asprintf("%s/downloads", af_browser_dir(b));
  int rc = dl ? af_page_open(b, dl, on_page_open, t) : -1;
  af_free(dl);
  if (rc != 0) af__task_end(t, AF_TASK_FAILED, "cannot open a browser tab");
  return 0;
}

void af_task_cancel(af_task *t, const char *reason) {
  af_script_kill(t->script, reason);
  af__task_end(t, AF_TASK_FAILED, reason);
}

/* ---- the invoice -------------------------------------------------------- */

int af__task_set_invoice(af_task *t, lua_State *L, const char *xml_path, char **err) {
  char real[PATH_MAX], outreal[PATH_MAX];
  size_t n = realpath(t->o.out_dir, outreal) ? strlen(outreal) : 0;
  if (realpath(xml_path, real) == NULL || n == 0 || strncmp(real, outreal, n) != 0 ||
      real[n] != '/') {
    *err = af_strdup("task:done: the XML must be a file the task downloaded");
    return -1;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->task_ref);      /* stack: task */
  lua_getfield(L, -1, "profile");                      /* stack: task, profile */
  lua_getfield(L, -2, "ticket");                       /* stack: task, profile, ticket */
  af_cfdi_verify v;
  int rc = af_cfdi_verify_xml_lua(L, real, -2, -1, &v, err);
  lua_pop(L, 3);
  if (rc != 0) return -1;
  af_free(t->uuid);
  af_free(t->xml_path);
  af_free(t->mismatches);
  t->uuid = v.uuid;
  v.uuid = NULL;
  t->xml_path = af_strdup(real);
  t->mismatches = v.mismatches.errors ? af_cfdi_report_join(&v.mismatches, "; ", 1) : NULL;
  af_cfdi_verify_free(&v);
  if (t->uuid == NULL && t->mismatches == NULL)
    t->mismatches = af_strdup("the XML has no TimbreFiscalDigital UUID (not a stamped CFDI)");
  return 0;
}

/* ---- results ------------------------------------------------------------ */

int af_task_get_status(const af_task *t) { return t->status; }
const char *af_task_reason(const af_task *t) { return t->reason; }
const char *af_task_uuid(const af_task *t) { return t->uuid; }
const char *af_task_recipe(const af_task *t) { return t->recipe_name; }
const char *af_task_warnings(const af_task *t) { return t->warnings; }
const char *af_task_xml_path(const af_task *t) { return t->xml_path; }
const char *af_task_target(const af_task *t) { return t->page ? af_page_target(t->page) : NULL; }
const char *af_task_mismatches(const af_task *t) { return t->mismatches; }
const char *af_task_learned(const af_task *t) { return t->learned; }

static void json_kv(af_buf *b, const char *k, const char *v, int comma) {
  if (comma) af_buf_puts(b, ",");
  af_buf_json_str(b, k, strlen(k));
  af_buf_puts(b, ":");
  if (v) af_buf_json_str(b, v, strlen(v));
  else af_buf_puts(b, "null");
}

char *af_task_result_json(const af_task *t) {
  af_buf b;
  af_buf_init(&b);
  af_buf_puts(&b, "{");
  json_kv(&b, "status", af_task_status_name(t->status), 0);
  json_kv(&b, "uuid", t->uuid, 1);
  json_kv(&b, "cfdi_xml", t->xml_path, 1);
  json_kv(&b, "failure_reason", t->status == AF_TASK_FAILED ? t->reason : NULL, 1);
  json_kv(&b, "intervention_reason",
          t->status == AF_TASK_INTERVENTION_NEEDED ? t->reason : NULL, 1);
  json_kv(&b, "verification", NULL, 1);
  b.len -= 4; /* replace null with the object */
  af_buf_printf(&b, "{\"checked\":%s,\"ok\":%s,", t->xml_path ? "true" : "false",
                t->xml_path && !t->mismatches ? "true" : "false");
  json_kv(&b, "mismatches", t->mismatches, 0);
  af_buf_puts(&b, "}");
  json_kv(&b, "url", t->o.url, 1);
  json_kv(&b, "recipe", t->recipe_name, 1);
  af_buf_puts(&b, ",\"steps\":[");
  for (size_t i = 0; i < t->nsteps; i++) {
    const af_step *s = &t->steps[i];
    af_buf_puts(&b, i ? ",{" : "{");
    json_kv(&b, "type", s->type, 0);
    json_kv(&b, "action", s->action, 1);
    json_kv(&b, "target", s->target, 1);
    json_kv(&b, "detail", s->detail, 1);
    af_buf_printf(&b, ",\"at_ms\":%lld,\"duration_ms\":%lld,\"ok\":%s}",
                  (long long)s->at_ms, (long long)s->duration_ms, s->ok ? "true" : "false");
  }
  af_buf_puts(&b, "]}\n");
  return af_buf_steal(&b, NULL);
}

/* ---- teardown --------------------------------------------------------- */

static void free_task(af_task *t) {
  af_page_req_cleanup(&t->req);
  af_script_free(t->script);
  char *strs[] = {(char *)t->o.url, (char *)t->o.ticket_json, (char *)t->o.profile_json,
                  (char *)t->o.credentials_json, (char *)t->o.recipe_path,
                  (char *)t->o.out_dir, t->recipe_name, t->op_action, t->op_target,
                  t->op_detail, t->op_where, t->reason, t->uuid, t->xml_path, t->mismatches,
                  t->warnings, t->learned};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) af_free(strs[i]);
  for (size_t i = 0; i < t->nsteps; i++) {
    af_free(t->steps[i].action);
    af_free(t->steps[i].target);
    af_free(t->steps[i].detail);
  }
  af_free(t->steps);
  for (size_t i = 0; i < t->nsecrets; i++) af_free(t->secrets[i]);
  af_free(t->secrets);
  af_free(t);
}

static void on_timer_closed(uv_handle_t *h) { free_task(h->data); }

void af_task_free(af_task *t) {
  if (t == NULL) return;
  if (t->page) {
    af_page_close(t->page);
    t->page = NULL;
  }
  if (t->timer_ready) uv_close((uv_handle_t *)&t->timer, on_timer_closed);
  else free_task(t);
}
