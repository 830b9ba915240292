/*
 * json.h -- JSON through lua-cjson, for C code that reads or writes JSON.
 * Decoded documents are Lua values on a lua_State: C reads them with the
 * path helpers below (as Redis does with cjson in its scripting engine).
 */
#ifndef AF_JSON_H
#define AF_JSON_H

#include <stddef.h>

#include <lua.h>

/* Make cjson available in L (registry), once per state. 0 or -1. */
int af_json_open(lua_State *L);

/* Decode s; pushes the value (0) or an error string (-1). */
int af_json_decode(lua_State *L, const char *s, size_t n);

/* Encode the value at idx; a fresh af_malloc'd string, or NULL with an
 * error string pushed. */
char *af_json_encode(lua_State *L, int idx, size_t *len);

/* Read a field by dotted path ("result.result.value") in the table at idx.
 * af_json_str's pointer lives as long as the table does. */
const char *af_json_str(lua_State *L, int idx, const char *path, size_t *len);
int af_json_num(lua_State *L, int idx, const char *path, double *out);
int af_json_bool(lua_State *L, int idx, const char *path, int *out);
/* Push the value at path (nil if absent); returns its Lua type. */
int af_json_push(lua_State *L, int idx, const char *path);

#endif
