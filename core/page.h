/*
 * page.h -- the actions a recipe needs, built on cdp: one isolated browser
 * context and tab per task, navigation, element actions (through page.js,
 * evaluated in the page), input events, frames, screenshots and downloads.
 *
 * Actions are requests in the libuv manner: the caller owns an af_page_req,
 * starts it, and its callback runs once when it completes. Closing the page
 * abandons pending requests without calling their callbacks.
 */
#ifndef AF_PAGE_H
#define AF_PAGE_H

#include <stdint.h>

#include "browser.h"

typedef struct af_page af_page;
typedef struct af_frame af_frame; /* owned by the page; NULL: main frame */
typedef struct af_page_req af_page_req;
typedef void (*af_page_cb)(af_page_req *req);

enum { AF_PAGE_OK = 0, AF_PAGE_ETIMEOUT = 1, AF_PAGE_EFAIL = 2 };

struct af_page_req {
  void *data;       /* public: user slot */
  int status;       /* read-only after the callback: AF_PAGE_OK or an error */
  char *error;      /* read-only: message on error, owned by req */
  char *value;      /* read-only: result as JSON text, owned by req */
  af_frame *frame_out; /* read-only: af_page_frame's result */
  /* private */
  af_page *page;
  af_frame *frame;
  af_page_cb cb;
  int kind, phase, call_id, active, tries;
  uint64_t deadline, retry_at;
  char *op, *args, *armed_args, *expr, *loader, *path, *dest_dir, *guid, *filename;
  double x, y;
  af_frame *walk;
  struct af_page_req *next;
};

typedef void (*af_page_open_cb)(af_page *p, const char *err, void *data);

/* Open a tab in a fresh browser context of b. Downloads land in
 * download_dir. cb runs once with the page or an error. */
int af_page_open(af_browser *b, const char *download_dir, af_page_open_cb cb,
                 void *data);
/* Abandon pending requests, close the tab and its context, free p. */
void af_page_close(af_page *p);

/* Every message the page's CDP traffic raised that a person should see:
 * JavaScript dialogs (accepted automatically). */
const char *af_page_last_dialog(af_page *p);
/* The tab's flattened session id and target id (for extra CDP commands). */
const char *af_page_session(const af_page *p);
const char *af_page_target(const af_page *p);

/* Requests. timeout_ms bounds the whole action. The element actions take
 * a CSS selector that pierces open shadow roots. */
int af_page_navigate(af_page_req *r, af_page *p, const char *url, int timeout_ms,
                 af_page_cb cb);
/* A page.js operation (wait, wait_any, wait_text, exists, text, value,
 * fill, select, check, url) with its arguments as a JSON object. */
int af_page_js(af_page_req *r, af_page *p, af_frame *f, const char *op,
               const char *args_json, int timeout_ms, af_page_cb cb);
int af_page_click(af_page_req *r, af_page *p, af_frame *f, const char *sel,
                  int timeout_ms, af_page_cb cb);
int af_page_press(af_page_req *r, af_page *p, af_frame *f, const char *sel,
                  const char *key, int timeout_ms, af_page_cb cb);
int af_page_eval(af_page_req *r, af_page *p, af_frame *f, const char *expr,
                 int timeout_ms, af_page_cb cb);
int af_page_screenshot(af_page_req *r, af_page *p, const char *path,
                       int timeout_ms, af_page_cb cb);
/* Click sel and wait for the file it produces; moved into dest_dir.
 * value: {"path": ..., "filename": ...}. */
int af_page_download(af_page_req *r, af_page *p, af_frame *f, const char *sel,
                     const char *dest_dir, int timeout_ms, af_page_cb cb);
/* Resolve the <iframe> matching sel inside f; result in r->frame_out. */
int af_page_frame(af_page_req *r, af_page *p, af_frame *f, const char *sel,
                  int timeout_ms, af_page_cb cb);

/* Free what a completed request holds (error, value, private strings). */
void af_page_req_cleanup(af_page_req *r);

#endif
