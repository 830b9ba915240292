/*
 * queue_cli.h -- the queue's commands: `autofactura enqueue` and
 * `autofactura worker --handler FILE.lua` (argv as given to main, argv[1]
 * being the command). Return the process exit code.
 */
#ifndef AF_QUEUE_CLI_H
#define AF_QUEUE_CLI_H

int af_queue_cli_enqueue(int argc, char **argv);
int af_queue_cli_worker(int argc, char **argv);

#endif
