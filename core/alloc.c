/*
 * alloc.c -- the swappable allocator table behind af_malloc and friends.
 */
#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static af_allocator current = {malloc, calloc, realloc, free};

af_allocator af_alloc_set(const af_allocator *a) {
  af_allocator old = current;
  current = *a;
  return old;
}

void af_alloc_reset(void) {
  current = (af_allocator){malloc, calloc, realloc, free};
}

void *af_malloc(size_t n) { return current.malloc_fn(n); }
void *af_calloc(size_t n, size_t size) { return current.calloc_fn(n, size); }
void *af_realloc(void *p, size_t n) { return current.realloc_fn(p, n); }
void af_free(void *p) { current.free_fn(p); }

char *af_strndup(const char *s, size_t n) {
  char *d = af_malloc(n + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *af_strdup(const char *s) { return s ? af_strndup(s, strlen(s)) : NULL; }

char *af_asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = af_malloc((size_t)n + 1);
  if (s == NULL) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}
