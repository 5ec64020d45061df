/*
** fuzz_headers.c: the response-header parser of a transfer
** (transfer_pushheaders, static in wfs_transfer.c, so that file is included
** here and its object left out of this binary) and wfs_transfer_pushfail. Header
** names must come out lower case without ':' or blanks at either end,
** values without LF; the failure message must be one line.
*/
#include "../csrc/wfs_transfer.c"

#include "wfz.h"

static void check_headers(lua_State *L, int t) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    size_t kl, vl, i;
    const char *k, *v;
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "invariant: a header that is not string = string");
    k = lua_tolstring(L, -2, &kl);
    v = lua_tolstring(L, -1, &vl);
    if (kl == 0) luaL_error(L, "invariant: an empty header name");
    for (i = 0; i < kl; i++) {
      if ((k[i] >= 'A' && k[i] <= 'Z') || k[i] == ':' || k[i] == '\n')
        luaL_error(L, "invariant: header name '%s'", k);
    }
    if (k[0] == ' ' || k[0] == '\t' || k[kl - 1] == ' ' || k[kl - 1] == '\t')
      luaL_error(L, "invariant: header name with blanks at an end");
    if (memchr(v, '\n', vl) != NULL)  /* a bare CR inside a line is the server's */
      luaL_error(L, "invariant: header value with LF");
    lua_pop(L, 1);
  }
}

static int run(lua_State *L) {
  const wfz_input *in = (const wfz_input *)lua_touserdata(L, 1);
  wfs_buf b;
  char *copy;
  size_t len, i;
  const char *msg;
  int top;
  /* a heap copy of exactly the input's size: ASan sees any read past it */
  copy = (char *)malloc(in->size ? in->size : 1);
  if (copy == NULL) return 0;
  memcpy(copy, in->data, in->size);
  b.p = copy;  /* never NULL: push_headers does NULL + 0 then (reported, wfs_transfer.c) */
  b.len = in->size;
  b.cap = in->size;
  top = lua_gettop(L);
  transfer_pushheaders(L, &b);
  if (lua_gettop(L) != top + 1 || !lua_istable(L, -1)) {
    free(copy);
    luaL_error(L, "invariant: transfer_pushheaders did not push one table");
  }
  check_headers(L, top + 1);
  lua_settop(L, top);
  /* the same bytes as libcurl's error text */
  copy = (char *)realloc(copy, in->size + 1);
  if (copy == NULL) return 0;
  copy[in->size] = '\0';
  if (wfs_transfer_pushfail(L, in->size ? in->data[0] : 0, NULL, copy) != 3) {
    free(copy);
    luaL_error(L, "invariant: wfs_transfer_pushfail did not return 3");
  }
  free(copy);
  msg = lua_tolstring(L, -2, &len);
  if (msg == NULL) luaL_error(L, "invariant: no message");
  for (i = 0; i < len; i++) {
    if (msg[i] == '\n' || msg[i] == '\r')
      luaL_error(L, "invariant: the message is not one line");
  }
  lua_settop(L, top);
  return 0;
}

WFZ_ENTRY(run)
