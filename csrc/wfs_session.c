/* wfs_session.c: placeholder until the area lands. */
#include "wfs_core.h"

void wfs_session_open(lua_State *L) { (void)L; }
