/*
 * store_cmd.h -- the store's command-line commands and the migration runner.
 * Each af_store_cmd_* takes the arguments after the command name's words
 * (argv[0] is the command name) and returns an AF_EXIT_* code; messages go
 * to stdout/stderr from these functions only.
 */
#ifndef AF_STORE_CMD_H
#define AF_STORE_CMD_H

#include <libpq-fe.h>

/* Apply the migrations in dir (NNN_name.sql, in order) that c has not
 * applied yet, each in its own transaction, recording its sha256 in
 * schema_migrations. Refuses (-1, *err naming the file) a migration edited
 * after it was applied, or one applied but missing from dir. *applied gets
 * the number applied now (0: already up to date). */
int af_store_migrate(PGconn *c, const char *dir, int *applied, char **err);

/* Where migrations live: $AF_SQL_DIR, else the source tree's sql/. */
const char *af_store_sql_dir(void);

/* autofactura migrate [--dir DIR] */
int af_store_cmd_migrate(int argc, char **argv);

/* autofactura profile put --user UUID FILE.json | profile get --user UUID
 * (run as the user: RLS applies) | profile find --rfc RFC (service: the
 * users whose profile has that RFC, through the blind index; exit 3 if none). */
int af_store_cmd_profile(int argc, char **argv);

/* autofactura credentials put --user UUID --domain D FILE.json */
int af_store_cmd_credentials(int argc, char **argv);

/* autofactura task show ID  (service identity; JSON with status and steps) */
int af_store_cmd_task(int argc, char **argv);

/* autofactura keys rotate [--batch N]: re-encrypt every value to the first
 * key of AF_ENCRYPTION_KEYS, one transaction per batch; an interrupted run
 * resumes where it stopped (rows already on the newest key are skipped). */
int af_store_cmd_keys(int argc, char **argv);

#endif
