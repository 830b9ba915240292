/*
 * store_db.c -- blocking libpq helpers for the store's commands: connect,
 * one-line error messages (no row values), transactions under a user's or the service's
 * identity. Relies on libpq and alloc.h.
 */
#include "store_db.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

int af_store_db_connect(const char *url, PGconn **out, char **err) {
  *out = NULL;
  if (url == NULL) url = getenv("AF_DATABASE_URL");
  if (url == NULL || *url == '\0') {
    *err = af_strdup("AF_DATABASE_URL: not set (a postgresql:// URL is required)");
    return -1;
  }
  PGconn *c = PQconnectdb(url);
  if (c == NULL || PQstatus(c) != CONNECTION_OK) {
    const char *m = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strcspn(m, "\n");
    *err = af_asprintf("AF_DATABASE_URL: cannot connect: %.*s", (int)n, m);
    PQfinish(c);
    return -1;
  }
  /* Notices ("already exists, skipping") are not the user's business. */
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  *out = c;
  return 0;
}

/* Line of sql holding 1-based character position pos. */
static int line_of(const char *sql, long pos) {
  int line = 1;
  for (long i = 0; sql[i] && i < pos - 1; i++)
    if (sql[i] == '\n') line++;
  return line;
}

char *af_store_db_error(PGconn *c, const PGresult *r, const char *sql) {
  const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  const char *position = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
  const char *constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
  char where[48] = "";
  if (primary == NULL) {
    primary = PQerrorMessage(c);
    size_t n = strcspn(primary, "\n");
    return af_asprintf("%.*s", (int)n, primary);
  }
  if (position && sql) snprintf(where, sizeof where, " at line %d", line_of(sql, atol(position)));
  /* The server's DETAIL can echo row values: only the rule is shown. */
  if (constraint)
    return af_asprintf("%s%s (constraint %s)", primary, where, constraint);
  return af_asprintf("%s%s", primary, where);
}

int af_store_db_exec(PGconn *c, const char *sql, char **err) {
  PGresult *r = PQexec(c, sql);
  int rc = 0;
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    *err = af_store_db_error(c, r, sql);
    rc = -1;
  }
  PQclear(r);
  return rc;
}

PGresult *af_store_db_query(PGconn *c, const char *sql, int nparams,
                            const char *const *params, char **err) {
  PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    *err = af_store_db_error(c, r, sql);
    PQclear(r);
    return NULL;
  }
  return r;
}

int af_store_is_uuid(const char *s) {
  static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
  if (s == NULL || strlen(s) != sizeof shape - 1) return 0;
  for (size_t i = 0; shape[i]; i++) {
    if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return 0;
  }
  return 1;
}

int af_store_db_begin_as(PGconn *c, const char *user_id, char **err) {
  if (user_id == NULL)
    return af_store_db_exec(c, "BEGIN; SET LOCAL ROLE service_role", err);
  if (!af_store_is_uuid(user_id)) {
    *err = af_strdup("user: must be a UUID");
    return -1;
  }
  char claims[128];
  snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"role\":\"authenticated\"}", user_id);
  if (af_store_db_exec(c, "BEGIN; SET LOCAL ROLE authenticated", err) != 0) return -1;
  const char *params[] = {claims};
  PGresult *r = af_store_db_query(
      c, "SELECT set_config('request.jwt.claims', $1, true)", 1, params, err);
  if (r == NULL) {
    PQclear(PQexec(c, "ROLLBACK"));
    return -1;
  }
  PQclear(r);
  return 0;
}
