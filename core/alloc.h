/*
 * alloc.h -- the allocator every core module goes through.
 * A swappable table (as hiredis' alloc.h) so tests can inject failures.
 */
#ifndef AF_ALLOC_H
#define AF_ALLOC_H

#include <stddef.h>

typedef struct af_allocator {
  void *(*malloc_fn)(size_t);
  void *(*calloc_fn)(size_t, size_t);
  void *(*realloc_fn)(void *, size_t);
  void (*free_fn)(void *);
} af_allocator;

/* Replace the allocator; returns the previous one. */
af_allocator af_alloc_set(const af_allocator *a);
void af_alloc_reset(void);

void *af_malloc(size_t n);
void *af_calloc(size_t n, size_t size);
void *af_realloc(void *p, size_t n);
void af_free(void *p);
char *af_strdup(const char *s);
char *af_strndup(const char *s, size_t n);
/* printf into a fresh string; NULL on allocation failure. */
char *af_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
