/*
 * test_cfdi_rfc.c -- RFC check digit (SAT vectors from cfdi-domain.md §1.3),
 * format and date rules, generic RFCs, normalization, Nombre and CP.
 */
#include <string.h>

#include "alloc.h"
#include "cfdi.h"
#include "test.h"

/* Vectors that pass SAT's algorithm: phpcfdi/rfc tests/Unit/CheckSumTest.php
 * and RFCs of public CFDI issuers and PACs (cfdi-domain.md §1.3). */
static const char *const VALID[] = {
    "COSC8001137NA", "SAT970701NN3", "CAMA911215CJ0", "SORC591116FJ6",
    "DIM8701081LA",  "A&A050908GT0", "A\xC3\x91\xC3\x91" "801231JK0",
    "ISD950921HE5",  "NWM9709244W4", "CCO8605231N4",  "TME840315KT6",
    "EKU9003173C9",  "TBN040609RKA", "SST060807KU0",  "CVD110412TF6",
    "XEXX010101000", NULL};

static int warns_on_rfc(const char *rfc) {
  af_cfdi_profile p = {rfc, "X", "626", "06600", "S01", "a@b.mx"};
  af_cfdi_report r;
  af_cfdi_report_init(&r);
  ASSERT_INT_EQ(af_cfdi_validate(&p, NULL, &r), 0);
  int found = 0;
  for (size_t i = 0; i < r.n; i++)
    if (r.items[i].severity == AF_CFDI_WARNING &&
        strcmp(r.items[i].field, "profile.rfc") == 0) {
      ASSERT_STR_CONTAINS(r.items[i].message, "check digit");
      found = 1;
    }
  af_cfdi_report_free(&r);
  return found;
}

TEST(cfdi_rfc_check_digit_vectors) {
  for (const char *const *v = VALID; *v; v++) {
    af_cfdi_rfc info;
    size_t n = strlen(*v);
    ASSERT_INT_EQ(af_cfdi_rfc_check(*v, &info), 0);
    ASSERT_INT_EQ(info.check_digit_ok, 1);
    ASSERT_INT_EQ(af_cfdi_rfc_check_digit(*v), (*v)[n - 1]);
    size_t chars = 0;
    for (const char *c = *v; *c; c++) chars += ((unsigned char)*c & 0xC0) != 0x80;
    ASSERT_INT_EQ(info.person, chars == 13 ? AF_CFDI_FISICA : AF_CFDI_MORAL);
    if (!info.generic) ASSERT(!warns_on_rfc(*v));
  }
  /* the worked sums of §1.3 */
  ASSERT_INT_EQ(af_cfdi_rfc_check_digit("COSC8001137NA"), 'A');
  ASSERT_INT_EQ(af_cfdi_rfc_check_digit("SAT970701NN3"), '3');
  ASSERT_INT_EQ(af_cfdi_rfc_check_digit("CAMA911215CJ0"), '0');
  return 0;
}

/* Each vector with one character changed: the last one, or the homoclave
 * character before it. Format still valid, check digit wrong: a warning. */
TEST(cfdi_rfc_check_digit_one_char_off) {
  for (const char *const *v = VALID; *v; v++) {
    if (strncmp(*v, "XEXX", 4) == 0) continue; /* generic: no checksum */
    for (int k = 1; k <= 2; k++) {
      char rfc[32];
      strcpy(rfc, *v);
      char *c = rfc + strlen(rfc) - k;
      if (k == 1) *c = *c == '0' ? '1' : '0';
      else *c = *c == '9' ? '8' : *c == 'Z' ? 'Y' : (char)(*c + 1);
      af_cfdi_rfc info;
      ASSERT_INT_EQ(af_cfdi_rfc_check(rfc, &info), 0);
      if (info.check_digit_ok) AF__FAIL("%s (changed at -%d) still passes", rfc, k);
      ASSERT(warns_on_rfc(rfc));
    }
  }
  return 0;
}

TEST(cfdi_rfc_known_sat_exceptions) {
  af_cfdi_rfc info;
  /* SAT's own test receptor computes to 6, not 1: a warning, not invalid. */
  ASSERT_INT_EQ(af_cfdi_rfc_check("MCI7306249Y1", &info), 0);
  ASSERT_INT_EQ(info.check_digit_ok, 0);
  ASSERT_INT_EQ(af_cfdi_rfc_check_digit("MCI7306249Y1"), '6');
  /* XAXX010101000 computes to 4: special-cased as generic. */
  ASSERT_INT_EQ(af_cfdi_rfc_check("XAXX010101000", &info), 0);
  ASSERT_INT_EQ(info.generic, 1);
  ASSERT_INT_EQ(info.check_digit_ok, 1);
  ASSERT_INT_EQ(af_cfdi_rfc_check_digit("XAXX010101000"), '4');
  ASSERT_INT_EQ(af_cfdi_rfc_check("XEXX010101000", &info), 0);
  ASSERT_INT_EQ(info.generic, 1);
  ASSERT_INT_EQ(af_cfdi_rfc_check("PEGJ850312QR3", &info), 0);
  ASSERT_INT_EQ(info.generic, 0);
  return 0;
}

TEST(cfdi_rfc_format_and_date) {
  static const struct { const char *rfc, *rule; } bad[] = {
      {"", "12 characters"},
      {"PEGJ850312QR", "date part"},           /* 12 chars read as a moral */
      {"PEGJ850312QR3X", "12 characters"},
      {"PEGJ851332QR3", "real calendar date"}, /* month 13 */
      {"PEGJ850230QR3", "real calendar date"}, /* 30 February */
      {"PEGJ850431QR3", "real calendar date"}, /* 31 April */
      {"PEGJ010229QR3", "real calendar date"}, /* 2001 is not leap */
      {"PEGJ850300QR3", "real calendar date"}, /* day 0 */
      {"PEG1850312QR3", "letters"},
      {"PEGJ85031AQR3", "date part"},
      {"PEGJ850312Q_3", "A-Z"},
      {"PEGJ850312QRB", "homoclave"},
      {"PEGJ850312&R3", "homoclave"},
      {"PEGJ850312QR3\xC3\xA9", "A-Z"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    af_cfdi_rfc info;
    if (af_cfdi_rfc_check(bad[i].rfc, &info) != -1) AF__FAIL("accepted %s", bad[i].rfc);
    ASSERT_STR_CONTAINS(info.error, bad[i].rule);
    ASSERT_INT_EQ(af_cfdi_rfc_check_digit(bad[i].rfc), 0);
  }
  af_cfdi_rfc info;
  ASSERT_INT_EQ(af_cfdi_rfc_check("PEGJ000229QR3", &info), 0); /* 2000 is leap */
  return 0;
}

TEST(cfdi_rfc_normalize) {
  static const char *const cases[][2] = {
      {" pegj-850312 qr3\t", "PEGJ850312QR3"},
      {"XAXX-010101-000", "XAXX010101000"},
      {"a\xC3\xB1\xC3\xB1" "801231jk0", "A\xC3\x91\xC3\x91" "801231JK0"},
      {"a&a050908gt0", "A&A050908GT0"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *n = af_cfdi_rfc_normalize(cases[i][0]);
    ASSERT_STR_EQ(n, cases[i][1]);
    af_free(n);
  }
  return 0;
}

TEST(cfdi_name_normalize) {
  static const struct { const char *in, *out; int strip; } cases[] = {
      {"  Juan   Pérez\tgómez ", "JUAN PÉREZ GÓMEZ", 0},
      {"Abarrotes del Norte, S.A. de C.V.", "ABARROTES DEL NORTE", 1},
      {"Abarrotes del Norte, S.A. de C.V.", "ABARROTES DEL NORTE, S.A. DE C.V.", 0},
      {"ASSESOR CONSULTOR TECNOLÓGICO S. DE R.L. DE C.V.", "ASSESOR CONSULTOR TECNOLÓGICO", 1},
      {"Grupo Equis SA DE CV", "GRUPO EQUIS", 1},
      {"Servicios Ye S.C.", "SERVICIOS YE", 1},
      {"Inversiones Zeta S.A.P.I. de C.V.", "INVERSIONES ZETA", 1},
      {"Tecnología W S.A.S.", "TECNOLOGÍA W", 1},
      {"Fundación Uve A.C.", "FUNDACIÓN UVE", 1},
      {"Comercial Norte S. A. de C. V.", "COMERCIAL NORTE", 1},
      {"Distribuidora Sur, S. de R.L.", "DISTRIBUIDORA SUR", 1},
      {"PASE, SERVICIOS ELECTRONICOS", "PASE, SERVICIOS ELECTRONICOS", 1},
      {"GRUPO MASAC", "GRUPO MASAC", 1},     /* AC inside a word stays */
      {"CASAS DE CV", "CASAS DE CV", 1},     /* SADECV inside a word stays */
      {"S.A. de C.V.", "S.A. DE C.V.", 1},   /* nothing would be left */
      {"ñandú", "ÑANDÚ", 0},
      {"   ", "", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *n = af_cfdi_name_normalize(cases[i].in, cases[i].strip);
    ASSERT_STR_EQ(n, cases[i].out);
    af_free(n);
  }
  return 0;
}

TEST(cfdi_postal_code) {
  ASSERT(af_cfdi_postal_code_ok("06600"));
  ASSERT(af_cfdi_postal_code_ok("99999"));
  ASSERT(!af_cfdi_postal_code_ok("6600"));
  ASSERT(!af_cfdi_postal_code_ok("066000"));
  ASSERT(!af_cfdi_postal_code_ok("0660A"));
  ASSERT(!af_cfdi_postal_code_ok(" 6600"));
  ASSERT(!af_cfdi_postal_code_ok(""));
  return 0;
}
