/*
 * config.h -- the runtime's settings from the environment (DESIGN.md):
 * checked at start, so that a bad value is refused with its name.
 */
#ifndef AF_CONFIG_H
#define AF_CONFIG_H

/* Check the browser settings (AF_BROWSER, AF_CHROMIUM). 0, or -1 with
 * *err naming the variable and the rule. */
int af_config_check_browser(char **err);

#endif
