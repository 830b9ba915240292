/*
 * cassette.c -- recording a task's CDP session to a cassette, and the
 * replay transport that stands in for the browser (cassette.h, transport.h).
 * Placeholders keep secrets, temporary paths and page.js out of the file.
 */
#define _GNU_SOURCE /* memmem */
#include "cassette.h"

#include <ctype.h>
#include <stddef.h>
#include <lauxlib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "fsutil.h"
#include "json.h"
#include "page_js.h"

#define HEADER "# autofactura cassette v1"
#define MAX_CASSETTE (256u << 20)

typedef struct placeholder {
  char *token; /* "{{profile.rfc}}" */
  char *value;
} placeholder;

typedef struct line {
  char kind;  /* '>', '<', '=' */
  uint64_t ms;
  char *payload;
  size_t len;
  int lineno;
} line;

struct af_cassette {
  placeholder *ph;
  size_t nph;
  char *page_js;          /* page.js as it appears inside a JSON string */
  lua_State *L;           /* JSON work for key-based redaction */
  /* recording */
  FILE *f;
  char *path, *browser_dir;
  uv_loop_t *loop;
  uint64_t t0;
  int write_error;
  int cookie_ids[64];     /* commands that read cookies: their replies go */
  size_t ncookie_ids;
  /* replay */
  af_transport t;
  line *lines;
  size_t nlines, cursor;
  uv_timer_t deliver;
  int timer_ready, delivering, diverged, lenient, closed;
  uint64_t now;
  af_replay_divergence_cb div_cb;
  void *div_data;
  char *text;             /* the loaded file; lines point into it */
};

/* ---- placeholders ---------------------------------------------------------- */

static char *replace_all(const char *s, size_t n, const char *needle, const char *repl,
                         size_t *out_n) {
  size_t nl = strlen(needle);
  af_buf b;
  af_buf_init(&b);
  const char *p = s, *end = s + n;
  while (p < end) {
    const char *hit = nl ? memmem(p, (size_t)(end - p), needle, nl) : NULL;
    if (hit == NULL) {
      af_buf_append(&b, p, (size_t)(end - p));
      break;
    }
    af_buf_append(&b, p, (size_t)(hit - p));
    af_buf_puts(&b, repl);
    p = hit + nl;
  }
  if (b.oom) {
    af_buf_free(&b);
    return NULL;
  }
  return af_buf_steal(&b, out_n);
}

static int add_placeholder(af_cassette *c, const char *token, const char *value) {
  placeholder *ph = af_realloc(c->ph, (c->nph + 1) * sizeof *ph);
  if (ph == NULL) return -1;
  c->ph = ph;
  ph[c->nph].token = af_strdup(token);
  ph[c->nph].value = af_strdup(value);
  if (ph[c->nph].token == NULL || ph[c->nph].value == NULL) {
    af_free(ph[c->nph].token);
    af_free(ph[c->nph].value);
    return -1;
  }
  c->nph++;
  /* longest values first, so a value inside another is never cut */
  for (size_t i = c->nph - 1; i > 0 && strlen(ph[i].value) > strlen(ph[i - 1].value); i--) {
    placeholder tmp = ph[i];
    ph[i] = ph[i - 1];
    ph[i - 1] = tmp;
  }
  return 0;
}

int af_cassette_secret(af_cassette *c, const char *name, const char *value) {
  if (value == NULL || strlen(value) < 3) return 0;
  char token[96], upper_token[104];
  snprintf(token, sizeof token, "{{%s}}", name);
  snprintf(upper_token, sizeof upper_token, "{{upper:%s}}", name);
  char *up = af_strdup(value);
  if (up == NULL) return -1;
  for (char *q = up; *q; q++) *q = (char)toupper((unsigned char)*q);
  int rc = add_placeholder(c, token, value);
  if (rc == 0 && strcmp(up, value) != 0) rc = add_placeholder(c, upper_token, up);
  af_free(up);
  return rc;
}

int af_cassette_browser_dir(af_cassette *c, const char *dir) {
  af_free(c->browser_dir);
  c->browser_dir = af_strdup(dir);
  return c->browser_dir ? add_placeholder(c, "{{browser.dir}}", dir) : -1;
}

/* The time left that page.c passes to page.js (after the marker below)
 * depends on the clock: keep the marker, drop the digits. */
static void drop_time_left(char *s, size_t *n) {
  static const char mark[] = "/*t*/";
  char *p = s, *end = s + *n;
  while ((p = memmem(p, (size_t)(end - p), mark, sizeof mark - 1)) != NULL) {
    p += sizeof mark - 1;
    char *q = p;
    while (q < end && *q >= '0' && *q <= '9') q++;
    memmove(p, q, (size_t)(end - q) + 1);
    end -= q - p;
  }
  *n = (size_t)(end - s);
}

char *af_cassette_normalize(const af_cassette *c, const char *s, size_t n, size_t *out_n) {
  char *cur = replace_all(s, n, c->page_js, "{{page.js}}", &n);
  if (cur) drop_time_left(cur, &n);
  for (size_t i = 0; cur && i < c->nph; i++) {
    char *next = replace_all(cur, n, c->ph[i].value, c->ph[i].token, &n);
    af_free(cur);
    cur = next;
  }
  if (cur && out_n) *out_n = n;
  return cur;
}

/* The reverse, for what the replay hands to the runtime. */
static char *denormalize(const af_cassette *c, const char *s, size_t n, size_t *out_n) {
  char *cur = af_strndup(s, n);
  for (size_t i = 0; cur && i < c->nph; i++) {
    if (memmem(cur, n, "{{", 2) == NULL) break;
    char *next = replace_all(cur, n, c->ph[i].token, c->ph[i].value, &n);
    af_free(cur);
    cur = next;
  }
  if (cur && out_n) *out_n = n;
  return cur;
}

static af_cassette *cassette_new(void) {
  af_cassette *c = af_calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  af_buf b;
  af_buf_init(&b);
  af_buf_json_str(&b, AF_PAGE_JS, strlen(AF_PAGE_JS));
  c->page_js = b.oom || b.len < 2 ? NULL : af_strndup(b.data + 1, b.len - 2);
  af_buf_free(&b);
  c->L = luaL_newstate();
  if (c->page_js == NULL || c->L == NULL) {
    af_free(c->page_js);
    if (c->L) lua_close(c->L);
    af_free(c);
    return NULL;
  }
  af_json_open(c->L);
  return c;
}

/* ---- recording ------------------------------------------------------------ */

af_cassette *af_cassette_create(const char *path, char **err) {
  af_cassette *c = cassette_new();
  if (c == NULL) {
    *err = af_strdup("out of memory");
    return NULL;
  }
  c->path = af_strdup(path);
  c->f = fopen(path, "w");
  if (c->f == NULL || c->path == NULL) {
    *err = af_asprintf("cannot write the cassette %s", path);
    af_cassette_close(c, NULL);
    return NULL;
  }
  fputs(HEADER "\n", c->f);
  return c;
}

/* Keys whose string values never reach a cassette. */
static int sensitive_key(const char *k) {
  static const char *const words[] = {"cookie", "token", "authorization", "password",
                                      "secret", NULL};
  for (const char *const *w = words; *w; w++) {
    size_t n = strlen(*w);
    for (const char *p = k; *p; p++)
      if (strncasecmp(p, *w, n) == 0) return 1;
  }
  return 0;
}

static void scrub_table(lua_State *L, int idx, int depth) {
  if (depth > 64) return;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);                                      /* stack: key */
  while (lua_next(L, idx)) {                           /* stack: key, value */
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING &&
        sensitive_key(lua_tostring(L, -2))) {
      lua_pushvalue(L, -2);
      lua_pushliteral(L, "[redacted]");
      lua_rawset(L, idx);
    } else if (lua_istable(L, -1)) {
      scrub_table(L, -1, depth + 1);
    }
    lua_pop(L, 1);                                     /* stack: key */
  }
}

/* A message with cookie- or token-like keys is decoded and scrubbed. */
static char *scrub_keys(af_cassette *c, const char *s, size_t n, size_t *out_n) {
  int suspicious = 0;
  static const char *const hints[] = {"ookie", "oken", "uthorization", "assword", "ecret", NULL};
  for (const char *const *h = hints; *h && !suspicious; h++)
    suspicious = memmem(s, n, *h, strlen(*h)) != NULL;
  if (!suspicious || af_json_decode(c->L, s, n) != 0 || !lua_istable(c->L, -1)) {
    if (suspicious) lua_pop(c->L, 1);
    *out_n = n;
    return af_strndup(s, n);
  }
  scrub_table(c->L, -1, 0);
  char *out = af_json_encode(c->L, -1, out_n);
  lua_pop(c->L, 1);
  return out;
}

static void write_record(af_cassette *c, char kind, const char *payload, size_t n) {
  uint64_t ms = uv_now(c->loop) - c->t0;
  if (fprintf(c->f, "%c %llu ", kind, (unsigned long long)ms) < 0 ||
      fwrite(payload, 1, n, c->f) != n || fputc('\n', c->f) == EOF)
    c->write_error = 1;
}

/* Before the event that says a download completed: the file itself. */
static void record_download(af_cassette *c, const char *raw, size_t len) {
  if (memmem(raw, len, "Browser.downloadProgress", 24) == NULL ||
      memmem(raw, len, "\"completed\"", 11) == NULL || c->browser_dir == NULL)
    return;
  lua_State *L = c->L;
  if (af_json_decode(L, raw, len) != 0) {
    lua_pop(L, 1);
    return;
  }
  const char *guid = af_json_str(L, -1, "params.guid", NULL);
  char *path = guid ? af_asprintf("%s/downloads/%s", c->browser_dir, guid) : NULL;
  char *err = NULL;
  size_t n = 0, nn = 0;
  char *data = path ? af_fs_read(path, 64u << 20, &n, &err) : NULL;
  char *norm = data ? af_cassette_normalize(c, data, n, &nn) : NULL;
  unsigned char *b64 = norm ? af_malloc(4 * ((nn + 2) / 3) + 1) : NULL;
  if (b64) {
    EVP_EncodeBlock(b64, (const unsigned char *)norm, (int)nn);
    char *rec = af_asprintf("%s %s", guid, (char *)b64);
    if (rec) write_record(c, '=', rec, strlen(rec));
    af_free(rec);
  }
  af_free(b64);
  af_free(norm);
  af_free(data);
  af_free(err);
  af_free(path);
  lua_pop(L, 1);
}

/* The id of a command or reply: the number after {"id": (our own framing,
 * and Chromium's, put it first). 0 if none. */
static int message_id(const char *raw, size_t len) {
  return len > 6 && strncmp(raw, "{\"id\":", 6) == 0 ? atoi(raw + 6) : 0;
}

/* A script that reads document.cookie gets cookie values back: the reply
 * to such a command is recorded without its result. */
static char *scrub_cookie_reply(af_cassette *c, char dir, const char *raw, size_t len,
                                size_t *out_n) {
  int id = message_id(raw, len);
  if (dir == '>' && id && memmem(raw, len, "cookie", 6) && c->ncookie_ids < 64)
    c->cookie_ids[c->ncookie_ids++] = id;
  for (size_t i = 0; dir == '<' && id && i < c->ncookie_ids; i++)
    if (c->cookie_ids[i] == id) {
      c->cookie_ids[i] = c->cookie_ids[--c->ncookie_ids];
      const char *sess = memmem(raw, len, "\"sessionId\":", 12);
      char *out = af_asprintf("{\"id\":%d,\"result\":{\"result\":{\"type\":\"string\","
                              "\"value\":\"[redacted]\"}}%s%.*s}", id, sess ? "," : "",
                              sess ? (int)strcspn(sess, ",}") : 0, sess ? sess : "");
      if (out) *out_n = strlen(out);
      return out;
    }
  return NULL;
}

static void on_tap(const char *raw, size_t len, char dir, void *data) {
  af_cassette *c = data;
  if (c->f == NULL) return;
  if (dir == '<') record_download(c, raw, len);
  size_t n1 = 0, n2 = 0;
  char *cookieless = scrub_cookie_reply(c, dir, raw, len, &n1);
  if (cookieless) {
    raw = cookieless;
    len = n1;
  }
  /* commands are our own framing (secrets in them are placeholders); what
   * the browser sends may carry cookies or tokens under their own keys */
  char *scrubbed = dir == '<' ? scrub_keys(c, raw, len, &n1) : af_strndup(raw, n1 = len);
  af_free(cookieless);
  char *norm = scrubbed ? af_cassette_normalize(c, scrubbed, n1, &n2) : NULL;
  if (norm) {
    for (size_t i = 0; i < n2; i++)
      if (norm[i] == '\n') norm[i] = ' '; /* one record per line */
    write_record(c, dir, norm, n2);
  } else {
    c->write_error = 1;
  }
  af_free(norm);
  af_free(scrubbed);
}

int af_cassette_write_meta(af_cassette *c, const char *json, const char *profile) {
  size_t n;
  char *norm = af_cassette_normalize(c, json, strlen(json), &n);
  if (norm == NULL || n < 2 || norm[n - 1] != '}') {
    af_free(norm);
    return -1;
  }
  norm[n - 1] = '\0'; /* reopen the object for the profile */
  int rc = fprintf(c->f, "meta %s,\"profile\":%s}\n", norm, profile) < 0 ? -1 : 0;
  af_free(norm);
  return rc;
}

void af_cassette_attach(af_cassette *c, af_cdp *cdp, uv_loop_t *loop) {
  c->loop = loop;
  c->t0 = uv_now(loop);
  af_cdp_set_tap(cdp, on_tap, c);
}

/* ---- replay ---------------------------------------------------------------- */

af_cassette *af_cassette_load(const char *path, char **meta, char **err) {
  af_cassette *c = cassette_new();
  size_t n = 0;
  *meta = NULL;
  if (c == NULL) {
    *err = af_strdup("out of memory");
    return NULL;
  }
  if ((c->text = af_fs_read(path, MAX_CASSETTE, &n, err)) == NULL) goto fail;
  char *p = c->text;
  int lineno = 0;
  while (*p) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    lineno++;
    if (lineno == 1 && strcmp(p, HEADER) != 0) {
      *err = af_asprintf("%s: not an autofactura cassette (line 1 must be \"%s\")", path, HEADER);
      goto fail;
    }
    if (*p == '\0' || *p == '#') {
      /* blank lines and comments */
    } else if (strncmp(p, "meta ", 5) == 0) {
      *meta = af_strdup(p + 5);
    } else {
      char *rest;
      unsigned long long ms = (p[0] && p[1] == ' ') ? strtoull(p + 2, &rest, 10) : 0;
      if (!(p[0] == '>' || p[0] == '<' || p[0] == '=') || p[1] != ' ' || *rest != ' ') {
        *err = af_asprintf("%s:%d: expected '> MS {json}', '< MS {json}' or '= MS GUID DATA'",
                           path, lineno);
        goto fail;
      }
      line *l = af_realloc(c->lines, (c->nlines + 1) * sizeof *l);
      if (l == NULL) goto oom;
      c->lines = l;
      l[c->nlines++] = (line){p[0], ms, rest + 1, strlen(rest + 1), lineno};
    }
    if (nl == NULL) break;
    p = nl + 1;
  }
  if (*meta == NULL) {
    *err = af_asprintf("%s: no meta line", path);
    goto fail;
  }
  return c;
oom:
  *err = af_strdup("out of memory");
fail:
  af_free(*meta);
  *meta = NULL;
  af_cassette_close(c, NULL);
  return NULL;
}

uint64_t af_cassette_now(const af_cassette *c) { return c->now; }
void af_cassette_lenient(af_cassette *c) { c->lenient = 1; }

static void diverge(af_cassette *c, const char *sent) {
  c->diverged = 1;
  line *l = c->cursor < c->nlines ? &c->lines[c->cursor] : NULL;
  af_divergence d = {l ? l->lineno : 0, l && l->kind == '>' ? l->payload : NULL, sent};
  if (c->div_cb) c->div_cb(&d, c->div_data);
}

/* Write a recorded download where the page expects it. */
static void replay_download(af_cassette *c, const line *l) {
  const char *sp = memchr(l->payload, ' ', l->len);
  if (sp == NULL || c->browser_dir == NULL) return;
  char *guid = af_strndup(l->payload, (size_t)(sp - l->payload));
  size_t b64n = l->len - (size_t)(sp + 1 - l->payload);
  unsigned char *raw = af_malloc(b64n / 4 * 3 + 3);
  int n = raw ? EVP_DecodeBlock(raw, (const unsigned char *)sp + 1, (int)b64n) : -1;
  for (size_t k = b64n; n > 0 && k > 0 && sp[k] == '='; k--) n--; /* padding */
  size_t dn = 0;
  char *data = n >= 0 ? denormalize(c, (char *)raw, (size_t)n, &dn) : NULL;
  char *path = guid ? af_asprintf("%s/downloads/%s", c->browser_dir, guid) : NULL;
  char *err = NULL;
  if (data && path) af_fs_write(path, data, dn, &err);
  af_free(err);
  af_free(path);
  af_free(data);
  af_free(raw);
  af_free(guid);
}

/* Hand over recorded replies and events up to the next command. */
static void deliver(af_cassette *c) {
  if (c->delivering) return;
  c->delivering = 1;
  while (!c->diverged && !c->closed && c->cursor < c->nlines &&
         c->lines[c->cursor].kind != '>') {
    line *l = &c->lines[c->cursor++];
    c->now = l->ms;
    if (l->kind == '=') {
      replay_download(c, l);
      continue;
    }
    size_t n;
    char *msg = denormalize(c, l->payload, l->len, &n);
    if (msg && c->t.on_message) c->t.on_message(&c->t, msg, n);
    af_free(msg);
  }
  c->delivering = 0;
}

static void on_deliver(uv_timer_t *t) { deliver(t->data); }

static int replay_send(af_transport *t, const char *msg, size_t len) {
  af_cassette *c = (af_cassette *)((char *)t - offsetof(af_cassette, t));
  if (c->closed) return -1;
  if (c->lenient || c->diverged) return 0;
  size_t n;
  char *norm = af_cassette_normalize(c, msg, len, &n);
  if (norm == NULL) return -1;
  line *l = c->cursor < c->nlines ? &c->lines[c->cursor] : NULL;
  if (l == NULL || l->kind != '>' || l->len != n || memcmp(l->payload, norm, n) != 0) {
    diverge(c, norm);
  } else {
    c->cursor++;
    c->now = l->ms;
    /* answer on the next loop turn: the client registers its callback
     * only after send returns */
    if (!c->delivering) uv_timer_start(&c->deliver, on_deliver, 0, 0);
  }
  af_free(norm);
  return 0;
}

static void replay_close(af_transport *t) {
  af_cassette *c = (af_cassette *)((char *)t - offsetof(af_cassette, t));
  c->lenient = 1;
}

static const af_transport_vtbl replay_vtbl = {replay_send, replay_close};

af_transport *af_cassette_transport(af_cassette *c, uv_loop_t *loop,
                                    af_replay_divergence_cb cb, void *data) {
  c->t.vt = &replay_vtbl;
  c->div_cb = cb;
  c->div_data = data;
  c->loop = loop;
  uv_timer_init(loop, &c->deliver);
  c->deliver.data = c;
  c->timer_ready = 1;
  return &c->t;
}

/* ---- closing ------------------------------------------------------------------ */

static void free_cassette(af_cassette *c) {
  for (size_t i = 0; i < c->nph; i++) {
    af_free(c->ph[i].token);
    af_free(c->ph[i].value);
  }
  af_free(c->ph);
  af_free(c->page_js);
  af_free(c->path);
  af_free(c->browser_dir);
  af_free(c->lines);
  af_free(c->text);
  lua_close(c->L);
  af_free(c);
}

static void on_timer_closed(uv_handle_t *h) { free_cassette(h->data); }

int af_cassette_close(af_cassette *c, char **err) {
  if (c == NULL) return 0;
  int rc = 0;
  if (c->f) {
    if (fclose(c->f) != 0) c->write_error = 1;
    c->f = NULL;
    if (c->write_error) {
      rc = -1;
      if (err) *err = af_asprintf("could not write all of the cassette %s", c->path);
    }
  }
  c->closed = 1;
  if (c->timer_ready) uv_close((uv_handle_t *)&c->deliver, on_timer_closed);
  else free_cassette(c);
  return rc;
}
