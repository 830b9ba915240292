/*
 * transport.h -- the message pipe a CDP client talks through.
 * A live WebSocket (ws.c) or a recorded cassette can stand behind it.
 */
#ifndef AF_TRANSPORT_H
#define AF_TRANSPORT_H

#include <stddef.h>

typedef struct af_transport af_transport;

typedef struct af_transport_vtbl {
  /* Queue one text message; 0, or -1 when the transport is closed. */
  int (*send)(af_transport *t, const char *msg, size_t len);
  /* Start closing; on_close runs later, after which t is freed. */
  void (*close)(af_transport *t);
} af_transport_vtbl;

struct af_transport {
  const af_transport_vtbl *vt; /* private */
  /* Set by the owner (the CDP client) before any message arrives. */
  void (*on_message)(af_transport *t, const char *msg, size_t len);
  void (*on_close)(af_transport *t, const char *reason);
  void *data; /* user slot */
};

static inline int af_transport_send(af_transport *t, const char *m, size_t n) {
  return t->vt->send(t, m, n);
}
static inline void af_transport_close(af_transport *t) { t->vt->close(t); }

#endif
