/*
 * cfdi_cli.c -- `autofactura validate` and `autofactura verify`: read the
 * profile and ticket JSON (core/json.h), run the cfdi rules, print every
 * issue on stderr, one per line, and map the outcome to an exit code.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cfdi.h"
#include "cli.h"
#include "json.h"

#define JSON_MAX_BYTES (1024 * 1024)

static const char VALIDATE_USAGE[] =
    "usage: autofactura validate --profile PROFILE.json [--ticket TICKET.json]\n"
    "\n"
    "Checks a fiscal profile (and a ticket) against the CFDI 4.0 rules before\n"
    "any portal is opened: RFC format, date and check digit, Nombre, postal\n"
    "code, e-mail, c_RegimenFiscal and c_UsoCFDI and their compatibility.\n"
    "Every error and warning is printed on stderr, one per line.\n"
    "Exit: 0 valid (warnings allowed), 2 errors or unreadable input.\n";

static const char VERIFY_USAGE[] =
    "usage: autofactura verify FILE.xml --profile PROFILE.json [--ticket TICKET.json]\n"
    "\n"
    "Checks the CFDI XML a portal returned: CFDI 4.0, the Receptor's Rfc,\n"
    "Nombre, DomicilioFiscalReceptor, RegimenFiscalReceptor and UsoCFDI equal\n"
    "to the profile, Total equal to the ticket amount (within 0.01), and a\n"
    "well-formed TimbreFiscalDigital UUID, printed on stdout.\n"
    "Exit: 0 matches, 3 mismatch (each on stderr), 2 bad input.\n";

typedef struct args {
  const char *profile, *ticket, *xml;
} args;

/* 0 parsed, 1 help shown, -1 bad usage (reported). */
static int parse(int argc, char **argv, const char *usage, int want_xml, args *a) {
  const char *cmd = argv[0];
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 1;
    } else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
      a->profile = argv[++i];
    } else if (strcmp(argv[i], "--ticket") == 0 && i + 1 < argc) {
      a->ticket = argv[++i];
    } else if (want_xml && argv[i][0] != '-' && a->xml == NULL) {
      a->xml = argv[i];
    } else {
      fprintf(stderr, "autofactura %s: unexpected argument '%s' (see --help)\n", cmd,
              argv[i]);
      return -1;
    }
  }
  if (want_xml && a->xml == NULL) {
    fprintf(stderr, "autofactura %s: FILE.xml is required (see --help)\n", cmd);
    return -1;
  }
  if (a->profile == NULL) {
    fprintf(stderr, "autofactura %s: --profile is required (see --help)\n", cmd);
    return -1;
  }
  return 0;
}

/* Decode the JSON object in path onto L's stack; -1 after reporting. */
static int load_json(lua_State *L, const char *cmd, const char *what,
                     const char *path) {
  int rc = -1;
  char *data = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "autofactura %s: --%s %s: %s\n", cmd, what, path, strerror(errno));
    goto done;
  }
  if ((data = af_malloc(JSON_MAX_BYTES + 1)) == NULL) {
    fprintf(stderr, "autofactura %s: out of memory\n", cmd);
    goto done;
  }
  size_t n = fread(data, 1, JSON_MAX_BYTES + 1, f);
  if (n > JSON_MAX_BYTES) {
    fprintf(stderr, "autofactura %s: --%s: larger than %d bytes\n", cmd, what,
            JSON_MAX_BYTES);
    goto done;
  }
  if (af_json_decode(L, data, n) < 0 || !lua_istable(L, -1)) {
    fprintf(stderr, "autofactura %s: --%s: not a JSON object\n", cmd, what);
    lua_pop(L, 1);
    goto done;
  }
  rc = 0;
done:
  if (f) fclose(f);
  af_free(data);
  return rc;
}

static void print_issues(const af_cfdi_report *r) {
  for (size_t i = 0; i < r->n; i++)
    fprintf(stderr, "%s: %s: %s\n",
            r->items[i].severity == AF_CFDI_ERROR ? "error" : "warning",
            r->items[i].field, r->items[i].message);
}

/* Loads profile (stack 1) and ticket (stack 2, or nothing). */
static lua_State *open_inputs(const char *cmd, const args *a) {
  lua_State *L = luaL_newstate();
  if (L == NULL || af_json_open(L) < 0 ||
      load_json(L, cmd, "profile", a->profile) < 0 ||
      (a->ticket && load_json(L, cmd, "ticket", a->ticket) < 0)) {
    if (L) lua_close(L);
    return NULL;
  }
  return L;
}

int af_cfdi_cmd_validate(int argc, char **argv) {
  args a;
  int p = parse(argc, argv, VALIDATE_USAGE, 0, &a);
  if (p != 0) return p > 0 ? 0 : AF_EXIT_BAD_INPUT;
  lua_State *L = open_inputs("validate", &a);
  if (L == NULL) return AF_EXIT_BAD_INPUT;
  af_cfdi_report r;
  af_cfdi_report_init(&r);
  int errors = af_cfdi_validate_lua(L, 1, a.ticket ? 2 : 0, &r);
  print_issues(&r);
  int rc = AF_EXIT_BAD_INPUT;
  if (errors < 0)
    fputs("autofactura validate: out of memory\n", stderr);
  else if (errors > 0)
    fprintf(stderr, "autofactura validate: %d error(s), %d warning(s)\n", r.errors,
            r.warnings);
  else {
    printf("ok: CFDI 4.0 checks passed (%d warning(s))\n", r.warnings);
    rc = 0;
  }
  af_cfdi_report_free(&r);
  lua_close(L);
  return rc;
}

int af_cfdi_cmd_verify(int argc, char **argv) {
  static const char *const compared[] = {"rfc", "full_name", "fiscal_regime",
                                         "postal_code", "cfdi_use"};
  args a;
  int p = parse(argc, argv, VERIFY_USAGE, 1, &a);
  if (p != 0) return p > 0 ? 0 : AF_EXIT_BAD_INPUT;
  lua_State *L = open_inputs("verify", &a);
  if (L == NULL) return AF_EXIT_BAD_INPUT;
  int rc = AF_EXIT_BAD_INPUT;
  char *err = NULL;
  af_cfdi_verify v = {0};
  for (size_t i = 0; i < sizeof compared / sizeof *compared; i++) {
    int type = af_json_push(L, 1, compared[i]);
    lua_pop(L, 1);
    if (type != LUA_TSTRING && type != LUA_TNUMBER) {
      fprintf(stderr, "autofactura verify: profile.%s: is required\n", compared[i]);
      goto done;
    }
  }
  if (af_cfdi_verify_xml_lua(L, a.xml, 1, a.ticket ? 2 : 0, &v, &err) < 0) {
    fprintf(stderr, "autofactura verify: %s\n", err ? err : "out of memory");
    goto done;
  }
  for (size_t i = 0; i < v.mismatches.n; i++)
    fprintf(stderr, "mismatch: %s: %s\n", v.mismatches.items[i].field,
            v.mismatches.items[i].message);
  if (v.mismatches.errors > 0 || v.uuid == NULL) {
    rc = AF_EXIT_FAILED;
    goto done;
  }
  printf("%s\n", v.uuid);
  rc = 0;
done:
  af_free(err);
  af_cfdi_verify_free(&v);
  lua_close(L);
  return rc;
}
