/*
 * test_cfdi_catalog.c -- every row of c_RegimenFiscal and c_UsoCFDI as the
 * research note lists them (cfdi-domain.md §2), and the régimen↔uso rules
 * on both sides.
 */
#include <string.h>

#include "cfdi.h"
#include "test.h"

/* Expected rows, typed from cfdi-domain.md §2.1 (code, física, moral). */
static const struct { const char *code; int fisica, moral; } REGIMENES[] = {
    {"601", 0, 1}, {"603", 0, 1}, {"605", 1, 0}, {"606", 1, 0}, {"607", 1, 0},
    {"608", 1, 0}, {"610", 1, 1}, {"611", 1, 0}, {"612", 1, 0}, {"614", 1, 0},
    {"615", 1, 0}, {"616", 1, 0}, {"620", 0, 1}, {"621", 1, 0}, {"622", 0, 1},
    {"623", 0, 1}, {"624", 0, 1}, {"625", 1, 0}, {"626", 1, 1}};

#define GI "601|603|606|612|620|621|622|623|624|625|626"
#define D "605|606|607|608|611|612|614|615|625"
#define ALL "601|603|605|606|607|608|610|611|612|614|615|616|620|621|622|623|624|625|626"

/* §2.2: code, física, moral, allowed régimenes. */
static const struct { const char *code; int fisica, moral; const char *regimenes; } USOS[] = {
    {"G01", 1, 1, GI}, {"G02", 1, 1, "601|603|606|612|616|620|621|622|623|624|625|626"},
    {"G03", 1, 1, GI}, {"I01", 1, 1, GI}, {"I02", 1, 1, GI}, {"I03", 1, 1, GI},
    {"I04", 1, 1, GI}, {"I05", 1, 1, GI}, {"I06", 1, 1, GI}, {"I07", 1, 1, GI},
    {"I08", 1, 1, GI}, {"D01", 1, 0, D},  {"D02", 1, 0, D},  {"D03", 1, 0, D},
    {"D04", 1, 0, D},  {"D05", 1, 0, D},  {"D06", 1, 0, D},  {"D07", 1, 0, D},
    {"D08", 1, 0, D},  {"D09", 1, 0, D},  {"D10", 1, 0, D},  {"S01", 1, 1, ALL},
    {"CP01", 1, 1, ALL}, {"CN01", 1, 0, "605"}};

#define COUNT(a) (sizeof(a) / sizeof *(a))

TEST(cfdi_catalog_regimen_rows) {
  for (size_t i = 0; i < COUNT(REGIMENES); i++) {
    const af_cfdi_regimen *r = af_cfdi_regimen_find(REGIMENES[i].code);
    if (r == NULL) AF__FAIL("régimen %s missing", REGIMENES[i].code);
    ASSERT_INT_EQ(r->fisica, REGIMENES[i].fisica);
    ASSERT_INT_EQ(r->moral, REGIMENES[i].moral);
    ASSERT(strlen(r->description) > 5);
    ASSERT(af_cfdi_regimen_at(i) == r); /* same order as the CSV */
  }
  ASSERT_NULL(af_cfdi_regimen_at(COUNT(REGIMENES)));
  ASSERT_STR_EQ(af_cfdi_regimen_find("626")->description,
                "Régimen Simplificado de Confianza");
  /* CFDI 3.3-only régimenes are not in the 4.0 catalog */
  const char *gone[] = {"609", "628", "629", "630", "", "60", "6011"};
  for (size_t i = 0; i < COUNT(gone); i++) ASSERT_NULL(af_cfdi_regimen_find(gone[i]));
  return 0;
}

TEST(cfdi_catalog_uso_rows) {
  for (size_t i = 0; i < COUNT(USOS); i++) {
    const af_cfdi_uso *u = af_cfdi_uso_find(USOS[i].code);
    if (u == NULL) AF__FAIL("uso %s missing", USOS[i].code);
    ASSERT_INT_EQ(u->fisica, USOS[i].fisica);
    ASSERT_INT_EQ(u->moral, USOS[i].moral);
    ASSERT_STR_EQ(u->regimenes, USOS[i].regimenes);
    ASSERT(af_cfdi_uso_at(i) == u);
  }
  ASSERT_NULL(af_cfdi_uso_at(COUNT(USOS)));
  ASSERT_STR_EQ(af_cfdi_uso_find("G03")->description, "Gastos en general.");
  ASSERT_NULL(af_cfdi_uso_find("P01")); /* 3.3 only */
  ASSERT_NULL(af_cfdi_uso_find("g03"));
  return 0;
}

/* For every uso and every régimen: compatible exactly when listed. */
TEST(cfdi_catalog_compatibility_matrix) {
  for (size_t u = 0; u < COUNT(USOS); u++)
    for (size_t r = 0; r < COUNT(REGIMENES); r++) {
      const char *list = USOS[u].regimenes, *code = REGIMENES[r].code;
      int want = strstr(list, code) != NULL;
      if (af_cfdi_compatible(code, USOS[u].code) != want)
        AF__FAIL("uso %s with régimen %s: expected %d", USOS[u].code, code, want);
    }
  ASSERT_INT_EQ(af_cfdi_compatible("609", "S01"), 0);
  ASSERT_INT_EQ(af_cfdi_compatible("605", "P01"), 0);
  ASSERT_INT_EQ(af_cfdi_compatible("60", "G01"), 0); /* no prefix match */
  return 0;
}

/* The named rules of cfdi-domain.md §2.2, each on both sides. */
TEST(cfdi_catalog_named_rules) {
  /* 605 salaried: no G03 (CFDI40161); D01-D10, S01, CP01, CN01 allowed */
  ASSERT_INT_EQ(af_cfdi_compatible("605", "G03"), 0);
  ASSERT_INT_EQ(af_cfdi_compatible("605", "G01"), 0);
  ASSERT_INT_EQ(af_cfdi_compatible("605", "D01"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("605", "CN01"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("612", "CN01"), 0);
  /* 626 RESICO: G/I yes, D no */
  ASSERT_INT_EQ(af_cfdi_compatible("626", "G03"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("626", "I04"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("626", "D01"), 0);
  /* 616: S01, CP01 and (since 2023-07-05) G02 only */
  ASSERT_INT_EQ(af_cfdi_compatible("616", "S01"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("616", "CP01"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("616", "G02"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("616", "G01"), 0);
  ASSERT_INT_EQ(af_cfdi_compatible("616", "G03"), 0);
  /* 610: S01 and CP01 only */
  ASSERT_INT_EQ(af_cfdi_compatible("610", "S01"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("610", "CP01"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("610", "G03"), 0);
  ASSERT_INT_EQ(af_cfdi_compatible("610", "D01"), 0);
  /* 622 is moral-only yet listed for G/I, not for D */
  ASSERT_INT_EQ(af_cfdi_compatible("622", "G01"), 1);
  ASSERT_INT_EQ(af_cfdi_compatible("622", "D02"), 0);
  return 0;
}
