/*
 * cfdi_catalog.c -- lookups in the SAT catalogs c_RegimenFiscal and
 * c_UsoCFDI. The rows live in data/sat/ (CSV); CMake turns them into
 * cfdi_catalog_data.c (data/sat/gen_catalog.lua), linked in here.
 */
#include <string.h>

#include "cfdi.h"

extern const af_cfdi_regimen af__cfdi_regimenes[];
extern const af_cfdi_uso af__cfdi_usos[];

const af_cfdi_regimen *af_cfdi_regimen_find(const char *code) {
  for (const af_cfdi_regimen *r = af__cfdi_regimenes; r->code; r++)
    if (strcmp(r->code, code) == 0) return r;
  return NULL;
}

const af_cfdi_uso *af_cfdi_uso_find(const char *code) {
  for (const af_cfdi_uso *u = af__cfdi_usos; u->code; u++)
    if (strcmp(u->code, code) == 0) return u;
  return NULL;
}

const af_cfdi_regimen *af_cfdi_regimen_at(size_t i) {
  for (size_t k = 0; k < i; k++)
    if (af__cfdi_regimenes[k].code == NULL) return NULL;
  return af__cfdi_regimenes[i].code ? &af__cfdi_regimenes[i] : NULL;
}

const af_cfdi_uso *af_cfdi_uso_at(size_t i) {
  for (size_t k = 0; k < i; k++)
    if (af__cfdi_usos[k].code == NULL) return NULL;
  return af__cfdi_usos[i].code ? &af__cfdi_usos[i] : NULL;
}

int af_cfdi_compatible(const char *regimen, const char *uso) {
  const af_cfdi_uso *u = af_cfdi_uso_find(uso);
  if (u == NULL || af_cfdi_regimen_find(regimen) == NULL) return 0;
  size_t n = strlen(regimen);
  for (const char *p = u->regimenes; *p;) {
    const char *bar = strchr(p, '|');
    size_t k = bar ? (size_t)(bar - p) : strlen(p);
    if (k == n && memcmp(p, regimen, n) == 0) return 1;
    p += k + (bar ? 1 : 0);
  }
  return 0;
}
