/* wfs_error.c: placeholder until the area lands. */
#include "wfs_core.h"

void wfs_error_open(lua_State *L) { (void)L; }
