/*
 * config.c -- checks of the settings the runtime reads from the environment.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

int af_config_check_browser(char **err) {
  const char *b = getenv("AF_BROWSER");
  if (b && *b && strcmp(b, "local") != 0) {
    if (strcmp(b, "browserbase") == 0)
      *err = af_strdup("AF_BROWSER=browserbase: the Browserbase provider is not available "
                       "yet; use local (the default)");
    else
      *err = af_strdup("AF_BROWSER: must be local or browserbase");
    return -1;
  }
  const char *c = getenv("AF_CHROMIUM");
  if (c && *c == '\0') {
    *err = af_strdup("AF_CHROMIUM: must name the browser executable (or be unset)");
    return -1;
  }
  return 0;
}
