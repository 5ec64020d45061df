/*
** fuzz_pagecheck.c: the page checks across a listing. driver.lua's
** `pagecheck` reads the input as a script of page answers (page number,
** total, pages, which ids, how many) for ComplyCube and IDnow listings,
** mostly consistent, sometimes not, and feeds them in request order as a
** driver with several requests in flight would. Whatever the server says,
** no id may come out twice, nothing may raise, and a listing that ends
** without an error, served consistently, must have yielded every session.
*/
#include "wfz.h"

static int run(lua_State *L) {
  const wfz_input *in = (const wfz_input *)lua_touserdata(L, 1);
  wfz_pushdriver(L, "pagecheck");
  lua_pushlstring(L, (const char *)in->data, in->size);
  lua_call(L, 1, 0);
  return 0;
}

WFZ_ENTRY(run)
