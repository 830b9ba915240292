/*
 * test_cfdi_validate.c -- profile and ticket validation: every issue at
 * once, each naming its field and rule, no RFC value in any message; the C
 * and the Lua-table entry points.
 */
#include <lauxlib.h>
#include <string.h>

#include "alloc.h"
#include "cfdi.h"
#include "json.h"
#include "test.h"

static const af_cfdi_profile FISICA = {"PEGJ850312QR3", "Juan Pérez Gómez", "612",
                                       "06600", "G03", "juan@example.com"};
static const af_cfdi_profile MORAL = {"ACO0102034H6", "Abarrotes del Norte", "601",
                                      "64000", "G01", "compras@example.com"};
static const af_cfdi_ticket TICKET = {"102938", "1160.00", "2026-11-20", "Despensa"};

/* The issue of that severity on field whose message holds text, or NULL. */
static const af_cfdi_issue *find(const af_cfdi_report *r, int severity,
                                 const char *field, const char *text) {
  for (size_t i = 0; i < r->n; i++)
    if (r->items[i].severity == severity && strcmp(r->items[i].field, field) == 0 &&
        strstr(r->items[i].message, text))
      return &r->items[i];
  return NULL;
}

static void no_rfc_in(const af_cfdi_report *r, const char *rfc) {
  for (size_t i = 0; i < r->n; i++)
    if (rfc && *rfc && strstr(r->items[i].message, rfc))
      AF__FAIL("message leaks the RFC: %s", r->items[i].message);
}

TEST(cfdi_validate_clean_profiles) {
  af_cfdi_report r;
  af_cfdi_report_init(&r);
  ASSERT_INT_EQ(af_cfdi_validate(&FISICA, &TICKET, &r), 0);
  ASSERT_INT_EQ(af_cfdi_validate(&MORAL, NULL, &r), 0);
  ASSERT_INT_EQ(r.n, 0);
  af_cfdi_report_free(&r);
  return 0;
}

/* One field changed per case; the expected issue, on both sides of each
 * person-type and régimen↔uso rule. */
TEST(cfdi_validate_each_rule) {
  static const struct {
    int moral; const char *field, *value; int severity; const char *issue_field, *text;
  } cases[] = {
      {0, "rfc", "PEGJ851332QR3", AF_CFDI_ERROR, "profile.rfc", "real calendar date"},
      {0, "rfc", "PEGJ850312QR4", AF_CFDI_WARNING, "profile.rfc", "check digit"},
      {0, "rfc", "XAXX010101000", AF_CFDI_ERROR, "profile.rfc", "generic RFC"},
      {0, "rfc", "XEXX010101000", AF_CFDI_ERROR, "profile.rfc", "generic RFC"},
      {0, "rfc", "", AF_CFDI_ERROR, "profile.rfc", "is required"},
      {0, "fiscal_regime", "601", AF_CFDI_ERROR, "profile.fiscal_regime",
       "régimen 601 does not apply to a persona física (c_RegimenFiscal)"},
      {1, "fiscal_regime", "605", AF_CFDI_ERROR, "profile.fiscal_regime",
       "régimen 605 does not apply to a persona moral (c_RegimenFiscal)"},
      {0, "fiscal_regime", "609", AF_CFDI_ERROR, "profile.fiscal_regime",
       "régimen 609 is not in c_RegimenFiscal"},
      {0, "fiscal_regime", "605", AF_CFDI_ERROR, "profile.cfdi_use",
       "uso G03 is not allowed with régimen 605 (c_UsoCFDI)"},
      {1, "cfdi_use", "D01", AF_CFDI_ERROR, "profile.cfdi_use",
       "uso D01 does not apply to a persona moral (c_UsoCFDI)"},
      {1, "cfdi_use", "CN01", AF_CFDI_ERROR, "profile.cfdi_use",
       "uso CN01 is not allowed with régimen 601 (c_UsoCFDI)"},
      {0, "cfdi_use", "P01", AF_CFDI_ERROR, "profile.cfdi_use", "uso P01 is not in c_UsoCFDI"},
      {0, "cfdi_use", NULL, AF_CFDI_ERROR, "profile.cfdi_use", "is required"},
      {0, "postal_code", "6600", AF_CFDI_ERROR, "profile.postal_code", "5 digits"},
      {0, "email", "juan.example.com", AF_CFDI_ERROR, "profile.email", "e-mail"},
      {0, "email", "juan@localhost", AF_CFDI_ERROR, "profile.email", "e-mail"},
      {0, "full_name", " ", AF_CFDI_ERROR, "profile.full_name", "is required"},
      {1, "full_name", "Abarrotes del Norte, S.A. de C.V.", AF_CFDI_WARNING,
       "profile.full_name", "régimen capital"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    af_cfdi_profile p = cases[i].moral ? MORAL : FISICA;
    const char **slot = strcmp(cases[i].field, "rfc") == 0 ? &p.rfc
                      : strcmp(cases[i].field, "full_name") == 0 ? &p.full_name
                      : strcmp(cases[i].field, "fiscal_regime") == 0 ? &p.fiscal_regime
                      : strcmp(cases[i].field, "postal_code") == 0 ? &p.postal_code
                      : strcmp(cases[i].field, "cfdi_use") == 0 ? &p.cfdi_use : &p.email;
    *slot = cases[i].value;
    af_cfdi_report r;
    af_cfdi_report_init(&r);
    int errors = af_cfdi_validate(&p, NULL, &r);
    if (!find(&r, cases[i].severity, cases[i].issue_field, cases[i].text))
      AF__FAIL("case %zu: no %s \"%s\"", i, cases[i].issue_field, cases[i].text);
    ASSERT_INT_EQ(errors, cases[i].severity == AF_CFDI_ERROR ? r.errors : 0);
    no_rfc_in(&r, p.rfc);
    af_cfdi_report_free(&r);
  }
  return 0;
}

TEST(cfdi_validate_collects_everything) {
  af_cfdi_profile p = {"pegj 851332 qr3", "", "605", "6600", "G01", "nope"};
  af_cfdi_ticket t = {"", "-5", "2026-02-30", NULL};
  af_cfdi_report r;
  af_cfdi_report_init(&r);
  ASSERT_INT_EQ(af_cfdi_validate(&p, &t, &r), 8);
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "profile.rfc", "date"));
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "profile.full_name", "required"));
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "profile.cfdi_use", "régimen 605"));
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "profile.postal_code", "5 digits"));
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "profile.email", "e-mail"));
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "ticket.folio", "required"));
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "ticket.amount", "positive"));
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "ticket.date", "YYYY-MM-DD"));
  no_rfc_in(&r, "PEGJ851332QR3");
  no_rfc_in(&r, "pegj");
  char *joined = af_cfdi_report_join(&r, "; ", 1);
  ASSERT_STR_CONTAINS(joined, "profile.rfc: date part is not a real calendar date");
  ASSERT_STR_CONTAINS(joined, "; ticket.date: must be a real date YYYY-MM-DD");
  af_free(joined);
  af_cfdi_report_free(&r);
  return 0;
}

TEST(cfdi_validate_ticket_rules) {
  static const struct { af_cfdi_ticket t; int severity; const char *field; } cases[] = {
      {{"1", "abc", "2026-11-20", NULL}, AF_CFDI_ERROR, "ticket.amount"},
      {{"1", "0", "2026-11-20", NULL}, AF_CFDI_ERROR, "ticket.amount"},
      {{"1", "12.5x", "2026-11-20", NULL}, AF_CFDI_ERROR, "ticket.amount"},
      {{"1", "12.345", "2026-11-20", NULL}, AF_CFDI_WARNING, "ticket.amount"},
      {{"1", NULL, "2026-11-20", NULL}, AF_CFDI_ERROR, "ticket.amount"},
      {{"1", "10", "2026-02-29", NULL}, AF_CFDI_ERROR, "ticket.date"},
      {{"1", "10", "26-11-20", NULL}, AF_CFDI_ERROR, "ticket.date"},
      {{"1", "10", "2026-1-020", NULL}, AF_CFDI_ERROR, "ticket.date"},
      {{"1", "10", "2026-11-20T10", NULL}, AF_CFDI_ERROR, "ticket.date"},
      {{" ", "10", "2026-11-20", NULL}, AF_CFDI_ERROR, "ticket.folio"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    af_cfdi_report r;
    af_cfdi_report_init(&r);
    af_cfdi_validate(&FISICA, &cases[i].t, &r);
    if (r.n != 1 || r.items[0].severity != cases[i].severity ||
        strcmp(r.items[0].field, cases[i].field) != 0)
      AF__FAIL("ticket case %zu: %zu issue(s), first on %s", i, r.n,
               r.n ? r.items[0].field : "-");
    af_cfdi_report_free(&r);
  }
  af_cfdi_ticket leap = {"1", "10", "2028-02-29", NULL};
  af_cfdi_report r;
  af_cfdi_report_init(&r);
  ASSERT_INT_EQ(af_cfdi_validate(&FISICA, &leap, &r), 0);
  af_cfdi_report_free(&r);
  return 0;
}

TEST(cfdi_validate_lua_tables) {
  lua_State *L = luaL_newstate();
  af_json_open(L);
  const char *profile =
      "{\"rfc\":\"PEGJ-850312-QR3\",\"full_name\":\"Juan\",\"fiscal_regime\":605,"
      "\"postal_code\":{},\"cfdi_use\":\"G03\",\"email\":\"j@example.com\"}";
  const char *ticket = "{\"folio\":102938,\"amount\":1160.5,\"date\":\"2026-11-20\"}";
  ASSERT_INT_EQ(af_json_decode(L, profile, strlen(profile)), 0);
  ASSERT_INT_EQ(af_json_decode(L, ticket, strlen(ticket)), 0);
  af_cfdi_report r;
  af_cfdi_report_init(&r);
  ASSERT_INT_EQ(af_cfdi_validate_lua(L, -2, -1, &r), 3);
  ASSERT_INT_EQ(lua_gettop(L), 2);
  /* 605 given as a JSON number is read as the code "605" */
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "profile.cfdi_use",
                       "uso G03 is not allowed with régimen 605"));
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "profile.postal_code", "must be a string"));
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "profile.postal_code", "required"));
  ASSERT_NULL(find(&r, AF_CFDI_ERROR, "ticket.amount", ""));
  ASSERT_NULL(find(&r, AF_CFDI_ERROR, "ticket.folio", ""));
  af_cfdi_report_free(&r);

  lua_pushliteral(L, "not a table");
  ASSERT_INT_EQ(af_cfdi_validate_lua(L, -1, 0, &r), 7);
  ASSERT_NOT_NULL(find(&r, AF_CFDI_ERROR, "profile", "JSON object"));
  ASSERT_INT_EQ(lua_gettop(L), 3);
  af_cfdi_report_free(&r);
  lua_close(L);
  return 0;
}
