/*
 * cli_run.c -- `autofactura run` and `autofactura replay`: one task, no
 * queue, no database. Reads the ticket and profile, starts the browser (or
 * a cassette standing in for it), runs the recipe, prints each step as it
 * happens and writes DIR/result.json. `run --record` writes a cassette.
 */
#include <getopt.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "browser.h"
#include "buf.h"
#include "cassette.h"
#include "cli.h"
#include "config.h"
#include "fsutil.h"
#include "json.h"
#include "task.h"
#include "ws.h"

static const char RUN_USAGE[] =
    "usage: autofactura run --url URL --ticket TICKET.json --profile PROFILE.json\n"
    "                       [--recipe FILE|generic] [--credentials C.json] [--out DIR]\n"
    "                       [--record CASSETTE [--record-profile TEST.json]]\n"
    "\n"
    "Request one invoice on a self-invoicing portal with a local headless Chromium.\n"
    "\n"
    "  --url URL            the portal page to start on (http or https)\n"
    "  --ticket FILE        ticket JSON: folio, amount, date (YYYY-MM-DD), concept,\n"
    "                       and store, web_id, barcode where the portal asks\n"
    "  --profile FILE       fiscal profile JSON: rfc, full_name, fiscal_regime,\n"
    "                       postal_code, cfdi_use, email\n"
    "  --recipe FILE        the recipe to run (default: the one claiming URL, else\n"
    "                       the generic fallback); `generic`: the fallback\n"
    "  --save-recipe FILE   after the fallback completed, write what it did as a\n"
    "                       recipe for next time\n"
    "  --credentials FILE   the portal's username and password, as JSON\n"
    "  --out DIR            where result.json, the CFDI XML and screenshots go\n"
    "                       (default: out)\n"
    "  --record FILE        write a cassette of the session (docs/cassettes.md)\n"
    "  --record-profile F   in the cassette, stand the RFC, name and e-mail of\n"
    "                       this test profile in for the real ones\n"
    "  --timeout SECONDS    wall-time limit of the task (default 300)\n"
    "  --headful            show the browser window\n"
    "  --quiet              do not print steps\n"
    "\n"
    "Exit codes: 0 completed, 3 failed, 4 intervention needed, 2 bad input,\n"
    "1 internal error. Environment: AF_CHROMIUM (browser path), AF_RECIPES_DIR.\n";

static const char REPLAY_USAGE[] =
    "usage: autofactura replay --cassette FILE [--recipe FILE] [--profile P.json]\n"
    "                          [--ticket T.json] [--out DIR]\n"
    "\n"
    "Rerun a recipe against a recorded session, with no browser: each command the\n"
    "recipe causes must be the one recorded, and is answered as it was then.\n"
    "\n"
    "  --cassette FILE      the recording (autofactura run --record)\n"
    "  --recipe FILE        the recipe to run (default: the one recorded)\n"
    "  --profile FILE       the profile (default: the recorded test profile)\n"
    "  --ticket FILE        the ticket (default: the recorded ticket)\n"
    "  --out DIR            where result.json and the CFDI XML go (default: out)\n"
    "  --quiet              do not print steps\n"
    "\n"
    "Exit codes as for run, and 5 when the recipe diverges from the recording:\n"
    "the report names the step, the recorded command, the command sent and the\n"
    "recipe's file:line.\n";

typedef struct run_state {
  uv_loop_t *loop;
  af_task *task;
  af_browser *browser;
  af_cassette *cassette;
  int replay;
  const char *out;
  int quiet, exit_code, signals, diverged;
  const char *save_recipe; /* run --save-recipe FILE */
  uv_signal_t sigint, sigterm;
} run_state;

/* ---- the task driver shared by run and replay -------------------------------- */

static void on_step(af_task *t, const af_step *s, void *data) {
  run_state *st = data;
  (void)t;
  if (st->quiet) return;
  char dur[32] = "";
  if (s->duration_ms > 0 || strcmp(s->type, "log") != 0)
    snprintf(dur, sizeof dur, "%5lld ms", (long long)s->duration_ms);
  fprintf(stderr, "%8.2fs  %-10s %-13s %s%s%s%s%s  %s\n", (double)s->at_ms / 1000.0,
          s->type, s->action ? s->action : "", s->target ? s->target : "",
          s->target && s->detail ? "  " : "", s->detail ? s->detail : "",
          s->ok ? "" : "  ", s->ok ? "" : "[failed]", dur);
}

static void close_all(run_state *st) {
  uv_close((uv_handle_t *)&st->sigint, NULL);
  uv_close((uv_handle_t *)&st->sigterm, NULL);
  af_ws_shutdown();
}

static void on_browser_closed(void *data) { close_all(data); }

static int write_result(run_state *st, const char *json) {
  char *path = af_asprintf("%s/result.json", st->out);
  char *err = NULL;
  int rc = path && af_fs_write(path, json, strlen(json), &err) == 0 ? 0 : -1;
  if (rc != 0) fprintf(stderr, "autofactura: %s\n", err ? err : "out of memory");
  af_free(err);
  af_free(path);
  return rc;
}

static void on_task_done(af_task *t, void *data) {
  run_state *st = data;
  int status = af_task_get_status(t);
  if (st->replay) af_cassette_lenient(st->cassette);
  char *json = af_task_result_json(t);
  int wrote = json ? write_result(st, json) : -1;
  af_free(json);
  st->exit_code = status == AF_TASK_COMPLETED ? AF_EXIT_COMPLETED
                  : status == AF_TASK_INTERVENTION_NEEDED ? AF_EXIT_INTERVENTION
                                                          : AF_EXIT_FAILED;
  if (st->diverged) st->exit_code = AF_EXIT_DIVERGED;
  if (wrote != 0) st->exit_code = AF_EXIT_INTERNAL;
  if (status == AF_TASK_COMPLETED && st->save_recipe) {
    const char *text = af_task_learned(t);
    char *err = NULL;
    if (text == NULL)
      fprintf(stderr, "autofactura run: --save-recipe: this recipe learns nothing (only "
                      "--recipe generic does)\n");
    else if (af_fs_write(st->save_recipe, text, strlen(text), &err) != 0)
      fprintf(stderr, "autofactura run: --save-recipe: %s\n", err);
    else if (!st->quiet)
      fprintf(stderr, "autofactura: the learned recipe is in %s\n", st->save_recipe);
    af_free(err);
  }
  if (status == AF_TASK_COMPLETED)
    printf("COMPLETED uuid=%s\n", af_task_uuid(t));
  else
    printf("%s %s\n", af_task_status_name(status), af_task_reason(t) ? af_task_reason(t) : "");
  fflush(stdout);
  af_browser_close(st->browser, on_browser_closed, st);
  st->browser = NULL;
}

static void on_browser(af_browser *b, const char *err, void *data) {
  run_state *st = data;
  if (b == NULL) {
    fprintf(stderr, "autofactura: cannot start the browser: %s\n", err);
    st->exit_code = AF_EXIT_INTERNAL;
    close_all(st);
    return;
  }
  st->browser = b;
  if (st->signals) { /* interrupted while starting */
    af_browser_close(b, on_browser_closed, st);
    st->browser = NULL;
    return;
  }
  if (st->cassette) {
    af_cassette_browser_dir(st->cassette, af_browser_dir(b));
    if (!st->replay) af_cassette_attach(st->cassette, af_browser_cdp(b), st->loop);
  }
  af_task_start(st->task, b, on_task_done, st);
}

static void on_signal(uv_signal_t *h, int signum) {
  run_state *st = h->data;
  if (++st->signals > 1) { /* a second signal: leave now, but clean */
    af_browser_kill_all();
    exit(128 + signum);
  }
  fprintf(stderr, "autofactura: interrupted, stopping (again to force)\n");
  if (st->browser) af_task_cancel(st->task, "interrupted");
}

/* Run st->task on the browser bo describes; returns the exit code. */
static int drive(run_state *st, const af_browser_opts *bo) {
  char *err = NULL;
  st->loop = uv_default_loop();
  st->exit_code = AF_EXIT_INTERNAL;
  uv_signal_init(st->loop, &st->sigint);
  uv_signal_init(st->loop, &st->sigterm);
  st->sigint.data = st->sigterm.data = st;
  uv_signal_start(&st->sigint, on_signal, SIGINT);
  uv_signal_start(&st->sigterm, on_signal, SIGTERM);
  atexit(af_browser_kill_all);
  if (af_browser_launch(st->loop, bo, on_browser, st, &err) != 0) {
    fprintf(stderr, "autofactura: cannot start the browser: %s\n", err);
    af_free(err);
    close_all(st);
  }
  uv_run(st->loop, UV_RUN_DEFAULT);
  return st->exit_code;
}

/* Free what a run or replay holds, letting closing handles finish. */
static void finish(run_state *st) {
  af_task_free(st->task);
  char *err = NULL;
  if (st->cassette && af_cassette_close(st->cassette, &err) != 0) {
    fprintf(stderr, "autofactura: %s\n", err);
    if (st->exit_code == AF_EXIT_COMPLETED) st->exit_code = AF_EXIT_INTERNAL;
  }
  af_free(err);
  if (st->loop) {
    uv_run(st->loop, UV_RUN_DEFAULT);
    af_ws_shutdown(); /* the second stage: free what is left */
  }
}

/* ---- input helpers ------------------------------------------------------------ */

static char *read_input(const char *what, const char *path, int *bad) {
  char *err = NULL;
  char *data = af_fs_read(path, 1 << 20, NULL, &err);
  if (data == NULL) {
    fprintf(stderr, "autofactura: %s: %s\n", what, err ? err : "cannot read");
    *bad = 1;
  }
  af_free(err);
  return data;
}

/* The secrets of a profile and credentials become cassette placeholders. */
static void add_secrets(af_cassette *c, lua_State *L, const char *profile,
                        const char *credentials) {
  static const char *const pf[] = {"rfc", "full_name", "email"};
  static const char *const cf[] = {"username", "password"};
  char name[64];
  if (profile && af_json_decode(L, profile, strlen(profile)) == 0 && lua_istable(L, -1))
    for (int i = 0; i < 3; i++) {
      snprintf(name, sizeof name, "profile.%s", pf[i]);
      af_cassette_secret(c, name, af_json_str(L, -1, pf[i], NULL));
    }
  lua_settop(L, 0);
  if (credentials && af_json_decode(L, credentials, strlen(credentials)) == 0 &&
      lua_istable(L, -1))
    for (int i = 0; i < 2; i++) {
      snprintf(name, sizeof name, "credentials.%s", cf[i]);
      af_cassette_secret(c, name, af_json_str(L, -1, cf[i], NULL));
    }
  lua_settop(L, 0);
}

/* JSON text on one line (for the meta record); NULL if not JSON. */
static char *compact(lua_State *L, const char *json) {
  char *out = NULL;
  if (af_json_decode(L, json, strlen(json)) == 0) out = af_json_encode(L, -1, NULL);
  lua_settop(L, 0);
  return out;
}

static int start_recording(run_state *st, const char *path, const af_task_opts *o,
                           const char *record_profile) {
  char *err = NULL;
  lua_State *L = luaL_newstate();
  int rc = -1;
  if (L == NULL) return -1;
  af_json_open(L);
  st->cassette = af_cassette_create(path, &err);
  if (st->cassette == NULL) {
    fprintf(stderr, "autofactura run: %s\n", err);
    goto done;
  }
  add_secrets(st->cassette, L, o->profile_json, o->credentials_json);
  char *ticket = compact(L, o->ticket_json);
  char *profile = compact(L, record_profile ? record_profile : o->profile_json);
  af_buf meta;
  af_buf_init(&meta);
  af_buf_puts(&meta, "{\"version\":1,\"url\":");
  af_buf_json_str(&meta, o->url, strlen(o->url));
  const char *recipe = af_task_recipe(st->task);
  af_buf_puts(&meta, ",\"recipe\":");
  af_buf_json_str(&meta, recipe, strlen(recipe));
  af_buf_printf(&meta, ",\"ticket\":%s,\"credentials\":%s}", ticket ? ticket : "null",
                o->credentials_json ? "true" : "false");
  if (meta.oom || profile == NULL) {
    rc = -1;
  } else if (record_profile) { /* a test profile: its values stay */
    rc = af_cassette_write_meta(st->cassette, meta.data, profile);
  } else {                     /* the real one: placeholders only */
    size_t n;
    char *norm = af_cassette_normalize(st->cassette, profile, strlen(profile), &n);
    rc = norm ? af_cassette_write_meta(st->cassette, meta.data, norm) : -1;
    af_free(norm);
  }
  af_buf_free(&meta);
  af_free(ticket);
  af_free(profile);
done:
  af_free(err);
  lua_close(L);
  return rc;
}

/* ---- run ---------------------------------------------------------------- */

int af_cli_run(int argc, char **argv) {
  static const struct option opts[] = {
      {"url", required_argument, 0, 'u'},     {"ticket", required_argument, 0, 't'},
      {"profile", required_argument, 0, 'p'}, {"recipe", required_argument, 0, 'r'},
      {"credentials", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
      {"record", required_argument, 0, 'R'},  {"record-profile", required_argument, 0, 'P'},
      {"save-recipe", required_argument, 0, 'S'},
      {"timeout", required_argument, 0, 'T'}, {"headful", no_argument, 0, 'H'},
      {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *url = NULL, *ticket = NULL, *profile = NULL, *recipe = NULL,
             *creds = NULL, *out = "out", *record = NULL, *record_profile = NULL,
             *save_recipe = NULL;
  int timeout_s = 300, headful = 0, quiet = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'u': url = optarg; break;
      case 't': ticket = optarg; break;
      case 'p': profile = optarg; break;
      case 'r': recipe = optarg; break;
      case 'c': creds = optarg; break;
      case 'o': out = optarg; break;
      case 'R': record = optarg; break;
      case 'P': record_profile = optarg; break;
      case 'S': save_recipe = optarg; break;
      case 'T':
        timeout_s = atoi(optarg);
        if (timeout_s <= 0) {
          fprintf(stderr, "autofactura run: --timeout must be a positive number of seconds\n");
          return AF_EXIT_BAD_INPUT;
        }
        break;
      case 'H': headful = 1; break;
      case 'q': quiet = 1; break;
      case 'h': fputs(RUN_USAGE, stdout); return 0;
      default:
        fprintf(stderr, "autofactura run: unknown or incomplete option '%s' (see --help)\n",
                argv[optind - 1]);
        return AF_EXIT_BAD_INPUT;
    }
  }
  const char *missing = !url ? "--url" : !ticket ? "--ticket" : !profile ? "--profile" : NULL;
  if (missing) {
    fprintf(stderr, "autofactura run: %s is required (see --help)\n", missing);
    return AF_EXIT_BAD_INPUT;
  }
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
    fprintf(stderr, "autofactura run: --url must be an http:// or https:// URL\n");
    return AF_EXIT_BAD_INPUT;
  }
  if (record_profile && !record) {
    fprintf(stderr, "autofactura run: --record-profile goes with --record\n");
    return AF_EXIT_BAD_INPUT;
  }
  int bad = 0, rc = AF_EXIT_BAD_INPUT;
  char *cerr = NULL;
  if (af_config_check_browser(&cerr) != 0) {
    fprintf(stderr, "autofactura run: %s\n", cerr);
    af_free(cerr);
    return AF_EXIT_BAD_INPUT;
  }
  char *tj = read_input("ticket", ticket, &bad);
  char *pj = read_input("profile", profile, &bad);
  char *cj = creds ? read_input("credentials", creds, &bad) : NULL;
  char *rpj = record_profile ? read_input("record-profile", record_profile, &bad) : NULL;
  char *err = NULL;
  run_state st;
  memset(&st, 0, sizeof st);
  if (bad) goto done;
  if (af_fs_mkdirs(out) != 0) {
    fprintf(stderr, "autofactura run: cannot create the output directory %s\n", out);
    goto done;
  }
  af_task_opts o;
  memset(&o, 0, sizeof o);
  o.url = url;
  o.ticket_json = tj;
  o.profile_json = pj;
  o.credentials_json = cj;
  o.recipe_path = recipe;
  o.out_dir = out;
  o.limits.max_wall_ms = timeout_s * 1000;
  o.on_step = on_step;
  o.step_data = &st;
  if ((st.task = af_task_new(&o, &err)) == NULL) {
    fprintf(stderr, "autofactura run: %s\n", err ? err : "out of memory");
    goto done;
  }
  st.out = out;
  st.quiet = quiet;
  st.save_recipe = save_recipe;
  if (record && start_recording(&st, record, &o, rpj) != 0) {
    fprintf(stderr, "autofactura run: cannot write the cassette %s\n", record);
    goto done;
  }
  if (af_task_warnings(st.task))
    fprintf(stderr, "autofactura run: warning: %s\n", af_task_warnings(st.task));
  if (!quiet) fprintf(stderr, "autofactura: %s runs %s\n", af_task_recipe(st.task), url);
  af_browser_opts bo = {.headless = !headful};
  rc = drive(&st, &bo);
done:
  st.exit_code = rc;
  finish(&st);
  rc = st.exit_code;
  af_free(err);
  af_free(tj);
  af_free(pj);
  af_free(cj);
  af_free(rpj);
  return rc;
}

/* ---- replay ------------------------------------------------------------- */

static uint64_t cassette_clock(void *data) { return af_cassette_now(data); }

static void on_divergence(const af_divergence *d, void *data) {
  run_state *st = data;
  if (af_task_get_status(st->task) != AF_TASK_RUNNING) return; /* tearing down */
  size_t index;
  const char *action, *target, *where;
  af_task_current_step(st->task, &index, &action, &target, &where);
  st->diverged = 1;
  fprintf(stderr,
          "autofactura replay: the recipe diverged from the recording\n"
          "  step:     %zu (%s %s)\n"
          "  recipe:   %s\n"
          "  cassette: line %d\n"
          "  expected: %.400s\n"
          "  sent:     %.400s\n",
          index, action ? action : "?", target ? target : "", where ? where : "?",
          d->line, d->expected ? d->expected : "(the recording ends here)", d->sent);
  char *reason = af_asprintf("replay diverged at step %zu (%s %s) at %s, cassette line %d",
                             index, action ? action : "?", target ? target : "",
                             where ? where : "?", d->line);
  af_task_cancel(st->task, reason ? reason : "replay diverged");
  af_free(reason);
}

/* A member of the meta object as JSON text, or NULL. */
static char *meta_member(lua_State *L, const char *meta, const char *key) {
  char *out = NULL;
  if (af_json_decode(L, meta, strlen(meta)) == 0 && lua_istable(L, -1) &&
      af_json_push(L, -1, key) != LUA_TNIL) {
    out = lua_type(L, -1) == LUA_TSTRING ? af_strdup(lua_tostring(L, -1))
                                         : af_json_encode(L, -1, NULL);
  }
  lua_settop(L, 0);
  return out;
}

/* A recorded recipe path: as written, else inside the source tree. */
static char *find_recipe(const char *recorded) {
  FILE *f = fopen(recorded, "r");
  if (f) {
    fclose(f);
    return af_strdup(recorded);
  }
  return af_asprintf("%s/%s", AF_SOURCE_DIR, recorded);
}

int af_cli_replay(int argc, char **argv) {
  static const struct option opts[] = {
      {"cassette", required_argument, 0, 'C'}, {"recipe", required_argument, 0, 'r'},
      {"profile", required_argument, 0, 'p'},  {"ticket", required_argument, 0, 't'},
      {"out", required_argument, 0, 'o'},      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
  const char *cassette = NULL, *recipe = NULL, *profile = NULL, *ticket = NULL,
             *out = "out";
  int quiet = 0, c, bad = 0, rc = AF_EXIT_BAD_INPUT;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'C': cassette = optarg; break;
      case 'r': recipe = optarg; break;
      case 'p': profile = optarg; break;
      case 't': ticket = optarg; break;
      case 'o': out = optarg; break;
      case 'q': quiet = 1; break;
      case 'h': fputs(REPLAY_USAGE, stdout); return 0;
      default:
        fprintf(stderr, "autofactura replay: unknown or incomplete option '%s' (see --help)\n",
                argv[optind - 1]);
        return AF_EXIT_BAD_INPUT;
    }
  }
  if (cassette == NULL) {
    fprintf(stderr, "autofactura replay: --cassette is required (see --help)\n");
    return AF_EXIT_BAD_INPUT;
  }
  run_state st;
  memset(&st, 0, sizeof st);
  st.replay = 1;
  char *err = NULL, *meta = NULL, *url = NULL, *tj = NULL, *pj = NULL, *rec = NULL,
       *recorded = NULL, *creds = NULL;
  lua_State *L = luaL_newstate();
  if (L == NULL) return AF_EXIT_INTERNAL;
  af_json_open(L);
  if ((st.cassette = af_cassette_load(cassette, &meta, &err)) == NULL) {
    fprintf(stderr, "autofactura replay: %s\n", err);
    goto done;
  }
  url = meta_member(L, meta, "url");
  tj = ticket ? read_input("ticket", ticket, &bad) : meta_member(L, meta, "ticket");
  pj = profile ? read_input("profile", profile, &bad) : meta_member(L, meta, "profile");
  recorded = meta_member(L, meta, "recipe");
  rec = recipe ? af_strdup(recipe) : recorded ? find_recipe(recorded) : NULL;
  char *has_creds = meta_member(L, meta, "credentials");
  if (has_creds && strcmp(has_creds, "true") == 0)
    creds = af_strdup("{\"username\":\"replay-username\",\"password\":\"replay-password\"}");
  af_free(has_creds);
  if (bad) goto done;
  if (url == NULL || tj == NULL || pj == NULL || rec == NULL) {
    fprintf(stderr, "autofactura replay: %s: the meta line lacks url, ticket, profile or "
                    "recipe\n", cassette);
    goto done;
  }
  if (strstr(pj, "{{")) {
    fprintf(stderr, "autofactura replay: %s was recorded without --record-profile: pass "
                    "--profile with a test profile\n", cassette);
    goto done;
  }
  if (af_fs_mkdirs(out) != 0) {
    fprintf(stderr, "autofactura replay: cannot create the output directory %s\n", out);
    goto done;
  }
  add_secrets(st.cassette, L, pj, creds);
  af_task_opts o;
  memset(&o, 0, sizeof o);
  o.url = url;
  o.ticket_json = tj;
  o.profile_json = pj;
  o.credentials_json = creds;
  o.recipe_path = rec;
  o.out_dir = out;
  o.on_step = on_step;
  o.step_data = &st;
  o.clock = cassette_clock;
  o.clock_data = st.cassette;
  if ((st.task = af_task_new(&o, &err)) == NULL) {
    fprintf(stderr, "autofactura replay: %s\n", err ? err : "out of memory");
    goto done;
  }
  st.out = out;
  st.quiet = quiet;
  if (!quiet)
    fprintf(stderr, "autofactura: replaying %s with %s\n", cassette, af_task_recipe(st.task));
  af_transport *t = af_cassette_transport(st.cassette, uv_default_loop(), on_divergence, &st);
  af_browser_opts bo = {.headless = 1, .transport = t};
  rc = drive(&st, &bo);
done:
  st.exit_code = rc;
  finish(&st);
  rc = st.exit_code;
  lua_close(L);
  char *strs[] = {err, meta, url, tj, pj, rec, recorded, creds};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) af_free(strs[i]);
  return rc;
}
