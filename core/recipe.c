/*
 * recipe.c -- recipe selection: loads each recipe of the recipes directory
 * in its own small sandbox (script.c) and asks whether it claims the URL,
 * by its `domains` list or its `match(url)` function.
 */
#include "recipe.h"

#include <ctype.h>
#include <dirent.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "script.h"

const char *af_recipe_dir(void) {
  const char *d = getenv("AF_RECIPES_DIR");
  return d && *d ? d : AF_SOURCE_DIR "/recipes";
}

char *af_recipe_url_host(const char *url) {
  const char *p = strstr(url, "://");
  if (p == NULL) return NULL;
  p += 3;
  size_t n = strcspn(p, "/?#");
  const char *at = memchr(p, '@', n);
  if (at) {
    n -= (size_t)(at + 1 - p);
    p = at + 1;
  }
  size_t h = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/?#");
  if (h > n) h = n;
  if (h == 0) return NULL;
  char *host = af_strndup(p, h);
  for (char *c = host; c && *c; c++) *c = (char)tolower((unsigned char)*c);
  return host;
}

char *af_recipe_display_name(const char *path) {
  if (path == NULL) return NULL;
  size_t n = strlen(AF_SOURCE_DIR);
  if (strncmp(path, AF_SOURCE_DIR "/", n + 1) == 0) return af_strdup(path + n + 1);
  return af_strdup(path);
}

/* Does the recipe on top of L claim url (host)? */
static int claims(lua_State *L, const char *url, const char *host) {
  if (!lua_istable(L, -1)) return 0;
  int yes = 0;
  if (lua_getfield(L, -1, "domains") == LUA_TTABLE && host) { /* stack: r, domains */
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n && !yes; i++) {
      lua_geti(L, -1, i);
      const char *d = lua_tostring(L, -1);
      size_t hl = strlen(host), dl = d ? strlen(d) : 0;
      if (d && (strcasecmp(host, d) == 0 ||
                (hl > dl && host[hl - dl - 1] == '.' && strcasecmp(host + hl - dl, d) == 0)))
        yes = 1;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);                                       /* stack: r */
  if (!yes && lua_getfield(L, -1, "match") == LUA_TFUNCTION) {
    lua_pushstring(L, url);                            /* stack: r, match, url */
    yes = lua_pcall(L, 1, 1, 0) == LUA_OK && lua_toboolean(L, -1);
  }
  lua_pop(L, 1);                                       /* stack: r */
  return yes;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_lua(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 4 && e->d_name[0] != '.' && strcmp(e->d_name + n - 4, ".lua") == 0;
}

int af_recipe_find(const char *url, char **path, char **err) {
  const char *dir = af_recipe_dir();
  struct dirent **list = NULL;
  int n = scandir(dir, &list, is_lua, by_name);
  if (n < 0) {
    *err = af_asprintf("no recipes directory at %s (set AF_RECIPES_DIR)", dir);
    return -1;
  }
  char *host = af_recipe_url_host(url);
  af_buf broken;
  af_buf_init(&broken);
  *path = NULL;
  af_script_limits lim = {10000000, 16u << 20, 2000};
  for (int i = 0; i < n && *path == NULL; i++) {
    char *file = af_asprintf("%s/%s", dir, list[i]->d_name);
    char *name = af_recipe_display_name(file);
    char *lerr = NULL;
    af_script *s = file && name ? af_script_new(&lim, &lerr) : NULL;
    if (s && af_script_dofile(s, file, name, &lerr) == 0) {
      if (claims(af_script_state(s), url, host)) {
        *path = file;
        file = NULL;
      }
    } else {
      af_buf_printf(&broken, "; %s did not load: %s", name ? name : "?", lerr ? lerr : "?");
    }
    af_script_free(s);
    af_free(lerr);
    af_free(name);
    af_free(file);
  }
  for (int i = 0; i < n; i++) free(list[i]);
  free(list);
  int rc = 0;
  if (*path == NULL && broken.len) { /* the one that claims it may be broken */
    *err = af_asprintf("no recipe in %s claims %s, and some did not load%s", dir,
                       host ? host : url, broken.data);
    rc = -1;
  }
  af_free(host);
  af_buf_free(&broken);
  return rc;
}

char *af_generic_recipe_path(void) {
  const char *dir = getenv("AF_LUA_DIR");
  if (dir == NULL || *dir == '\0') dir = AF_SOURCE_DIR "/lua";
  return af_asprintf("%s/af/generic.lua", dir);
}
