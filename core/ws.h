/*
 * ws.h -- WebSocket client transport on libwebsockets, driven by the
 * process's libuv loop (one lws context per process, created on first use).
 */
#ifndef AF_WS_H
#define AF_WS_H

#include <uv.h>

#include "transport.h"

typedef void (*af_ws_open_cb)(af_transport *t, const char *err, void *arg);

/* Connect to a ws:// or wss:// URL. on_open runs once: with the transport,
 * or with NULL and an error. Returns -1 (and *err) if it cannot start. */
int af_ws_connect(uv_loop_t *loop, const char *url, af_ws_open_cb on_open,
                  void *arg, char **err);

/* Destroy the process's lws context in two calls: the first closes its
 * connections and handles; run the loop until they have closed, then call
 * it again to free the rest. */
void af_ws_shutdown(void);

#endif
