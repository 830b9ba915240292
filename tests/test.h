/*
 * test.h -- typed assertions and the TEST() declaration for the C unit tests.
 * Each test runs in its own process (runner.c), so a failed assertion just
 * prints both sides and exits that process.
 */
#ifndef AF_TEST_H
#define AF_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST(name) int test_##name(void)

#define AF__FAIL(...)                                                       \
  do {                                                                      \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                       \
    fprintf(stderr, __VA_ARGS__);                                           \
    fputc('\n', stderr);                                                    \
    exit(1);                                                                \
  } while (0)

#define ASSERT(expr)                                                        \
  do { if (!(expr)) AF__FAIL("assertion failed: %s", #expr); } while (0)

#define ASSERT_INT_EQ(a, b)                                                 \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ != b_) AF__FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);      \
  } while (0)

#define ASSERT_INT_GE(a, b)                                                 \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ < b_) AF__FAIL("%s >= %s: %lld < %lld", #a, #b, a_, b_);        \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                 \
  do {                                                                      \
    const char *a_ = (a), *b_ = (b);                                        \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                    \
      AF__FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",  \
               b_ ? b_ : "(null)");                                         \
  } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                    \
  do {                                                                      \
    const char *h_ = (hay), *n_ = (needle);                                 \
    if (h_ == NULL || strstr(h_, n_) == NULL)                               \
      AF__FAIL("%s contains \"%s\": got \"%s\"", #hay, n_,                  \
               h_ ? h_ : "(null)");                                         \
  } while (0)

#define ASSERT_NULL(p)     ASSERT((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT((p) != NULL)

#endif
