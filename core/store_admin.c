/*
 * store_admin.c -- the store's admin commands: profile put/get, credentials
 * put, task show, keys rotate. Blocking libpq (store_db.c), field
 * encryption (crypto.c), JSON through json.h. User data is written and read
 * as the user (role authenticated), so RLS decides here as in the API.
 */
#include <getopt.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "crypto.h"
#include "json.h"
#include "store_cmd.h"
#include "store_db.h"

/* {=== shared =============================================================== */

/* Everything a command holds; released by cmd_end. */
typedef struct cmd {
  PGconn *db;
  af_keyring *kr;
  lua_State *L;
  char *err;
} cmd;

static void cmd_end(cmd *c) {
  PQfinish(c->db);
  af_keyring_free(c->kr);
  if (c->L) lua_close(c->L);
  af_free(c->err);
}

static int cmd_fail(cmd *c, const char *name, int code) {
  if (c->err) fprintf(stderr, "autofactura %s: %s\n", name, c->err);
  cmd_end(c);
  return code;
}

/* Connect; with keys when the command encrypts or decrypts. */
static int cmd_open(cmd *c, int with_keys) {
  if (with_keys && af_keyring_from_env(&c->kr, &c->err) != 0) return -1;
  if (af_store_db_connect(NULL, &c->db, &c->err) != 0) return -1;
  return 0;
}

/* Read and decode a JSON object file onto c->L's stack. */
static int load_json(cmd *c, const char *path) {
  FILE *f = fopen(path, "rb");
  af_buf b;
  char chunk[4096];
  size_t n;
  int rc = -1;
  af_buf_init(&b);
  if (f == NULL) {
    c->err = af_asprintf("%s: cannot open", path);
    return -1;
  }
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) af_buf_append(&b, chunk, n);
  fclose(f);
  if (b.oom) {
    c->err = af_strdup("out of memory");
    goto done;
  }
  c->L = luaL_newstate();
  if (c->L == NULL || af_json_open(c->L) != 0) {
    c->err = af_strdup("out of memory");
    goto done;
  }
  if (af_json_decode(c->L, b.data ? b.data : "", b.len) != 0 ||
      lua_type(c->L, -1) != LUA_TTABLE) {
    c->err = af_asprintf("%s: not a JSON object", path);
    goto done;
  }
  rc = 0;
done:
  af_buf_free(&b);
  return rc;
}

/* A string field of the object on top of the stack; NULL when absent.
 * Refuses a non-string or an over-long value, naming the field. */
static const char *json_field(cmd *c, const char *file, const char *name,
                              int required, size_t max, size_t *len) {
  size_t n = 0;
  int t = af_json_push(c->L, -1, name);
  lua_pop(c->L, 1);
  if (t == LUA_TNIL) {
    if (required) c->err = af_asprintf("%s: %s: required", file, name);
    return NULL;
  }
  const char *s = t == LUA_TSTRING ? af_json_str(c->L, -1, name, &n) : NULL;
  if (s == NULL) {
    c->err = af_asprintf("%s: %s: must be a string", file, name);
    return NULL;
  }
  if (n == 0 || n > max || strlen(s) != n) {
    c->err = af_asprintf("%s: %s: must be 1-%zu characters without NUL", file, name, max);
    return NULL;
  }
  if (len) *len = n;
  return s;
}

static int all_digits(const char *s, size_t n) {
  if (strlen(s) != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* Encrypt a value for table.column of row_id into a bytea hex parameter. */
static char *seal(cmd *c, const char *table, const char *column, const char *row_id,
                  const char *value, size_t n) {
  af_crypto_ad ad = {table, column, row_id};
  unsigned char *ct = NULL;
  size_t ctlen = 0;
  if (af_crypto_encrypt(c->kr, &ad, value, n, &ct, &ctlen, &c->err) != 0) return NULL;
  char *hex = af_crypto_bytea_hex(ct, ctlen);
  af_free(ct);
  if (hex == NULL) c->err = af_strdup("out of memory");
  return hex;
}

/* Decrypt a bytea column value (text form) of row_id; NULL with c->err. */
static char *unseal(cmd *c, const char *table, const char *column, const char *row_id,
                    const char *hex) {
  af_crypto_ad ad = {table, column, row_id};
  unsigned char *ct = NULL, *pt = NULL;
  size_t ctlen = 0, ptlen = 0;
  if (af_crypto_bytea_unhex(hex, &ct, &ctlen) != 0) {
    c->err = af_asprintf("%s.%s: not a bytea value", table, column);
    return NULL;
  }
  int rc = af_crypto_decrypt(c->kr, &ad, ct, ctlen, &pt, &ptlen, &c->err);
  af_free(ct);
  return rc == 0 ? (char *)pt : NULL;
}

/* The user must exist in auth.users. The runtime's own auth.users (plain
 * PostgreSQL) gets the row; a Supabase one is only read. -2: no such user. */
static int ensure_user(cmd *c, const char *user) {
  const char *p[] = {user};
  PGresult *r = af_store_db_query(
      c->db,
      "SELECT EXISTS (SELECT 1 FROM auth.users WHERE id = $1::uuid),"
      " coalesce(obj_description('auth.users'::regclass, 'pg_class'), '') LIKE 'autofactura:%'",
      1, p, &c->err);
  if (r == NULL) return -1;
  int exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
  int ours = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
  PQclear(r);
  if (exists) return 0;
  if (!ours) {
    c->err = af_asprintf("--user: %s is not a user of this database (auth.users)", user);
    return -2;
  }
  r = af_store_db_query(c->db, "INSERT INTO auth.users (id) VALUES ($1::uuid) ON CONFLICT DO NOTHING",
                        1, p, &c->err);
  PQclear(r);
  return r ? 0 : -1;
}

/* Parse "--user UUID [--domain D] [FILE]" after the subcommand. */
typedef struct args {
  const char *user, *domain, *file;
} args;

static int parse_args(int argc, char **argv, const char *usage, int want_file,
                      int want_domain, args *a) {
  static const struct option opts[] = {{"user", required_argument, NULL, 'u'},
                                       {"domain", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int opt;
  memset(a, 0, sizeof *a);
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (opt == 'u') a->user = optarg;
    else if (opt == 'd' && want_domain) a->domain = optarg;
    else if (opt == 'h') { printf("usage: %s\n", usage); return 1; }
    else { fprintf(stderr, "usage: %s\n", usage); return -1; }
  }
  if (want_file && optind < argc) a->file = argv[optind++];
  if (optind < argc || (want_file && !a->file) || (want_domain && !a->domain)) {
    fprintf(stderr, "usage: %s\n", usage);
    return -1;
  }
  if (!af_store_is_uuid(a->user)) {
    fprintf(stderr, "autofactura: --user: must be a UUID\n");
    return -1;
  }
  return 0;
}

/* ===} */

/* {=== profile ============================================================== */

static const char PROFILE_PUT_USAGE[] = "autofactura profile put --user UUID FILE.json";
static const char PROFILE_GET_USAGE[] = "autofactura profile get --user UUID";
static const char PROFILE_FIND_USAGE[] = "autofactura profile find --rfc RFC";

static int cfdi_use_ok(const char *s) {
  static const char *const uses[] = {"G01", "G02", "G03", "I01", "I02", "I03", "I04",
                                     "I05", "I06", "I07", "I08", "D01", "D02", "D03",
                                     "D04", "D05", "D06", "D07", "D08", "D09", "D10",
                                     "S01", "CP01", "CN01"};
  for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++)
    if (strcmp(s, uses[i]) == 0) return 1;
  return 0;
}

static int profile_put(const args *a) {
  cmd c = {0};
  char *rowid = NULL, *p_name = NULL, *p_rfc = NULL, *p_email = NULL, *p_company = NULL;
  char *bidx_hex = NULL, *company = NULL;
  char norm[AF_CRYPTO_RFC_MAX * 2 + 1];
  unsigned char bidx[AF_CRYPTO_BIDX_LEN];
  size_t name_len = 0, email_len = 0, company_len = 0;
  int code = AF_EXIT_BAD_INPUT, in_tx = 0, rc;

  if (load_json(&c, a->file) != 0) goto done;
  const char *rfc = json_field(&c, a->file, "rfc", 1, 64, NULL);
  if (!rfc) goto done;
  if (af_crypto_rfc_normalize(rfc, norm, sizeof norm, &c.err) != 0) {
    char *m = af_asprintf("%s: %s", a->file, c.err);
    af_free(c.err);
    c.err = m;
    goto done;
  }
  const char *name = json_field(&c, a->file, "full_name", 1, 254, &name_len);
  if (!name) goto done;
  const char *regime = json_field(&c, a->file, "fiscal_regime", 1, 3, NULL);
  if (!regime) goto done;
  if (!all_digits(regime, 3)) {
    c.err = af_asprintf("%s: fiscal_regime: must be a 3-digit SAT code (e.g. 612)", a->file);
    goto done;
  }
  const char *postal = json_field(&c, a->file, "postal_code", 1, 5, NULL);
  if (!postal) goto done;
  if (!all_digits(postal, 5)) {
    c.err = af_asprintf("%s: postal_code: must be 5 digits", a->file);
    goto done;
  }
  const char *use = json_field(&c, a->file, "cfdi_use", 1, 4, NULL);
  if (!use) goto done;
  if (!cfdi_use_ok(use)) {
    c.err = af_asprintf("%s: cfdi_use: must be a SAT uso del CFDI code (e.g. G03)", a->file);
    goto done;
  }
  const char *email = json_field(&c, a->file, "email", 0, 254, &email_len);
  if (!email && c.err) goto done;
  if (email && (strchr(email, '@') == NULL || strchr(email, ' ') != NULL)) {
    c.err = af_asprintf("%s: email: must be an e-mail address", a->file);
    goto done;
  }
  int t = af_json_push(c.L, -1, "company_details");         /* stack: obj, cd */
  if (t != LUA_TNIL) {
    if (t != LUA_TTABLE) {
      c.err = af_asprintf("%s: company_details: must be an object", a->file);
      goto done;
    }
    company = af_json_encode(c.L, -1, &company_len);
    if (company == NULL) {
      c.err = af_asprintf("%s: company_details: cannot encode", a->file);
      goto done;
    }
  }
  lua_pop(c.L, 1);                                           /* stack: obj */

  code = AF_EXIT_INTERNAL;
  if (cmd_open(&c, 1) != 0) goto done;
  if (af_store_db_begin_as(c.db, NULL, &c.err) != 0) goto done;
  in_tx = 1;
  if ((rc = ensure_user(&c, a->user)) != 0) {
    if (rc == -2) code = AF_EXIT_BAD_INPUT;
    goto done;
  }
  if (af_store_db_exec(c.db, "COMMIT", &c.err) != 0) goto done;
  in_tx = 0;

  /* The rest as the user: RLS decides. */
  if (af_store_db_begin_as(c.db, a->user, &c.err) != 0) goto done;
  in_tx = 1;
  const char *up[] = {a->user};
  PGresult *r = af_store_db_query(
      c.db, "SELECT coalesce((SELECT id FROM user_profiles WHERE user_id = $1::uuid FOR UPDATE),"
            " gen_random_uuid()), EXISTS (SELECT 1 FROM user_profiles WHERE user_id = $1::uuid)",
      1, up, &c.err);
  if (r == NULL) goto done;
  rowid = af_strdup(PQgetvalue(r, 0, 0));
  int exists = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
  PQclear(r);
  if (af_crypto_blind_index(c.kr, 0, norm, bidx, &c.err) != 0) goto done;
  bidx_hex = af_crypto_bytea_hex(bidx, sizeof bidx);
  p_name = seal(&c, "user_profiles", "full_name", rowid, name, name_len);
  p_rfc = p_name ? seal(&c, "user_profiles", "rfc", rowid, norm, strlen(norm)) : NULL;
  if (!bidx_hex || !p_rfc) goto done;
  if (email && !(p_email = seal(&c, "user_profiles", "email", rowid, email, email_len))) goto done;
  if (company && !(p_company = seal(&c, "user_profiles", "company_details", rowid, company,
                                    company_len)))
    goto done;
  const char *params[] = {rowid, a->user, p_name, p_rfc, bidx_hex, regime, postal, use,
                          p_email, p_company};
  r = af_store_db_query(
      c.db,
      exists ? "UPDATE user_profiles SET full_name = $3, rfc = $4, rfc_bidx = $5,"
               " fiscal_regime = $6, postal_code = $7, cfdi_use = $8, email = $9,"
               " company_details = $10 WHERE id = $1::uuid AND user_id = $2::uuid"
             : "INSERT INTO user_profiles (id, user_id, full_name, rfc, rfc_bidx,"
               " fiscal_regime, postal_code, cfdi_use, email, company_details)"
               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      10, params, &c.err);
  if (r == NULL) goto done;
  PQclear(r);
  if (af_store_db_exec(c.db, "COMMIT", &c.err) != 0) goto done;
  in_tx = 0;
  printf("profile: %s for user %s\n", exists ? "updated" : "created", a->user);
  code = 0;
done:
  if (in_tx) PQclear(PQexec(c.db, "ROLLBACK"));
  af_free(rowid);
  af_free(p_name);
  af_free(p_rfc);
  af_free(p_email);
  af_free(p_company);
  af_free(bidx_hex);
  af_free(company);
  return code == 0 ? (cmd_end(&c), 0) : cmd_fail(&c, "profile put", code);
}

static void json_kv(af_buf *b, const char *k, const char *v, int first) {
  if (!first) af_buf_puts(b, ",");
  af_buf_json_str(b, k, strlen(k));
  af_buf_puts(b, ":");
  if (v) af_buf_json_str(b, v, strlen(v));
  else af_buf_puts(b, "null");
}

static int profile_get(const args *a) {
  cmd c = {0};
  af_buf out;
  char *name = NULL, *rfc = NULL, *email = NULL, *company = NULL;
  int code = AF_EXIT_INTERNAL, in_tx = 0;
  PGresult *r = NULL;
  af_buf_init(&out);
  if (cmd_open(&c, 1) != 0) goto done;
  if (af_store_db_begin_as(c.db, a->user, &c.err) != 0) goto done;
  in_tx = 1;
  const char *p[] = {a->user};
  r = af_store_db_query(c.db,
                        "SELECT id, full_name, rfc, email, company_details, fiscal_regime,"
                        " postal_code, cfdi_use FROM user_profiles WHERE user_id = $1::uuid",
                        1, p, &c.err);
  if (r == NULL) goto done;
  if (PQntuples(r) == 0) {
    c.err = af_asprintf("--user: %s has no profile", a->user);
    code = 3;
    goto done;
  }
  const char *id = PQgetvalue(r, 0, 0);
  if (!(name = unseal(&c, "user_profiles", "full_name", id, PQgetvalue(r, 0, 1)))) goto done;
  if (!(rfc = unseal(&c, "user_profiles", "rfc", id, PQgetvalue(r, 0, 2)))) goto done;
  if (!PQgetisnull(r, 0, 3) && !(email = unseal(&c, "user_profiles", "email", id, PQgetvalue(r, 0, 3))))
    goto done;
  if (!PQgetisnull(r, 0, 4) &&
      !(company = unseal(&c, "user_profiles", "company_details", id, PQgetvalue(r, 0, 4))))
    goto done;
  af_buf_puts(&out, "{");
  json_kv(&out, "rfc", rfc, 1);
  json_kv(&out, "full_name", name, 0);
  json_kv(&out, "fiscal_regime", PQgetvalue(r, 0, 5), 0);
  json_kv(&out, "postal_code", PQgetvalue(r, 0, 6), 0);
  json_kv(&out, "cfdi_use", PQgetvalue(r, 0, 7), 0);
  json_kv(&out, "email", email, 0);
  if (company) af_buf_printf(&out, ",\"company_details\":%s", company);
  af_buf_puts(&out, "}\n");
  if (out.oom) {
    c.err = af_strdup("out of memory");
    goto done;
  }
  fputs(out.data, stdout);
  code = 0;
done:
  PQclear(r);
  if (in_tx) PQclear(PQexec(c.db, "ROLLBACK"));
  af_free(name);
  af_free(rfc);
  af_free(email);
  af_free(company);
  af_buf_free(&out);
  return code == 0 ? (cmd_end(&c), 0) : cmd_fail(&c, "profile get", code);
}

/* Users whose profile has this RFC, through the blind index: the index
 * under every configured key, so a half-done rotation still finds all. */
static int profile_find(const char *rfc) {
  cmd c = {0};
  af_buf hexes;
  PGresult *r = NULL;
  int code = AF_EXIT_BAD_INPUT, in_tx = 0;
  af_buf_init(&hexes);
  if (af_keyring_from_env(&c.kr, &c.err) != 0) goto done;
  for (int i = 0; i < af_keyring_count(c.kr); i++) {
    unsigned char bidx[AF_CRYPTO_BIDX_LEN];
    if (af_crypto_blind_index(c.kr, i, rfc, bidx, &c.err) != 0) goto done;
    char *hex = af_crypto_bytea_hex(bidx, sizeof bidx);
    if (hex == NULL) {
      c.err = af_strdup("out of memory");
      goto done;
    }
    af_buf_printf(&hexes, "%s%s", i ? "," : "", hex + 2);
    af_free(hex);
  }
  code = AF_EXIT_INTERNAL;
  if (hexes.oom) {
    c.err = af_strdup("out of memory");
    goto done;
  }
  if (af_store_db_connect(NULL, &c.db, &c.err) != 0) goto done;
  if (af_store_db_begin_as(c.db, NULL, &c.err) != 0) goto done;
  in_tx = 1;
  const char *p[] = {hexes.data};
  r = af_store_db_query(c.db,
                        "SELECT user_id FROM user_profiles WHERE rfc_bidx = ANY (SELECT"
                        " decode(h, 'hex') FROM unnest(string_to_array($1, ',')) AS h)"
                        " ORDER BY user_id",
                        1, p, &c.err);
  if (r == NULL) goto done;
  for (int i = 0; i < PQntuples(r); i++) printf("%s\n", PQgetvalue(r, i, 0));
  code = PQntuples(r) ? 0 : 3;
done:
  PQclear(r);
  if (in_tx) PQclear(PQexec(c.db, "ROLLBACK"));
  af_buf_free(&hexes);
  return code == 0 ? (cmd_end(&c), 0) : cmd_fail(&c, "profile find", code);
}

int af_store_cmd_profile(int argc, char **argv) {
  args a;
  int is_put = argc > 1 && strcmp(argv[1], "put") == 0;
  int is_get = argc > 1 && strcmp(argv[1], "get") == 0;
  if (argc == 4 && strcmp(argv[1], "find") == 0 && strcmp(argv[2], "--rfc") == 0)
    return profile_find(argv[3]);
  if (!is_put && !is_get) {
    fprintf(stderr, "usage: %s\n       %s\n       %s\n", PROFILE_PUT_USAGE, PROFILE_GET_USAGE,
            PROFILE_FIND_USAGE);
    return AF_EXIT_BAD_INPUT;
  }
  int rc = parse_args(argc - 1, argv + 1, is_put ? PROFILE_PUT_USAGE : PROFILE_GET_USAGE,
                      is_put, 0, &a);
  if (rc != 0) return rc > 0 ? 0 : AF_EXIT_BAD_INPUT;
  return is_put ? profile_put(&a) : profile_get(&a);
}

/* ===} */

/* {=== credentials ========================================================== */

static const char CRED_USAGE[] = "autofactura credentials put --user UUID --domain D FILE.json";

static int domain_ok(const char *d) {
  size_t n = strlen(d), label = 0;
  int dots = 0;
  if (n == 0 || n > 253) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = d[i];
    if (ch == '.') {
      if (label == 0 || d[i - 1] == '-') return 0;
      dots++;
      label = 0;
    } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-') {
      if (label == 0 && ch == '-') return 0;
      if (++label > 63) return 0;
    } else {
      return 0;
    }
  }
  return dots > 0 && label > 0 && d[n - 1] != '-';
}

int af_store_cmd_credentials(int argc, char **argv) {
  args a;
  cmd c = {0};
  char *rowid = NULL, *p_user = NULL, *p_pass = NULL, *p_extra = NULL, *extra = NULL;
  char domain[254];
  size_t ulen = 0, plen = 0, elen = 0;
  int code = AF_EXIT_BAD_INPUT, in_tx = 0;
  if (argc < 2 || strcmp(argv[1], "put") != 0) {
    fprintf(stderr, "usage: %s\n", CRED_USAGE);
    return AF_EXIT_BAD_INPUT;
  }
  int rc = parse_args(argc - 1, argv + 1, CRED_USAGE, 1, 1, &a);
  if (rc != 0) return rc > 0 ? 0 : AF_EXIT_BAD_INPUT;
  size_t dn = strlen(a.domain);
  if (dn >= sizeof domain) dn = sizeof domain - 1;
  for (size_t i = 0; i < dn; i++)
    domain[i] = (a.domain[i] >= 'A' && a.domain[i] <= 'Z') ? (char)(a.domain[i] + 32) : a.domain[i];
  domain[dn] = '\0';
  if (!domain_ok(domain)) {
    c.err = af_strdup("--domain: must be a host name such as facturacion.example.com");
    goto done;
  }
  if (load_json(&c, a.file) != 0) goto done;
  const char *user = json_field(&c, a.file, "username", 1, 1024, &ulen);
  if (!user) goto done;
  const char *pass = json_field(&c, a.file, "password", 1, 1024, &plen);
  if (!pass) goto done;
  int t = af_json_push(c.L, -1, "additional_fields");       /* stack: obj, extra */
  if (t != LUA_TNIL) {
    if (t != LUA_TTABLE || !(extra = af_json_encode(c.L, -1, &elen))) {
      c.err = af_asprintf("%s: additional_fields: must be an object", a.file);
      goto done;
    }
  }
  lua_pop(c.L, 1);                                           /* stack: obj */

  code = AF_EXIT_INTERNAL;
  if (cmd_open(&c, 1) != 0) goto done;
  if (af_store_db_begin_as(c.db, NULL, &c.err) != 0) goto done;
  in_tx = 1;
  if ((rc = ensure_user(&c, a.user)) != 0) {
    if (rc == -2) code = AF_EXIT_BAD_INPUT;
    goto done;
  }
  if (af_store_db_exec(c.db, "COMMIT", &c.err) != 0) goto done;
  in_tx = 0;
  if (af_store_db_begin_as(c.db, a.user, &c.err) != 0) goto done;
  in_tx = 1;
  const char *kp[] = {a.user, domain};
  PGresult *r = af_store_db_query(
      c.db, "SELECT coalesce((SELECT id FROM user_vendor_credentials WHERE user_id = $1::uuid"
            " AND vendor_domain = $2 FOR UPDATE), gen_random_uuid()),"
            " EXISTS (SELECT 1 FROM user_vendor_credentials WHERE user_id = $1::uuid"
            " AND vendor_domain = $2)",
      2, kp, &c.err);
  if (r == NULL) goto done;
  rowid = af_strdup(PQgetvalue(r, 0, 0));
  int exists = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
  PQclear(r);
  if (!(p_user = seal(&c, "user_vendor_credentials", "username", rowid, user, ulen))) goto done;
  if (!(p_pass = seal(&c, "user_vendor_credentials", "password", rowid, pass, plen))) goto done;
  if (extra &&
      !(p_extra = seal(&c, "user_vendor_credentials", "additional_fields", rowid, extra, elen)))
    goto done;
  const char *params[] = {rowid, a.user, domain, p_user, p_pass, p_extra};
  r = af_store_db_query(
      c.db,
      exists ? "UPDATE user_vendor_credentials SET username = $4, password = $5,"
               " additional_fields = $6 WHERE id = $1::uuid AND user_id = $2::uuid"
               " AND vendor_domain = $3"
             : "INSERT INTO user_vendor_credentials (id, user_id, vendor_domain, username,"
               " password, additional_fields) VALUES ($1, $2, $3, $4, $5, $6)",
      6, params, &c.err);
  if (r == NULL) goto done;
  PQclear(r);
  if (af_store_db_exec(c.db, "COMMIT", &c.err) != 0) goto done;
  in_tx = 0;
  printf("credentials: %s for user %s on %s\n", exists ? "updated" : "stored", a.user, domain);
  code = 0;
done:
  if (in_tx) PQclear(PQexec(c.db, "ROLLBACK"));
  af_free(rowid);
  af_free(p_user);
  af_free(p_pass);
  af_free(p_extra);
  af_free(extra);
  return code == 0 ? (cmd_end(&c), 0) : cmd_fail(&c, "credentials put", code);
}

/* ===} */

/* {=== task show ============================================================ */

int af_store_cmd_task(int argc, char **argv) {
  cmd c = {0};
  PGresult *r = NULL;
  int code = AF_EXIT_BAD_INPUT, in_tx = 0;
  if (argc != 3 || strcmp(argv[1], "show") != 0) {
    fprintf(stderr, "usage: autofactura task show ID\n");
    return AF_EXIT_BAD_INPUT;
  }
  if (!af_store_is_uuid(argv[2])) {
    c.err = af_strdup("ID: must be a task UUID");
    goto done;
  }
  code = AF_EXIT_INTERNAL;
  if (cmd_open(&c, 0) != 0) goto done;
  if (af_store_db_begin_as(c.db, NULL, &c.err) != 0) goto done;
  in_tx = 1;
  const char *p[] = {argv[2]};
  /* The database builds the JSON: one round trip, exact types. */
  r = af_store_db_query(
      c.db,
      "SELECT jsonb_build_object("
      " 'id', t.id, 'user_id', t.user_id, 'status', t.status, 'vendor_url', t.vendor_url,"
      " 'vendor_domain', t.vendor_domain, 'priority', t.priority,"
      " 'retry_count', t.retry_count, 'current_live_url', t.current_live_url,"
      " 'failure_reason', t.failure_reason, 'created_at', t.created_at,"
      " 'updated_at', t.updated_at, 'completed_at', t.completed_at,"
      " 'sessions', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', s.id,"
      "   'provider', s.provider, 'status', s.status, 'live_view_url', s.live_view_url,"
      "   'created_at', s.created_at, 'terminated_at', s.terminated_at)"
      "   ORDER BY s.created_at), '[]') FROM browser_sessions s WHERE s.task_id = t.id),"
      " 'invoice', (SELECT jsonb_build_object('uuid', d.cfdi_uuid, 'verified', d.verified,"
      "   'pdf_path', d.pdf_path) FROM cfdi_documents d WHERE d.task_id = t.id),"
      " 'steps', (SELECT coalesce(jsonb_agg(jsonb_build_object('seq', s.seq,"
      "   'type', s.step_type, 'content', s.content, 'screenshot', s.screenshot_url,"
      "   'duration_ms', s.duration_ms, 'timestamp', s.\"timestamp\") ORDER BY s.seq), '[]')"
      "   FROM task_steps s WHERE s.task_id = t.id))"
      " FROM automation_tasks t WHERE t.id = $1::uuid",
      1, p, &c.err);
  if (r == NULL) goto done;
  if (PQntuples(r) == 0) {
    c.err = af_asprintf("ID: no task %s", argv[2]);
    code = 3;
    goto done;
  }
  printf("%s\n", PQgetvalue(r, 0, 0));
  code = 0;
done:
  PQclear(r);
  if (in_tx) PQclear(PQexec(c.db, "ROLLBACK"));
  return code == 0 ? (cmd_end(&c), 0) : cmd_fail(&c, "task show", code);
}

/* ===} */
