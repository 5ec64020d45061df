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

/*
** The same, but the tables are left as cjson made them (cjson.null in
** them, integral floats): for pages, whose sessions are cleaned one by one
** when first looked into (wfs_json_clean), so a listing that reads a few
** fields never walks every value twice.
*/
int wfs_json_decode_lazy(lua_State *L, const char *s, size_t len);

/*
** Clean the table at `idx` in place as wfs_json_decode does (anything
** else is left alone). Returns 0 when it is nested too deeply.
*/
int wfs_json_clean(lua_State *L, int idx);

/* An upper estimate of the bytes the decoded value of `s` takes in Lua. */
size_t wfs_json_estimate(const char *s, size_t len);

/* Whether the decoded value of `s` takes at most `max` bytes (by the estimate). */
int wfs_json_fits(const char *s, size_t len, size_t max);

/* Encode the value at `idx`: push the text and return 1, or push a message and return 0. */
int wfs_json_encode(lua_State *L, int idx);

#endif
