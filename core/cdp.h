/*
 * cdp.h -- Chrome DevTools Protocol client over an af_transport:
 * commands with ids and callbacks, events to listeners, flattened target
 * sessions (a sessionId on each command and event).
 */
#ifndef AF_CDP_H
#define AF_CDP_H

#include <lua.h>
#include <stddef.h>

#include "transport.h"

typedef struct af_cdp af_cdp;

/* A decoded message, valid only during the callback. */
typedef struct af_cdp_msg {
  lua_State *L;        /* the message table sits at index idx of L */
  int idx;
  const char *raw;     /* the JSON text (NULL for transport errors) */
  size_t len;
  const char *session; /* sessionId, or NULL for the browser target */
  const char *method;  /* events only */
  const char *error;   /* command failed: CDP error.message or transport */
} af_cdp_msg;

typedef void (*af_cdp_cb)(af_cdp *c, const af_cdp_msg *m, void *data);

/* Observes every message in both directions (recording). dir: '>' sent,
 * '<' received. */
typedef void (*af_cdp_tap)(const char *raw, size_t len, char dir, void *data);

/* Take ownership of t. Never fails except on allocation (NULL). */
af_cdp *af_cdp_new(af_transport *t);

/* Send method with params (a JSON object text, or NULL for {}) on session
 * (NULL: browser). cb (may be NULL) runs once with the reply or an error.
 * Returns the command id (> 0) or -1 if the connection is gone. */
int af_cdp_call(af_cdp *c, const char *session, const char *method,
                const char *params, af_cdp_cb cb, void *data);

/* Forget a pending command: its callback will not run. */
void af_cdp_forget(af_cdp *c, int id);

/* Listen to every event (filter by m->method and m->session). Returns a
 * handle for af_cdp_unlisten. */
int af_cdp_listen(af_cdp *c, af_cdp_cb cb, void *data);
void af_cdp_unlisten(af_cdp *c, int handle);

void af_cdp_set_tap(af_cdp *c, af_cdp_tap tap, void *data);

/* Called when the transport closes: pending commands fail first. */
void af_cdp_on_close(af_cdp *c, void (*cb)(af_cdp *c, const char *reason,
                                            void *data), void *data);
int af_cdp_is_open(const af_cdp *c);

/* Close the transport, fail pending commands, free c. */
void af_cdp_free(af_cdp *c);

#endif
