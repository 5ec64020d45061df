/* wfs_json.c: placeholder until the area lands. */
#include "wfs_core.h"

void wfs_json_open(lua_State *L) { (void)L; }
