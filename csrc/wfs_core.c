/*
** wfs_core.c: the entry point of `wfsession.core`.
** Each area registers itself; this file only orders them and sets the
** module's name and version.
*/
#include "wfs_core.h"

const char *const wfs_provider_names[] = { "complycube", "idnow", "extend", NULL };

#if LUA_VERSION_NUM < 502 && !defined(LUAJIT_VERSION)
void wfs_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

void *wfs_compat_testudata(lua_State *L, int idx, const char *tname) {
  void *p = lua_touserdata(L, idx);
  if (p == NULL || !lua_getmetatable(L, idx)) return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}
#endif

int luaopen_wfsession_core(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, "wfsession.core");
  lua_setfield(L, -2, "_NAME");
  lua_pushliteral(L, WFS_VERSION);
  lua_setfield(L, -2, "VERSION");
  /* json first: the others decode and encode through it */
  wfs_json_open(L);
  wfs_time_open(L);
  wfs_session_open(L);
  wfs_error_open(L);
  wfs_pager_open(L);
  wfs_curl_open(L);
  return 1;
}
