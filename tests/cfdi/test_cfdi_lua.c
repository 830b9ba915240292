/*
 * test_cfdi_lua.c -- the `cfdi` Lua module, driven by Lua code.
 */
#include <lauxlib.h>
#include <lualib.h>

#include "cfdi.h"
#include "test.h"

static void run_lua(const char *chunk) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "cfdi", luaopen_af_cfdi, 1);
  lua_pop(L, 1);
  lua_pushstring(L, AF_SOURCE_DIR "/tests/fixtures/cfdi/");
  lua_setglobal(L, "FIXTURES");
  if (luaL_dostring(L, chunk) != LUA_OK) AF__FAIL("%s", lua_tostring(L, -1));
  lua_close(L);
}

TEST(cfdi_lua_rules) {
  run_lua(
      "local info = assert(cfdi.validate_rfc(' aco-0102034h6 '))\n"
      "assert(info.rfc == 'ACO0102034H6' and info.person == 'moral')\n"
      "assert(info.check_digit_ok and not info.generic and not info.warning)\n"
      "info = assert(cfdi.validate_rfc('ACO0102034H7'))\n"
      "assert(not info.check_digit_ok and info.warning:find('check digit'))\n"
      "assert(cfdi.validate_rfc('XAXX010101000').generic)\n"
      "local none, why = cfdi.validate_rfc('PEGJ851332QR3')\n"
      "assert(none == nil and why == 'rfc: date part is not a real calendar date', why)\n"
      "assert(cfdi.normalize_rfc('a\\u{f1}\\u{f1}801231jk0') == 'A\\u{d1}\\u{d1}801231JK0')\n"
      "assert(cfdi.normalize_name('Acme, S.A. de C.V.') == 'ACME')\n"
      "assert(cfdi.normalize_name('Acme, S.A. de C.V.', false) == 'ACME, S.A. DE C.V.')\n"
      "local r = assert(cfdi.regimen('626'))\n"
      "assert(r.code == '626' and r.fisica and r.moral and r.description:find('Confianza'))\n"
      "assert(cfdi.regimen('609') == nil and cfdi.uso('P01') == nil)\n"
      "local u = assert(cfdi.uso('CN01'))\n"
      "assert(u.fisica and not u.moral and #u.regimenes == 1 and u.regimenes[1] == '605')\n"
      "assert(#cfdi.uso('S01').regimenes == 19)\n"
      "assert(cfdi.compatible('616', 'G02') and not cfdi.compatible('605', 'G01'))\n");
  return 0;
}

TEST(cfdi_lua_validate_and_verify) {
  run_lua(
      "local profile = {rfc = 'PEGJ850312QR3', full_name = 'Juan Pérez Gómez',\n"
      "  fiscal_regime = '605', postal_code = '06600', cfdi_use = 'G03',\n"
      "  email = 'juan@example.com'}\n"
      "local ok, issues = cfdi.validate_profile(profile, {folio = '1', amount = 1160,\n"
      "  date = '2026-11-20'})\n"
      "assert(ok == false and #issues == 1)\n"
      "assert(issues[1].severity == 'error' and issues[1].field == 'profile.cfdi_use')\n"
      "assert(issues[1].message == 'uso G03 is not allowed with régimen 605 (c_UsoCFDI)')\n"
      "profile.fiscal_regime = '612'\n"
      "ok, issues = cfdi.validate_profile(profile)\n"
      "assert(ok and #issues == 0)\n"
      "local res = assert(cfdi.verify_xml(FIXTURES .. 'fisica.xml', profile,\n"
      "  {amount = '1160.00'}))\n"
      "assert(res.ok and res.uuid == '5B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D')\n"
      "assert(#res.mismatches == 0)\n"
      "res = assert(cfdi.verify_xml(FIXTURES .. 'fisica.xml', profile, {amount = 99}))\n"
      "assert(not res.ok and res.mismatches[1].field == 'Comprobante.Total')\n"
      "local none, err = cfdi.verify_xml(FIXTURES .. 'README.md', profile)\n"
      "assert(none == nil and err:find('^xml: '), err)\n"
      "assert(not pcall(cfdi.verify_xml, FIXTURES .. 'fisica.xml'))\n");
  return 0;
}
