/*
 * store_keys.c -- `autofactura keys rotate`: re-encrypts every encrypted
 * column to the first key of AF_ENCRYPTION_KEYS, a batch per transaction.
 * Which rows remain is read from the data (af_key_id() of each ciphertext),
 * so an interrupted run just starts again where it stopped. Relies on
 * store_db.c and crypto.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cli.h"
#include "crypto.h"
#include "store_cmd.h"
#include "store_db.h"

#define MAX_COLS 4

typedef struct enc_table {
  const char *name;
  const char *cols[MAX_COLS + 1]; /* NULL-terminated */
  int rfc_col;                    /* index of the RFC (blind index) or -1 */
} enc_table;

/* Every encrypted column of sql/002_store.sql. */
static const enc_table TABLES[] = {
    {"user_profiles", {"full_name", "rfc", "email", "company_details", NULL}, 1},
    {"user_vendor_credentials", {"username", "password", "additional_fields", NULL}, -1},
    {"browser_sessions", {"session_data", NULL}, -1},
    {"cfdi_documents", {"xml", NULL}, -1},
};

static int ncols(const enc_table *t) {
  int n = 0;
  while (t->cols[n]) n++;
  return n;
}

/* SELECT id, cols FROM t WHERE some col is on another key ... */
static char *select_sql(const enc_table *t) {
  af_buf b;
  af_buf_init(&b);
  af_buf_puts(&b, "SELECT id");
  for (int i = 0; t->cols[i]; i++) af_buf_printf(&b, ", %s", t->cols[i]);
  af_buf_printf(&b, " FROM %s WHERE", t->name);
  for (int i = 0; t->cols[i]; i++)
    af_buf_printf(&b, "%s af_key_id(%s) <> $1", i ? " OR" : "", t->cols[i]);
  af_buf_puts(&b, " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED");
  return af_buf_steal(&b, NULL);
}

/* UPDATE t SET col = coalesce($k, col)... [, rfc_bidx = $n] WHERE id = $1 */
static char *update_sql(const enc_table *t) {
  af_buf b;
  int n = ncols(t);
  af_buf_init(&b);
  af_buf_printf(&b, "UPDATE %s SET ", t->name);
  for (int i = 0; i < n; i++)
    af_buf_printf(&b, "%s%s = coalesce($%d, %s)", i ? ", " : "", t->cols[i], i + 2, t->cols[i]);
  if (t->rfc_col >= 0) af_buf_printf(&b, ", rfc_bidx = $%d", n + 2);
  af_buf_puts(&b, " WHERE id = $1::uuid");
  return af_buf_steal(&b, NULL);
}

/* Rotate one batch of t; *done_rows gets how many rows it rewrote. */
static int rotate_batch(PGconn *db, const af_keyring *kr, const enc_table *t,
                        const char *sel, const char *upd, const char *batch,
                        int *done_rows, char **err) {
  PGresult *r = NULL;
  char *vals[MAX_COLS + 2] = {0};
  int n = ncols(t), rc = -1;
  const char *kp[] = {af_keyring_id(kr, 0), batch};
  *done_rows = 0;
  if (af_store_db_begin_as(db, NULL, err) != 0) return -1;
  r = af_store_db_query(db, sel, 2, kp, err);
  if (r == NULL) goto done;
  for (int row = 0; row < PQntuples(r); row++) {
    const char *id = PQgetvalue(r, row, 0);
    for (int i = 0; i < n; i++) {
      unsigned char *ct = NULL, *pt = NULL, *nct = NULL;
      size_t ctlen = 0, ptlen = 0, nlen = 0;
      af_crypto_ad ad = {t->name, t->cols[i], id};
      if (PQgetisnull(r, row, i + 1)) continue;
      if (af_crypto_bytea_unhex(PQgetvalue(r, row, i + 1), &ct, &ctlen) != 0) {
        *err = af_asprintf("%s.%s of row %s: not a bytea value", t->name, t->cols[i], id);
        goto done;
      }
      int ok = af_crypto_decrypt(kr, &ad, ct, ctlen, &pt, &ptlen, err) == 0 &&
               af_crypto_encrypt(kr, &ad, pt, ptlen, &nct, &nlen, err) == 0;
      if (ok && i == t->rfc_col) {
        unsigned char bidx[AF_CRYPTO_BIDX_LEN];
        ok = af_crypto_blind_index(kr, 0, (const char *)pt, bidx, err) == 0 &&
             (vals[n] = af_crypto_bytea_hex(bidx, sizeof bidx)) != NULL;
      }
      if (ok) ok = (vals[i] = af_crypto_bytea_hex(nct, nlen)) != NULL;
      af_free(ct);
      af_free(nct);
      if (pt) {
        memset(pt, 0, ptlen);
        af_free(pt);
      }
      if (!ok) {
        if (*err == NULL) *err = af_strdup("out of memory");
        else {
          char *m = af_asprintf("row %s: %s", id, *err);
          af_free(*err);
          *err = m;
        }
        goto done;
      }
    }
    const char *params[MAX_COLS + 2];
    params[0] = id;
    for (int i = 0; i < n; i++) params[i + 1] = vals[i];
    int np = n + 1;
    if (t->rfc_col >= 0) params[np++] = vals[n];
    PGresult *u = af_store_db_query(db, upd, np, params, err);
    if (u == NULL) goto done;
    PQclear(u);
    for (int i = 0; i <= n; i++) {
      af_free(vals[i]);
      vals[i] = NULL;
    }
    (*done_rows)++;
  }
  if (af_store_db_exec(db, "COMMIT", err) != 0) goto done;
  rc = 0;
done:
  if (rc != 0) PQclear(PQexec(db, "ROLLBACK"));
  for (int i = 0; i <= n; i++) af_free(vals[i]);
  PQclear(r);
  return rc;
}

int af_store_cmd_keys(int argc, char **argv) {
  static const struct option opts[] = {{"batch", required_argument, NULL, 'b'},
                                       {"max-batches", required_argument, NULL, 'm'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  static const char usage[] = "usage: autofactura keys rotate [--batch N] [--max-batches N]";
  PGconn *db = NULL;
  af_keyring *kr = NULL;
  char *err = NULL, *sel = NULL, *upd = NULL;
  long batch = 500, max_batches = -1, batches = 0, total = 0;
  int opt, code = AF_EXIT_BAD_INPUT, stopped = 0;
  if (argc < 2 || strcmp(argv[1], "rotate") != 0) {
    fprintf(stderr, "%s\n", usage);
    return AF_EXIT_BAD_INPUT;
  }
  argc--;
  argv++;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    char *end = NULL;
    if (opt == 'h') {
      printf("%s\nRe-encrypts every encrypted value to the first key of AF_ENCRYPTION_KEYS,\n"
             "N rows per transaction (default 500); run again to resume.\n", usage);
      return 0;
    }
    long v = (opt == 'b' || opt == 'm') ? strtol(optarg, &end, 10) : 0;
    if ((opt != 'b' && opt != 'm') || end == optarg || *end || v < 1 || v > 100000) {
      fprintf(stderr, "autofactura keys rotate: --batch and --max-batches: 1-100000\n%s\n", usage);
      return AF_EXIT_BAD_INPUT;
    }
    if (opt == 'b') batch = v;
    else max_batches = v;
  }
  if (optind < argc) {
    fprintf(stderr, "%s\n", usage);
    return AF_EXIT_BAD_INPUT;
  }
  if (af_keyring_from_env(&kr, &err) != 0) goto done;
  code = AF_EXIT_INTERNAL;
  if (af_store_db_connect(NULL, &db, &err) != 0) goto done;
  char batch_s[24];
  snprintf(batch_s, sizeof batch_s, "%ld", batch);
  for (size_t ti = 0; ti < sizeof TABLES / sizeof TABLES[0] && !stopped; ti++) {
    const enc_table *t = &TABLES[ti];
    long rows = 0;
    af_free(sel);
    af_free(upd);
    sel = select_sql(t);
    upd = update_sql(t);
    if (!sel || !upd) {
      err = af_strdup("out of memory");
      goto done;
    }
    for (;;) {
      if (max_batches >= 0 && batches == max_batches) {
        stopped = 1;
        break;
      }
      int n = 0;
      if (rotate_batch(db, kr, t, sel, upd, batch_s, &n, &err) != 0) goto done;
      if (n == 0) break;
      batches++;
      rows += n;
    }
    if (rows) printf("keys rotate: %s: %ld row%s re-encrypted\n", t->name, rows, rows == 1 ? "" : "s");
    total += rows;
  }
  if (stopped)
    printf("keys rotate: stopped after %ld batch%s; run again to continue\n", batches,
           batches == 1 ? "" : "es");
  else
    printf("keys rotate: every value is on key '%s' (%ld rows rewritten)\n", af_keyring_id(kr, 0),
           total);
  code = 0;
done:
  if (err) fprintf(stderr, "autofactura keys rotate: %s\n", err);
  af_free(err);
  af_free(sel);
  af_free(upd);
  af_keyring_free(kr);
  PQfinish(db);
  return code;
}
