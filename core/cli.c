/*
 * cli.c -- `autofactura <command>`: parses arguments and runs the command.
 */
#include "cli.h"

#include "store_cmd.h"

#include <stdio.h>
#include <string.h>

static const char USAGE[] =
    "usage: autofactura <command> [options]\n"
    "\n"
    "commands:\n"
    "  run          request one invoice on a portal (no queue, no database)\n"
    "  migrate      apply the database migrations in sql/ to AF_DATABASE_URL\n"
    "  profile      put/get/find a user's fiscal profile (encrypted at rest)\n"
    "  credentials  put a user's portal credentials (encrypted at rest)\n"
    "  task         show a task: status, session, invoice and steps\n"
    "  keys         rotate: re-encrypt every value to the newest key\n"
    "\n"
    "`autofactura <command> --help` describes a command.\n";

int af_cli_main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? AF_EXIT_BAD_INPUT : 0;
  }
  if (strcmp(argv[1], "migrate") == 0) return af_store_cmd_migrate(argc - 1, argv + 1);
  if (strcmp(argv[1], "profile") == 0) return af_store_cmd_profile(argc - 1, argv + 1);
  if (strcmp(argv[1], "credentials") == 0) return af_store_cmd_credentials(argc - 1, argv + 1);
  if (strcmp(argv[1], "task") == 0) return af_store_cmd_task(argc - 1, argv + 1);
  if (strcmp(argv[1], "keys") == 0) return af_store_cmd_keys(argc - 1, argv + 1);
  fprintf(stderr, "autofactura: unknown command '%s' (see --help)\n", argv[1]);
  return AF_EXIT_BAD_INPUT;
}
