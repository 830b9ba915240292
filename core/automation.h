/*
 * automation.h -- the `automation-tasks` worker: BullMQ jobs carrying the
 * seed's AutomationJobData become tasks run by the recipe that claims the
 * vendor URL, recorded in the store as they go.
 */
#ifndef AF_AUTOMATION_H
#define AF_AUTOMATION_H

/* `autofactura worker` without --handler. argv[0] is "worker". */
int af_automation_cmd_worker(int argc, char **argv);

#endif
