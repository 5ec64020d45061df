/*
** fuzz_pager.c: (b) the pager's feed path. driver.lua's `pager` creates a
** pager of every provider variant through core.pager{...}, asks for a
** request, feeds the input (split on ASCII RS into up to 8 successive
** pages) as a 200 answer, pops every session, takes cursor() and resumes
** from it; then core.cursor_decode(input).
*/
#include "wfz.h"

static int run(lua_State *L) {
  const wfz_input *in = (const wfz_input *)lua_touserdata(L, 1);
  wfz_pushdriver(L, "pager");
  lua_pushlstring(L, (const char *)in->data, in->size);
  lua_call(L, 1, 0);
  return 0;
}

WFZ_ENTRY(run)
