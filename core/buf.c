/*
 * buf.c -- growable byte buffer and JSON string escaping.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

void af_buf_init(af_buf *b) { memset(b, 0, sizeof *b); }

void af_buf_free(af_buf *b) {
  af_free(b->data);
  af_buf_init(b);
}

void af_buf_reset(af_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

static int grow(af_buf *b, size_t extra) {
  if (b->oom) return -1;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = af_realloc(b->data, cap);
  if (p == NULL) {
    b->oom = 1;
    return -1;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

int af_buf_append(af_buf *b, const char *s, size_t n) {
  if (grow(b, n) != 0) return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int af_buf_puts(af_buf *b, const char *s) { return af_buf_append(b, s, strlen(s)); }

int af_buf_printf(af_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || grow(b, (size_t)n) != 0) return -1;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

int af_buf_json_str(af_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (grow(b, n + 2) != 0) return -1;
  af_buf_append(b, "\"", 1);
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    af_buf_append(b, s + start, i - start);
    start = i + 1;
    switch (c) {
      case '"': af_buf_append(b, "\\\"", 2); break;
      case '\\': af_buf_append(b, "\\\\", 2); break;
      case '\n': af_buf_append(b, "\\n", 2); break;
      case '\r': af_buf_append(b, "\\r", 2); break;
      case '\t': af_buf_append(b, "\\t", 2); break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        af_buf_append(b, esc, 6);
      }
    }
  }
  af_buf_append(b, s + start, n - start);
  return af_buf_append(b, "\"", 1);
}

char *af_buf_steal(af_buf *b, size_t *len) {
  char *d = b->data;
  if (len) *len = b->len;
  if (d == NULL && !b->oom) d = af_calloc(1, 1);
  af_buf_init(b);
  return d;
}
