/*
** fuzz_scan.c: the token scan of cursor listings (pager:peek, before a page
** is decoded). driver.lua's `scan` peeks at the input as an Extend body,
** and when the input decodes to a JSON object, checks that what the scan
** found is that object's own top-level nextPageToken: a token from deeper
** down, or from inside a string, would send the next request astray.
*/
#include "wfz.h"

static int run(lua_State *L) {
  const wfz_input *in = (const wfz_input *)lua_touserdata(L, 1);
  wfz_pushdriver(L, "scan");
  lua_pushlstring(L, (const char *)in->data, in->size);
  lua_call(L, 1, 0);
  return 0;
}

WFZ_ENTRY(run)
