/*
 * cli.h -- the command line: subcommand dispatch and their option parsing.
 */
#ifndef AF_CLI_H
#define AF_CLI_H

/* Exit codes of `autofactura run` and friends (DESIGN.md contract). */
enum {
  AF_EXIT_COMPLETED = 0,
  AF_EXIT_INTERNAL = 1,
  AF_EXIT_BAD_INPUT = 2,
  AF_EXIT_FAILED = 3,
  AF_EXIT_INTERVENTION = 4,
  AF_EXIT_DIVERGED = 5 /* replay: the recipe left the recording */
};

int af_cli_main(int argc, char **argv);
/* Subcommands: argv[0] is the subcommand's name. */
int af_cli_run(int argc, char **argv);
int af_cli_replay(int argc, char **argv);
int af_cli_record_recipe(int argc, char **argv);

#endif
