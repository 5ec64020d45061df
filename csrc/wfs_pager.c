/* wfs_pager.c: placeholder until the area lands. */
#include "wfs_core.h"

void wfs_pager_open(lua_State *L) { (void)L; }
