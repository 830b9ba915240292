/*
 * cfdi_validate.c -- reports that collect every error and warning, and the
 * rules a profile and a ticket must pass before a portal is touched.
 * Relies on cfdi_rfc.c and cfdi_catalog.c. No RFC value enters a message.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cfdi.h"

/* ---- reports ----------------------------------------------------------- */

void af_cfdi_report_init(af_cfdi_report *r) { memset(r, 0, sizeof *r); }

void af_cfdi_report_free(af_cfdi_report *r) {
  for (size_t i = 0; i < r->n; i++) {
    af_free(r->items[i].field);
    af_free(r->items[i].message);
  }
  af_free(r->items);
  af_cfdi_report_init(r);
}

int af_cfdi_report_add(af_cfdi_report *r, int severity, const char *field,
                       const char *fmt, ...) {
  char *msg = NULL, *fld = NULL;
  int rc = -1;
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (len < 0 || (msg = af_malloc((size_t)len + 1)) == NULL) goto done;
  va_start(ap, fmt);
  vsnprintf(msg, (size_t)len + 1, fmt, ap);
  va_end(ap);
  if ((fld = af_strdup(field)) == NULL) goto done;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    af_cfdi_issue *items = af_realloc(r->items, cap * sizeof *items);
    if (items == NULL) goto done;
    r->items = items;
    r->cap = cap;
  }
  r->items[r->n++] = (af_cfdi_issue){severity, fld, msg};
  if (severity == AF_CFDI_ERROR) r->errors++;
  else r->warnings++;
  msg = fld = NULL;
  rc = 0;
done:
  if (rc < 0) r->oom = 1;
  af_free(msg);
  af_free(fld);
  return rc;
}

char *af_cfdi_report_join(const af_cfdi_report *r, const char *sep,
                          int errors_only) {
  af_buf b;
  af_buf_init(&b);
  for (size_t i = 0; i < r->n; i++) {
    const af_cfdi_issue *it = &r->items[i];
    if (errors_only && it->severity != AF_CFDI_ERROR) continue;
    af_buf_printf(&b, "%s%s: %s", b.len ? sep : "", it->field, it->message);
  }
  if (b.oom) {
    af_buf_free(&b);
    return NULL;
  }
  return b.data ? af_buf_steal(&b, NULL) : af_strdup("");
}

/* ---- rules --------------------------------------------------------------- */

#define ERR(r, f, ...) af_cfdi_report_add(r, AF_CFDI_ERROR, f, __VA_ARGS__)
#define WARN(r, f, ...) af_cfdi_report_add(r, AF_CFDI_WARNING, f, __VA_ARGS__)

/* Codes are echoed in messages; show at most this many bytes of them. */
#define CODE_SHOWN "%.6s"

static int missing(af_cfdi_report *r, const char *field, const char *v) {
  const char *p = v;
  while (p && (*p == ' ' || *p == '\t')) p++;
  if (p && *p) return 0;
  ERR(r, field, "is required");
  return 1;
}

/* Validates the RFC; returns the person type (AF_CFDI_NONE if unknown). */
static int check_rfc(af_cfdi_report *r, const char *value) {
  if (missing(r, "profile.rfc", value)) return AF_CFDI_NONE;
  char *rfc = af_cfdi_rfc_normalize(value);
  if (rfc == NULL) {
    r->oom = 1;
    return AF_CFDI_NONE;
  }
  af_cfdi_rfc info;
  int person = AF_CFDI_NONE;
  if (af_cfdi_rfc_check(rfc, &info) < 0) {
    ERR(r, "profile.rfc", "%s (RFC format)", info.error);
  } else if (info.generic) {
    ERR(r, "profile.rfc",
        "is a generic RFC (público en general or extranjero): an invoice "
        "needs the RFC on the Constancia de Situación Fiscal");
  } else {
    person = info.person;
    if (!info.check_digit_ok)
      WARN(r, "profile.rfc",
           "check digit does not match SAT's algorithm; confirm the RFC "
           "against the Constancia de Situación Fiscal");
  }
  af_free(rfc);
  return person;
}

static const char *person_name(int person) {
  return person == AF_CFDI_MORAL ? "persona moral" : "persona física";
}

static void check_name(af_cfdi_report *r, const char *value, int person) {
  if (missing(r, "profile.full_name", value)) return;
  char *plain = af_cfdi_name_normalize(value, 0);
  char *bare = af_cfdi_name_normalize(value, 1);
  if (plain == NULL || bare == NULL) {
    r->oom = 1;
  } else if (strlen(plain) > 254) {
    ERR(r, "profile.full_name", "is longer than 254 characters (Nombre)");
  } else if (person == AF_CFDI_MORAL && strcmp(plain, bare) != 0) {
    WARN(r, "profile.full_name",
         "the régimen capital is left out of Nombre, as CFDI 4.0 requires");
  }
  af_free(plain);
  af_free(bare);
}

/* Validates régimen and uso against the catalogs, the person type and each
 * other (the rules behind PAC errors CFDI40157-40161). */
static void check_codes(af_cfdi_report *r, const char *regimen,
                        const char *uso, int person) {
  const af_cfdi_regimen *reg = NULL;
  const af_cfdi_uso *u = NULL;
  if (!missing(r, "profile.fiscal_regime", regimen)) {
    reg = af_cfdi_regimen_find(regimen);
    if (reg == NULL)
      ERR(r, "profile.fiscal_regime",
          "régimen " CODE_SHOWN " is not in c_RegimenFiscal (CFDI 4.0)", regimen);
    else if ((person == AF_CFDI_FISICA && !reg->fisica) ||
             (person == AF_CFDI_MORAL && !reg->moral))
      ERR(r, "profile.fiscal_regime",
          "régimen %s does not apply to a %s (c_RegimenFiscal)", reg->code,
          person_name(person));
  }
  if (!missing(r, "profile.cfdi_use", uso)) {
    u = af_cfdi_uso_find(uso);
    if (u == NULL)
      ERR(r, "profile.cfdi_use", "uso " CODE_SHOWN " is not in c_UsoCFDI (CFDI 4.0)",
          uso);
    else if ((person == AF_CFDI_FISICA && !u->fisica) ||
             (person == AF_CFDI_MORAL && !u->moral))
      ERR(r, "profile.cfdi_use", "uso %s does not apply to a %s (c_UsoCFDI)",
          u->code, person_name(person));
  }
  if (reg && u && !af_cfdi_compatible(reg->code, u->code))
    ERR(r, "profile.cfdi_use", "uso %s is not allowed with régimen %s (c_UsoCFDI)",
        u->code, reg->code);
}

static int email_ok(const char *s) {
  const char *at = strchr(s, '@');
  if (at == NULL || at == s || strchr(at + 1, '@') || strlen(s) > 254) return 0;
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= ' ') return 0;
  const char *dot = strrchr(at + 1, '.');
  return dot && dot > at + 1 && dot[1] != '\0';
}

static int date_ok(const char *s) {
  int y, m, d, n = 0;
  if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 ||
      n != 10 || s[4] != '-' || s[7] != '-' || m < 1 || m > 12 || d < 1)
    return 0;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return 0;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= (m == 2 && leap ? 29 : days[m - 1]);
}

static void check_ticket(af_cfdi_report *r, const af_cfdi_ticket *t) {
  missing(r, "ticket.folio", t->folio);
  if (!missing(r, "ticket.amount", t->amount)) {
    char *end;
    double v = strtod(t->amount, &end);
    if (end == t->amount || *end != '\0' || !isfinite(v) || v <= 0)
      ERR(r, "ticket.amount", "must be a positive number (the ticket total)");
    else if (fabs(v * 100 - round(v * 100)) > 1e-6)
      WARN(r, "ticket.amount", "has more than 2 decimals; CFDI totals are in cents");
  }
  if (!missing(r, "ticket.date", t->date) && !date_ok(t->date))
    ERR(r, "ticket.date", "must be a real date YYYY-MM-DD");
}

int af_cfdi_validate(const af_cfdi_profile *p, const af_cfdi_ticket *t,
                     af_cfdi_report *out) {
  int person = check_rfc(out, p->rfc);
  check_name(out, p->full_name, person);
  check_codes(out, p->fiscal_regime, p->cfdi_use, person);
  if (!missing(out, "profile.postal_code", p->postal_code) &&
      !af_cfdi_postal_code_ok(p->postal_code))
    ERR(out, "profile.postal_code", "must be 5 digits (DomicilioFiscalReceptor)");
  if (!missing(out, "profile.email", p->email) && !email_ok(p->email))
    ERR(out, "profile.email", "is not an e-mail address");
  if (t) check_ticket(out, t);
  return out->oom ? -1 : out->errors;
}
