/*
 * cfdi_lua.c -- the cfdi rules seen from Lua: profile and ticket read from
 * Lua tables (as core/json.h decodes them) and the `cfdi` module.
 * C results that must be freed live in a userdata box with __gc while Lua
 * values are pushed, so an error raised by Lua leaks nothing.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cfdi.h"

/* ---- profile and ticket from Lua tables ---------------------------------- */

enum { N_PROFILE = 6, N_TICKET = 4 };
static const char *const PROFILE_FIELDS[N_PROFILE] = {
    "rfc", "full_name", "fiscal_regime", "postal_code", "cfdi_use", "email"};
static const char *const TICKET_FIELDS[N_TICKET] = {"folio", "amount", "date",
                                                    "concept"};

/* Push field names[i] of the table at idx as a string (numbers converted:
 * integral ones without ".0"); out[i] points into the stack and stays valid
 * until the caller pops. A value of another type is an error in r. */
static void push_fields(lua_State *L, int idx, const char *what,
                        const char *const *names, int n, const char **out,
                        af_cfdi_report *r) {
  luaL_checkstack(L, n, "cfdi fields");
  for (int i = 0; i < n; i++) {
    out[i] = NULL;
    lua_pushstring(L, names[i]);                     /* stack: name */
    lua_rawget(L, idx);                              /* stack: value */
    int type = lua_type(L, -1);
    if (type == LUA_TNUMBER) {
      lua_Number d = lua_tonumber(L, -1);
      if (d == floor(d) && fabs(d) < 1e15)
        lua_pushfstring(L, "%I", (lua_Integer)d);    /* stack: value, text */
      else
        lua_pushstring(L, lua_tostring(L, -1));      /* stack: value, text */
      lua_replace(L, -2);                            /* stack: text */
      type = LUA_TSTRING;
    }
    if (type == LUA_TSTRING)
      out[i] = lua_tostring(L, -1);
    else if (type != LUA_TNIL && r) {
      char field[32];
      snprintf(field, sizeof field, "%s.%s", what, names[i]);
      af_cfdi_report_add(r, AF_CFDI_ERROR, field, "must be a string");
    }
  }
}

static void profile_from(const char **v, af_cfdi_profile *p) {
  *p = (af_cfdi_profile){v[0], v[1], v[2], v[3], v[4], v[5]};
}

static void ticket_from(const char **v, af_cfdi_ticket *t) {
  *t = (af_cfdi_ticket){v[0], v[1], v[2], v[3]};
}

int af_cfdi_validate_lua(lua_State *L, int profile_idx, int ticket_idx,
                         af_cfdi_report *out) {
  int top = lua_gettop(L);
  const char *pv[N_PROFILE] = {0}, *tv[N_TICKET] = {0};
  profile_idx = lua_absindex(L, profile_idx);
  if (ticket_idx) ticket_idx = lua_absindex(L, ticket_idx);
  if (lua_istable(L, profile_idx))
    push_fields(L, profile_idx, "profile", PROFILE_FIELDS, N_PROFILE, pv, out);
  else
    af_cfdi_report_add(out, AF_CFDI_ERROR, "profile", "must be a JSON object");
  if (ticket_idx && lua_istable(L, ticket_idx))
    push_fields(L, ticket_idx, "ticket", TICKET_FIELDS, N_TICKET, tv, out);
  else if (ticket_idx)
    af_cfdi_report_add(out, AF_CFDI_ERROR, "ticket", "must be a JSON object");
  af_cfdi_profile p;
  af_cfdi_ticket t;
  profile_from(pv, &p);
  ticket_from(tv, &t);
  int rc = af_cfdi_validate(&p, ticket_idx ? &t : NULL, out);
  lua_settop(L, top);
  return rc;
}

int af_cfdi_verify_xml_lua(lua_State *L, const char *path, int profile_idx,
                           int ticket_idx, af_cfdi_verify *out, char **err) {
  int top = lua_gettop(L);
  const char *pv[N_PROFILE] = {0}, *tv[N_TICKET] = {0};
  profile_idx = lua_absindex(L, profile_idx);
  if (ticket_idx) ticket_idx = lua_absindex(L, ticket_idx);
  if (lua_istable(L, profile_idx))
    push_fields(L, profile_idx, "profile", PROFILE_FIELDS, N_PROFILE, pv, NULL);
  if (ticket_idx && lua_istable(L, ticket_idx))
    push_fields(L, ticket_idx, "ticket", TICKET_FIELDS, N_TICKET, tv, NULL);
  af_cfdi_profile p;
  af_cfdi_ticket t;
  profile_from(pv, &p);
  ticket_from(tv, &t);
  int rc = af_cfdi_verify_xml(path, &p, ticket_idx ? &t : NULL, out, err);
  lua_settop(L, top);
  return rc;
}

/* ---- the box: C results owned by a userdata ------------------------------ */

typedef struct box {
  char *s;
  af_cfdi_report report;
  af_cfdi_verify verify;
} box;

static const char BOX_MT[] = "af.cfdi.box";

static int box_gc(lua_State *L) {
  box *b = luaL_checkudata(L, 1, BOX_MT);
  af_free(b->s);
  b->s = NULL;
  af_cfdi_report_free(&b->report);
  af_cfdi_verify_free(&b->verify);
  return 0;
}

static box *newbox(lua_State *L) {
  box *b = lua_newuserdatauv(L, sizeof *b, 0);       /* stack: box */
  memset(b, 0, sizeof *b);
  if (luaL_newmetatable(L, BOX_MT)) {                /* stack: box, mt */
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);                           /* stack: box */
  return b;
}

static int oom(lua_State *L) { return luaL_error(L, "cfdi: out of memory"); }

/* ---- the cfdi module ------------------------------------------------------- */

static int l_normalize_rfc(lua_State *L) {
  const char *s = luaL_checkstring(L, 1);
  box *b = newbox(L);
  if ((b->s = af_cfdi_rfc_normalize(s)) == NULL) return oom(L);
  lua_pushstring(L, b->s);
  return 1;
}

static int l_normalize_name(lua_State *L) {
  const char *s = luaL_checkstring(L, 1);
  int strip = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
  box *b = newbox(L);
  if ((b->s = af_cfdi_name_normalize(s, strip)) == NULL) return oom(L);
  lua_pushstring(L, b->s);
  return 1;
}

static int l_validate_rfc(lua_State *L) {
  const char *s = luaL_checkstring(L, 1);
  box *b = newbox(L);                                /* stack: s, box */
  if ((b->s = af_cfdi_rfc_normalize(s)) == NULL) return oom(L);
  af_cfdi_rfc info;
  if (af_cfdi_rfc_check(b->s, &info) < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "rfc: %s", info.error);
    return 2;
  }
  lua_createtable(L, 0, 5);                          /* stack: s, box, info */
  lua_pushstring(L, b->s);
  lua_setfield(L, -2, "rfc");
  lua_pushstring(L, info.person == AF_CFDI_MORAL ? "moral" : "fisica");
  lua_setfield(L, -2, "person");
  lua_pushboolean(L, info.generic);
  lua_setfield(L, -2, "generic");
  lua_pushboolean(L, info.check_digit_ok);
  lua_setfield(L, -2, "check_digit_ok");
  if (!info.check_digit_ok) {
    lua_pushliteral(L, "rfc: check digit does not match SAT's algorithm");
    lua_setfield(L, -2, "warning");
  }
  return 1;
}

static void push_flags(lua_State *L, const char *code, const char *description,
                       int fisica, int moral) {
  lua_createtable(L, 0, 5);                          /* stack: t */
  lua_pushstring(L, code);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, description);
  lua_setfield(L, -2, "description");
  lua_pushboolean(L, fisica);
  lua_setfield(L, -2, "fisica");
  lua_pushboolean(L, moral);
  lua_setfield(L, -2, "moral");
}

static int l_regimen(lua_State *L) {
  const af_cfdi_regimen *r = af_cfdi_regimen_find(luaL_checkstring(L, 1));
  if (r == NULL) return lua_pushnil(L), 1;
  push_flags(L, r->code, r->description, r->fisica, r->moral);
  return 1;
}

static int l_uso(lua_State *L) {
  const af_cfdi_uso *u = af_cfdi_uso_find(luaL_checkstring(L, 1));
  if (u == NULL) return lua_pushnil(L), 1;
  push_flags(L, u->code, u->description, u->fisica, u->moral); /* stack: t */
  lua_newtable(L);                                   /* stack: t, list */
  int i = 0;
  for (const char *p = u->regimenes; *p; i++) {
    const char *bar = strchr(p, '|');
    size_t k = bar ? (size_t)(bar - p) : strlen(p);
    lua_pushlstring(L, p, k);                        /* stack: t, list, code */
    lua_rawseti(L, -2, i + 1);
    p += k + (bar ? 1 : 0);
  }
  lua_setfield(L, -2, "regimenes");                  /* stack: t */
  return 1;
}

static int l_compatible(lua_State *L) {
  lua_pushboolean(L, af_cfdi_compatible(luaL_checkstring(L, 1),
                                        luaL_checkstring(L, 2)));
  return 1;
}

/* Push r's issues as an array of {severity, field, message}. */
static void push_issues(lua_State *L, const af_cfdi_report *r) {
  lua_createtable(L, (int)r->n, 0);                  /* stack: list */
  for (size_t i = 0; i < r->n; i++) {
    lua_createtable(L, 0, 3);                        /* stack: list, item */
    lua_pushstring(L, r->items[i].severity == AF_CFDI_ERROR ? "error" : "warning");
    lua_setfield(L, -2, "severity");
    lua_pushstring(L, r->items[i].field);
    lua_setfield(L, -2, "field");
    lua_pushstring(L, r->items[i].message);
    lua_setfield(L, -2, "message");
    lua_rawseti(L, -2, (lua_Integer)i + 1);          /* stack: list */
  }
}

static int l_validate_profile(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int has_ticket = !lua_isnoneornil(L, 2);
  box *b = newbox(L);
  if (af_cfdi_validate_lua(L, 1, has_ticket ? 2 : 0, &b->report) < 0) return oom(L);
  lua_pushboolean(L, b->report.errors == 0);
  push_issues(L, &b->report);
  return 2;
}

static int l_verify_xml(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int has_ticket = !lua_isnoneornil(L, 3);
  if (has_ticket) luaL_checktype(L, 3, LUA_TTABLE);
  box *b = newbox(L);
  if (af_cfdi_verify_xml_lua(L, path, 2, has_ticket ? 3 : 0, &b->verify, &b->s) < 0) {
    lua_pushnil(L);
    lua_pushstring(L, b->s ? b->s : "xml: out of memory");
    return 2;
  }
  lua_createtable(L, 0, 3);                          /* stack: ..., box, res */
  lua_pushboolean(L, b->verify.mismatches.errors == 0 && b->verify.uuid);
  lua_setfield(L, -2, "ok");
  if (b->verify.uuid) {
    lua_pushstring(L, b->verify.uuid);
    lua_setfield(L, -2, "uuid");
  }
  push_issues(L, &b->verify.mismatches);             /* stack: ..., res, list */
  lua_setfield(L, -2, "mismatches");
  return 1;
}

int luaopen_af_cfdi(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"validate_rfc", l_validate_rfc},
      {"normalize_rfc", l_normalize_rfc},
      {"normalize_name", l_normalize_name},
      {"regimen", l_regimen},
      {"uso", l_uso},
      {"compatible", l_compatible},
      {"validate_profile", l_validate_profile},
      {"verify_xml", l_verify_xml},
      {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
