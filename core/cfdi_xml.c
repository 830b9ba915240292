/*
 * cfdi_xml.c -- reads the CFDI 4.0 XML a portal returned (libxml2) and
 * compares it with the profile and the ticket.
 *
 * Hostile input: the file is refused above AF_CFDI_XML_MAX_BYTES before it
 * is read; a DOCTYPE or ENTITY declaration (never in a CFDI) or a NUL byte
 * is refused before parsing; the parser runs with XML_PARSE_NONET, without
 * NOENT/DTDLOAD/HUGE, so libxml2's depth (256) and node-size limits hold.
 * Relies on cfdi_rfc.c for normalization and cfdi_validate.c for reports.
 */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "alloc.h"
#include "cfdi.h"

#define NS_CFD4 "http://www.sat.gob.mx/cfd/4"
#define NS_TFD "http://www.sat.gob.mx/TimbreFiscalDigital"

/* ---- loading ----------------------------------------------------------- */

static char *read_bounded(const char *path, size_t *len, char **err) {
  char *data = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    *err = af_asprintf("xml: cannot open %s: %s", path, strerror(errno));
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    *err = af_asprintf("xml: %s is not a regular file", path);
    goto done;
  }
  if (st.st_size > AF_CFDI_XML_MAX_BYTES) {
    *err = af_asprintf("xml: file is %lld bytes, above the %d-byte limit for a CFDI",
                       (long long)st.st_size, AF_CFDI_XML_MAX_BYTES);
    goto done;
  }
  size_t n = 0, want = (size_t)st.st_size;
  if ((data = af_malloc(want + 1)) == NULL) {
    *err = af_strdup("xml: out of memory");
    goto done;
  }
  while (n < want) {
    ssize_t r = read(fd, data + n, want - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  if (n != want) {
    *err = af_asprintf("xml: short read on %s", path);
    af_free(data);
    data = NULL;
    goto done;
  }
  data[n] = '\0';
  *len = n;
done:
  if (fd >= 0) close(fd);
  return data;
}

/* Parse path into a tree, or NULL with *err. */
static xmlDoc *load(const char *path, char **err) {
  xmlDoc *doc = NULL;
  xmlParserCtxt *ctxt = NULL;
  size_t len = 0;
  char *data = read_bounded(path, &len, err);
  if (data == NULL) goto done;
  if (memchr(data, '\0', len)) {
    *err = af_strdup("xml: contains NUL bytes (a CFDI is UTF-8)");
    goto done;
  }
  if (memmem(data, len, "<!DOCTYPE", 9) || memmem(data, len, "<!ENTITY", 8)) {
    *err = af_strdup("xml: DOCTYPE and ENTITY declarations are not allowed in a CFDI");
    goto done;
  }
  xmlInitParser();
  if ((ctxt = xmlNewParserCtxt()) == NULL) {
    *err = af_strdup("xml: out of memory");
    goto done;
  }
  doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, "UTF-8",
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL) {
    const xmlError *e = xmlCtxtGetLastError(ctxt);
    const char *msg = e && e->message ? e->message : "parse failed\n";
    if (strstr(msg, "Excessive depth"))
      *err = af_strdup("xml: elements nested deeper than 256 levels (depth limit)");
    else
      *err = af_asprintf("xml: not well-formed (line %d): %.*s", e ? e->line : 0,
                         (int)strcspn(msg, "\n"), msg);
  }
done:
  if (ctxt) xmlFreeParserCtxt(ctxt);
  af_free(data);
  return doc;
}

/* ---- tree helpers -------------------------------------------------------- */

static int is_el(const xmlNode *n, const char *ns, const char *name) {
  return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
         strcmp((const char *)n->ns->href, ns) == 0 &&
         strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *parent, const char *ns, const char *name) {
  for (xmlNode *c = parent->children; c; c = c->next)
    if (is_el(c, ns, name)) return c;
  return NULL;
}

/* The TimbreFiscalDigital in any cfdi:Complemento; its namespace is resolved
 * per element, so a declaration on the element itself works. */
static xmlNode *find_tfd(const xmlNode *root, const char *ns, int *count) {
  xmlNode *first = NULL;
  *count = 0;
  for (xmlNode *c = root->children; c; c = c->next) {
    if (!is_el(c, ns, "Complemento")) continue;
    for (xmlNode *t = c->children; t; t = t->next) {
      if (!is_el(t, NS_TFD, "TimbreFiscalDigital")) continue;
      if (first == NULL) first = t;
      ++*count;
    }
  }
  return first;
}

static char *attr(const xmlNode *n, const char *name) {
  return (char *)xmlGetNoNsProp(n, (const xmlChar *)name);
}

/* 8-4-4-4-12 hexadecimal digits. */
static int uuid_ok(const char *s) {
  if (s == NULL || strlen(s) != 36) return 0;
  for (int i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return 0;
  }
  return 1;
}

static char *uuid_upper(const char *s) {
  char *u = af_strdup(s);
  for (char *p = u; p && *p; p++) *p = (char)toupper((unsigned char)*p);
  return u;
}

static const char *root_ns(const xmlNode *root) {
  return root->ns && root->ns->href ? (const char *)root->ns->href : "";
}

static int is_comprobante(const xmlNode *root) {
  return root && root->type == XML_ELEMENT_NODE &&
         strcmp((const char *)root->name, "Comprobante") == 0;
}

int af_cfdi_xml_uuid(const char *path, char **uuid, char **err) {
  int rc = -1;
  char *id = NULL, *version = NULL;
  *uuid = NULL;
  *err = NULL;
  xmlDoc *doc = load(path, err);
  if (doc == NULL) goto done;
  xmlNode *root = xmlDocGetRootElement(doc);
  int count = 0;
  xmlNode *tfd = is_comprobante(root) ? find_tfd(root, root_ns(root), &count) : NULL;
  if (tfd && count == 1) {
    id = attr(tfd, "UUID");
    version = attr(tfd, "Version");
  }
  if (!uuid_ok(id) || version == NULL || strcmp(version, "1.1") != 0) {
    *err = af_strdup("xml: no single TimbreFiscalDigital 1.1 with a well-formed UUID");
    goto done;
  }
  if ((*uuid = uuid_upper(id)) == NULL) {
    *err = af_strdup("xml: out of memory");
    goto done;
  }
  rc = 0;
done:
  xmlFree(id);
  xmlFree(version);
  if (doc) xmlFreeDoc(doc);
  return rc;
}

/* ---- comparison ---------------------------------------------------------- */

#define MISMATCH(r, f, ...) af_cfdi_report_add(r, AF_CFDI_ERROR, f, __VA_ARGS__)

/* Accented upper-case vowels become plain ones (Ñ stays): portals differ. */
static void fold_accents(char *s) {
  static const char map[] = "AAAAAA??EEEEIIII??OOOOO??UUUU"; /* U+00C0-00DC */
  char *d = s;
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    if (p[0] == 0xC3 && p[1] >= 0x80 && p[1] <= 0x9C && map[p[1] - 0x80] != '?') {
      *d++ = map[p[1] - 0x80];
      p += 2;
    } else {
      *d++ = (char)*p++;
    }
  }
  *d = '\0';
}

static int same_name(const char *a, const char *b, int strip, int *oom) {
  char *x = af_cfdi_name_normalize(a, strip), *y = af_cfdi_name_normalize(b, strip);
  int same = 0;
  if (x && y) {
    fold_accents(x);
    fold_accents(y);
    same = strcmp(x, y) == 0;
  } else {
    *oom = 1;
  }
  af_free(x);
  af_free(y);
  return same;
}

static int same_rfc(const char *a, const char *b, int *oom) {
  char *x = af_cfdi_rfc_normalize(a), *y = af_cfdi_rfc_normalize(b);
  int same = x && y && strcmp(x, y) == 0;
  if (!x || !y) *oom = 1;
  af_free(x);
  af_free(y);
  return same;
}

/* Codes compare trimmed and case-insensitively (" g03 " equals "G03"). */
static int same_code(const char *a, const char *b) {
  while (isspace((unsigned char)*a)) a++;
  while (isspace((unsigned char)*b)) b++;
  size_t n = strlen(a), m = strlen(b);
  while (n && isspace((unsigned char)a[n - 1])) n--;
  while (m && isspace((unsigned char)b[m - 1])) m--;
  return n == m && strncasecmp(a, b, n) == 0;
}

static int amount(const char *s, double *out) {
  char *end;
  if (s == NULL) return 0;
  *out = strtod(s, &end);
  return end != s && *end == '\0' && isfinite(*out);
}

/* Compare one Receptor attribute with a profile field. */
static void compare(af_cfdi_report *r, const xmlNode *receptor, const char *name,
                    const char *pfield, const char *want, int kind) {
  char field[64];
  snprintf(field, sizeof field, "Receptor.%s", name);
  char *got = attr(receptor, name);
  int oom = 0;
  if (want == NULL) {
    MISMATCH(r, field, "cannot be compared: profile.%s is missing", pfield);
  } else if (got == NULL) {
    MISMATCH(r, field, "is missing from the CFDI");
  } else if (kind == 'r') {
    if (!same_rfc(got, want, &oom))
      MISMATCH(r, field, "differs from profile.%s", pfield);
  } else if (kind == 'n' || kind == 'N') {
    char *shown = af_cfdi_name_normalize(want, kind == 'N');
    if (shown == NULL)
      oom = 1;
    else if (!same_name(got, want, kind == 'N', &oom))
      MISMATCH(r, field, "is \"%s\", profile.%s is \"%s\"", got, pfield, shown);
    af_free(shown);
  } else if (!same_code(got, want)) {
    MISMATCH(r, field, "is \"%s\", profile.%s is \"%s\"", got, pfield, want);
  }
  if (oom) r->oom = 1;
  xmlFree(got);
}

static void check_stamp(af_cfdi_verify *v, const xmlNode *root) {
  af_cfdi_report *r = &v->mismatches;
  int count;
  xmlNode *tfd = find_tfd(root, root_ns(root), &count);
  if (tfd == NULL) {
    MISMATCH(r, "TimbreFiscalDigital", "is missing: the CFDI is not stamped");
    return;
  }
  if (count > 1)
    MISMATCH(r, "TimbreFiscalDigital", "appears %d times; a CFDI has exactly one", count);
  char *version = attr(tfd, "Version"), *id = attr(tfd, "UUID");
  char *sello_cfd = attr(tfd, "SelloCFD"), *sello = attr(root, "Sello");
  if (version == NULL || strcmp(version, "1.1") != 0)
    MISMATCH(r, "TimbreFiscalDigital.Version", "is \"%s\", expected \"1.1\"",
             version ? version : "");
  if (!uuid_ok(id))
    MISMATCH(r, "TimbreFiscalDigital.UUID", "is not a well-formed UUID");
  else if ((v->uuid = uuid_upper(id)) == NULL)
    r->oom = 1;
  if (sello_cfd && sello && strcmp(sello_cfd, sello) != 0)
    MISMATCH(r, "TimbreFiscalDigital.SelloCFD", "differs from Comprobante.Sello");
  xmlFree(version);
  xmlFree(id);
  xmlFree(sello_cfd);
  xmlFree(sello);
}

void af_cfdi_verify_free(af_cfdi_verify *v) {
  af_free(v->uuid);
  af_cfdi_report_free(&v->mismatches);
  v->uuid = NULL;
}

int af_cfdi_verify_xml(const char *path, const af_cfdi_profile *p,
                       const af_cfdi_ticket *t, af_cfdi_verify *out,
                       char **err) {
  int rc = -1;
  char *version = NULL, *total = NULL, *rfc = NULL;
  memset(out, 0, sizeof *out);
  *err = NULL;
  af_cfdi_report *r = &out->mismatches;
  xmlDoc *doc = load(path, err);
  if (doc == NULL) goto done;
  xmlNode *root = xmlDocGetRootElement(doc);
  if (!is_comprobante(root)) {
    *err = af_strdup("xml: not a CFDI: the root element is not cfdi:Comprobante");
    goto done;
  }
  const char *ns = root_ns(root);
  version = attr(root, "Version");
  if (strcmp(ns, NS_CFD4) != 0)
    MISMATCH(r, "Comprobante", "namespace is \"%s\", CFDI 4.0 uses \"" NS_CFD4 "\"", ns);
  if (version == NULL || strcmp(version, "4.0") != 0)
    MISMATCH(r, "Comprobante.Version", "is \"%s\", expected \"4.0\"",
             version ? version : "");

  xmlNode *receptor = child(root, ns, "Receptor");
  if (receptor == NULL) {
    MISMATCH(r, "Receptor", "is missing from the CFDI");
  } else {
    rfc = p->rfc ? af_cfdi_rfc_normalize(p->rfc) : NULL;
    af_cfdi_rfc info;
    int moral = rfc && af_cfdi_rfc_check(rfc, &info) == 0 && info.person == AF_CFDI_MORAL;
    compare(r, receptor, "Rfc", "rfc", p->rfc, 'r');
    compare(r, receptor, "Nombre", "full_name", p->full_name, moral ? 'N' : 'n');
    compare(r, receptor, "DomicilioFiscalReceptor", "postal_code", p->postal_code, 's');
    compare(r, receptor, "RegimenFiscalReceptor", "fiscal_regime", p->fiscal_regime, 's');
    compare(r, receptor, "UsoCFDI", "cfdi_use", p->cfdi_use, 's');
  }

  if (t) {
    double got, want;
    total = attr(root, "Total");
    if (!amount(total, &got))
      MISMATCH(r, "Comprobante.Total", "is missing or not a number");
    else if (!amount(t->amount, &want))
      MISMATCH(r, "Comprobante.Total", "cannot be compared: ticket.amount is not a number");
    else if (fabs(got - want) > 0.01 + 1e-9)
      MISMATCH(r, "Comprobante.Total", "is \"%s\", ticket.amount is \"%s\"", total,
               t->amount);
  }
  check_stamp(out, root);
  if (r->oom) {
    *err = af_strdup("xml: out of memory");
    goto done;
  }
  rc = 0;
done:
  if (rc < 0) af_cfdi_verify_free(out);
  af_free(rfc);
  xmlFree(version);
  xmlFree(total);
  if (doc) xmlFreeDoc(doc);
  return rc;
}
