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
    "  run       request one invoice on a portal (no queue, no database)\n"
    "  migrate   apply the database migrations in sql/ to AF_DATABASE_URL\n"
    "\n"
    "`autofactura <command> --help` describes a command.\n";

int af_cli_main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? AF_EXIT_BAD_INPUT : 0;
  }
  if (strcmp(argv[1], "migrate") == 0) return af_store_cmd_migrate(argc - 1, argv + 1);
  fprintf(stderr, "autofactura: unknown command '%s' (see --help)\n", argv[1]);
  return AF_EXIT_BAD_INPUT;
}
