/*
 * cli.c -- `autofactura <command>`: the table of commands and dispatch.
 * Each command parses its own options (cli_run.c, cfdi_cli.c, store_cmd.c).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "cfdi.h"
#include "queue_cli.h"
#include "store_cmd.h"

typedef struct command {
  const char *name;
  int (*fn)(int argc, char **argv); /* argv[0] is the command's name */
  const char *summary;
} command;

static const command COMMANDS[] = {
    {"run", af_cli_run, "request one invoice on a portal (no queue, no database)"},
    {"replay", af_cli_replay, "rerun a recipe against a recorded session, no browser"},
    {"record-recipe", af_cli_record_recipe, "turn what a person does on a portal into a draft recipe"},
    {"enqueue", af_queue_cli_enqueue, "add a job to a bullmq queue on Redis"},
    {"worker", af_queue_cli_worker, "run bullmq jobs with a Lua handler"},
    {"validate", af_cfdi_cmd_validate, "check a profile and ticket against the CFDI 4.0 rules"},
    {"verify", af_cfdi_cmd_verify, "check a CFDI XML against the profile and ticket"},
    {"migrate", af_store_cmd_migrate, "apply the database migrations in sql/ to AF_DATABASE_URL"},
    {"profile", af_store_cmd_profile, "put/get/find a user's fiscal profile (encrypted at rest)"},
    {"credentials", af_store_cmd_credentials, "put a user's portal credentials (encrypted at rest)"},
    {"task", af_store_cmd_task, "show a task: status, session, invoice and steps"},
    {"keys", af_store_cmd_keys, "rotate: re-encrypt every value to the newest key"},
    {NULL, NULL, NULL}};

static void usage(FILE *f) {
  fputs("usage: autofactura <command> [options]\n\ncommands:\n", f);
  for (const command *c = COMMANDS; c->name; c++)
    fprintf(f, "  %-14s %s\n", c->name, c->summary);
  fputs("\n`autofactura <command> --help` describes a command.\n", f);
}

int af_cli_main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? AF_EXIT_BAD_INPUT : 0;
  }
  for (const command *c = COMMANDS; c->name; c++)
    if (strcmp(argv[1], c->name) == 0) return c->fn(argc - 1, argv + 1);
  fprintf(stderr, "autofactura: unknown command '%s' (see --help)\n", argv[1]);
  return AF_EXIT_BAD_INPUT;
}
