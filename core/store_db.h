/*
 * store_db.h -- blocking libpq helpers shared by the store's commands
 * (migrate, keys rotate, profile/credentials/task admin). The runtime's
 * request path is the non-blocking store.h, not this.
 */
#ifndef AF_STORE_DB_H
#define AF_STORE_DB_H

#include <libpq-fe.h>

/* Connect to url, or to AF_DATABASE_URL when url is NULL. 0, or -1 with *err. */
int af_store_db_connect(const char *url, PGconn **out, char **err);

/* A one-line message for a failed command: the server's primary message,
 * "at line N" of sql when the server gave a position, and the constraint's
 * name; never the server's DETAIL, which can echo row values. */
char *af_store_db_error(PGconn *c, const PGresult *r, const char *sql);

/* Run a command that returns no rows (or rows the caller ignores).
 * 0, or -1 with *err (af_malloc'd). */
int af_store_db_exec(PGconn *c, const char *sql, char **err);

/* PQexecParams with text parameters; NULL on failure, *err set.
 * The caller PQclear()s the result. */
PGresult *af_store_db_query(PGconn *c, const char *sql, int nparams,
                            const char *const *params, char **err);

/* Run sql in a transaction as a user (role authenticated, request.jwt.claims
 * {"sub": user_id, "role": "authenticated"}) or, with user_id NULL, as
 * service_role. Opens the transaction; the caller COMMITs or ROLLBACKs. */
int af_store_db_begin_as(PGconn *c, const char *user_id, char **err);

/* 1 if s is a canonical UUID (8-4-4-4-12 hex), else 0. */
int af_store_is_uuid(const char *s);

#endif
