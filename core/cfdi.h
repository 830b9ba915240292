/*
 * cfdi.h -- CFDI 4.0 domain rules: the RFC and its check digit, Nombre and
 * postal code, the SAT catalogs c_RegimenFiscal and c_UsoCFDI (data/sat/),
 * validation of a profile and ticket before a portal is touched, and
 * verification of the CFDI XML a portal returned.
 *
 * Messages never contain an RFC value: they name the field and the rule.
 * Files: cfdi_rfc.c (RFC, Nombre, CP), cfdi_catalog.c (catalogs),
 * cfdi_validate.c (reports, profile/ticket rules), cfdi_xml.c (libxml2),
 * cfdi_lua.c (Lua tables and the `cfdi` module), cfdi_cli.c (commands).
 */
#ifndef AF_CFDI_H
#define AF_CFDI_H

#include <stddef.h>

#include <lua.h>

/* ---- RFC, Nombre, postal code (cfdi_rfc.c) ------------------------------ */

enum { AF_CFDI_NONE = 0, AF_CFDI_FISICA = 1, AF_CFDI_MORAL = 2 };

typedef struct af_cfdi_rfc {
  int person;         /* AF_CFDI_FISICA (13 chars) or AF_CFDI_MORAL (12) */
  int generic;        /* XAXX010101000 or XEXX010101000 */
  int check_digit_ok; /* last char matches SAT's algorithm (always 1 if generic) */
  const char *error;  /* static rule text when the RFC is invalid, else NULL */
} af_cfdi_rfc;

/* Upper case (Ñ kept), spaces, tabs and dashes removed. Fresh string. */
char *af_cfdi_rfc_normalize(const char *s);
/* Check a normalized RFC: format and a real date. 0 valid, -1 invalid
 * (out->error says which rule). A check-digit mismatch is not invalid. */
int af_cfdi_rfc_check(const char *rfc, af_cfdi_rfc *out);
/* SAT's expected check digit ('0'-'9' or 'A') for a normalized RFC of a
 * valid shape, or 0. */
char af_cfdi_rfc_check_digit(const char *rfc);

/* Upper case, trimmed, inner blanks collapsed; with strip_capital the
 * régimen capital ("S.A. DE C.V.", "S. DE R.L. DE C.V.", "A.C.", ...) is
 * removed from the end, as CFDI 4.0 wants for personas morales. */
char *af_cfdi_name_normalize(const char *s, int strip_capital);
/* 1 when s is exactly 5 ASCII digits. */
int af_cfdi_postal_code_ok(const char *s);

/* ---- SAT catalogs (cfdi_catalog.c, rows generated from data/sat/) ------- */

typedef struct af_cfdi_regimen {
  const char *code, *description;
  int fisica, moral; /* applies to personas físicas / morales */
} af_cfdi_regimen;

typedef struct af_cfdi_uso {
  const char *code, *description;
  int fisica, moral;
  const char *regimenes; /* allowed RegimenFiscalReceptor codes, "601|603|..." */
} af_cfdi_uso;

const af_cfdi_regimen *af_cfdi_regimen_find(const char *code);
const af_cfdi_uso *af_cfdi_uso_find(const char *code);
/* Row i of the catalog, NULL past the end. */
const af_cfdi_regimen *af_cfdi_regimen_at(size_t i);
const af_cfdi_uso *af_cfdi_uso_at(size_t i);
/* 1 when c_UsoCFDI allows uso with régimen (both must exist), else 0. */
int af_cfdi_compatible(const char *regimen, const char *uso);

/* ---- reports: every error and warning at once (cfdi_validate.c) -------- */

enum { AF_CFDI_WARNING = 1, AF_CFDI_ERROR = 2 };

typedef struct af_cfdi_issue {
  int severity;  /* AF_CFDI_ERROR or AF_CFDI_WARNING */
  char *field;   /* "profile.cfdi_use", "Receptor.Nombre"; owned */
  char *message; /* the rule, without the field: "uso G01 is not ..."; owned */
} af_cfdi_issue;

typedef struct af_cfdi_report {
  af_cfdi_issue *items; /* owned */
  size_t n, cap;
  int errors, warnings;
  int oom;              /* an append failed: the report is incomplete */
} af_cfdi_report;

void af_cfdi_report_init(af_cfdi_report *r);
void af_cfdi_report_free(af_cfdi_report *r);
int af_cfdi_report_add(af_cfdi_report *r, int severity, const char *field,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "field: message" lines joined with sep (errors only when errors_only);
 * fresh string, NULL on allocation failure. For result.json's reason. */
char *af_cfdi_report_join(const af_cfdi_report *r, const char *sep,
                          int errors_only);

/* ---- validation before the portal (cfdi_validate.c, cfdi_lua.c) -------- */

/* Profile and ticket as decoded from PROFILE.json / TICKET.json. NULL means
 * absent. amount is the ticket total as text ("123.45"). */
typedef struct af_cfdi_profile {
  const char *rfc, *full_name, *fiscal_regime, *postal_code, *cfdi_use, *email;
} af_cfdi_profile;

typedef struct af_cfdi_ticket {
  const char *folio, *amount, *date, *concept;
} af_cfdi_ticket;

/* Check everything; ticket may be NULL. Appends to out (initialised by the
 * caller). Returns out->errors, or -1 if out->oom. */
int af_cfdi_validate(const af_cfdi_profile *p, const af_cfdi_ticket *t,
                     af_cfdi_report *out);
/* Same with the profile and ticket as Lua tables (ticket_idx 0: none); a
 * field of the wrong type is an error in the report. Stack unchanged. */
int af_cfdi_validate_lua(lua_State *L, int profile_idx, int ticket_idx,
                         af_cfdi_report *out);

/* ---- verification after the portal (cfdi_xml.c, cfdi_lua.c) ----------- */

#define AF_CFDI_XML_MAX_BYTES (2 * 1024 * 1024)

typedef struct af_cfdi_verify {
  char *uuid;                  /* TimbreFiscalDigital UUID, upper case; owned */
  af_cfdi_report mismatches;   /* one AF_CFDI_ERROR per differing field */
} af_cfdi_verify;

void af_cfdi_verify_free(af_cfdi_verify *v);
/* Parse the CFDI at path (network, DTDs and entities off; size and depth
 * bounded) and compare it with the profile and (if not NULL) the ticket.
 * 0: parsed, out->mismatches.errors says whether it matches (out->uuid NULL
 * means no well-formed stamp, which is also a mismatch). -1: refused or
 * unreadable, *err set (fresh string). out is initialised here. */
int af_cfdi_verify_xml(const char *path, const af_cfdi_profile *p,
                       const af_cfdi_ticket *t, af_cfdi_verify *out,
                       char **err);
/* Same with Lua tables (ticket_idx 0: none). Stack unchanged. */
int af_cfdi_verify_xml_lua(lua_State *L, const char *path, int profile_idx,
                           int ticket_idx, af_cfdi_verify *out, char **err);
/* Only the stamp: 0 with *uuid (fresh, upper case), or -1 with *err. */
int af_cfdi_xml_uuid(const char *path, char **uuid, char **err);

/* ---- Lua module and CLI commands (cfdi_lua.c, cfdi_cli.c) -------------- */

/* Pushes the `cfdi` table (pure functions, safe for the recipe sandbox). */
int luaopen_af_cfdi(lua_State *L);

/* `autofactura validate --profile P.json [--ticket T.json]`: argv[0] is
 * "validate". Exit 0 (warnings only), 2 on errors or bad input. */
int af_cfdi_cmd_validate(int argc, char **argv);
/* `autofactura verify FILE.xml --profile P.json [--ticket T.json]`.
 * Exit 0 matches, 3 mismatch, 2 bad input. */
int af_cfdi_cmd_verify(int argc, char **argv);

#endif
