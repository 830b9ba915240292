/*
 * recipe.h -- finding the recipe that claims a portal URL: each recipe in
 * the recipes directory declares `domains` or a `match(url)` function.
 */
#ifndef AF_RECIPE_H
#define AF_RECIPE_H

/* The recipes directory: $AF_RECIPES_DIR, else the source tree's. */
const char *af_recipe_dir(void);
/* Path of the first recipe (by file name) that claims url, or NULL when
 * none does (then the generic fallback runs). 0, or -1 with *err when the
 * recipes cannot be read or one of them does not load. */
int af_recipe_find(const char *url, char **path, char **err);
/* The generic fallback, lua/af/generic.lua (fresh string). */
char *af_generic_recipe_path(void);
/* The name errors show: relative to the source tree when inside it. */
char *af_recipe_display_name(const char *path);
/* Host part of a URL, lower case; NULL when it has none. */
char *af_recipe_url_host(const char *url);

#endif
