/*
 * cdp.c -- the CDP client: frames commands as JSON with ids, matches
 * replies to callbacks, fans events out to listeners. Messages are decoded
 * with lua-cjson (json.c) on a private lua_State.
 */
#include "cdp.h"

#include <lauxlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "json.h"

typedef struct pending {
  struct pending *next;
  int id;
  af_cdp_cb cb;
  void *data;
} pending;

typedef struct listener {
  struct listener *next;
  int handle;
  af_cdp_cb cb;
  void *data;
  int removed;
} listener;

struct af_cdp {
  af_transport *t;     /* owned; NULL once closed */
  lua_State *L;        /* decoding arena */
  int next_id;
  int next_handle;
  pending *pending;
  listener *listeners;
  int dispatching;     /* listeners removed while dispatching are reaped later */
  af_buf out;
  af_cdp_tap tap;
  void *tap_data;
  void (*close_cb)(af_cdp *, const char *, void *);
  void *close_data;
};

static void fail_all(af_cdp *c, const char *reason) {
  af_cdp_msg m = {c->L, 0, NULL, 0, NULL, NULL, reason};
  while (c->pending) {
    pending *p = c->pending;
    c->pending = p->next;
    if (p->cb) p->cb(c, &m, p->data);
    af_free(p);
  }
}

static void reap_listeners(af_cdp *c) {
  for (listener **pl = &c->listeners; *pl;) {
    if ((*pl)->removed) {
      listener *dead = *pl;
      *pl = dead->next;
      af_free(dead);
    } else {
      pl = &(*pl)->next;
    }
  }
}

static void on_message(af_transport *t, const char *raw, size_t len) {
  af_cdp *c = t->data;
  lua_State *L = c->L;
  int top = lua_gettop(L);
  if (c->tap) c->tap(raw, len, '<', c->tap_data);
  if (af_json_decode(L, raw, len) != 0 || !lua_istable(L, -1)) goto done;
  /* stack: msg */
  af_cdp_msg m = {L, lua_gettop(L), raw, len, NULL, NULL, NULL};
  m.session = af_json_str(L, m.idx, "sessionId", NULL);
  double id;
  if (af_json_num(L, m.idx, "id", &id) == 0) {
    for (pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
      if ((*pp)->id != (int)id) continue;
      pending *p = *pp;
      *pp = p->next;
      m.error = af_json_str(L, m.idx, "error.message", NULL);
      if (m.error == NULL && af_json_push(L, m.idx, "error") != LUA_TNIL)
        m.error = "CDP error";
      lua_settop(L, m.idx);
      if (p->cb) p->cb(c, &m, p->data);
      af_free(p);
      break;
    }
  } else if ((m.method = af_json_str(L, m.idx, "method", NULL)) != NULL) {
    c->dispatching++;
    for (listener *l = c->listeners; l; l = l->next)
      if (!l->removed) l->cb(c, &m, l->data);
    if (--c->dispatching == 0) reap_listeners(c);
  }
done:
  lua_settop(L, top);
}

static void on_transport_close(af_transport *t, const char *reason) {
  af_cdp *c = t->data;
  c->t = NULL; /* the transport frees itself after this callback */
  fail_all(c, reason ? reason : "connection closed");
  if (c->close_cb) c->close_cb(c, reason, c->close_data);
}

af_cdp *af_cdp_new(af_transport *t) {
  af_cdp *c = af_calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->L = luaL_newstate();
  if (c->L == NULL) {
    af_free(c);
    return NULL;
  }
  af_json_open(c->L);
  af_buf_init(&c->out);
  c->t = t;
  c->next_id = 1;
  c->next_handle = 1;
  t->data = c;
  t->on_message = on_message;
  t->on_close = on_transport_close;
  return c;
}

int af_cdp_call(af_cdp *c, const char *session, const char *method,
                const char *params, af_cdp_cb cb, void *data) {
  if (c->t == NULL) return -1;
  pending *p = af_malloc(sizeof *p);
  if (p == NULL) return -1;
  int id = c->next_id++;
  af_buf *b = &c->out;
  af_buf_reset(b);
  af_buf_printf(b, "{\"id\":%d,", id);
  if (session) {
    af_buf_puts(b, "\"sessionId\":");
    af_buf_json_str(b, session, strlen(session));
    af_buf_puts(b, ",");
  }
  af_buf_puts(b, "\"method\":");
  af_buf_json_str(b, method, strlen(method));
  af_buf_puts(b, ",\"params\":");
  af_buf_puts(b, params ? params : "{}");
  af_buf_puts(b, "}");
  if (b->oom) {
    af_free(p);
    af_buf_free(b);
    return -1;
  }
  if (c->tap) c->tap(b->data, b->len, '>', c->tap_data);
  if (af_transport_send(c->t, b->data, b->len) != 0) {
    af_free(p);
    return -1;
  }
  p->id = id;
  p->cb = cb;
  p->data = data;
  p->next = c->pending;
  c->pending = p;
  return id;
}

void af_cdp_forget(af_cdp *c, int id) {
  for (pending *p = c->pending; p; p = p->next)
    if (p->id == id) p->cb = NULL;
}

int af_cdp_listen(af_cdp *c, af_cdp_cb cb, void *data) {
  listener *l = af_calloc(1, sizeof *l);
  if (l == NULL) return -1;
  l->handle = c->next_handle++;
  l->cb = cb;
  l->data = data;
  l->next = c->listeners;
  c->listeners = l;
  return l->handle;
}

void af_cdp_unlisten(af_cdp *c, int handle) {
  for (listener *l = c->listeners; l; l = l->next)
    if (l->handle == handle) l->removed = 1;
  if (c->dispatching == 0) reap_listeners(c);
}

void af_cdp_set_tap(af_cdp *c, af_cdp_tap tap, void *data) {
  c->tap = tap;
  c->tap_data = data;
}

void af_cdp_on_close(af_cdp *c,
                     void (*cb)(af_cdp *, const char *, void *), void *data) {
  c->close_cb = cb;
  c->close_data = data;
}

int af_cdp_is_open(const af_cdp *c) { return c->t != NULL; }

void af_cdp_free(af_cdp *c) {
  if (c == NULL) return;
  if (c->t) {
    af_transport *t = c->t;
    c->t = NULL;
    t->on_message = NULL;
    t->on_close = NULL;
    af_transport_close(t);
  }
  c->close_cb = NULL;
  fail_all(c, "connection closed");
  for (listener *l = c->listeners; l; l->removed = 1, l = l->next) {}
  reap_listeners(c);
  af_buf_free(&c->out);
  lua_close(c->L);
  af_free(c);
}
