/*
 * browser.c -- the `local` browser provider: spawns Debian's Chromium
 * headless with a throw-away profile, connects to its DevTools WebSocket
 * (ws.c, cdp.c) and always removes the process tree and the profile.
 */
#include "browser.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "ws.h"

enum { ST_STARTING, ST_CONNECTING, ST_READY, ST_CLOSING };

struct af_browser {
  uv_loop_t *loop;
  uv_process_t proc;
  uv_timer_t timer;       /* DevToolsActivePort poll, then start-up timeout */
  int spawned, proc_exited, open_handles;
  int state;
  char *dir;              /* owned; removed on close */
  af_cdp *cdp;            /* owned */
  af_browser_cb cb;
  void *data;
  int waited_ms, timeout_ms;
  int replaying;
  af_transport *pending_transport;
  void (*close_cb)(void *);
  void *close_data;
  struct af_browser *next; /* registry of live browsers, for kill_all */
};

static af_browser *live;

static void unregister(af_browser *b) {
  for (af_browser **p = &live; *p; p = &(*p)->next)
    if (*p == b) {
      *p = b->next;
      break;
    }
}

static void kill_tree(af_browser *b) {
  if (b->spawned && !b->proc_exited && b->proc.pid > 0) kill(-b->proc.pid, SIGKILL);
}

void af_browser_kill_all(void) {
  for (af_browser *b = live; b; b = b->next) {
    kill_tree(b);
    if (b->dir) af_fs_rmtree(b->dir);
  }
}

static void finish_free(af_browser *b) {
  unregister(b);
  if (b->dir) af_fs_rmtree(b->dir);
  af_free(b->dir);
  void (*cb)(void *) = b->close_cb;
  void *data = b->close_data;
  af_free(b);
  if (cb) cb(data);
}

static void on_handle_closed(uv_handle_t *h) {
  af_browser *b = h->data;
  if (--b->open_handles == 0) finish_free(b);
}

/* Tear everything down; b is freed once libuv has closed its handles. */
static void teardown(af_browser *b) {
  b->state = ST_CLOSING;
  if (b->cdp) {
    af_cdp_free(b->cdp);
    b->cdp = NULL;
  }
  kill_tree(b);
  uv_timer_stop(&b->timer);
  if (!uv_is_closing((uv_handle_t *)&b->timer))
    uv_close((uv_handle_t *)&b->timer, on_handle_closed);
  /* the process handle closes in on_proc_exit once the kill is reaped */
  if (b->spawned && b->proc_exited && !uv_is_closing((uv_handle_t *)&b->proc))
    uv_close((uv_handle_t *)&b->proc, on_handle_closed);
}

static void fail_start(af_browser *b, const char *err) {
  af_browser_cb cb = b->cb;
  b->cb = NULL;
  if (cb) cb(NULL, err, b->data);
  teardown(b);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig) {
  af_browser *b = p->data;
  b->proc_exited = 1;
  if (b->state == ST_STARTING || b->state == ST_CONNECTING) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "chromium exited (status %lld, signal %d) before DevTools was ready",
             (long long)status, sig);
    fail_start(b, msg);
  } else if (b->state == ST_CLOSING) {
    uv_close((uv_handle_t *)p, on_handle_closed);
  }
}

static void on_cdp_closed(af_cdp *c, const char *reason, void *data) {
  (void)c; (void)reason; (void)data;
}

static void on_ws_open(af_transport *t, const char *err, void *data) {
  af_browser *b = data;
  if (b->state != ST_CONNECTING) {
    if (t) af_transport_close(t);
    return;
  }
  if (t == NULL) {
    char *msg = af_asprintf("cannot connect to the DevTools endpoint: %s", err);
    fail_start(b, msg ? msg : "cannot connect to the DevTools endpoint");
    af_free(msg);
    return;
  }
  b->cdp = af_cdp_new(t);
  if (b->cdp == NULL) {
    af_transport_close(t);
    fail_start(b, "out of memory");
    return;
  }
  af_cdp_on_close(b->cdp, on_cdp_closed, b);
  b->state = ST_READY;
  uv_timer_stop(&b->timer);
  af_browser_cb cb = b->cb;
  b->cb = NULL;
  cb(b, NULL, b->data);
}

static void on_replay_ready(uv_timer_t *t) {
  af_browser *b = t->data;
  on_ws_open(b->pending_transport, NULL, b);
}

static void connect_url(af_browser *b, const char *url) {
  char *err = NULL;
  b->state = ST_CONNECTING;
  if (af_ws_connect(b->loop, url, on_ws_open, b, &err) != 0) {
    fail_start(b, err ? err : "cannot connect");
    af_free(err);
  }
}

/* Chromium writes the port and the browser path once DevTools listens. */
static void on_poll(uv_timer_t *t) {
  af_browser *b = t->data;
  if (b->state == ST_CONNECTING) { /* the connect stalled */
    if ((b->waited_ms += 25) >= b->timeout_ms)
      fail_start(b, "timed out connecting to chromium's DevTools endpoint");
    return;
  }
  char path[4096], line[512], url[600];
  snprintf(path, sizeof path, "%s/profile/DevToolsActivePort", b->dir);
  FILE *f = fopen(path, "r");
  int port = 0;
  if (f) {
    if (fgets(line, sizeof line, f)) port = atoi(line);
    if (port > 0 && fgets(line, sizeof line, f)) {
      line[strcspn(line, "\r\n")] = '\0';
      snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", port, line);
    } else {
      port = 0;
    }
    fclose(f);
  }
  if (port > 0) {
    connect_url(b, url);
    return;
  }
  if ((b->waited_ms += 25) >= b->timeout_ms)
    fail_start(b, "timed out waiting for chromium to start (see AF_CHROMIUM)");
}

static int spawn(af_browser *b, const af_browser_opts *o, char **err) {
  const char *exe = o->chromium;
  if (exe == NULL) exe = getenv("AF_CHROMIUM");
  if (exe == NULL || *exe == '\0') exe = "chromium";
  char profile[4096], logpath[4096], userdir[4200];
  snprintf(profile, sizeof profile, "%s/profile", b->dir);
  snprintf(logpath, sizeof logpath, "%s/chromium.log", b->dir);
  snprintf(userdir, sizeof userdir, "--user-data-dir=%s", profile);
  char *args[] = {(char *)exe,
                  o->headless ? "--headless" : "--no-startup-window",
                  "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--no-default-browser-check",
                  "--disable-dev-shm-usage", "--disable-quic",
                  "--password-store=basic", "--remote-debugging-port=0",
                  "--window-size=1280,900", userdir, "about:blank", NULL};
  if (!o->headless) args[1] = "--new-window";
  int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_IGNORE},
      {.flags = logfd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = logfd},
      {.flags = logfd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = logfd}};
  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  po.file = exe;
  po.args = args;
  po.exit_cb = on_proc_exit;
  po.flags = UV_PROCESS_DETACHED; /* own process group: killed as a whole */
  po.stdio = stdio;
  po.stdio_count = 3;
  b->proc.data = b;
  int r = uv_spawn(b->loop, &b->proc, &po);
  if (logfd >= 0) close(logfd);
  if (r != 0) {
    *err = af_asprintf("cannot start %s: %s (install Debian's chromium or set "
                       "AF_CHROMIUM)", exe, uv_strerror(r));
    /* a failed uv_spawn still needs its handle closed */
    b->open_handles++;
    uv_close((uv_handle_t *)&b->proc, on_handle_closed);
    return -1;
  }
  b->spawned = 1;
  b->open_handles++;
  return 0;
}

int af_browser_launch(uv_loop_t *loop, const af_browser_opts *opts,
                      af_browser_cb cb, void *data, char **err) {
  af_browser *b = af_calloc(1, sizeof *b);
  char tmpl[] = "/tmp/af-browser-XXXXXX";
  if (b == NULL) {
    *err = af_strdup("out of memory");
    return -1;
  }
  b->loop = loop;
  b->cb = cb;
  b->data = data;
  b->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
  uv_timer_init(loop, &b->timer);
  b->timer.data = b;
  b->open_handles = 1;
  b->next = live;
  live = b;
  if (mkdtemp(tmpl) == NULL || (b->dir = af_strdup(tmpl)) == NULL) {
    *err = af_asprintf("cannot create a browser directory: %s", strerror(errno));
    b->cb = NULL;
    teardown(b);
    return -1;
  }
  char sub[4200];
  snprintf(sub, sizeof sub, "%s/downloads", b->dir);
  af_fs_mkdirs(sub);
  if (opts->transport) { /* a recording: ready on the next loop turn */
    b->replaying = 1;
    b->state = ST_CONNECTING;
    uv_timer_start(&b->timer, on_replay_ready, 0, 0);
    b->pending_transport = opts->transport;
    return 0;
  }
  if (opts->cdp_url) {
    connect_url(b, opts->cdp_url);
    uv_timer_start(&b->timer, on_poll, 25, 25);
    return 0;
  }
  if (spawn(b, opts, err) != 0) {
    b->cb = NULL;
    teardown(b);
    return -1;
  }
  b->state = ST_STARTING;
  uv_timer_start(&b->timer, on_poll, 25, 25);
  return 0;
}

af_cdp *af_browser_cdp(af_browser *b) { return b->cdp; }
int af_browser_replaying(const af_browser *b) { return b->replaying; }
uv_loop_t *af_browser_loop(af_browser *b) { return b->loop; }
const char *af_browser_dir(af_browser *b) { return b->dir; }

void af_browser_close(af_browser *b, void (*cb)(void *), void *data) {
  b->close_cb = cb;
  b->close_data = data;
  teardown(b);
}
