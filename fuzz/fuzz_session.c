/*
** fuzz_session.c: (a) wfs_json_decode, then wfs_session_push for every
** provider; driver.lua's `session` reads every field, tostring, to_table,
** checks and json, and sessions of list elements through core.session.
*/
#include "wfs_core.h"
#include "wfs_json.h"
#include "wfs_session.h"
#include "wfz.h"

static int run(lua_State *L) {
  const wfz_input *in = (const wfz_input *)lua_touserdata(L, 1);
  int v, p;
  lua_settop(L, 0);
  if (!wfs_json_decode(L, (const char *)in->data, in->size)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "invariant: wfs_json_decode failed without a message");
    return 0;
  }
  if (lua_gettop(L) != 1)
    luaL_error(L, "invariant: wfs_json_decode pushed %d values", lua_gettop(L));
  v = 1;
  if (lua_type(L, v) == LUA_TLIGHTUSERDATA)
    luaL_error(L, "invariant: a cjson.null escaped wfs_json_decode");
  wfz_pushdriver(L, "session");
  lua_pushvalue(L, v);
  if (lua_istable(L, v)) {
    for (p = 0; p < WFS_NPROVIDERS; p++)
      wfs_session_push(L, p, v);
    lua_call(L, 1 + WFS_NPROVIDERS, 0);
  }
  else {
    lua_call(L, 1, 0);
  }
  return 0;
}

WFZ_ENTRY(run)
