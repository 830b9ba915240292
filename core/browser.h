/*
 * browser.h -- browser providers: something that gives a CDP connection.
 * `local` spawns Debian's Chromium headless with a throw-away profile.
 */
#ifndef AF_BROWSER_H
#define AF_BROWSER_H

#include <uv.h>

#include "cdp.h"

typedef struct af_browser af_browser;

typedef struct af_browser_opts {
  const char *chromium;   /* executable; NULL: $AF_CHROMIUM, else "chromium" */
  int headless;           /* 1 unless a visible window is wanted */
  int timeout_ms;         /* start-up timeout; 0: 30000 */
  const char *cdp_url;    /* connect to this DevTools URL instead of spawning */
  af_transport *transport; /* or talk through this one (a replay): no browser */
} af_browser_opts;

typedef void (*af_browser_cb)(af_browser *b, const char *err, void *data);

/* Launch (or connect); cb runs once with the browser or an error (then b
 * is already freed). Returns -1 with *err when nothing could start. */
int af_browser_launch(uv_loop_t *loop, const af_browser_opts *opts,
                      af_browser_cb cb, void *data, char **err);

af_cdp *af_browser_cdp(af_browser *b);
/* True when a recording stands in for the browser: no time passes there,
 * so waits between retries can be skipped. */
int af_browser_replaying(const af_browser *b);
uv_loop_t *af_browser_loop(af_browser *b);
/* A private directory the browser lives in (downloads go below it). */
const char *af_browser_dir(af_browser *b);

/* Close the browser: the process is killed, its profile removed, b freed;
 * cb (may be NULL) runs when all of it is done. */
void af_browser_close(af_browser *b, void (*cb)(void *data), void *data);

/* Async-signal-unsafe emergency cleanup for fatal signals and exit paths:
 * kill every launched browser and remove its profile, synchronously. */
void af_browser_kill_all(void);

#endif
