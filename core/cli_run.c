/*
 * cli_run.c -- `autofactura run`: one task, no queue, no database. Reads the
 * ticket and profile, launches the browser, runs the recipe, prints each
 * step as it happens and writes DIR/result.json.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "browser.h"
#include "cli.h"
#include "fsutil.h"
#include "task.h"
#include "ws.h"

static const char RUN_USAGE[] =
    "usage: autofactura run --url URL --ticket TICKET.json --profile PROFILE.json\n"
    "                       [--recipe FILE|generic] [--credentials C.json] [--out DIR]\n"
    "\n"
    "Request one invoice on a self-invoicing portal with a local headless Chromium.\n"
    "\n"
    "  --url URL            the portal page to start on (http or https)\n"
    "  --ticket FILE        ticket JSON: folio, amount, date (YYYY-MM-DD), concept,\n"
    "                       and store, web_id, barcode where the portal asks\n"
    "  --profile FILE       fiscal profile JSON: rfc, full_name, fiscal_regime,\n"
    "                       postal_code, cfdi_use, email\n"
    "  --recipe FILE        the recipe to run (default: the one claiming URL)\n"
    "  --credentials FILE   the portal's username and password, as JSON\n"
    "  --out DIR            where result.json, the CFDI XML and screenshots go\n"
    "                       (default: out)\n"
    "  --timeout SECONDS    wall-time limit of the task (default 300)\n"
    "  --headful            show the browser window\n"
    "  --quiet              do not print steps\n"
    "\n"
    "Exit codes: 0 completed, 3 failed, 4 intervention needed, 2 bad input,\n"
    "1 internal error. Environment: AF_CHROMIUM (browser path), AF_RECIPES_DIR.\n";

typedef struct run_state {
  uv_loop_t *loop;
  af_task *task;
  af_browser *browser;
  const char *out;
  int quiet, exit_code, signals;
  uv_signal_t sigint, sigterm;
  char *browser_error;
} run_state;

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
  char *json = af_task_result_json(t);
  int wrote = json ? write_result(st, json) : -1;
  af_free(json);
  st->exit_code = status == AF_TASK_COMPLETED ? AF_EXIT_COMPLETED
                  : status == AF_TASK_INTERVENTION_NEEDED ? AF_EXIT_INTERVENTION
                                                          : AF_EXIT_FAILED;
  if (wrote != 0) st->exit_code = AF_EXIT_INTERNAL;
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
    st->browser_error = af_strdup(err);
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

int af_cli_run(int argc, char **argv) {
  static const struct option opts[] = {
      {"url", required_argument, 0, 'u'},     {"ticket", required_argument, 0, 't'},
      {"profile", required_argument, 0, 'p'}, {"recipe", required_argument, 0, 'r'},
      {"credentials", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
      {"timeout", required_argument, 0, 'T'}, {"headful", no_argument, 0, 'H'},
      {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *url = NULL, *ticket = NULL, *profile = NULL, *recipe = NULL,
             *creds = NULL, *out = "out";
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
  if (recipe && strcmp(recipe, "generic") == 0) {
    fprintf(stderr, "autofactura run: the generic fallback is not available yet; "
                    "pass --recipe FILE or let a recipe claim the URL\n");
    return AF_EXIT_BAD_INPUT;
  }
  int bad = 0, rc = AF_EXIT_INTERNAL;
  char *tj = read_input("ticket", ticket, &bad);
  char *pj = read_input("profile", profile, &bad);
  char *cj = creds ? read_input("credentials", creds, &bad) : NULL;
  char *err = NULL;
  af_task *task = NULL;
  run_state st;
  memset(&st, 0, sizeof st);
  if (bad) {
    rc = AF_EXIT_BAD_INPUT;
    goto done;
  }
  if (af_fs_mkdirs(out) != 0) {
    fprintf(stderr, "autofactura run: cannot create the output directory %s\n", out);
    rc = AF_EXIT_BAD_INPUT;
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
  if ((task = af_task_new(&o, &err)) == NULL) {
    fprintf(stderr, "autofactura run: %s\n", err ? err : "out of memory");
    rc = AF_EXIT_BAD_INPUT;
    goto done;
  }
  st.loop = uv_default_loop();
  st.task = task;
  st.out = out;
  st.quiet = quiet;
  st.exit_code = AF_EXIT_INTERNAL;
  if (af_task_warnings(task))
    fprintf(stderr, "autofactura run: warning: %s\n", af_task_warnings(task));
  if (!quiet) fprintf(stderr, "autofactura: %s runs %s\n", af_task_recipe(task), url);
  uv_signal_init(st.loop, &st.sigint);
  uv_signal_init(st.loop, &st.sigterm);
  st.sigint.data = st.sigterm.data = &st;
  uv_signal_start(&st.sigint, on_signal, SIGINT);
  uv_signal_start(&st.sigterm, on_signal, SIGTERM);
  atexit(af_browser_kill_all);
  af_browser_opts bo = {NULL, !headful, 0, NULL};
  if (af_browser_launch(st.loop, &bo, on_browser, &st, &err) != 0) {
    fprintf(stderr, "autofactura: cannot start the browser: %s\n", err);
    close_all(&st);
  }
  uv_run(st.loop, UV_RUN_DEFAULT);
  rc = st.exit_code;
done:
  af_task_free(task);
  if (st.loop) {
    uv_run(st.loop, UV_RUN_DEFAULT); /* let closing handles finish */
    af_ws_shutdown();                /* the second stage: free what is left */
  }
  af_free(st.browser_error);
  af_free(err);
  af_free(tj);
  af_free(pj);
  af_free(cj);
  return rc;
}
