/*
** fuzz_error.c: (d) wfs_error_http, and wfs_error_push with text from the
** input. Input layout: byte 0 picks the provider (-1..3, so also none and
** an out-of-range one), bytes 1-4 the status (big-endian, signed), byte 5
** the headers (none, a table with x-request-id, a table without it, or a
** string where a table belongs) and whether the body is NULL; the rest is
** the body. The result must be `msg, err` as wfs_error.h promises.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wfs_core.h"
#include "wfs_error.h"
#include "wfz.h"

#define HDR 6

static void check_pair(lua_State *L, int base, long status, int provider, int hasmsg) {
  size_t len, i;
  const char *msg;
  if (lua_gettop(L) != base + 2)
    luaL_error(L, "invariant: pushed %d values, not 2", lua_gettop(L) - base);
  if (lua_type(L, base + 1) != LUA_TSTRING)
    luaL_error(L, "invariant: msg is a %s", luaL_typename(L, base + 1));
  msg = lua_tolstring(L, base + 1, &len);
  if (len > 200)
    luaL_error(L, "invariant: msg is %d bytes", (int)len);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)msg[i];
    if (c < 0x20 || c == 0x7F)
      luaL_error(L, "invariant: msg has control byte %d", (int)c);
  }
  if (!lua_istable(L, base + 2))
    luaL_error(L, "invariant: err is a %s", luaL_typename(L, base + 2));
  lua_getfield(L, base + 2, "kind");
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "invariant: err.kind");
  lua_getfield(L, base + 2, "message");
  if (hasmsg ? lua_type(L, -1) != LUA_TSTRING : !lua_isnil(L, -1))
    luaL_error(L, "invariant: err.message is a %s", luaL_typename(L, -1));
  lua_getfield(L, base + 2, "retryable");
  if (lua_type(L, -1) != LUA_TBOOLEAN) luaL_error(L, "invariant: err.retryable");
  lua_getfield(L, base + 2, "provider");
  if ((provider >= 0 && provider < WFS_NPROVIDERS) ? lua_type(L, -1) != LUA_TSTRING
                                                   : !lua_isnil(L, -1))
    luaL_error(L, "invariant: err.provider");
  if (status != -1) {  /* an HTTP error */
    lua_getfield(L, base + 2, "status");
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) != (lua_Integer)status)
      luaL_error(L, "invariant: err.status");
    lua_getfield(L, base + 2, "code");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "invariant: err.code is a %s", luaL_typename(L, -1));
    lua_getfield(L, base + 2, "request_id");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "invariant: err.request_id is a %s", luaL_typename(L, -1));
  }
  lua_settop(L, base);
}

static int run(lua_State *L) {
  const wfz_input *in = (const wfz_input *)lua_touserdata(L, 1);
  const uint8_t *d = in->data;
  int provider, hmode, hidx = 0, base;
  long status;
  const char *body;
  size_t len;
  char *text;
  static const char *const kinds[] = { "network", "timeout", "decode", "protocol", NULL };
  if (in->size < HDR) return 0;
  provider = (int)(d[0] % 5) - 1;
  status = (long)(int32_t)(((uint32_t)d[1] << 24) | ((uint32_t)d[2] << 16) |
                           ((uint32_t)d[3] << 8) | d[4]);
  if (d[1] == 0 && d[2] == 0) status = 100 + (status % 500 + 500) % 500;  /* mostly real statuses */
  hmode = d[5] & 3;
  body = (d[5] & 4) ? NULL : (const char *)d + HDR;
  len = (d[5] & 4) ? 0 : in->size - HDR;
  lua_settop(L, 0);
  if (hmode == 1 || hmode == 2) {
    lua_createtable(L, 0, 2);
    if (hmode == 1) {
      lua_pushlstring(L, (const char *)d + HDR, (in->size - HDR) % 48);
      lua_setfield(L, -2, "x-request-id");
    }
    hidx = 1;
  }
  else if (hmode == 3) {
    lua_pushliteral(L, "not a table");
    hidx = 1;
  }
  base = lua_gettop(L);
  if (status == -1) status = -2;  /* -1 marks wfs_error_push in check_pair */
  wfs_error_http(L, provider, status, hidx, body, len);
  check_pair(L, base, status, provider, 1);
  /* the same bytes as a message of wfs_error_push */
  text = (char *)malloc(in->size - HDR + 1);
  if (text == NULL) return 0;
  memcpy(text, d + HDR, in->size - HDR);
  text[in->size - HDR] = '\0';
  wfs_error_push(L, provider, kinds[d[5] >> 6], (d[5] & 8) ? NULL : text, d[5] & 16);
  free(text);
  check_pair(L, base, -1, provider, !(d[5] & 8));
  return 0;
}

WFZ_ENTRY(run)
