/*
 * test_cassette.c -- placeholders in cassettes, and what a malformed
 * cassette is told.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "alloc.h"
#include "cassette.h"
#include "test.h"

TEST(cassette_placeholders) {
  char *err = NULL;
  char path[] = "/tmp/af-cassette-XXXXXX";
  close(mkstemp(path));
  af_cassette *c = af_cassette_create(path, &err);
  ASSERT_NOT_NULL(c);
  ASSERT_INT_EQ(af_cassette_secret(c, "profile.rfc", "ROVL850312HJ5"), 0);
  ASSERT_INT_EQ(af_cassette_secret(c, "profile.full_name", "Laura Romero"), 0);
  ASSERT_INT_EQ(af_cassette_secret(c, "x", "ab"), 0); /* too short: ignored */
  ASSERT_INT_EQ(af_cassette_browser_dir(c, "/tmp/af-browser-123"), 0);
  const char *msg = "{\"v\":\"ROVL850312HJ5 Laura Romero LAURA ROMERO ab\","
                    "\"p\":\"/tmp/af-browser-123/downloads\",\"e\":\"f(1,/*t*/2950)\"}";
  size_t n;
  char *norm = af_cassette_normalize(c, msg, strlen(msg), &n);
  ASSERT_STR_EQ(norm, "{\"v\":\"{{profile.rfc}} {{profile.full_name}} "
                      "{{upper:profile.full_name}} ab\",\"p\":\"{{browser.dir}}/downloads\","
                      "\"e\":\"f(1,/*t*/)\"}");
  ASSERT_INT_EQ(n, strlen(norm));
  af_free(norm);
  ASSERT_INT_EQ(af_cassette_close(c, &err), 0);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  unlink(path);
  return 0;
}

static char *load_error(const char *text) {
  char path[] = "/tmp/af-cassette-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
  close(fd);
  char *meta = NULL, *err = NULL;
  af_cassette *c = af_cassette_load(path, &meta, &err);
  if (c) {
    af_cassette_close(c, NULL);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  }
  af_free(meta);
  unlink(path);
  if (err) {
    char *colon = strchr(err, ':'); /* drop the temporary path */
    char *tail = af_strdup(colon ? colon + 1 : err);
    af_free(err);
    return tail;
  }
  return NULL;
}

TEST(cassette_load_errors) {
  char *e = load_error("hello\n");
  ASSERT_STR_CONTAINS(e, "not an autofactura cassette");
  af_free(e);
  e = load_error("# autofactura cassette v1\nmeta {}\n> 1 {}\n! 2 {}\n");
  ASSERT_STR_CONTAINS(e, "4: expected '> MS {json}'");
  af_free(e);
  e = load_error("# autofactura cassette v1\n> 1 {}\n");
  ASSERT_STR_CONTAINS(e, "no meta line");
  af_free(e);
  ASSERT_NULL(load_error("# autofactura cassette v1\nmeta {\"url\":\"x\"}\n> 0 {}\n< 3 {}\n"));
  return 0;
}
