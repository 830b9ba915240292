/*
 * json.c -- JSON decode/encode through lua-cjson and dotted-path readers.
 * Relies on lua-cjson's luaopen_cjson; each state keeps its own instance.
 */
#include "json.h"

#include <lauxlib.h>
#include <lua-cjson.h>
#include <string.h>

#include "alloc.h"

static const char KEY_DECODE = 'd', KEY_ENCODE = 'e';

int af_json_open(lua_State *L) {
  luaL_requiref(L, "cjson", luaopen_cjson, 0);       /* stack: cjson */
  lua_getfield(L, -1, "decode_max_depth");
  lua_pushinteger(L, 200);
  lua_call(L, 1, 0);
  lua_getfield(L, -1, "decode");                     /* stack: cjson, decode */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_DECODE);
  lua_getfield(L, -1, "encode");                     /* stack: cjson, encode */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_ENCODE);
  lua_pop(L, 1);                                     /* stack: - */
  return 0;
}

int af_json_decode(lua_State *L, const char *s, size_t n) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_DECODE);    /* stack: decode */
  lua_pushlstring(L, s, n);                          /* stack: decode, s */
  return lua_pcall(L, 1, 1, 0) == LUA_OK ? 0 : -1;   /* stack: value|err */
}

char *af_json_encode(lua_State *L, int idx, size_t *len) {
  idx = lua_absindex(L, idx);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_ENCODE);    /* stack: encode */
  lua_pushvalue(L, idx);                             /* stack: encode, v */
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) return NULL;  /* stack: err */
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);          /* stack: str */
  char *out = af_strndup(s, n);
  lua_pop(L, 1);
  if (out && len) *len = n;
  return out;
}

int af_json_push(lua_State *L, int idx, const char *path) {
  idx = lua_absindex(L, idx);
  lua_pushvalue(L, idx);                             /* stack: t */
  while (*path) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      lua_pushnil(L);
      return LUA_TNIL;
    }
    lua_pushlstring(L, path, n);                     /* stack: t, key */
    lua_rawget(L, -2);                               /* stack: t, v */
    lua_remove(L, -2);                               /* stack: v */
    path += n + (dot ? 1 : 0);
  }
  return lua_type(L, -1);
}

const char *af_json_str(lua_State *L, int idx, const char *path, size_t *len) {
  const char *s = NULL;
  if (af_json_push(L, idx, path) == LUA_TSTRING) s = lua_tolstring(L, -1, len);
  lua_pop(L, 1); /* the string stays alive: the table at idx holds it */
  return s;
}

int af_json_num(lua_State *L, int idx, const char *path, double *out) {
  int ok = af_json_push(L, idx, path) == LUA_TNUMBER;
  if (ok) *out = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return ok ? 0 : -1;
}

int af_json_bool(lua_State *L, int idx, const char *path, int *out) {
  int ok = af_json_push(L, idx, path) == LUA_TBOOLEAN;
  if (ok) *out = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return ok ? 0 : -1;
}
