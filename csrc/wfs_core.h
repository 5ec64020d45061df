/*
** wfs_core.h: what the area files of the core share.
** Every area file exposes one `wfs_<area>_open(L)` that adds its
** functions to the module table on top of the stack.
*/
#ifndef WFS_CORE_H
#define WFS_CORE_H

#include "wfs_compat.h"
#include "wfs_provider.h"

#define WFS_VERSION "0.2.0"

int luaopen_wfsession_core(lua_State *L);

void wfs_json_open(lua_State *L);
void wfs_time_open(lua_State *L);
void wfs_session_open(lua_State *L);
void wfs_error_open(lua_State *L);
void wfs_pager_open(lua_State *L);
void wfs_easy_open(lua_State *L);
void wfs_multi_open(lua_State *L);
void wfs_signal_open(lua_State *L);
void wfs_hash_open(lua_State *L);

/* Whether SIGINT came since core.trap_interrupts() (wfs_signal.c). */
int wfs_signal_interrupted(void);

#endif
