/*
 * cfdi_rfc.c -- the RFC (format, date, SAT check digit), Nombre and postal
 * code rules of CFDI 4.0. Strings are UTF-8; Ñ is one RFC character.
 * Algorithm and vectors: /work/shared/research/cfdi-domain.md §1.2-1.5.
 */
#include <string.h>

#include "alloc.h"
#include "cfdi.h"

/* SAT's 39-symbol table: the index of a character is its value. */
static const char CHECK_TABLE[] = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ ";
enum { VAL_SPACE = 37, VAL_ENYE = 38, RFC_MAX = 13 };

/* Upper-case one UTF-8 unit at s into d (a-z and Latin-1 à-þ); returns the
 * bytes consumed (the same number is written). */
static size_t upper_unit(const unsigned char *s, char *d) {
  if (s[0] >= 'a' && s[0] <= 'z') {
    d[0] = (char)(s[0] - 32);
    return 1;
  }
  if (s[0] == 0xC3 && s[1] >= 0xA0 && s[1] <= 0xBE && s[1] != 0xB7) {
    d[0] = (char)s[0];
    d[1] = (char)(s[1] - 0x20);
    return 2;
  }
  d[0] = (char)s[0];
  return 1;
}

char *af_cfdi_rfc_normalize(const char *s) {
  char *out = af_malloc(strlen(s) + 1), *d = out;
  if (out == NULL) return NULL;
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    if (*p == ' ' || *p == '\t' || *p == '-' || *p == '\r' || *p == '\n') {
      p++;
      continue;
    }
    size_t n = upper_unit(p, d);
    p += n;
    d += n;
  }
  *d = '\0';
  return out;
}

/* Decode a normalized RFC into symbol values (vals holds RFC_MAX + 1; a
 * longer RFC stops there); -1 for a character outside SAT's table. */
static int rfc_values(const char *rfc, int *vals) {
  int n = 0;
  for (const unsigned char *p = (const unsigned char *)rfc; *p; n++) {
    if (n == RFC_MAX + 1) return n;
    if (p[0] == 0xC3 && p[1] == 0x91) {
      vals[n] = VAL_ENYE;
      p += 2;
      continue;
    }
    const char *at = *p == ' ' ? NULL : strchr(CHECK_TABLE, *p);
    if (at == NULL) return -1;
    vals[n] = (int)(at - CHECK_TABLE);
    p++;
  }
  return n;
}

/* A-Z, & (24 sits between N and O) and Ñ. */
static int is_letter(int v) { return (v >= 10 && v <= 36) || v == VAL_ENYE; }
static int is_digit(int v) { return v >= 0 && v <= 9; }
static int is_alnum(int v) { return v >= 0 && v <= 36 && v != 24; }

static int days_in_month(int year, int month) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : days[month - 1];
}

/* The YYMMDD at vals[0..5] is a real date; the year is read as 20YY, which
 * only matters for 29 February (as phpcfdi/rfc does). */
static int real_date(const int *v) {
  int yy = v[0] * 10 + v[1], mm = v[2] * 10 + v[3], dd = v[4] * 10 + v[5];
  return mm >= 1 && mm <= 12 && dd >= 1 && dd <= days_in_month(2000 + yy, mm);
}

/* The shape of an RFC: 0 ok, else the rule broken (static text). */
static const char *rfc_shape(const int *v, int n) {
  if (n != 12 && n != 13)
    return "must be 12 characters (persona moral) or 13 (persona física)";
  int letters = n - 9;
  for (int i = 0; i < letters; i++)
    if (!is_letter(v[i]))
      return "must start with 3 (moral) or 4 (física) letters A-Z, Ñ or &";
  for (int i = letters; i < letters + 6; i++)
    if (!is_digit(v[i])) return "date part must be 6 digits YYMMDD";
  if (!real_date(v + letters)) return "date part is not a real calendar date";
  if (!is_alnum(v[n - 3]) || !is_alnum(v[n - 2]) ||
      !(is_digit(v[n - 1]) || v[n - 1] == 10))
    return "homoclave must be 2 characters A-Z or 0-9 then a check digit 0-9 or A";
  return NULL;
}

static char check_digit(const int *v, int n) {
  int sum = 0, w = 13;
  if (n == 12) sum += VAL_SPACE * w--; /* a moral is prefixed with a space */
  for (int i = 0; i < n - 1; i++) sum += v[i] * w--;
  int r = sum % 11;
  return r == 0 ? '0' : r == 1 ? 'A' : (char)('0' + 11 - r);
}

char af_cfdi_rfc_check_digit(const char *rfc) {
  int v[RFC_MAX + 1];
  int n = rfc_values(rfc, v);
  if (n < 0 || rfc_shape(v, n)) return 0;
  return check_digit(v, n);
}

int af_cfdi_rfc_check(const char *rfc, af_cfdi_rfc *out) {
  memset(out, 0, sizeof *out);
  int v[RFC_MAX + 1];
  int n = rfc_values(rfc, v);
  out->error = n < 0 ? "must use only A-Z, Ñ, &, and 0-9 (12 or 13 characters)"
                     : rfc_shape(v, n);
  if (out->error) return -1;
  out->person = n == 13 ? AF_CFDI_FISICA : AF_CFDI_MORAL;
  out->generic = strcmp(rfc, "XAXX010101000") == 0 ||
                 strcmp(rfc, "XEXX010101000") == 0;
  out->check_digit_ok =
      out->generic || CHECK_TABLE[v[n - 1]] == check_digit(v, n);
  return 0;
}

/* ---- Nombre ------------------------------------------------------------ */

/* Régimen capital suffixes, written without dots, commas or spaces. */
static const char *const CAPITAL[] = {
    "SADECV", "SABDECV", "SAPIDECV", "SAPIBDECV", "SASDECV", "SDERLDECV",
    "SDERLDEIP", "SDERLMI", "SDERL", "SENCPORA", "SENC", "SCDERLDECV",
    "SCDERL", "SCDECV", "SPRDERL", "SPRDERLDECV", "SA", "SAB", "SAPI",
    "SAS", "SC", "SCP", "AC", "IAP", "ABP", NULL};

static int is_blank(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Cut the longest régimen capital suffix off name (upper, collapsed).
 * 0, or -1 on allocation failure. */
static int strip_capital(char *name) {
  int rc = -1;
  size_t len = strlen(name), n = 0;
  char *compact = af_malloc(len + 1);
  size_t *pos = af_malloc((len + 1) * sizeof *pos);
  if (compact == NULL || pos == NULL) goto done;
  rc = 0;
  for (size_t i = 0; i < len; i++) {
    if (name[i] == ' ' || name[i] == '.' || name[i] == ',') continue;
    pos[n] = i;
    compact[n++] = name[i];
  }
  size_t best = 0;
  for (const char *const *s = CAPITAL; *s; s++) {
    size_t k = strlen(*s);
    if (k >= n || k <= best || memcmp(compact + n - k, *s, k) != 0) continue;
    size_t at = pos[n - k]; /* the suffix must start a word */
    if (at > 0 && strchr(" ,.", name[at - 1])) best = k;
  }
  if (best == 0) goto done;
  size_t cut = pos[n - best];
  while (cut > 0 && strchr(" ,", name[cut - 1])) cut--;
  name[cut] = '\0';
done:
  af_free(compact);
  af_free(pos);
  return rc;
}

char *af_cfdi_name_normalize(const char *s, int strip) {
  char *out = af_malloc(strlen(s) + 1), *d = out;
  if (out == NULL) return NULL;
  const unsigned char *p = (const unsigned char *)s;
  while (is_blank(*p)) p++;
  while (*p) {
    if (is_blank(*p)) {
      while (is_blank(*p)) p++;
      if (*p) *d++ = ' ';
      continue;
    }
    size_t n = upper_unit(p, d);
    p += n;
    d += n;
  }
  *d = '\0';
  if (strip && strip_capital(out) < 0) {
    af_free(out);
    return NULL;
  }
  return out;
}

int af_cfdi_postal_code_ok(const char *s) {
  for (int i = 0; i < 5; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return s[5] == '\0';
}
