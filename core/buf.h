/*
 * buf.h -- growable byte buffer, used to build JSON messages and files.
 * A buffer that failed an allocation stays failed (oom set) and ignores
 * further appends, so callers check once at the end.
 */
#ifndef AF_BUF_H
#define AF_BUF_H

#include <stddef.h>

typedef struct af_buf {
  char *data; /* NUL-terminated when len > 0; owned */
  size_t len;
  size_t cap;
  int oom;    /* read-only: an append failed */
} af_buf;

void af_buf_init(af_buf *b);
void af_buf_free(af_buf *b);
void af_buf_reset(af_buf *b);
int af_buf_append(af_buf *b, const char *s, size_t n);
int af_buf_puts(af_buf *b, const char *s);
int af_buf_printf(af_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included. */
int af_buf_json_str(af_buf *b, const char *s, size_t n);
/* Take ownership of the contents; the buffer is left empty. */
char *af_buf_steal(af_buf *b, size_t *len);

#endif
