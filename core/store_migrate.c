/*
 * store_migrate.c -- `autofactura migrate`: applies sql/NNN_*.sql in order,
 * each in its own transaction, recorded with its sha256 in
 * schema_migrations. An applied migration that was edited since is refused.
 * Relies on store_db.c (libpq) and OpenSSL's EVP digests.
 */
#include "store_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli.h"
#include "store_db.h"

/* Arbitrary, fixed: serializes concurrent `migrate` runs. */
#define MIGRATE_LOCK_KEY "4242001"

const char *af_store_sql_dir(void) {
  const char *d = getenv("AF_SQL_DIR");
  return d && *d ? d : AF_SOURCE_DIR "/sql";
}

/* NNN_name.sql: digits, underscore, [A-Za-z0-9_-], ".sql". */
static int is_migration_name(const char *n) {
  size_t i = 0;
  while (n[i] >= '0' && n[i] <= '9') i++;
  if (i < 3 || n[i] != '_') return 0;
  size_t len = strlen(n);
  if (len < i + 6 || strcmp(n + len - 4, ".sql") != 0) return 0;
  for (size_t j = i + 1; j < len - 4; j++) {
    char ch = n[j];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
      return 0;
  }
  return 1;
}

static int filter_migration(const struct dirent *d) {
  return is_migration_name(d->d_name);
}

static char *read_file(const char *path, char **err) {
  FILE *f = fopen(path, "rb");
  char *data = NULL;
  if (f == NULL) {
    *err = af_asprintf("%s: %s", path, strerror(errno));
    return NULL;
  }
  if (fseek(f, 0, SEEK_END) != 0) goto io;
  long n = ftell(f);
  if (n < 0 || fseek(f, 0, SEEK_SET) != 0) goto io;
  data = af_malloc((size_t)n + 1);
  if (data == NULL) {
    *err = af_strdup("out of memory");
    goto done;
  }
  if (fread(data, 1, (size_t)n, f) != (size_t)n) goto io;
  data[n] = '\0';
  if (strlen(data) != (size_t)n) {
    *err = af_asprintf("%s: contains a NUL byte", path);
    af_free(data);
    data = NULL;
  }
  goto done;
io:
  *err = af_asprintf("%s: read failed: %s", path, strerror(errno));
  af_free(data);
  data = NULL;
done:
  fclose(f);
  return data;
}

static void sha256_hex(const char *s, char out[65]) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
  for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static const char CREATE_TABLE[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version text PRIMARY KEY,"
    " filename text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now());"
    "ALTER TABLE schema_migrations ENABLE ROW LEVEL SECURITY;"
    "REVOKE ALL ON schema_migrations FROM PUBLIC;"
    /* Supabase's default privileges grant its API roles every new table. */
    "DO $$ DECLARE r text; BEGIN"
    " FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP"
    "  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN"
    "   EXECUTE format('REVOKE ALL ON schema_migrations FROM %I', r);"
    "  END IF;"
    " END LOOP; END $$";

/* Apply one file in its own transaction. */
static int apply_one(PGconn *c, const char *version, const char *name,
                     const char *sql, const char *sum, char **err) {
  char *msg = NULL;
  if (af_store_db_exec(c, "BEGIN", err) != 0) return -1;
  if (af_store_db_exec(c, sql, &msg) != 0) {
    *err = af_asprintf("%s: %s", name, msg);
    af_free(msg);
    PQclear(PQexec(c, "ROLLBACK"));
    return -1;
  }
  const char *params[] = {version, name, sum};
  PGresult *r = af_store_db_query(
      c, "INSERT INTO schema_migrations (version, filename, checksum) VALUES ($1, $2, $3)",
      3, params, err);
  if (r == NULL) {
    PQclear(PQexec(c, "ROLLBACK"));
    return -1;
  }
  PQclear(r);
  return af_store_db_exec(c, "COMMIT", err);
}

int af_store_migrate(PGconn *c, const char *dir, int *applied, char **err) {
  struct dirent **names = NULL;
  int n = -1, rc = -1, locked = 0;
  PGresult *done_r = NULL;
  char *sql = NULL;
  *applied = 0;

  n = scandir(dir, &names, filter_migration, alphasort);
  if (n < 0) {
    *err = af_asprintf("migrations directory %s: %s", dir, strerror(errno));
    goto done;
  }
  if (n == 0) {
    *err = af_asprintf("migrations directory %s: no NNN_name.sql files", dir);
    goto done;
  }
  for (int i = 1; i < n; i++) {
    size_t a = strcspn(names[i - 1]->d_name, "_"), b = strcspn(names[i]->d_name, "_");
    if (a == b && strncmp(names[i - 1]->d_name, names[i]->d_name, a) == 0) {
      *err = af_asprintf("%s and %s: two migrations with the same number",
                         names[i - 1]->d_name, names[i]->d_name);
      goto done;
    }
  }
  if (af_store_db_exec(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err) != 0)
    goto done;
  locked = 1;
  if (af_store_db_exec(c, CREATE_TABLE, err) != 0) goto done;
  done_r = af_store_db_query(
      c, "SELECT version, filename, checksum FROM schema_migrations ORDER BY version",
      0, NULL, err);
  if (done_r == NULL) goto done;

  /* Every applied migration must still be in dir, unchanged. */
  for (int row = 0; row < PQntuples(done_r); row++) {
    const char *fname = PQgetvalue(done_r, row, 1);
    int found = 0;
    for (int i = 0; i < n && !found; i++) found = strcmp(names[i]->d_name, fname) == 0;
    if (!found) {
      *err = af_asprintf("%s: applied to this database but missing from %s "
                         "(renamed, removed, or a newer release's migration)", fname, dir);
      goto done;
    }
  }

  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    char version[32], sum[65];
    size_t vlen = strcspn(name, "_");
    if (vlen >= sizeof version) {
      *err = af_asprintf("%s: migration number too long", name);
      goto done;
    }
    memcpy(version, name, vlen);
    version[vlen] = '\0';
    char *path = af_asprintf("%s/%s", dir, name);
    if (path == NULL) {
      *err = af_strdup("out of memory");
      goto done;
    }
    af_free(sql);
    sql = read_file(path, err);
    af_free(path);
    if (sql == NULL) goto done;
    sha256_hex(sql, sum);

    int row = -1;
    for (int k = 0; k < PQntuples(done_r) && row < 0; k++)
      if (strcmp(PQgetvalue(done_r, k, 0), version) == 0) row = k;
    if (row >= 0) {
      if (strcmp(PQgetvalue(done_r, row, 1), name) != 0) {
        *err = af_asprintf("%s: migration %s was applied as %s", name, version,
                           PQgetvalue(done_r, row, 1));
        goto done;
      }
      if (strcmp(PQgetvalue(done_r, row, 2), sum) != 0) {
        *err = af_asprintf("%s: edited after it was applied (sha256 %.12s..., "
                           "applied %.12s...); add a new migration instead",
                           name, sum, PQgetvalue(done_r, row, 2));
        goto done;
      }
      continue;
    }
    if (apply_one(c, version, name, sql, sum, err) != 0) goto done;
    (*applied)++;
  }
  rc = 0;
done:
  if (locked) PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
  PQclear(done_r);
  af_free(sql);
  for (int i = 0; i < n; i++) free(names[i]); /* scandir allocates with malloc */
  free(names);
  return rc;
}

int af_store_cmd_migrate(int argc, char **argv) {
  static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *dir = af_store_sql_dir();
  int opt, applied = 0, rc = AF_EXIT_INTERNAL;
  PGconn *c = NULL;
  char *err = NULL;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (opt == 'd') {
      dir = optarg;
    } else if (opt == 'h') {
      puts("usage: autofactura migrate [--dir DIR]\n"
           "Applies DIR/NNN_*.sql (default $AF_SQL_DIR, else the source sql/)\n"
           "to AF_DATABASE_URL; each migration runs in its own transaction.");
      return 0;
    } else {
      return AF_EXIT_BAD_INPUT;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "autofactura migrate: unexpected argument '%s'\n", argv[optind]);
    return AF_EXIT_BAD_INPUT;
  }
  if (af_store_db_connect(NULL, &c, &err) != 0) {
    rc = AF_EXIT_BAD_INPUT;
    goto done;
  }
  if (af_store_migrate(c, dir, &applied, &err) != 0) goto done;
  if (applied)
    printf("migrate: applied %d migration%s\n", applied, applied == 1 ? "" : "s");
  else
    printf("migrate: up to date\n");
  rc = 0;
done:
  if (err) fprintf(stderr, "autofactura migrate: %s\n", err);
  af_free(err);
  PQfinish(c);
  return rc;
}
