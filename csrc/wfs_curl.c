/* wfs_curl.c: placeholder until the area lands. */
#include "wfs_core.h"

void wfs_curl_open(lua_State *L) { (void)L; }
