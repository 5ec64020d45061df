/*
** wfs_core.h: what the area files of the core share.
** Every area file exposes one `wfs_<area>_open(L)` that adds its
** functions to the module table on top of the stack.
*/
#ifndef WFS_CORE_H
#define WFS_CORE_H

#include "wfs_compat.h"

#define WFS_VERSION "0.1.0"

enum wfs_provider { WFS_COMPLYCUBE = 0, WFS_IDNOW, WFS_EXTEND, WFS_NPROVIDERS };
extern const char *const wfs_provider_names[];  /* NULL-terminated, enum order */

int luaopen_wfsession_core(lua_State *L);

void wfs_json_open(lua_State *L);
void wfs_time_open(lua_State *L);
void wfs_session_open(lua_State *L);
void wfs_pager_open(lua_State *L);
void wfs_curl_open(lua_State *L);
void wfs_error_open(lua_State *L);

#endif
