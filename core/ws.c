/*
 * ws.c -- the WebSocket transport: libwebsockets client connections on the
 * process's libuv loop (foreign loop), message reassembly and a send queue.
 * Relies on transport.h for the interface it implements.
 */
#include "ws.h"

#include <libwebsockets.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

typedef struct ws_msg {
  struct ws_msg *next;
  size_t len;
  unsigned char bytes[]; /* LWS_PRE headroom, then the payload */
} ws_msg;

typedef struct af_ws {
  af_transport t; /* must be first: the transport handed out */
  struct lws *wsi;
  af_ws_open_cb on_open;
  void *open_arg;
  af_buf rx;             /* message being reassembled */
  ws_msg *head, *tail;   /* send queue */
  int open, closing, notified;
  int in_connect; /* inside lws_client_connect_via_info: errors return */
} af_ws;

static struct lws_context *context;
static int destroying;

static void notify_close(af_ws *ws, const char *reason) {
  if (ws->notified) return;
  ws->notified = 1;
  if (!ws->open) {
    if (!ws->in_connect) ws->on_open(NULL, reason, ws->open_arg);
  } else if (ws->t.on_close) {
    ws->t.on_close(&ws->t, reason);
  }
}

static void ws_destroy(af_ws *ws) {
  for (ws_msg *m = ws->head, *n; m; m = n) {
    n = m->next;
    af_free(m);
  }
  af_buf_free(&ws->rx);
  af_free(ws);
}

static int ws_send(af_transport *t, const char *msg, size_t len) {
  af_ws *ws = (af_ws *)t;
  if (!ws->open || ws->closing) return -1;
  ws_msg *m = af_malloc(sizeof *m + LWS_PRE + len);
  if (m == NULL) return -1;
  m->next = NULL;
  m->len = len;
  memcpy(m->bytes + LWS_PRE, msg, len);
  if (ws->tail) ws->tail->next = m; else ws->head = m;
  ws->tail = m;
  lws_callback_on_writable(ws->wsi);
  return 0;
}

static void ws_close(af_transport *t) {
  af_ws *ws = (af_ws *)t;
  if (ws->closing) return;
  ws->closing = 1;
  if (ws->wsi) lws_callback_on_writable(ws->wsi);
}

static const af_transport_vtbl ws_vtbl = {ws_send, ws_close};

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len) {
  af_ws *ws = user;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      ws->open = 1;
      ws->on_open(&ws->t, NULL, ws->open_arg);
      break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (lws_is_first_fragment(wsi)) af_buf_reset(&ws->rx);
      af_buf_append(&ws->rx, in, len);
      if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
        if (ws->rx.oom) return -1;
        if (ws->t.on_message && !ws->closing)
          ws->t.on_message(&ws->t, ws->rx.data ? ws->rx.data : "", ws->rx.len);
        af_buf_reset(&ws->rx);
      }
      break;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
      if (ws->closing) return -1; /* closes the connection */
      ws_msg *m = ws->head;
      if (m == NULL) break;
      ws->head = m->next;
      if (ws->head == NULL) ws->tail = NULL;
      int n = lws_write(wsi, m->bytes + LWS_PRE, m->len, LWS_WRITE_TEXT);
      af_free(m);
      if (n < 0) return -1;
      if (ws->head) lws_callback_on_writable(wsi);
      break;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      notify_close(ws, in ? (const char *)in : "connection error");
      break;
    case LWS_CALLBACK_CLIENT_CLOSED:
      notify_close(ws, "connection closed");
      break;
    case LWS_CALLBACK_WSI_DESTROY:
      if (ws) {
        notify_close(ws, "connection closed");
        ws_destroy(ws);
      }
      break;
    default:
      break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {
    {"af-ws", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static int ensure_context(uv_loop_t *loop) {
  if (context) return 0;
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  static void *loops[1];
  loops[0] = loop;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.foreign_loops = loops;
  info.fd_limit_per_thread = 1024;
  lws_set_log_level(LLL_ERR, NULL);
  context = lws_create_context(&info);
  return context ? 0 : -1;
}

int af_ws_connect(uv_loop_t *loop, const char *url, af_ws_open_cb on_open,
                  void *arg, char **err) {
  int rc = -1;
  char *copy = af_strdup(url);
  af_ws *ws = af_calloc(1, sizeof *ws);
  const char *proto, *address, *path;
  int port;
  if (copy == NULL || ws == NULL) {
    *err = af_strdup("out of memory");
    goto done;
  }
  if (lws_parse_uri(copy, &proto, &address, &port, &path) != 0 ||
      (strcmp(proto, "ws") != 0 && strcmp(proto, "wss") != 0)) {
    *err = af_asprintf("not a ws:// or wss:// URL: %s", url);
    goto done;
  }
  if (ensure_context(loop) != 0) {
    *err = af_strdup("cannot create the libwebsockets context (libuv event lib)");
    goto done;
  }
  char fullpath[2048];
  snprintf(fullpath, sizeof fullpath, "/%s", path);
  ws->t.vt = &ws_vtbl;
  ws->on_open = on_open;
  ws->open_arg = arg;
  af_buf_init(&ws->rx);

  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = context;
  ci.address = address;
  ci.port = port;
  ci.path = fullpath;
  ci.host = address;
  ci.origin = NULL; /* Chromium refuses the upgrade when Origin is sent */
  ci.ssl_connection = strcmp(proto, "wss") == 0 ? LCCSCF_USE_SSL : 0;
  ci.protocol = NULL;
  ci.local_protocol_name = "af-ws";
  ci.userdata = ws;
  ci.pwsi = &ws->wsi;
  ws->in_connect = 1;
  struct lws *wsi = lws_client_connect_via_info(&ci);
  if (wsi == NULL) {
    /* lws freed ws through WSI_DESTROY if it had made a wsi; else it leaks
     * a few bytes rather than risk a double free */
    ws = NULL;
    *err = af_asprintf("cannot connect to %s", url);
    goto done;
  }
  ws->in_connect = 0;
  ws = NULL; /* owned by lws now, freed on WSI_DESTROY */
  rc = 0;
done:
  if (ws) ws_destroy(ws);
  af_free(copy);
  return rc;
}

/* On a foreign loop lws frees the context in two stages: the first call
 * closes its connections and handles; once the loop has run their close
 * callbacks, the second call frees the rest (its SSL contexts among it). */
void af_ws_shutdown(void) {
  if (context == NULL) return;
  if (!destroying) {
    destroying = 1;
    lws_context_destroy(context);
  } else {
    lws_context_destroy(context);
    context = NULL;
    destroying = 0;
  }
}
