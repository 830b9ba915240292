/*
 * page.c -- page actions over CDP (cdp.c) for one tab in its own browser
 * context: navigation, page.js operations with retries across navigations,
 * mouse and keyboard input, frames (same-process and out-of-process through
 * auto-attached flattened sessions), dialogs, screenshots and downloads.
 */
#include "page.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "fsutil.h"
#include "json.h"
#include "page_js.h" /* generated from page.js: AF_PAGE_JS */

enum { K_GOTO, K_JS, K_CLICK, K_PRESS, K_EVAL, K_SHOT, K_DOWNLOAD, K_FRAME };
enum { P_START, P_POINT, P_OFFSET, P_MOUSE, P_VERIFY, P_FOCUS, P_KEYS, P_LOAD,
       P_ELEMENT, P_DESCRIBE, P_BEGIN, P_PROGRESS };

#define RETRY_MS 50
#define GRACE_MS 3000
#define VERIFY_MS 600   /* how long a frame click may take to arrive */
#define CLICK_TRIES 3

typedef struct ctx_entry {
  struct ctx_entry *next;
  char *frame_id, *session;
  int id;
} ctx_entry;

typedef struct child_session {
  struct child_session *next;
  char *id;
} child_session;

struct af_frame {
  struct af_frame *next;
  af_frame *parent;
  char *selector, *frame_id;
};

struct af_page {
  af_browser *browser;
  af_cdp *cdp;
  uv_timer_t tick;
  char *context_id, *target_id, *session, *download_dir;
  int listen_handle, open_step, open_call, closing;
  ctx_entry *ctxs;
  child_session *children;
  af_frame *frames;
  af_page_req *reqs;
  char *last_load_loader, *last_dialog;
  af_page_open_cb open_cb;
  void *open_data;
};

static uint64_t now_ms(af_page *p) { return uv_now(p->tick.loop); }

/* ---- small helpers ------------------------------------------------------ */

static int is_page_session(af_page *p, const char *s) {
  if (s == NULL || p->session == NULL) return 0;
  if (strcmp(s, p->session) == 0) return 1;
  for (child_session *c = p->children; c; c = c->next)
    if (strcmp(c->id, s) == 0) return 1;
  return 0;
}

static int is_page_frame(af_page *p, const char *frame_id) {
  if (frame_id == NULL) return 0;
  if (p->target_id && strcmp(frame_id, p->target_id) == 0) return 1;
  for (ctx_entry *e = p->ctxs; e; e = e->next)
    if (strcmp(e->frame_id, frame_id) == 0) return 1;
  return 0;
}

static void ctx_remove_if(af_page *p, const char *session, int id) {
  for (ctx_entry **pe = &p->ctxs; *pe;) {
    ctx_entry *e = *pe;
    if (strcmp(e->session, session) == 0 && (id < 0 || e->id == id)) {
      *pe = e->next;
      af_free(e->frame_id);
      af_free(e->session);
      af_free(e);
    } else {
      pe = &e->next;
    }
  }
}

static void ctx_set(af_page *p, const char *frame_id, const char *session, int id) {
  for (ctx_entry *e = p->ctxs; e; e = e->next)
    if (strcmp(e->frame_id, frame_id) == 0) {
      char *s = af_strdup(session);
      if (s == NULL) return;
      af_free(e->session);
      e->session = s;
      e->id = id;
      return;
    }
  ctx_entry *e = af_calloc(1, sizeof *e);
  if (e == NULL) return;
  e->frame_id = af_strdup(frame_id);
  e->session = af_strdup(session);
  if (e->frame_id == NULL || e->session == NULL) {
    af_free(e->frame_id);
    af_free(e->session);
    af_free(e);
    return;
  }
  e->id = id;
  e->next = p->ctxs;
  p->ctxs = e;
}

static ctx_entry *ctx_find(af_page *p, const char *frame_id) {
  for (ctx_entry *e = p->ctxs; e; e = e->next)
    if (strcmp(e->frame_id, frame_id) == 0) return e;
  return NULL;
}

/* Replace *dst with a copy of src. */
static void set_str(char **dst, const char *src) {
  char *s = src ? af_strdup(src) : NULL;
  af_free(*dst);
  *dst = s;
}

/* ---- request lifecycle --------------------------------------------------- */

static void run_phase(af_page_req *r);
static void on_tick(uv_timer_t *t);

static void unlink_req(af_page_req *r) {
  for (af_page_req **pr = &r->page->reqs; *pr; pr = &(*pr)->next)
    if (*pr == r) {
      *pr = r->next;
      break;
    }
  r->next = NULL;
  r->active = 0;
}

static void complete(af_page_req *r, int status, const char *error) {
  if (!r->active) return;
  if (r->call_id) af_cdp_forget(r->page->cdp, r->call_id);
  r->call_id = 0;
  unlink_req(r);
  r->status = status;
  if (status != AF_PAGE_OK) set_str(&r->error, error ? error : "failed");
  r->cb(r);
}

static void fail_oom(af_page_req *r) { complete(r, AF_PAGE_EFAIL, "out of memory"); }

static void schedule_retry(af_page_req *r, const char *why) {
  uint64_t now = now_ms(r->page);
  uint64_t wait = af_browser_replaying(r->page->browser) ? 0 : RETRY_MS;
  if (now + wait >= r->deadline && wait > 0) {
    complete(r, AF_PAGE_ETIMEOUT, why);
    return;
  }
  r->call_id = 0;
  r->retry_at = now + wait;
  if (r->retry_at == 0) r->retry_at = 1; /* 0 means "not waiting" */
}

static int start_req(af_page_req *r, af_page *p, af_frame *f, int kind,
                     int timeout_ms, af_page_cb cb) {
  af_page_req_cleanup(r);
  void *data = r->data;
  memset(r, 0, sizeof *r);
  r->data = data;
  r->page = p;
  r->frame = f;
  r->kind = kind;
  r->cb = cb;
  r->active = 1;
  r->deadline = now_ms(p) + (uint64_t)(timeout_ms > 0 ? timeout_ms : 10000);
  r->next = p->reqs;
  p->reqs = r;
  return 0;
}

/* Send a command for r; on failure to send, r completes with an error. */
static int send_cmd(af_page_req *r, const char *session, const char *method,
                    const char *params, af_cdp_cb cb) {
  int id = af_cdp_call(r->page->cdp, session, method, params, cb, r);
  if (id < 0) {
    complete(r, AF_PAGE_EFAIL, "the browser connection is closed");
    return -1;
  }
  r->call_id = id;
  return 0;
}

static int transient(const char *msg) {
  return msg && (strstr(msg, "context") || strstr(msg, "navigated") ||
                 strstr(msg, "Cannot find") || strstr(msg, "No frame"));
}

/* The session and context to evaluate in for frame f (main: ctx 0). */
static int frame_target(af_page *p, af_frame *f, const char **session, int *ctx) {
  if (f == NULL) {
    *session = p->session;
    *ctx = 0;
    return 0;
  }
  ctx_entry *e = ctx_find(p, f->frame_id);
  if (e == NULL) return -1;
  *session = e->session;
  *ctx = e->id;
  return 0;
}

/* ---- Runtime.evaluate of page.js operations ------------------------------ */

static void on_eval_reply(af_cdp *c, const af_cdp_msg *m, void *data);

/* Evaluate page.js(op, args) in frame f for r; the reply goes to
 * on_eval_reply, which hands the value to the current phase. */
static void eval_js(af_page_req *r, af_frame *f, const char *op, const char *args,
                    int by_value, const char *suffix) {
  const char *session;
  int ctx;
  if (frame_target(r->page, f, &session, &ctx) != 0) {
    schedule_retry(r, "the frame has no document yet");
    return;
  }
  uint64_t now = now_ms(r->page);
  long left = r->deadline > now ? (long)(r->deadline - now) : 0;
  if (r->phase == P_VERIFY && left > VERIFY_MS) left = VERIFY_MS;
  af_buf expr, params;
  af_buf_init(&expr);
  af_buf_init(&params);
  af_buf_puts(&expr, AF_PAGE_JS);
  af_buf_puts(&expr, "(");
  af_buf_json_str(&expr, op, strlen(op));
  /* the time left is marked: recordings compare it as a placeholder */
  af_buf_printf(&expr, ",%s,/*t*/%ld)%s", args ? args : "{}", left, suffix ? suffix : "");
  af_buf_puts(&params, "{\"expression\":");
  af_buf_json_str(&params, expr.data ? expr.data : "", expr.len);
  af_buf_printf(&params, ",\"awaitPromise\":true,\"returnByValue\":%s",
                by_value ? "true" : "false");
  if (ctx > 0) af_buf_printf(&params, ",\"contextId\":%d", ctx);
  af_buf_puts(&params, "}");
  if (params.oom) fail_oom(r);
  else send_cmd(r, session, "Runtime.evaluate", params.data, on_eval_reply);
  af_buf_free(&expr);
  af_buf_free(&params);
}

static void js_phase_done(af_page_req *r, lua_State *L, int idx);

static void click_done(af_page_req *r);

static void on_eval_reply(af_cdp *c, const af_cdp_msg *m, void *data) {
  af_page_req *r = data;
  (void)c;
  r->call_id = 0;
  if (r->phase == P_VERIFY && (m->error ? transient(m->error) :
                               af_json_push(m->L, m->idx, "result.exceptionDetails") != LUA_TNIL)) {
    if (!m->error) lua_pop(m->L, 1);
    click_done(r); /* the frame navigated away: the click arrived */
    return;
  }
  if (r->phase == P_VERIFY && !m->error) lua_pop(m->L, 1);
  if (m->error) {
    if (transient(m->error)) schedule_retry(r, "timeout");
    else complete(r, AF_PAGE_EFAIL, m->error);
    return;
  }
  lua_State *L = m->L;
  if (af_json_push(L, m->idx, "result.exceptionDetails") == LUA_TTABLE) {
    const char *d = af_json_str(L, -1, "exception.description", NULL);
    if (d == NULL) d = af_json_str(L, -1, "text", NULL);
    if (transient(d)) {
      lua_pop(L, 1);
      schedule_retry(r, "timeout");
      return;
    }
    char *msg = af_asprintf("javascript error: %s", d ? d : "exception");
    lua_pop(L, 1);
    complete(r, AF_PAGE_EFAIL, msg ? msg : "javascript error");
    af_free(msg);
    return;
  }
  lua_pop(L, 1);
  af_json_push(L, m->idx, "result.result");          /* stack: result */
  js_phase_done(r, L, lua_gettop(L));
  lua_pop(L, 1);
}

/* ---- phases ----------------------------------------------------------- */

static void mouse_click(af_page_req *r, af_cdp_cb last_cb);
static void on_mouse_done(af_cdp *c, const af_cdp_msg *m, void *data);

static void set_value_from(af_page_req *r, lua_State *L, int idx, const char *path) {
  af_json_push(L, idx, path);                        /* stack: v */
  size_t n;
  char *v = lua_isnil(L, -1) ? af_strdup("null") : af_json_encode(L, -1, &n);
  lua_pop(L, 1);
  af_free(r->value);
  r->value = v;
}

static const struct keydef {
  const char *key, *code;
  int vk;
  const char *text;
} keys[] = {{"Enter", "Enter", 13, "\r"},   {"Tab", "Tab", 9, NULL},
            {"Escape", "Escape", 27, NULL}, {"Backspace", "Backspace", 8, NULL},
            {"Delete", "Delete", 46, NULL}, {"ArrowUp", "ArrowUp", 38, NULL},
            {"ArrowDown", "ArrowDown", 40, NULL},
            {"ArrowLeft", "ArrowLeft", 37, NULL},
            {"ArrowRight", "ArrowRight", 39, NULL}, {"Home", "Home", 36, NULL},
            {"End", "End", 35, NULL},       {"Space", "Space", 32, " "}};

static void send_keys(af_page_req *r) {
  const char *k = r->op;
  char code[16] = "", text[2] = {0, 0};
  const struct keydef *d = NULL;
  int vk = 0;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(keys[i].key, k) == 0) d = &keys[i];
  if (d) {
    snprintf(code, sizeof code, "%s", d->code);
    vk = d->vk;
    if (d->text) text[0] = d->text[0];
  } else {
    char ch = k[0];
    text[0] = ch;
    vk = (ch >= 'a' && ch <= 'z') ? ch - 32 : ch;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
      snprintf(code, sizeof code, "Key%c", ch >= 'a' ? ch - 32 : ch);
    else if (ch >= '0' && ch <= '9')
      snprintf(code, sizeof code, "Digit%c", ch);
  }
  af_buf b;
  af_buf_init(&b);
  for (int up = 0; up < 2; up++) {
    af_buf_reset(&b);
    af_buf_printf(&b, "{\"type\":\"%s\",\"key\":", up ? "keyUp" : text[0] ? "keyDown" : "rawKeyDown");
    af_buf_json_str(&b, k, strlen(k));
    af_buf_puts(&b, ",\"code\":");
    af_buf_json_str(&b, code, strlen(code));
    af_buf_printf(&b, ",\"windowsVirtualKeyCode\":%d", vk);
    if (!up && text[0]) {
      af_buf_puts(&b, ",\"text\":");
      af_buf_json_str(&b, text, 1);
    }
    af_buf_puts(&b, "}");
    if (b.oom) break;
    if (up) send_cmd(r, r->page->session, "Input.dispatchKeyEvent", b.data, on_mouse_done);
    else af_cdp_call(r->page->cdp, r->page->session, "Input.dispatchKeyEvent", b.data, NULL, NULL);
  }
  if (b.oom) fail_oom(r);
  af_buf_free(&b);
}

/* Start walking up the frame chain to turn a frame point into a page point. */
static void offset_step(af_page_req *r) {
  af_frame *f = r->walk;
  if (f == NULL) {
    r->phase = P_MOUSE;
    mouse_click(r, on_mouse_done);
    return;
  }
  af_buf a;
  af_buf_init(&a);
  af_buf_puts(&a, "{\"sel\":");
  af_buf_json_str(&a, f->selector, strlen(f->selector));
  af_buf_printf(&a, ",\"x\":%.2f,\"y\":%.2f}", r->x, r->y);
  r->phase = P_OFFSET;
  if (a.oom) fail_oom(r);
  else eval_js(r, f->parent, "frame_point", a.data, 1, NULL);
  af_buf_free(&a);
}

static void on_describe(af_cdp *c, const af_cdp_msg *m, void *data);

static void js_phase_done(af_page_req *r, lua_State *L, int idx) {
  if (r->phase == P_ELEMENT) { /* by reference: the <iframe> element */
    const char *oid = af_json_str(L, idx, "objectId", NULL);
    if (oid == NULL) {
      schedule_retry(r, "timeout");
      return;
    }
    af_buf b;
    af_buf_init(&b);
    af_buf_puts(&b, "{\"objectId\":");
    af_buf_json_str(&b, oid, strlen(oid));
    af_buf_puts(&b, "}");
    const char *session;
    int ctx;
    r->phase = P_DESCRIBE;
    if (b.oom || frame_target(r->page, r->frame, &session, &ctx) != 0) fail_oom(r);
    else send_cmd(r, session, "DOM.describeNode", b.data, on_describe);
    af_buf_free(&b);
    return;
  }
  int ok = 0;
  af_json_bool(L, idx, "value.ok", &ok);
  if (r->phase == P_VERIFY) {
    if (ok) {
      click_done(r);
    } else if (++r->tries < CLICK_TRIES) {
      r->phase = P_POINT; /* the click went astray: aim again */
      run_phase(r);
    } else {
      complete(r, AF_PAGE_EFAIL, "the click did not reach the element");
    }
    return;
  }
  if (!ok) {
    const char *code = af_json_str(L, idx, "value.code", NULL);
    const char *err = af_json_str(L, idx, "value.error", NULL);
    complete(r, code && strcmp(code, "timeout") == 0 ? AF_PAGE_ETIMEOUT : AF_PAGE_EFAIL,
             err ? err : "page operation failed");
    return;
  }
  switch (r->phase) {
    case P_OFFSET: /* the point, now in the parent frame's viewport */
      af_json_num(L, idx, "value.value.x", &r->x);
      af_json_num(L, idx, "value.value.y", &r->y);
      r->walk = r->walk->parent;
      offset_step(r);
      return;
    case P_POINT:
      af_json_num(L, idx, "value.value.x", &r->x);
      af_json_num(L, idx, "value.value.y", &r->y);
      r->walk = r->frame;
      offset_step(r);
      return;
    case P_FOCUS:
      r->phase = P_KEYS;
      send_keys(r);
      return;
    default:
      set_value_from(r, L, idx, "value.value");
      if (r->value == NULL) fail_oom(r);
      else complete(r, AF_PAGE_OK, NULL);
  }
}

static void mouse_click(af_page_req *r, af_cdp_cb last_cb) {
  static const char *types[] = {"mouseMoved", "mousePressed", "mouseReleased"};
  char params[256];
  for (int i = 0; i < 3; i++) {
    snprintf(params, sizeof params,
             "{\"type\":\"%s\",\"x\":%.2f,\"y\":%.2f,\"button\":\"%s\","
             "\"buttons\":%d,\"clickCount\":%d}",
             types[i], r->x, r->y, i ? "left" : "none", i == 1, i ? 1 : 0);
    if (i < 2) af_cdp_call(r->page->cdp, r->page->session,
                           "Input.dispatchMouseEvent", params, NULL, NULL);
    else send_cmd(r, r->page->session, "Input.dispatchMouseEvent", params, last_cb);
  }
}

static void click_done(af_page_req *r) {
  if (r->kind == K_DOWNLOAD) {
    if (r->phase < P_BEGIN) r->phase = P_BEGIN; /* wait for the browser's events */
    return;
  }
  set_str(&r->value, "true");
  complete(r, AF_PAGE_OK, NULL);
}

static void on_mouse_done(af_cdp *c, const af_cdp_msg *m, void *data) {
  af_page_req *r = data;
  (void)c;
  r->call_id = 0;
  if (m->error) {
    complete(r, AF_PAGE_EFAIL, m->error);
    return;
  }
  if (r->kind == K_PRESS) {
    set_str(&r->value, "true");
    complete(r, AF_PAGE_OK, NULL);
  } else if (r->frame) {
    /* input routed into a frame can be lost (a frame that has just swapped
     * processes): ask the frame whether the click arrived */
    r->phase = P_VERIFY;
    eval_js(r, r->frame, "clicked", "{}", 1, NULL);
  } else {
    click_done(r);
  }
}

static void on_describe(af_cdp *c, const af_cdp_msg *m, void *data) {
  af_page_req *r = data;
  (void)c;
  r->call_id = 0;
  const char *fid = m->error ? NULL : af_json_str(m->L, m->idx, "result.node.frameId", NULL);
  if (fid == NULL) {
    complete(r, AF_PAGE_EFAIL, m->error ? m->error : "the element is not a frame");
    return;
  }
  af_frame *f = af_calloc(1, sizeof *f);
  if (f == NULL || (f->frame_id = af_strdup(fid)) == NULL ||
      (f->selector = af_strdup(r->op)) == NULL) {
    if (f) {
      af_free(f->frame_id);
      af_free(f);
    }
    fail_oom(r);
    return;
  }
  f->parent = r->frame;
  f->next = r->page->frames;
  r->page->frames = f;
  r->frame_out = f;
  set_str(&r->value, "true");
  complete(r, AF_PAGE_OK, NULL);
}

/* ---- navigation ---------------------------------------------------------- */

static void on_navigate(af_cdp *c, const af_cdp_msg *m, void *data) {
  af_page_req *r = data;
  (void)c;
  r->call_id = 0;
  const char *err = m->error ? m->error : af_json_str(m->L, m->idx, "result.errorText", NULL);
  if (err) {
    char *msg = af_asprintf("cannot load %s: %s", r->op, err);
    complete(r, AF_PAGE_EFAIL, msg ? msg : err);
    af_free(msg);
    return;
  }
  const char *loader = af_json_str(m->L, m->idx, "result.loaderId", NULL);
  if (loader == NULL ||
      (r->page->last_load_loader && strcmp(r->page->last_load_loader, loader) == 0)) {
    set_str(&r->value, "true");
    complete(r, AF_PAGE_OK, NULL);
    return;
  }
  set_str(&r->loader, loader);
  r->phase = P_LOAD;
}

/* ---- screenshots ---------------------------------------------------------- */

static void on_screenshot(af_cdp *c, const af_cdp_msg *m, void *data) {
  af_page_req *r = data;
  (void)c;
  r->call_id = 0;
  size_t n = 0;
  const char *b64 = m->error ? NULL : af_json_str(m->L, m->idx, "result.data", &n);
  if (b64 == NULL) {
    complete(r, AF_PAGE_EFAIL, m->error ? m->error : "no screenshot data");
    return;
  }
  unsigned char *png = af_malloc(n / 4 * 3 + 3);
  char *err = NULL;
  if (png == NULL) {
    fail_oom(r);
    return;
  }
  int len = EVP_DecodeBlock(png, (const unsigned char *)b64, (int)n);
  while (len > 0 && n > 0 && b64[--n] == '=') len--; /* strip padding bytes */
  if (len < 0 || af_fs_write(r->path, (char *)png, (size_t)len, &err) != 0) {
    complete(r, AF_PAGE_EFAIL, err ? err : "cannot decode the screenshot");
  } else {
    af_buf b;
    af_buf_init(&b);
    af_buf_json_str(&b, r->path, strlen(r->path));
    r->value = af_buf_steal(&b, NULL);
    if (r->value == NULL) fail_oom(r);
    else complete(r, AF_PAGE_OK, NULL);
  }
  af_free(err);
  af_free(png);
}

/* ---- downloads ------------------------------------------------------------ */

/* Keep a safe base name: no path separators, no leading dots. */
static char *safe_name(const char *name, const char *fallback) {
  const char *base = name ? strrchr(name, '/') : NULL;
  base = base ? base + 1 : name;
  if (base == NULL || *base == '\0') base = fallback;
  while (*base == '.') base++;
  char *s = af_strdup(*base ? base : fallback);
  for (char *q = s; q && *q; q++)
    if (*q == '\\' || (unsigned char)*q < 0x20) *q = '_';
  return s;
}

static void finish_download(af_page_req *r) {
  char *src = af_asprintf("%s/%s", r->page->download_dir, r->guid);
  char *name = safe_name(r->filename, r->guid);
  char *dst = name ? af_asprintf("%s/%s", r->dest_dir, name) : NULL;
  af_buf b;
  af_buf_init(&b);
  if (src == NULL || dst == NULL || af_fs_mkdirs(r->dest_dir) != 0 ||
      rename(src, dst) != 0) {
    complete(r, AF_PAGE_EFAIL, "cannot move the downloaded file into the output directory");
  } else {
    af_buf_puts(&b, "{\"path\":");
    af_buf_json_str(&b, dst, strlen(dst));
    af_buf_puts(&b, ",\"filename\":");
    af_buf_json_str(&b, name, strlen(name));
    af_buf_puts(&b, "}");
    af_free(r->value);
    r->value = af_buf_steal(&b, NULL);
    if (r->value == NULL) fail_oom(r);
    else complete(r, AF_PAGE_OK, NULL);
  }
  af_buf_free(&b);
  af_free(src);
  af_free(name);
  af_free(dst);
}

/* ---- events ---------------------------------------------------------------- */

static void on_event(af_cdp *c, const af_cdp_msg *m, void *data) {
  af_page *p = data;
  lua_State *L = m->L;
  const char *meth = m->method;
  if (m->session == NULL) {
    if (strcmp(meth, "Browser.downloadWillBegin") == 0) {
      const char *frame = af_json_str(L, m->idx, "params.frameId", NULL);
      for (af_page_req *r = p->reqs; r && frame; r = r->next)
        if (r->kind == K_DOWNLOAD && r->guid == NULL &&
            (is_page_frame(p, frame) ||
             (r->frame && strcmp(r->frame->frame_id, frame) == 0))) {
          set_str(&r->guid, af_json_str(L, m->idx, "params.guid", NULL));
          set_str(&r->filename, af_json_str(L, m->idx, "params.suggestedFilename", NULL));
          break;
        }
    } else if (strcmp(meth, "Browser.downloadProgress") == 0) {
      const char *guid = af_json_str(L, m->idx, "params.guid", NULL);
      const char *state = af_json_str(L, m->idx, "params.state", NULL);
      for (af_page_req *r = p->reqs; r && guid && state; r = r->next) {
        if (r->kind != K_DOWNLOAD || r->guid == NULL || strcmp(r->guid, guid) != 0) continue;
        if (strcmp(state, "completed") == 0) finish_download(r);
        else if (strcmp(state, "canceled") == 0)
          complete(r, AF_PAGE_EFAIL, "the download was canceled");
        break;
      }
    }
    return;
  }
  if (!is_page_session(p, m->session)) return;
  if (strcmp(meth, "Runtime.executionContextCreated") == 0) {
    const char *frame = af_json_str(L, m->idx, "params.context.auxData.frameId", NULL);
    int def = 0;
    double id = 0;
    af_json_bool(L, m->idx, "params.context.auxData.isDefault", &def);
    af_json_num(L, m->idx, "params.context.id", &id);
    if (frame && def) {
      ctx_set(p, frame, m->session, (int)id);
      /* a new document: retry waiting operations now, not after RETRY_MS */
      int kick = 0;
      for (af_page_req *r = p->reqs; r; r = r->next)
        if (r->retry_at) {
          r->retry_at = now_ms(p);
          kick = 1;
        }
      if (kick) uv_timer_start(&p->tick, on_tick, 0, 10);
    }
  } else if (strcmp(meth, "Runtime.executionContextDestroyed") == 0) {
    double id = -1;
    af_json_num(L, m->idx, "params.executionContextId", &id);
    ctx_remove_if(p, m->session, (int)id);
  } else if (strcmp(meth, "Runtime.executionContextsCleared") == 0) {
    ctx_remove_if(p, m->session, -1);
  } else if (strcmp(meth, "Page.lifecycleEvent") == 0) {
    const char *name = af_json_str(L, m->idx, "params.name", NULL);
    const char *frame = af_json_str(L, m->idx, "params.frameId", NULL);
    const char *loader = af_json_str(L, m->idx, "params.loaderId", NULL);
    if (!name || strcmp(name, "load") != 0 || !frame || !loader ||
        strcmp(frame, p->target_id) != 0)
      return;
    set_str(&p->last_load_loader, loader);
    for (af_page_req *r = p->reqs; r; r = r->next)
      if (r->kind == K_GOTO && r->phase == P_LOAD && r->loader &&
          strcmp(r->loader, loader) == 0) {
        set_str(&r->value, "true");
        complete(r, AF_PAGE_OK, NULL);
        break;
      }
  } else if (strcmp(meth, "Page.javascriptDialogOpening") == 0) {
    set_str(&p->last_dialog, af_json_str(L, m->idx, "params.message", NULL));
    af_cdp_call(c, m->session, "Page.handleJavaScriptDialog", "{\"accept\":true}", NULL, NULL);
  } else if (strcmp(meth, "Target.attachedToTarget") == 0) {
    const char *sid = af_json_str(L, m->idx, "params.sessionId", NULL);
    child_session *cs = sid ? af_calloc(1, sizeof *cs) : NULL;
    if (cs == NULL || (cs->id = af_strdup(sid)) == NULL) {
      af_free(cs);
      return;
    }
    cs->next = p->children;
    p->children = cs;
    af_cdp_call(c, sid, "Runtime.enable", NULL, NULL, NULL);
    af_cdp_call(c, sid, "Page.enable", NULL, NULL, NULL);
    af_cdp_call(c, sid, "Target.setAutoAttach",
                "{\"autoAttach\":true,\"waitForDebuggerOnStart\":false,\"flatten\":true}",
                NULL, NULL);
    af_cdp_call(c, sid, "Runtime.runIfWaitingForDebugger", NULL, NULL, NULL);
  } else if (strcmp(meth, "Target.detachedFromTarget") == 0) {
    const char *sid = af_json_str(L, m->idx, "params.sessionId", NULL);
    for (child_session **pc = &p->children; sid && *pc; pc = &(*pc)->next)
      if (strcmp((*pc)->id, sid) == 0) {
        child_session *dead = *pc;
        *pc = dead->next;
        ctx_remove_if(p, dead->id, -1);
        af_free(dead->id);
        af_free(dead);
        break;
      }
  }
}

/* ---- the tick: retries and deadlines -------------------------------------- */

static void on_tick(uv_timer_t *t) {
  af_page *p = t->data;
  uint64_t now = now_ms(p);
  if (p->reqs == NULL) {
    uv_timer_stop(t);
    return;
  }
  /* complete() unlinks r; restart the scan after each completion */
  for (int again = 1; again;) {
    again = 0;
    for (af_page_req *r = p->reqs; r; r = r->next) {
      if (r->retry_at && now >= r->retry_at) {
        r->retry_at = 0;
        run_phase(r);
        again = 1;
        break;
      }
      int waiting = r->call_id == 0 && r->retry_at == 0;
      if (now > r->deadline + (waiting ? 0 : GRACE_MS)) {
        if (r->call_id) af_cdp_forget(p->cdp, r->call_id);
        complete(r, AF_PAGE_ETIMEOUT, r->kind == K_DOWNLOAD ? "no download started"
                                      : r->kind == K_GOTO ? "the page did not finish loading"
                                      : "timeout");
        again = 1;
        break;
      }
    }
  }
}

/* ---- starting and re-running phases -------------------------------------- */

static char *selector_args(const char *sel) {
  af_buf b;
  af_buf_init(&b);
  af_buf_puts(&b, "{\"sel\":");
  af_buf_json_str(&b, sel, strlen(sel));
  af_buf_puts(&b, "}");
  return af_buf_steal(&b, NULL);
}

static void on_eval_user(af_cdp *c, const af_cdp_msg *m, void *data);

static void run_phase(af_page_req *r) {
  af_page *p = r->page;
  switch (r->kind) {
    case K_GOTO: {
      af_buf b;
      af_buf_init(&b);
      af_buf_puts(&b, "{\"url\":");
      af_buf_json_str(&b, r->op, strlen(r->op));
      af_buf_puts(&b, "}");
      if (b.oom) fail_oom(r);
      else send_cmd(r, p->session, "Page.navigate", b.data, on_navigate);
      af_buf_free(&b);
      return;
    }
    case K_JS:
      eval_js(r, r->frame, r->op, r->args, 1, NULL);
      return;
    case K_CLICK:
    case K_DOWNLOAD:
      if (r->phase == P_OFFSET) offset_step(r);
      else if (r->phase <= P_POINT) {
        r->phase = P_POINT;
        eval_js(r, r->frame, "point", r->frame ? r->armed_args : r->args, 1, NULL);
      }
      return;
    case K_PRESS:
      r->phase = P_FOCUS;
      eval_js(r, r->frame, "focus", r->args, 1, NULL);
      return;
    case K_FRAME: /* by reference: the element itself, not a copy */
      r->phase = P_ELEMENT;
      eval_js(r, r->frame, "element", r->args, 0, ".then(r => r.ok ? r.value : null)");
      return;
    case K_EVAL: {
      const char *session;
      int ctx;
      if (frame_target(p, r->frame, &session, &ctx) != 0) {
        schedule_retry(r, "the frame has no document yet");
        return;
      }
      af_buf b;
      af_buf_init(&b);
      af_buf_puts(&b, "{\"expression\":");
      af_buf_json_str(&b, r->op, strlen(r->op));
      af_buf_puts(&b, ",\"awaitPromise\":true,\"returnByValue\":true");
      if (ctx > 0) af_buf_printf(&b, ",\"contextId\":%d", ctx);
      af_buf_puts(&b, "}");
      if (b.oom) fail_oom(r);
      else send_cmd(r, session, "Runtime.evaluate", b.data, on_eval_user);
      af_buf_free(&b);
      return;
    }
    case K_SHOT:
      send_cmd(r, p->session, "Page.captureScreenshot", "{\"format\":\"png\"}", on_screenshot);
      return;
  }
}

static void on_eval_user(af_cdp *c, const af_cdp_msg *m, void *data) {
  af_page_req *r = data;
  (void)c;
  r->call_id = 0;
  if (m->error) {
    if (transient(m->error)) schedule_retry(r, "timeout");
    else complete(r, AF_PAGE_EFAIL, m->error);
    return;
  }
  lua_State *L = m->L;
  if (af_json_push(L, m->idx, "result.exceptionDetails") == LUA_TTABLE) {
    const char *d = af_json_str(L, -1, "exception.description", NULL);
    if (d == NULL) d = af_json_str(L, -1, "text", NULL);
    char *msg = af_asprintf("javascript error: %s", d ? d : "exception");
    lua_pop(L, 1);
    if (transient(d)) schedule_retry(r, "timeout");
    else complete(r, AF_PAGE_EFAIL, msg ? msg : "javascript error");
    af_free(msg);
    return;
  }
  lua_pop(L, 1);
  set_value_from(r, L, m->idx, "result.result.value");
  if (r->value == NULL) fail_oom(r);
  else complete(r, AF_PAGE_OK, NULL);
}

static int begin(af_page_req *r) {
  af_page *p = r->page;
  if (!uv_is_active((uv_handle_t *)&p->tick)) uv_timer_start(&p->tick, on_tick, 10, 10);
  run_phase(r);
  return 0;
}

int af_page_navigate(af_page_req *r, af_page *p, const char *url, int timeout_ms,
                 af_page_cb cb) {
  start_req(r, p, NULL, K_GOTO, timeout_ms > 0 ? timeout_ms : 30000, cb);
  if ((r->op = af_strdup(url)) == NULL) return unlink_req(r), -1;
  return begin(r);
}

int af_page_js(af_page_req *r, af_page *p, af_frame *f, const char *op,
               const char *args_json, int timeout_ms, af_page_cb cb) {
  start_req(r, p, f, K_JS, timeout_ms, cb);
  r->op = af_strdup(op);
  r->args = af_strdup(args_json ? args_json : "{}");
  if (r->op == NULL || r->args == NULL) return unlink_req(r), -1;
  return begin(r);
}

/* {"sel": ..., "arm": true}: point() installs the click check. */
static char *armed_args(const char *sel) {
  af_buf b;
  af_buf_init(&b);
  af_buf_puts(&b, "{\"arm\":true,\"sel\":");
  af_buf_json_str(&b, sel, strlen(sel));
  af_buf_puts(&b, "}");
  return af_buf_steal(&b, NULL);
}

int af_page_click(af_page_req *r, af_page *p, af_frame *f, const char *sel,
                  int timeout_ms, af_page_cb cb) {
  start_req(r, p, f, K_CLICK, timeout_ms, cb);
  r->args = selector_args(sel);
  r->armed_args = armed_args(sel);
  if (r->args == NULL || r->armed_args == NULL) return unlink_req(r), -1;
  return begin(r);
}

int af_page_press(af_page_req *r, af_page *p, af_frame *f, const char *sel,
                  const char *key, int timeout_ms, af_page_cb cb) {
  start_req(r, p, f, K_PRESS, timeout_ms, cb);
  r->args = selector_args(sel);
  r->op = af_strdup(key);
  if (r->args == NULL || r->op == NULL) return unlink_req(r), -1;
  return begin(r);
}

int af_page_eval(af_page_req *r, af_page *p, af_frame *f, const char *expr,
                 int timeout_ms, af_page_cb cb) {
  start_req(r, p, f, K_EVAL, timeout_ms, cb);
  if ((r->op = af_strdup(expr)) == NULL) return unlink_req(r), -1;
  return begin(r);
}

int af_page_screenshot(af_page_req *r, af_page *p, const char *path,
                       int timeout_ms, af_page_cb cb) {
  start_req(r, p, NULL, K_SHOT, timeout_ms, cb);
  if ((r->path = af_strdup(path)) == NULL) return unlink_req(r), -1;
  return begin(r);
}

int af_page_download(af_page_req *r, af_page *p, af_frame *f, const char *sel,
                     const char *dest_dir, int timeout_ms, af_page_cb cb) {
  start_req(r, p, f, K_DOWNLOAD, timeout_ms > 0 ? timeout_ms : 30000, cb);
  r->args = selector_args(sel);
  r->armed_args = armed_args(sel);
  r->dest_dir = af_strdup(dest_dir);
  if (r->args == NULL || r->armed_args == NULL || r->dest_dir == NULL)
    return unlink_req(r), -1;
  return begin(r);
}

int af_page_frame(af_page_req *r, af_page *p, af_frame *f, const char *sel,
                  int timeout_ms, af_page_cb cb) {
  start_req(r, p, f, K_FRAME, timeout_ms, cb);
  af_buf b;
  af_buf_init(&b);
  af_buf_puts(&b, "{\"sel\":");
  af_buf_json_str(&b, sel, strlen(sel));
  af_buf_puts(&b, "}");
  r->args = af_buf_steal(&b, NULL);
  r->op = af_strdup(sel);
  if (r->args == NULL || r->op == NULL) return unlink_req(r), -1;
  return begin(r);
}

void af_page_req_cleanup(af_page_req *r) {
  if (r->active && r->page) {
    if (r->call_id) af_cdp_forget(r->page->cdp, r->call_id);
    unlink_req(r);
  }
  char **strs[] = {&r->error, &r->value, &r->op, &r->args, &r->armed_args, &r->expr,
                   &r->loader, &r->path, &r->dest_dir, &r->guid, &r->filename};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
    af_free(*strs[i]);
    *strs[i] = NULL;
  }
}

/* ---- opening and closing --------------------------------------------------- */

static void open_step(af_cdp *c, const af_cdp_msg *m, void *data);

static void open_fail(af_page *p, const char *err) {
  af_page_open_cb cb = p->open_cb;
  p->open_cb = NULL;
  p->open_call = 0;
  if (cb) cb(NULL, err, p->open_data);
  af_page_close(p);
}

static void open_step(af_cdp *c, const af_cdp_msg *m, void *data) {
  af_page *p = data;
  af_buf b;
  af_buf_init(&b);
  if (m && m->error) {
    char *msg = af_asprintf("cannot open a browser tab: %s", m->error);
    open_fail(p, msg ? msg : "cannot open a browser tab");
    af_free(msg);
    goto done;
  }
  switch (p->open_step++) {
    case 0:
      p->open_call = af_cdp_call(c, NULL, "Target.createBrowserContext",
                                 "{\"disposeOnDetach\":true}", open_step, p);
      break;
    case 1:
      set_str(&p->context_id, af_json_str(m->L, m->idx, "result.browserContextId", NULL));
      af_buf_puts(&b, "{\"behavior\":\"allowAndName\",\"eventsEnabled\":true,"
                      "\"browserContextId\":");
      af_buf_json_str(&b, p->context_id ? p->context_id : "", p->context_id ? strlen(p->context_id) : 0);
      af_buf_puts(&b, ",\"downloadPath\":");
      af_buf_json_str(&b, p->download_dir, strlen(p->download_dir));
      af_buf_puts(&b, "}");
      p->open_call = af_cdp_call(c, NULL, "Browser.setDownloadBehavior", b.data, open_step, p);
      break;
    case 2:
      af_buf_puts(&b, "{\"url\":\"about:blank\",\"browserContextId\":");
      af_buf_json_str(&b, p->context_id, strlen(p->context_id));
      af_buf_puts(&b, "}");
      p->open_call = af_cdp_call(c, NULL, "Target.createTarget", b.data, open_step, p);
      break;
    case 3:
      set_str(&p->target_id, af_json_str(m->L, m->idx, "result.targetId", NULL));
      af_buf_puts(&b, "{\"flatten\":true,\"targetId\":");
      af_buf_json_str(&b, p->target_id ? p->target_id : "", p->target_id ? strlen(p->target_id) : 0);
      af_buf_puts(&b, "}");
      p->open_call = af_cdp_call(c, NULL, "Target.attachToTarget", b.data, open_step, p);
      break;
    case 4: {
      set_str(&p->session, af_json_str(m->L, m->idx, "result.sessionId", NULL));
      const char *s = p->session;
      af_cdp_call(c, s, "Page.enable", NULL, NULL, NULL);
      af_cdp_call(c, s, "Page.setLifecycleEventsEnabled", "{\"enabled\":true}", NULL, NULL);
      af_cdp_call(c, s, "Runtime.enable", NULL, NULL, NULL);
      p->open_call = af_cdp_call(
          c, s, "Target.setAutoAttach",
          "{\"autoAttach\":true,\"waitForDebuggerOnStart\":false,\"flatten\":true}",
          open_step, p);
      break;
    }
    default: {
      af_page_open_cb cb = p->open_cb;
      p->open_cb = NULL;
      p->open_call = 0;
      cb(p, NULL, p->open_data);
      goto done;
    }
  }
  if (b.oom || p->open_call < 0) open_fail(p, b.oom ? "out of memory" : "the browser connection is closed");
done:
  af_buf_free(&b);
}

int af_page_open(af_browser *b, const char *download_dir, af_page_open_cb cb,
                 void *data) {
  af_cdp *c = af_browser_cdp(b);
  af_page *p = af_calloc(1, sizeof *p);
  if (p == NULL || c == NULL) {
    af_free(p);
    return -1;
  }
  p->browser = b;
  p->cdp = c;
  p->open_cb = cb;
  p->open_data = data;
  p->download_dir = af_strdup(download_dir);
  uv_timer_init(af_browser_loop(b), &p->tick);
  p->tick.data = p;
  p->listen_handle = af_cdp_listen(c, on_event, p);
  if (p->download_dir == NULL || p->listen_handle < 0) {
    p->open_cb = NULL;
    af_page_close(p);
    return -1;
  }
  open_step(c, NULL, p);
  return 0;
}

const char *af_page_last_dialog(af_page *p) { return p->last_dialog; }
const char *af_page_session(const af_page *p) { return p->session; }
const char *af_page_target(const af_page *p) { return p->target_id; }

static void on_tick_closed(uv_handle_t *h) {
  af_page *p = h->data;
  while (p->frames) {
    af_frame *f = p->frames;
    p->frames = f->next;
    af_free(f->selector);
    af_free(f->frame_id);
    af_free(f);
  }
  while (p->children) {
    child_session *cs = p->children;
    p->children = cs->next;
    af_free(cs->id);
    af_free(cs);
  }
  while (p->ctxs) {
    ctx_entry *e = p->ctxs;
    p->ctxs = e->next;
    af_free(e->frame_id);
    af_free(e->session);
    af_free(e);
  }
  char *strs[] = {p->context_id, p->target_id, p->session, p->download_dir,
                  p->last_load_loader, p->last_dialog};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) af_free(strs[i]);
  af_free(p);
}

void af_page_close(af_page *p) {
  if (p->closing) return;
  p->closing = 1;
  while (p->reqs) {
    af_page_req *r = p->reqs;
    if (r->call_id) af_cdp_forget(p->cdp, r->call_id);
    unlink_req(r);
  }
  if (p->open_call > 0) af_cdp_forget(p->cdp, p->open_call);
  af_cdp_unlisten(p->cdp, p->listen_handle);
  af_buf b;
  af_buf_init(&b);
  if (p->target_id) {
    af_buf_puts(&b, "{\"targetId\":");
    af_buf_json_str(&b, p->target_id, strlen(p->target_id));
    af_buf_puts(&b, "}");
    if (!b.oom) af_cdp_call(p->cdp, NULL, "Target.closeTarget", b.data, NULL, NULL);
  }
  if (p->context_id) {
    af_buf_reset(&b);
    af_buf_puts(&b, "{\"browserContextId\":");
    af_buf_json_str(&b, p->context_id, strlen(p->context_id));
    af_buf_puts(&b, "}");
    if (!b.oom) af_cdp_call(p->cdp, NULL, "Target.disposeBrowserContext", b.data, NULL, NULL);
  }
  af_buf_free(&b);
  uv_timer_stop(&p->tick);
  uv_close((uv_handle_t *)&p->tick, on_tick_closed);
}
