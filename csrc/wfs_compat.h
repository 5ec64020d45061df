/*
** wfs_compat.h: the few differences between Lua 5.1/LuaJIT and 5.2..5.4+
** that the core touches, kept in one place so the other files read as
** plain 5.4 code.
*/
#ifndef WFS_COMPAT_H
#define WFS_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/* LUAJIT_VERSION lives in luajit.h; LuaJIT's luaconf.h marks itself with LUA_LJDIR. */
#if defined(LUA_LJDIR) && !defined(LUAJIT_VERSION)
#include <luajit.h>
#endif

#if LUA_VERSION_NUM < 502
/* LuaJIT 2.1 already has luaL_setfuncs/luaL_newlib/luaL_testudata; PUC 5.1 has not. */
#if !defined(LUAJIT_VERSION)
void wfs_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
void *wfs_compat_testudata(lua_State *L, int idx, const char *tname);
#define luaL_setfuncs(L, l, n) wfs_compat_setfuncs(L, l, n)
#define luaL_testudata(L, i, t) wfs_compat_testudata(L, i, t)
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs(L, l, 0))
#endif
#define lua_rawlen(L, i) lua_objlen(L, i)
/* One user value per userdata: the function environment stands in for it. */
#define wfs_newudata(L, sz) lua_newuserdata(L, sz)
#define wfs_getuv(L, idx) lua_getfenv(L, idx)
#define wfs_setuv(L, idx) lua_setfenv(L, idx)
#elif LUA_VERSION_NUM < 504
#define wfs_newudata(L, sz) lua_newuserdata(L, sz)
#define wfs_getuv(L, idx) ((void)lua_getuservalue(L, idx))
#define wfs_setuv(L, idx) lua_setuservalue(L, idx)
#else
#define wfs_newudata(L, sz) lua_newuserdatauv(L, sz, 1)
#define wfs_getuv(L, idx) ((void)lua_getiuservalue(L, idx, 1))
#define wfs_setuv(L, idx) ((void)lua_setiuservalue(L, idx, 1))
#endif

#if LUA_VERSION_NUM < 503
#define wfs_isinteger(L, i) 0
#else
#define wfs_isinteger(L, i) lua_isinteger(L, i)
#endif

#if LUA_VERSION_NUM < 502
#define wfs_absindex(L, i) \
  (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)
#else
#define wfs_absindex(L, i) lua_absindex(L, i)
#endif

/*
** Metatables of the core's types are also kept in the registry under the
** address of a static key: the checks on the hot paths (every pop, every
** session made) then compare with one raw lookup instead of hashing the
** type's name.
*/
void wfs_setmetatablekey(lua_State *L, const void *key);  /* registers the table on top */
void wfs_pushmetatable(lua_State *L, const void *key);
void *wfs_checkobject(lua_State *L, int idx, const void *key, const char *tname);

/*
** Register a type: its metatable `tname` (named on every version, also
** under `key` when not NULL) with the metamethods `meta` and an __index
** table of `methods`. Leaves the stack as it was.
*/
void wfs_newclass(lua_State *L, const char *tname, const void *key, const luaL_Reg *meta,
                  const luaL_Reg *methods);

/*
** An integer argument on every version: 5.1's luaL_checkinteger truncates
** 404.5 to 404, 5.3+ refuses it; this refuses it everywhere.
*/
lua_Integer wfs_checkinteger(lua_State *L, int arg);
lua_Integer wfs_optinteger(lua_State *L, int arg, lua_Integer def);

#endif
