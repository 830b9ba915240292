/*
 * test_cdp.c -- CDP framing and dispatch over an in-memory transport:
 * ids, replies, errors, events with sessions, forget, close.
 */
#include <string.h>

#include "alloc.h"
#include "cdp.h"
#include "json.h"
#include "test.h"

typedef struct mem_transport {
  af_transport t;
  char sent[8][512];
  int nsent, closed;
} mem_transport;

static int mem_send(af_transport *t, const char *m, size_t n) {
  mem_transport *mt = (mem_transport *)t;
  if (mt->closed || mt->nsent == 8 || n >= 512) return -1;
  memcpy(mt->sent[mt->nsent], m, n);
  mt->sent[mt->nsent++][n] = '\0';
  return 0;
}

static void mem_close(af_transport *t) { ((mem_transport *)t)->closed = 1; }
static const af_transport_vtbl mem_vtbl = {mem_send, mem_close};

static void deliver(mem_transport *mt, const char *json) {
  mt->t.on_message(&mt->t, json, strlen(json));
}

typedef struct seen {
  int calls;
  char value[64], error[64], session[64], method[64];
} seen;

static void on_reply(af_cdp *c, const af_cdp_msg *m, void *data) {
  seen *s = data;
  (void)c;
  s->calls++;
  snprintf(s->error, sizeof s->error, "%s", m->error ? m->error : "");
  const char *v = m->raw ? af_json_str(m->L, m->idx, "result.value", NULL) : NULL;
  snprintf(s->value, sizeof s->value, "%s", v ? v : "");
}

static void on_event(af_cdp *c, const af_cdp_msg *m, void *data) {
  seen *s = data;
  (void)c;
  s->calls++;
  snprintf(s->method, sizeof s->method, "%s", m->method);
  snprintf(s->session, sizeof s->session, "%s", m->session ? m->session : "");
}

TEST(cdp_frames_commands) {
  mem_transport mt = {{&mem_vtbl, NULL, NULL, NULL}, {{0}}, 0, 0};
  af_cdp *c = af_cdp_new(&mt.t);
  ASSERT_INT_EQ(af_cdp_call(c, NULL, "Browser.getVersion", NULL, NULL, NULL), 1);
  ASSERT_INT_EQ(af_cdp_call(c, "S1", "Runtime.evaluate", "{\"expression\":\"1\"}", NULL,
                            NULL), 2);
  ASSERT_STR_EQ(mt.sent[0], "{\"id\":1,\"method\":\"Browser.getVersion\",\"params\":{}}");
  ASSERT_STR_EQ(mt.sent[1], "{\"id\":2,\"sessionId\":\"S1\",\"method\":\"Runtime.evaluate\","
                            "\"params\":{\"expression\":\"1\"}}");
  af_cdp_free(c);
  ASSERT(mt.closed);
  return 0;
}

TEST(cdp_dispatches_replies_by_id) {
  mem_transport mt = {{&mem_vtbl, NULL, NULL, NULL}, {{0}}, 0, 0};
  af_cdp *c = af_cdp_new(&mt.t);
  seen a = {0}, b = {0};
  int ia = af_cdp_call(c, NULL, "A.a", NULL, on_reply, &a);
  int ib = af_cdp_call(c, NULL, "B.b", NULL, on_reply, &b);
  char msg[128];
  snprintf(msg, sizeof msg, "{\"id\":%d,\"result\":{\"value\":\"second\"}}", ib);
  deliver(&mt, msg);
  snprintf(msg, sizeof msg, "{\"id\":%d,\"error\":{\"code\":-32000,\"message\":\"nope\"}}", ia);
  deliver(&mt, msg);
  deliver(&mt, msg); /* a duplicate reply is ignored */
  deliver(&mt, "not json at all");
  ASSERT_INT_EQ(a.calls, 1);
  ASSERT_INT_EQ(b.calls, 1);
  ASSERT_STR_EQ(b.value, "second");
  ASSERT_STR_EQ(b.error, "");
  ASSERT_STR_EQ(a.error, "nope");
  af_cdp_free(c);
  return 0;
}

TEST(cdp_events_sessions_forget_close) {
  mem_transport mt = {{&mem_vtbl, NULL, NULL, NULL}, {{0}}, 0, 0};
  af_cdp *c = af_cdp_new(&mt.t);
  seen ev = {0}, forgotten = {0}, pending = {0};
  int h = af_cdp_listen(c, on_event, &ev);
  deliver(&mt, "{\"method\":\"Page.loadEventFired\",\"sessionId\":\"S9\",\"params\":{}}");
  ASSERT_INT_EQ(ev.calls, 1);
  ASSERT_STR_EQ(ev.method, "Page.loadEventFired");
  ASSERT_STR_EQ(ev.session, "S9");
  af_cdp_unlisten(c, h);
  deliver(&mt, "{\"method\":\"Page.frameNavigated\",\"params\":{}}");
  ASSERT_INT_EQ(ev.calls, 1);

  int id = af_cdp_call(c, NULL, "X.x", NULL, on_reply, &forgotten);
  af_cdp_forget(c, id);
  char msg[64];
  snprintf(msg, sizeof msg, "{\"id\":%d,\"result\":{}}", id);
  deliver(&mt, msg);
  ASSERT_INT_EQ(forgotten.calls, 0);

  af_cdp_call(c, NULL, "Y.y", NULL, on_reply, &pending);
  mt.t.on_close(&mt.t, "gone");           /* the transport dies */
  ASSERT_INT_EQ(pending.calls, 1);
  ASSERT_STR_EQ(pending.error, "gone");
  ASSERT(!af_cdp_is_open(c));
  ASSERT_INT_EQ(af_cdp_call(c, NULL, "Z.z", NULL, on_reply, &pending), -1);
  af_cdp_free(c);
  return 0;
}
