/*
 * test_cfdi_xml.c -- verification of a returned CFDI against the profile and
 * ticket (our fixtures in tests/fixtures/cfdi/), each mismatch, and hostile
 * XML refused quickly: entity expansion, external entities, 50 MB, nesting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cfdi.h"
#include "test.h"

#define FIXTURE(name) AF_SOURCE_DIR "/tests/fixtures/cfdi/" name

static const af_cfdi_profile FISICA = {"pegj-850312-qr3", "  juan  perez GÓMEZ", "612",
                                       "06600", "G03", "juan@example.com"};
static const af_cfdi_profile MORAL = {
    "ACO0102034H6", "Abarrotes Comerciales del Norte, S.A. de C.V.", "601", "64000",
    "G01", "compras@example.com"};
static const af_cfdi_ticket TICKET = {"102938", "1160", "2026-11-20", NULL};

static const af_cfdi_issue *mismatch(const af_cfdi_verify *v, const char *field) {
  for (size_t i = 0; i < v->mismatches.n; i++)
    if (strcmp(v->mismatches.items[i].field, field) == 0) return &v->mismatches.items[i];
  return NULL;
}

TEST(cfdi_xml_verify_fixtures) {
  af_cfdi_verify v;
  char *err = NULL;
  ASSERT_INT_EQ(af_cfdi_verify_xml(FIXTURE("fisica.xml"), &FISICA, &TICKET, &v, &err), 0);
  ASSERT_INT_EQ(v.mismatches.n, 0);
  ASSERT_STR_EQ(v.uuid, "5B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D");
  af_cfdi_verify_free(&v);

  af_cfdi_ticket t = {"A-77", "499.995", "2026-11-21", NULL}; /* within 0.01 */
  ASSERT_INT_EQ(af_cfdi_verify_xml(FIXTURE("moral.xml"), &MORAL, &t, &v, &err), 0);
  ASSERT_INT_EQ(v.mismatches.n, 0);
  ASSERT_STR_EQ(v.uuid, "AB12CD34-EF56-4789-9ABC-DEF012345678");
  af_cfdi_verify_free(&v);

  /* RFC with Ñ and &, padded attribute values, lower-case uso in the CFDI */
  af_cfdi_profile retail = {"ñ&a-050716-8k9", "Comercializadora Ñandú & Asociados, S.A. de C.V.",
                            "601", "52176", "G03", "compras@example.com"};
  af_cfdi_ticket rt = {"88120455", "1000", "2026-11-22", NULL};
  ASSERT_INT_EQ(af_cfdi_verify_xml(FIXTURE("retail.xml"), &retail, &rt, &v, &err), 0);
  if (v.mismatches.n) AF__FAIL("%s: %s", v.mismatches.items[0].field, v.mismatches.items[0].message);
  ASSERT_STR_EQ(v.uuid, "C0FFEE00-1234-11EF-A83D-00155D012007");
  af_cfdi_verify_free(&v);
  retail.full_name = "COMERCIALIZADORA NANDU & ASOCIADOS"; /* Ñ is a letter, not an accent */
  ASSERT_INT_EQ(af_cfdi_verify_xml(FIXTURE("retail.xml"), &retail, &rt, &v, &err), 0);
  ASSERT_INT_EQ(v.mismatches.n, 1);
  ASSERT_STR_EQ(v.mismatches.items[0].field, "Receptor.Nombre");
  af_cfdi_verify_free(&v);
  retail.full_name = "Comercializadora Ñandu & Asociados SA de CV";
  retail.fiscal_regime = "626";
  ASSERT_INT_EQ(af_cfdi_verify_xml(FIXTURE("retail.xml"), &retail, &rt, &v, &err), 0);
  ASSERT_INT_EQ(v.mismatches.n, 1);
  ASSERT_STR_CONTAINS(v.mismatches.items[0].message, "is \"601\", profile.fiscal_regime is \"626\"");
  af_cfdi_verify_free(&v);

  char *uuid = NULL;
  ASSERT_INT_EQ(af_cfdi_xml_uuid(FIXTURE("moral.xml"), &uuid, &err), 0);
  ASSERT_STR_EQ(uuid, "AB12CD34-EF56-4789-9ABC-DEF012345678");
  af_free(uuid);
  ASSERT_INT_EQ(af_cfdi_xml_uuid(FIXTURE("unstamped.xml"), &uuid, &err), -1);
  ASSERT_NULL(uuid);
  ASSERT_STR_CONTAINS(err, "TimbreFiscalDigital");
  af_free(err);
  return 0;
}

/* One profile or ticket field changed at a time: exactly that mismatch. */
TEST(cfdi_xml_each_mismatch) {
  static const struct { int field; const char *value, *xml_field, *text; } cases[] = {
      {0, "LOPM921130K79", "Receptor.Rfc", "differs from profile.rfc"},
      {1, "Juan Pérez López", "Receptor.Nombre",
       "is \"JUAN PÉREZ GÓMEZ\", profile.full_name is \"JUAN PÉREZ LÓPEZ\""},
      {2, "626", "Receptor.RegimenFiscalReceptor", "is \"612\", profile.fiscal_regime is \"626\""},
      {3, "06601", "Receptor.DomicilioFiscalReceptor", "is \"06600\", profile.postal_code is \"06601\""},
      {4, "G01", "Receptor.UsoCFDI", "is \"G03\", profile.cfdi_use is \"G01\""},
      {5, "1160.02", "Comprobante.Total", "is \"1160.00\", ticket.amount is \"1160.02\""},
      {5, "1159.98", "Comprobante.Total", "ticket.amount is \"1159.98\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    af_cfdi_profile p = FISICA;
    af_cfdi_ticket t = TICKET;
    const char **slot[] = {&p.rfc, &p.full_name, &p.fiscal_regime, &p.postal_code,
                           &p.cfdi_use, &t.amount};
    *slot[cases[i].field] = cases[i].value;
    af_cfdi_verify v;
    char *err = NULL;
    ASSERT_INT_EQ(af_cfdi_verify_xml(FIXTURE("fisica.xml"), &p, &t, &v, &err), 0);
    if (v.mismatches.n != 1) AF__FAIL("case %zu: %zu mismatches", i, v.mismatches.n);
    ASSERT_STR_EQ(v.mismatches.items[0].field, cases[i].xml_field);
    ASSERT_STR_CONTAINS(v.mismatches.items[0].message, cases[i].text);
    ASSERT_NOT_NULL(v.uuid);
    /* RFC values never appear, not even the CFDI's own */
    ASSERT(strstr(v.mismatches.items[0].message, "PEGJ") == NULL);
    ASSERT(strstr(v.mismatches.items[0].message, "LOPM") == NULL);
    af_cfdi_verify_free(&v);
  }
  return 0;
}

static char *write_temp_n(const char *content, size_t n) {
  char tmpl[] = "/tmp/af_cfdi_XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT(fd >= 0);
  ASSERT_INT_EQ(write(fd, content, n), (long long)n);
  close(fd);
  return af_strdup(tmpl);
}

static char *write_temp(const char *content) {
  return write_temp_n(content, strlen(content));
}

static const char STAMPED_HEAD[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<cfdi:Comprobante xmlns:cfdi=\"http://www.sat.gob.mx/cfd/4\" Version=\"4.0\" "
    "Total=\"1160.00\" Sello=\"abc\">"
    "<cfdi:Receptor Rfc=\"PEGJ850312QR3\" Nombre=\"JUAN PEREZ GOMEZ\" "
    "DomicilioFiscalReceptor=\"06600\" RegimenFiscalReceptor=\"612\" UsoCFDI=\"G03\"/>"
    "<cfdi:Complemento>";

#define TFD_OK                                                               \
  "<tfd:TimbreFiscalDigital xmlns:tfd=\"http://www.sat.gob.mx/TimbreFiscalDigital\" " \
  "Version=\"1.1\" UUID=\"5B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D\"/>"

TEST(cfdi_xml_stamp_and_version) {
  af_cfdi_verify v;
  char *err = NULL;
  ASSERT_INT_EQ(af_cfdi_verify_xml(FIXTURE("cfdi33.xml"), &FISICA, &TICKET, &v, &err), 0);
  ASSERT_STR_CONTAINS(mismatch(&v, "Comprobante")->message, "cfd/4");
  ASSERT_STR_CONTAINS(mismatch(&v, "Comprobante.Version")->message, "is \"3.3\"");
  af_cfdi_verify_free(&v);

  ASSERT_INT_EQ(af_cfdi_verify_xml(FIXTURE("unstamped.xml"), &FISICA, &TICKET, &v, &err), 0);
  ASSERT_INT_EQ(v.mismatches.n, 1);
  ASSERT_STR_CONTAINS(mismatch(&v, "TimbreFiscalDigital")->message, "not stamped");
  ASSERT_NULL(v.uuid);
  af_cfdi_verify_free(&v);

  static const struct { const char *tfd, *field; } bad[] = {
      /* the tfd prefix bound to another namespace is not a stamp */
      {"<tfd:TimbreFiscalDigital xmlns:tfd=\"urn:fake\" Version=\"1.1\" "
       "UUID=\"5B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D\"/>", "TimbreFiscalDigital"},
      {"<tfd:TimbreFiscalDigital xmlns:tfd=\"http://www.sat.gob.mx/TimbreFiscalDigital\" "
       "Version=\"1.1\" UUID=\"5B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4\"/>",
       "TimbreFiscalDigital.UUID"},
      {"<tfd:TimbreFiscalDigital xmlns:tfd=\"http://www.sat.gob.mx/TimbreFiscalDigital\" "
       "Version=\"1.1\" UUID=\"5B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3CXD\"/>",
       "TimbreFiscalDigital.UUID"},
      {"<tfd:TimbreFiscalDigital xmlns:tfd=\"http://www.sat.gob.mx/TimbreFiscalDigital\" "
       "Version=\"1.0\" UUID=\"5B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D\"/>",
       "TimbreFiscalDigital.Version"},
      {TFD_OK TFD_OK, "TimbreFiscalDigital"},
      {"<tfd:TimbreFiscalDigital xmlns:tfd=\"http://www.sat.gob.mx/TimbreFiscalDigital\" "
       "Version=\"1.1\" SelloCFD=\"xyz\" UUID=\"5B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D\"/>",
       "TimbreFiscalDigital.SelloCFD"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *xml = af_asprintf("%s%s</cfdi:Complemento></cfdi:Comprobante>", STAMPED_HEAD,
                            bad[i].tfd);
    char *path = write_temp(xml);
    ASSERT_INT_EQ(af_cfdi_verify_xml(path, &FISICA, &TICKET, &v, &err), 0);
    if (v.mismatches.n != 1 || !mismatch(&v, bad[i].field))
      AF__FAIL("case %zu: expected only %s", i, bad[i].field);
    af_cfdi_verify_free(&v);
    /* af_cfdi_xml_uuid wants exactly one well-formed 1.1 stamp */
    char *uuid = NULL;
    int sello_only = strcmp(bad[i].field, "TimbreFiscalDigital.SelloCFD") == 0;
    ASSERT_INT_EQ(af_cfdi_xml_uuid(path, &uuid, &err), sello_only ? 0 : -1);
    af_free(sello_only ? uuid : err);
    unlink(path);
    af_free(path);
    af_free(xml);
  }
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Verify path and expect refusal with text in the error, in under 2 s. */
static void refused(const char *path, const char *text) {
  af_cfdi_verify v;
  char *err = NULL, *uuid = NULL;
  double t0 = now();
  ASSERT_INT_EQ(af_cfdi_verify_xml(path, &FISICA, &TICKET, &v, &err), -1);
  ASSERT_STR_CONTAINS(err, text);
  ASSERT(strstr(err, "root:") == NULL); /* nothing of /etc/passwd */
  af_free(err);
  ASSERT_INT_EQ(af_cfdi_xml_uuid(path, &uuid, &err), -1);
  ASSERT_STR_CONTAINS(err, text);
  af_free(err);
  double took = now() - t0;
  if (took > 2.0) AF__FAIL("refusing took %.2f s", took);
}

TEST(cfdi_xml_hostile_entities) {
  char *laughs = write_temp(
      "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
      " <!ENTITY lol \"lol\">\n"
      " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
      " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
      " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
      " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
      " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
      " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
      " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
      " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
      " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
      "]>\n<cfdi:Comprobante xmlns:cfdi=\"http://www.sat.gob.mx/cfd/4\" Version=\"4.0\" "
      "Total=\"&lol9;\"/>\n");
  refused(laughs, "DOCTYPE");
  char *xxe = write_temp(
      "<?xml version=\"1.0\"?>\n<!DOCTYPE c [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
      "<cfdi:Comprobante xmlns:cfdi=\"http://www.sat.gob.mx/cfd/4\" Version=\"4.0\">"
      "<cfdi:Receptor Rfc=\"PEGJ850312QR3\" Nombre=\"&xxe;\"/></cfdi:Comprobante>\n");
  refused(xxe, "DOCTYPE");
  /* an undeclared entity is not resolved either: a parse error */
  char *undeclared = write_temp(
      "<cfdi:Comprobante xmlns:cfdi=\"http://www.sat.gob.mx/cfd/4\" Version=\"4.0\">"
      "<cfdi:Receptor Nombre=\"&xxe;\"/></cfdi:Comprobante>\n");
  refused(undeclared, "not well-formed");
  /* UTF-16 (NUL bytes) would hide a DOCTYPE from the byte scan: refused */
  static const char utf16_doc[] = "\xff\xfe<\0!\0D\0O\0C\0T\0Y\0P\0E\0";
  char *utf16 = write_temp_n(utf16_doc, sizeof utf16_doc - 1);
  refused(utf16, "NUL");
  char *paths[] = {laughs, xxe, undeclared, utf16};
  for (size_t i = 0; i < 4; i++) {
    unlink(paths[i]);
    af_free(paths[i]);
  }
  return 0;
}

TEST(cfdi_xml_hostile_size_and_depth) {
  /* 50 MB, generated here (never committed) */
  char big[] = "/tmp/af_cfdi_big_XXXXXX";
  int fd = mkstemp(big);
  ASSERT(fd >= 0);
  FILE *f = fdopen(fd, "wb");
  fputs(STAMPED_HEAD, f);
  char *chunk = af_malloc(1 << 20);
  memset(chunk, ' ', 1 << 20);
  for (int i = 0; i < 50; i++) ASSERT_INT_EQ(fwrite(chunk, 1, 1 << 20, f), 1 << 20);
  fputs("</cfdi:Complemento></cfdi:Comprobante>", f);
  fclose(f);
  af_free(chunk);
  refused(big, "limit");
  unlink(big);

  /* 10,000 nested elements inside an otherwise plausible CFDI */
  size_t n = 10000, len = strlen(STAMPED_HEAD) + n * 7 + 64;
  char *deep = af_malloc(len), *p = deep;
  p += sprintf(p, "%s", STAMPED_HEAD);
  for (size_t i = 0; i < n; i++) p += sprintf(p, "<a>");
  for (size_t i = 0; i < n; i++) p += sprintf(p, "</a>");
  sprintf(p, "</cfdi:Complemento></cfdi:Comprobante>");
  char *path = write_temp(deep);
  refused(path, "depth");
  unlink(path);
  af_free(path);
  af_free(deep);

  af_cfdi_verify v;
  char *err = NULL;
  ASSERT_INT_EQ(af_cfdi_verify_xml("/nonexistent/cfdi.xml", &FISICA, NULL, &v, &err), -1);
  ASSERT_STR_CONTAINS(err, "cannot open");
  af_free(err);
  ASSERT_INT_EQ(af_cfdi_verify_xml(AF_SOURCE_DIR "/tests", &FISICA, NULL, &v, &err), -1);
  ASSERT_STR_CONTAINS(err, "not a regular file");
  af_free(err);
  char *notcfdi = write_temp("<html><body>Su factura</body></html>");
  ASSERT_INT_EQ(af_cfdi_verify_xml(notcfdi, &FISICA, NULL, &v, &err), -1);
  ASSERT_STR_CONTAINS(err, "not a CFDI");
  af_free(err);
  unlink(notcfdi);
  af_free(notcfdi);
  return 0;
}
