/*
** wfs_json.h: JSON through a private lua-cjson instance.
*/
#ifndef WFS_JSON_H
#define WFS_JSON_H

#include <stddef.h>
#include "wfs_compat.h"

/*
** Decode `len` bytes at `s`. On success push the value and return 1: JSON
** null is removed from every table (reads as nil), integral numbers are Lua
** integers on 5.3+ whatever the cjson build. A top-level null pushes nil.
** On failure push a one-line message and return 0. Never raises on bad input.
*/
int wfs_json_decode(lua_State *L, const char *s, size_t len);

/* Encode the value at `idx`: push the text and return 1, or push a message and return 0. */
int wfs_json_encode(lua_State *L, int idx);

#endif
