/*
** wfs_core.c: the entry point of `wfsession.core`.
** Each area registers itself; this file only orders them and sets the
** module's name and version.
*/
#include "wfs_core.h"

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
  wfs_easy_open(L);
  wfs_multi_open(L);
  wfs_signal_open(L);
  wfs_hash_open(L);
  return 1;
}
