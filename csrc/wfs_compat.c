/*
** wfs_compat.c: the functions behind wfs_compat.h, for PUC Lua 5.1 only
** (LuaJIT 2.1 and 5.2+ have them).
*/
#include "wfs_compat.h"

#if LUA_VERSION_NUM < 502 && !defined(LUAJIT_VERSION)
void wfs_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++)
      lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}


void *wfs_compat_testudata(lua_State *L, int idx, const char *tname) {
  void *p = lua_touserdata(L, idx);
  if (p == NULL || !lua_getmetatable(L, idx))
    return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2))
    p = NULL;
  lua_pop(L, 2);
  return p;
}
#endif


void wfs_setmetatablekey(lua_State *L, const void *key) {
  lua_pushlightuserdata(L, (void *)(size_t)key);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}


void wfs_pushmetatable(lua_State *L, const void *key) {
  lua_pushlightuserdata(L, (void *)(size_t)key);
  lua_rawget(L, LUA_REGISTRYINDEX);
}


void wfs_newclass(lua_State *L, const char *tname, const void *key, const luaL_Reg *meta,
                  const luaL_Reg *methods) {
  luaL_newmetatable(L, tname);
  if (key != NULL)
    wfs_setmetatablekey(L, key);
#if LUA_VERSION_NUM < 503
  lua_pushstring(L, tname);  /* 5.3+ luaL_newmetatable sets it */
  lua_setfield(L, -2, "__name");
#endif
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}


void *wfs_checkobject(lua_State *L, int idx, const void *key, const char *tname) {
  void *p = lua_touserdata(L, idx);
  if (p != NULL && lua_getmetatable(L, idx)) {
    int same;
    wfs_pushmetatable(L, key);
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (same)
      return p;
  }
  luaL_argerror(L, idx, lua_pushfstring(L, "%s expected, got %s", tname, luaL_typename(L, idx)));
  return NULL;
}


lua_Integer wfs_checkinteger(lua_State *L, int arg) {
#if LUA_VERSION_NUM >= 503
  return luaL_checkinteger(L, arg);
#else
  lua_Number n = luaL_checknumber(L, arg);
  lua_Integer i = (lua_Integer)n;
  if ((lua_Number)i != n)
    luaL_argerror(L, arg, "number has no integer representation");
  return i;
#endif
}


lua_Integer wfs_optinteger(lua_State *L, int arg, lua_Integer def) {
  return lua_isnoneornil(L, arg) ? def : wfs_checkinteger(L, arg);
}
