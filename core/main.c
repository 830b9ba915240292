/*
 * main.c -- the `autofactura` command: dispatches to the subcommands in cli.c.
 */
#include "cli.h"

int main(int argc, char **argv) { return af_cli_main(argc, argv); }
