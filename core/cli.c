/*
 * cli.c -- `autofactura <command>`: parses arguments and runs the command.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "queue_cli.h"

static const char USAGE[] =
    "usage: autofactura <command> [options]\n"
    "\n"
    "commands:\n"
    "  run       request one invoice on a portal (no queue, no database)\n"
    "  enqueue   add a job to a bullmq queue on Redis\n"
    "  worker    run bullmq jobs with a Lua handler\n"
    "\n"
    "`autofactura <command> --help` describes a command.\n";

int af_cli_main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? AF_EXIT_BAD_INPUT : 0;
  }
  if (strcmp(argv[1], "enqueue") == 0) return af_queue_cli_enqueue(argc, argv);
  if (strcmp(argv[1], "worker") == 0) return af_queue_cli_worker(argc, argv);
  fprintf(stderr, "autofactura: unknown command '%s' (see --help)\n", argv[1]);
  return AF_EXIT_BAD_INPUT;
}
