/*
 * test_cfdi_oom.c -- every allocation in validation and verification made
 * to fail in turn: the call reports out-of-memory, frees what it took (ASan
 * checks leaks) and succeeds once allocations succeed again.
 */
#include <stdlib.h>

#include "alloc.h"
#include "cfdi.h"
#include "test.h"

static int budget;
static void *lim_malloc(size_t n) { return budget-- > 0 ? malloc(n) : NULL; }
static void *lim_calloc(size_t n, size_t s) { return budget-- > 0 ? calloc(n, s) : NULL; }
static void *lim_realloc(void *p, size_t n) { return budget-- > 0 ? realloc(p, n) : NULL; }

static void limit(int n) {
  static const af_allocator a = {lim_malloc, lim_calloc, lim_realloc, free};
  budget = n;
  af_alloc_set(&a);
}

TEST(cfdi_oom_every_allocation) {
  /* many issues, a moral name with capital: most allocation sites run */
  af_cfdi_profile p = {"ACO0102034H7", "Abarrotes, S.A. de C.V.", "605", "640", "D01", "x"};
  af_cfdi_ticket t = {"", "1.234", "2026-02-30", NULL};
  int validated = 0, verified = 0;
  for (int n = 0; n < 400 && !(validated && verified); n++) {
    af_cfdi_report r;
    af_cfdi_report_init(&r);
    limit(n);
    int rc = af_cfdi_validate(&p, &t, &r);
    af_alloc_reset();
    if (rc >= 0) {
      ASSERT_INT_EQ(rc, 6);
      validated = 1;
    } else {
      ASSERT(r.oom);
    }
    af_cfdi_report_free(&r);

    af_cfdi_verify v;
    char *err = NULL;
    af_cfdi_profile other = {"LOPM921130K79", "Otro Nombre", "601", "01000", "G01", NULL};
    limit(n);
    rc = af_cfdi_verify_xml(AF_SOURCE_DIR "/tests/fixtures/cfdi/fisica.xml", &other, &t,
                            &v, &err);
    af_alloc_reset();
    if (rc == 0) {
      ASSERT_INT_EQ(v.mismatches.errors, 6);
      ASSERT_NOT_NULL(v.uuid);
      verified = 1;
      af_cfdi_verify_free(&v);
    } else {
      ASSERT_NULL(v.uuid);
      ASSERT_INT_EQ(v.mismatches.n, 0);
    }
    af_free(err);
  }
  ASSERT(validated && verified);
  return 0;
}
