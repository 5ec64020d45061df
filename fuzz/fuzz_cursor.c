/*
** fuzz_cursor.c: (b') cursors. driver.lua's `cursor` gives the input to
** core.cursor_decode as is, then wraps it as a cursor with a valid checksum
** (so the fuzzer reaches past it) and resumes a pager of every provider
** from it: a refusal must be a clean error, a pager it gives must page on.
*/
#include "wfz.h"

static int run(lua_State *L) {
  const wfz_input *in = (const wfz_input *)lua_touserdata(L, 1);
  wfz_pushdriver(L, "cursor");
  lua_pushlstring(L, (const char *)in->data, in->size);
  lua_call(L, 1, 0);
  return 0;
}

WFZ_ENTRY(run)
