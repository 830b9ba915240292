/*
 * cli_record.c -- `autofactura record-recipe`: watches what a person does
 * in a browser tab (recorder.js reports it through a CDP binding), or
 * drives a scripted list of actions headless through the same path, and
 * writes a draft recipe rendered by lua/af/draft.lua.
 */
#include <getopt.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "browser.h"
#include "buf.h"
#include "cli.h"
#include "fsutil.h"
#include "json.h"
#include "page.h"
#include "recorder_js.h" /* generated from recorder.js: AF_RECORDER_JS */
#include "script.h"
#include "ws.h"

static const char USAGE[] =
    "usage: autofactura record-recipe --url URL --out FILE.lua [--actions ACTIONS.json]\n"
    "                                 [--ticket T.json] [--profile P.json] [--name NAME]\n"
    "\n"
    "Turn what a person does on a portal into a draft recipe. Without --actions a\n"
    "visible browser opens on URL: request the invoice by hand, then close the\n"
    "window (or press Ctrl-C). With --actions the browser stays headless and\n"
    "performs the listed actions, recorded the same way. Values that match the\n"
    "ticket's or the profile's are written as task.ticket / task.profile names.\n"
    "\n"
    "  --actions FILE   a JSON array of {\"action\": fill|select|check|click|\n"
    "                   download|press|wait, \"selector\": ..., \"value\"|\"label\"|\n"
    "                   \"checked\"|\"key\": ...}\n"
    "\n"
    "Cross-origin iframes are not recorded. Exit codes: 0 written, 2 bad input,\n"
    "1 internal error.\n";

typedef struct rec_state {
  uv_loop_t *loop;
  af_browser *browser;
  af_page *page;
  af_page_req req;
  lua_State *L;      /* actions (array at index 1), scripted list (index 2) */
  int scripted, step, nsteps, listen, done, exit_code;
  char *url, *out, *name, *ticket, *profile, *dl_dir;
  uv_signal_t sigint;
  uv_timer_t settle;
} rec_state;

static void finish(rec_state *st);

/* ---- what the page reports ---------------------------------------------- */

static void on_event(af_cdp *c, const af_cdp_msg *m, void *data) {
  rec_state *st = data;
  (void)c;
  lua_State *L = st->L;
  if (strcmp(m->method, "Runtime.bindingCalled") == 0 && m->session && st->page &&
      strcmp(m->session, af_page_session(st->page)) == 0) {
    const char *payload = af_json_str(m->L, m->idx, "params.payload", NULL);
    if (payload && af_json_decode(L, payload, strlen(payload)) == 0 && lua_istable(L, -1)) {
      lua_rawseti(L, 1, (lua_Integer)luaL_len(L, 1) + 1); /* actions[#+1] = it */
    } else {
      lua_pop(L, 1);
    }
  } else if (strcmp(m->method, "Browser.downloadWillBegin") == 0) {
    lua_Integer n = luaL_len(L, 1);                    /* the last click downloads */
    for (lua_Integer i = n; i > 0; i--) {
      lua_rawgeti(L, 1, i);
      const char *kind = af_json_str(L, -1, "kind", NULL);
      if (kind && strcmp(kind, "click") == 0) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "download");
        lua_pop(L, 1);
        break;
      }
      lua_pop(L, 1);
    }
  } else if (strcmp(m->method, "Target.targetDestroyed") == 0 && st->page && !st->scripted) {
    const char *tid = af_json_str(m->L, m->idx, "params.targetId", NULL);
    if (tid && strcmp(tid, af_page_target(st->page)) == 0) finish(st); /* window closed */
  }
}

/* ---- scripted actions ------------------------------------------------------ */

static void next_action(af_page_req *r);
static void on_settled(uv_timer_t *t);

static void run_action(rec_state *st) {
  lua_State *L = st->L;
  if (++st->step > st->nsteps) { /* let the last events arrive */
    uv_timer_start(&st->settle, on_settled, 300, 0);
    return;
  }
  lua_rawgeti(L, 2, st->step);                         /* stack: ..., action */
  const char *act = af_json_str(L, -1, "action", NULL);
  const char *sel = af_json_str(L, -1, "selector", NULL);
  const char *val = af_json_str(L, -1, "value", NULL);
  const char *label = af_json_str(L, -1, "label", NULL);
  const char *key = af_json_str(L, -1, "key", NULL);
  int checked = 1;
  af_json_bool(L, -1, "checked", &checked);
  af_buf a;
  af_buf_init(&a);
  af_buf_puts(&a, "{\"sel\":");
  af_buf_json_str(&a, sel ? sel : "", sel ? strlen(sel) : 0);
  int rc = -1;
  st->req.data = st;
  if (act == NULL || sel == NULL) {
    fprintf(stderr, "autofactura record-recipe: action %d needs \"action\" and \"selector\"\n",
            st->step);
  } else if (strcmp(act, "fill") == 0 && val) {
    af_buf_puts(&a, ",\"value\":");
    af_buf_json_str(&a, val, strlen(val));
    af_buf_puts(&a, "}");
    rc = af_page_js(&st->req, st->page, NULL, "fill", a.data, 10000, next_action);
  } else if (strcmp(act, "select") == 0 && (val || label)) {
    af_buf_puts(&a, val ? ",\"value\":" : ",\"label\":");
    af_buf_json_str(&a, val ? val : label, strlen(val ? val : label));
    af_buf_puts(&a, "}");
    rc = af_page_js(&st->req, st->page, NULL, "select", a.data, 10000, next_action);
  } else if (strcmp(act, "check") == 0) {
    af_buf_puts(&a, checked ? ",\"checked\":true}" : ",\"checked\":false}");
    rc = af_page_js(&st->req, st->page, NULL, "check", a.data, 10000, next_action);
  } else if (strcmp(act, "wait") == 0) {
    af_buf_puts(&a, "}");
    rc = af_page_js(&st->req, st->page, NULL, "wait", a.data, 10000, next_action);
  } else if (strcmp(act, "click") == 0) {
    rc = af_page_click(&st->req, st->page, NULL, sel, 10000, next_action);
  } else if (strcmp(act, "download") == 0) {
    rc = af_page_download(&st->req, st->page, NULL, sel, st->dl_dir, 30000, next_action);
  } else if (strcmp(act, "press") == 0 && key) {
    rc = af_page_press(&st->req, st->page, NULL, sel, key, 10000, next_action);
  } else {
    fprintf(stderr, "autofactura record-recipe: action %d: unknown action or missing "
                    "value (fill needs value, select value or label, press key)\n", st->step);
  }
  af_buf_free(&a);
  lua_pop(L, 1);
  if (rc != 0) {
    st->exit_code = AF_EXIT_BAD_INPUT;
    finish(st);
  }
}

static void next_action(af_page_req *r) {
  rec_state *st = r->data;
  if (r->status != AF_PAGE_OK) {
    fprintf(stderr, "autofactura record-recipe: action %d failed: %s\n", st->step,
            r->error ? r->error : "error");
    st->exit_code = AF_EXIT_FAILED;
    finish(st);
    return;
  }
  run_action(st);
}

/* ---- start, end ----------------------------------------------------------------- */

static void on_loaded(af_page_req *r) {
  rec_state *st = r->data;
  if (r->status != AF_PAGE_OK) {
    fprintf(stderr, "autofactura record-recipe: %s\n", r->error ? r->error : "cannot load");
    st->exit_code = AF_EXIT_FAILED;
    finish(st);
    return;
  }
  if (st->scripted) {
    run_action(st);
  } else {
    fprintf(stderr, "autofactura record-recipe: recording. Request the invoice in the browser "
                    "window, then close it (or press Ctrl-C).\n");
  }
}

static void on_page(af_page *p, const char *err, void *data) {
  rec_state *st = data;
  if (p == NULL) {
    fprintf(stderr, "autofactura record-recipe: %s\n", err);
    finish(st);
    return;
  }
  st->page = p;
  af_cdp *c = af_browser_cdp(st->browser);
  af_buf b;
  af_buf_init(&b);
  af_buf_puts(&b, "{\"source\":");
  af_buf_json_str(&b, AF_RECORDER_JS, strlen(AF_RECORDER_JS));
  af_buf_puts(&b, "}");
  af_cdp_call(c, af_page_session(p), "Runtime.addBinding", "{\"name\":\"__afRecord\"}", NULL, NULL);
  af_cdp_call(c, af_page_session(p), "Page.addScriptToEvaluateOnNewDocument", b.data, NULL, NULL);
  af_cdp_call(c, NULL, "Target.setDiscoverTargets", "{\"discover\":true}", NULL, NULL);
  af_buf_free(&b);
  st->req.data = st;
  if (af_page_navigate(&st->req, p, st->url, 30000, on_loaded) != 0) finish(st);
}

static void on_browser(af_browser *b, const char *err, void *data) {
  rec_state *st = data;
  if (b == NULL) {
    fprintf(stderr, "autofactura record-recipe: cannot start the browser: %s\n", err);
    st->done = 1;
    uv_close((uv_handle_t *)&st->sigint, NULL);
    uv_close((uv_handle_t *)&st->settle, NULL);
    af_ws_shutdown();
    return;
  }
  st->browser = b;
  st->listen = af_cdp_listen(af_browser_cdp(b), on_event, st);
  st->dl_dir = af_asprintf("%s/record", af_browser_dir(b));
  if (st->dl_dir == NULL || af_page_open(b, af_browser_dir(b), on_page, st) != 0) finish(st);
}

/* Render the draft with lua/af/draft.lua (in a sandbox) and write it. */
static int write_draft(rec_state *st) {
  char *err = NULL;
  af_script *s = af_script_new(NULL, &err);
  int rc = -1;
  if (s == NULL) goto done;
  lua_State *L = af_script_state(s);
  if (af_script_dostring(s, "return require('af.draft').render", "record-recipe", &err) != 0)
    goto done;                                         /* stack: render */
  size_t n;
  char *actions = af_json_encode(st->L, 1, &n);
  if (actions == NULL || af_json_decode(L, actions, n) != 0) {
    af_free(actions);
    goto done;
  }
  af_free(actions);                                    /* stack: render, actions */
  lua_newtable(L);                                     /* stack: render, actions, opts */
  lua_pushstring(L, st->url);
  lua_setfield(L, -2, "url");
  lua_pushstring(L, st->name ? st->name : "draft");
  lua_setfield(L, -2, "name");
  const char *names[] = {"ticket", "profile"};
  const char *texts[] = {st->ticket, st->profile};
  for (int i = 0; i < 2; i++) {
    if (texts[i] == NULL) continue;
    if (af_json_decode(L, texts[i], strlen(texts[i])) == 0) lua_setfield(L, -2, names[i]);
    else lua_pop(L, 1);
  }
  if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
    fprintf(stderr, "autofactura record-recipe: %s\n", lua_tostring(L, -1));
    goto done;
  }
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  if (af_fs_write(st->out, text, len, &err) != 0) {
    fprintf(stderr, "autofactura record-recipe: %s\n", err);
    goto done;
  }
  fprintf(stderr, "autofactura record-recipe: %lld actions recorded, draft written to %s\n",
          (long long)luaL_len(st->L, 1), st->out);
  rc = 0;
done:
  if (rc != 0 && err) fprintf(stderr, "autofactura record-recipe: %s\n", err);
  af_free(err);
  af_script_free(s);
  return rc;
}

static void on_browser_closed(void *data) {
  rec_state *st = data;
  uv_close((uv_handle_t *)&st->sigint, NULL);
  uv_close((uv_handle_t *)&st->settle, NULL);
  af_ws_shutdown();
}

static void finish(rec_state *st) {
  if (st->done) return;
  st->done = 1;
  if (st->exit_code == 0 && write_draft(st) != 0) st->exit_code = AF_EXIT_INTERNAL;
  if (st->page) {
    af_page_close(st->page);
    st->page = NULL;
  }
  if (st->browser) {
    af_cdp_unlisten(af_browser_cdp(st->browser), st->listen);
    af_browser_close(st->browser, on_browser_closed, st);
    st->browser = NULL;
  }
}

static void on_settled(uv_timer_t *t) { finish(t->data); }
static void on_sigint(uv_signal_t *h, int signum) {
  (void)signum;
  finish(h->data);
}

int af_cli_record_recipe(int argc, char **argv) {
  static const struct option opts[] = {
      {"url", required_argument, 0, 'u'},     {"out", required_argument, 0, 'o'},
      {"actions", required_argument, 0, 'a'}, {"ticket", required_argument, 0, 't'},
      {"profile", required_argument, 0, 'p'}, {"name", required_argument, 0, 'n'},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  const char *url = NULL, *out = NULL, *actions = NULL, *ticket = NULL, *profile = NULL,
             *name = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'u': url = optarg; break;
      case 'o': out = optarg; break;
      case 'a': actions = optarg; break;
      case 't': ticket = optarg; break;
      case 'p': profile = optarg; break;
      case 'n': name = optarg; break;
      case 'h': fputs(USAGE, stdout); return 0;
      default:
        fprintf(stderr, "autofactura record-recipe: unknown or incomplete option '%s' (see --help)\n",
                argv[optind - 1]);
        return AF_EXIT_BAD_INPUT;
    }
  }
  if (url == NULL || out == NULL) {
    fprintf(stderr, "autofactura record-recipe: %s is required (see --help)\n",
            url == NULL ? "--url" : "--out");
    return AF_EXIT_BAD_INPUT;
  }
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
    fprintf(stderr, "autofactura record-recipe: --url must be an http:// or https:// URL\n");
    return AF_EXIT_BAD_INPUT;
  }
  if (actions == NULL && getenv("DISPLAY") == NULL && getenv("WAYLAND_DISPLAY") == NULL) {
    fprintf(stderr, "autofactura record-recipe: no display for a visible browser; pass "
                    "--actions FILE to record headless\n");
    return AF_EXIT_BAD_INPUT;
  }
  rec_state st;
  memset(&st, 0, sizeof st);
  char *err = NULL, *script = NULL;
  int rc = AF_EXIT_BAD_INPUT;
  st.L = luaL_newstate();
  if (st.L == NULL) return AF_EXIT_INTERNAL;
  af_json_open(st.L);
  lua_newtable(st.L);                                  /* stack: actions */
  if (actions) {
    script = af_fs_read(actions, 1 << 20, NULL, &err);
    if (script == NULL || af_json_decode(st.L, script, strlen(script)) != 0 ||
        !lua_istable(st.L, -1)) {
      fprintf(stderr, "autofactura record-recipe: actions: %s\n",
              err ? err : "expected a JSON array of actions");
      goto done;
    }                                                  /* stack: actions, script */
    st.nsteps = (int)luaL_len(st.L, 2);
    st.scripted = 1;
  }
  int bad = 0;
  if (ticket && (st.ticket = af_fs_read(ticket, 1 << 20, NULL, &err)) == NULL) bad = 1;
  if (!bad && profile && (st.profile = af_fs_read(profile, 1 << 20, NULL, &err)) == NULL) bad = 1;
  if (bad) {
    fprintf(stderr, "autofactura record-recipe: %s\n", err);
    goto done;
  }
  st.url = af_strdup(url);
  st.out = af_strdup(out);
  st.name = name ? af_strdup(name) : NULL;
  st.loop = uv_default_loop();
  uv_signal_init(st.loop, &st.sigint);
  st.sigint.data = &st;
  uv_signal_start(&st.sigint, on_sigint, SIGINT);
  uv_timer_init(st.loop, &st.settle);
  st.settle.data = &st;
  atexit(af_browser_kill_all);
  af_browser_opts bo = {.headless = st.scripted};
  if (af_browser_launch(st.loop, &bo, on_browser, &st, &err) != 0) {
    fprintf(stderr, "autofactura record-recipe: cannot start the browser: %s\n", err);
    rc = AF_EXIT_INTERNAL;
    uv_close((uv_handle_t *)&st.sigint, NULL);
    uv_close((uv_handle_t *)&st.settle, NULL);
    uv_run(st.loop, UV_RUN_DEFAULT);
    goto done;
  }
  uv_run(st.loop, UV_RUN_DEFAULT);
  af_page_req_cleanup(&st.req);
  af_ws_shutdown();
  rc = st.exit_code;
done:
  lua_close(st.L);
  char *strs[] = {err, script, st.url, st.out, st.name, st.ticket, st.profile, st.dl_dir};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) af_free(strs[i]);
  return rc;
}
