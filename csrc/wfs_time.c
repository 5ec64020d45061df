/* wfs_time.c: placeholder until the area lands. */
#include "wfs_core.h"

void wfs_time_open(lua_State *L) { (void)L; }
