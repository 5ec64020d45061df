/*
** wfs_json.c: JSON through a private lua-cjson instance.
**
** The core never touches the `cjson` module that the host may share with
** other code (OpenResty runs every request of a worker in one VM): at open
** it takes `require "cjson.safe"`, calls its `new()` and keeps that instance
** in the registry, so no setting made here leaks out and no setting made
** elsewhere leaks in.
**
** cjson hands back `cjson.null` (a NULL light userdata) for JSON null and,
** in Debian's mpx build on 5.4, a float for every number. The contract says
** null reads as nil and integral fields are integers, so every decoded value
** is walked once, in place, before anyone sees it.
*/
#include <string.h>

#include "wfs_core.h"
#include "wfs_json.h"

/* registry keys of the private instance's two functions */
#define JSON_DECODE_KEY "wfsession.json.decode"
#define JSON_ENCODE_KEY "wfsession.json.encode"

/*
** cjson refuses documents nested deeper than 1000 levels by default; the
** walk keeps its own bound so that a cjson configured otherwise still
** cannot drive the C recursion below arbitrarily deep.
*/
#define JSON_MAXDEPTH 1000


/*
** {======================================================
** Cleaning a decoded value
** =======================================================
*/

/*
** Walk the table on top of the stack: drop every `cjson.null` and turn
** every integral float into an integer (5.3+). Only existing fields are
** assigned or cleared, which `lua_next` allows during a traversal.
** Returns 0 when the value is nested too deeply or the stack cannot grow;
** the caller resets the stack then.
*/
static int json_clean(lua_State *L, int depth) {
  int t;
  if (depth > JSON_MAXDEPTH || !lua_checkstack(L, 4))
    return 0;
  t = lua_gettop(L);
  lua_pushnil(L);  /* first key */
  while (lua_next(L, t)) {  /* stack: key, value */
    switch (lua_type(L, -1)) {
      case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, -1) == NULL) {  /* cjson.null */
          lua_pop(L, 1);
          lua_pushvalue(L, -1);
          lua_pushnil(L);
          lua_rawset(L, t);
          continue;
        }
        break;
#if LUA_VERSION_NUM >= 503
      case LUA_TNUMBER:
        if (!lua_isinteger(L, -1)) {
          int isint = 0;
          /* exact conversion only: 2.5, NaN, inf and 2^63 stay floats */
          lua_Integer i = lua_tointegerx(L, -1, &isint);
          if (isint) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_pushinteger(L, i);
            lua_rawset(L, t);
            continue;
          }
        }
        break;
#endif
      case LUA_TTABLE:
        if (!json_clean(L, depth + 1))
          return 0;
        break;
      default:
        break;
    }
    lua_pop(L, 1);  /* value; keep the key for lua_next */
  }
  return 1;
}


int wfs_json_clean(lua_State *L, int idx) {
  int ok, top = lua_gettop(L);
  if (!lua_istable(L, idx))
    return 1;
  lua_pushvalue(L, idx);
  ok = json_clean(L, 1);
  lua_settop(L, top);  /* json_clean leaves more than the table when it fails */
  return ok;
}


/*
** Decode the string at `idx` (absolute). Pushes the value and returns 1,
** or pushes a one-line message and returns 0. The value is cleaned unless
** `lazy`: then only a top-level null becomes nil, and whoever hands the
** tables out cleans them first (wfs_json_clean).
*/
static int json_decode_at(lua_State *L, int idx, int lazy) {
  int base = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, JSON_DECODE_KEY);
  lua_pushvalue(L, idx);
  /*
  ** cjson.safe already turns parse errors into `nil, msg`; the pcall is
  ** for what it still raises (out of memory, a broken instance).
  */
  if (lua_pcall(L, 1, 2, 0) != 0) {
    const char *m = lua_tostring(L, -1);
    lua_settop(L, base);
    lua_pushstring(L, m != NULL ? m : "JSON decode failed");
    return 0;
  }
  if (lua_isnil(L, -2)) {  /* nil, msg */
    if (!lua_isstring(L, -1)) {
      lua_settop(L, base);
      lua_pushliteral(L, "JSON decode failed");
    }
    else {
      lua_remove(L, -2);
    }
    return 0;
  }
  lua_pop(L, 1);  /* the unused second result */
  if (lua_type(L, -1) == LUA_TLIGHTUSERDATA && lua_touserdata(L, -1) == NULL) {
    lua_pop(L, 1);  /* top-level null */
    lua_pushnil(L);
  }
  else if (lua_istable(L, -1) && !lazy) {
    if (!json_clean(L, 1)) {
      lua_settop(L, base);
      lua_pushliteral(L, "JSON nested too deeply");
      return 0;
    }
    lua_settop(L, base + 1);
  }
#if LUA_VERSION_NUM >= 503
  else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
    int isint = 0;
    lua_Integer i = lua_tointegerx(L, -1, &isint);
    if (isint) {
      lua_pop(L, 1);
      lua_pushinteger(L, i);
    }
  }
#endif
  return 1;
}


static int json_decode(lua_State *L, const char *s, size_t len, int lazy) {
  int ok;
  if (!lua_checkstack(L, 8)) {
    /* the one slot every API function may use is enough for this */
    lua_pushliteral(L, "JSON decode: out of stack space");
    return 0;
  }
  lua_pushlstring(L, s != NULL ? s : "", s != NULL ? len : 0);
  ok = json_decode_at(L, lua_gettop(L), lazy);
  lua_remove(L, -2);  /* the text */
  return ok;
}


int wfs_json_decode(lua_State *L, const char *s, size_t len) {
  return json_decode(L, s, len, 0);
}


int wfs_json_decode_lazy(lua_State *L, const char *s, size_t len) {
  return json_decode(L, s, len, 1);
}


int wfs_json_encode(lua_State *L, int idx) {
  int base;
  idx = wfs_absindex(L, idx);
  if (!lua_checkstack(L, 4)) {
    lua_pushliteral(L, "JSON encode: out of stack space");
    return 0;
  }
  base = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, JSON_ENCODE_KEY);
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 2, 0) != 0) {
    const char *m = lua_tostring(L, -1);
    lua_settop(L, base);
    lua_pushstring(L, m != NULL ? m : "JSON encode failed");
    return 0;
  }
  if (lua_type(L, -2) != LUA_TSTRING) {  /* nil, msg */
    if (!lua_isstring(L, -1)) {
      lua_settop(L, base);
      lua_pushliteral(L, "JSON encode failed");
    }
    else {
      lua_remove(L, -2);
    }
    return 0;
  }
  lua_pop(L, 1);
  return 1;
}

/*
** An upper estimate of the memory the decoded value of `s` takes in Lua,
** from one pass that counts containers, values and string bytes (strings
** are skipped whole). A hostile body can decode to twenty times its size
** (`[[],[],...]`: a table for every three bytes), so a large body is
** weighed before cjson builds it. The weights are those of Lua 5.4 on
** 64 bits, rounded up: a table and its first slots, a value slot, a string
** header.
*/
size_t wfs_json_estimate(const char *s, size_t len) {
  size_t i, containers = 0, values = 1, strings = 0, bytes = 0;
  for (i = 0; i < len; i++) {
    char c = s[i];
    if (c == '"') {
      size_t start = ++i;
      while (i < len && s[i] != '"') {
        if (s[i] == '\\')
          i++;
        i++;
      }
      bytes += i - start;
      strings++;
    }
    else if (c == '{' || c == '[') {
      containers++;
    }
    else if (c == ',' || c == ':') {
      values++;
    }
  }
  return containers * 96 + values * 48 + strings * 40 + bytes;
}

/*
** Whether the decoded value of `s` stays within `max` bytes. A short text
** needs no count: valid JSON spends two bytes on every container, one on
** every further value and two on every string, so its estimate is at most
** 48 bytes a byte plus 48 (an invalid text fails before cjson gets far).
*/
int wfs_json_fits(const char *s, size_t len, size_t max) {
  if (max >= 48 && len <= (max - 48) / 48)
    return 1;
  return wfs_json_estimate(s, len) <= max;
}

/* }====================================================== */


/*
** {======================================================
** Lua functions
** =======================================================
*/

/***
Decode a JSON text. JSON `null` is removed from every table (it reads as
`nil`), and integral numbers are integers on Lua 5.3+ whatever the cjson
build. A top-level `null` gives `nil` with no message.
@function decode
@tparam string text the JSON text
@tparam[opt] integer max bytes the decoded value may take (an estimate)
@return the decoded value, or `nil, msg` when the text is not valid JSON,
  or `nil, msg, "protocol"` when it would take more than `max`
*/
static int json_ldecode(lua_State *L) {
  size_t len;
  const char *s;
  luaL_checktype(L, 1, LUA_TSTRING);
  s = lua_tolstring(L, 1, &len);
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer max = wfs_checkinteger(L, 2);
    if (max >= 0 && !wfs_json_fits(s, len, (size_t)max)) {
      lua_pushnil(L);
      lua_pushfstring(L, "JSON of %d bytes would take more than %d bytes decoded", (int)len, (int)max);
      lua_pushliteral(L, "protocol");
      return 3;
    }
  }
  lua_settop(L, 1);
  if (json_decode_at(L, 1, 0))
    return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}


/***
Encode a Lua value as JSON through the private cjson instance.
@function encode
@param value a table, string, number, boolean or nil
@treturn[1] string the JSON text
@return[2] `nil, msg` when the value cannot be encoded
*/
static int json_lencode(lua_State *L) {
  luaL_checkany(L, 1);
  if (wfs_json_encode(L, 1))
    return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

/* }====================================================== */


/*
** Call `inst[name](true|false)` when the instance has that option: the
** OpenResty fork has more of them than mpx 2.1.0.
*/
static void json_option(lua_State *L, int inst, const char *name, int on) {
  lua_getfield(L, inst, name);
  if (lua_isfunction(L, -1)) {
    lua_pushboolean(L, on);
    lua_call(L, 1, 0);
  }
  else {
    lua_pop(L, 1);
  }
}


static const luaL_Reg json_funcs[] = {
  {"decode", json_ldecode},
  {"encode", json_lencode},
  {NULL, NULL}
};


void wfs_json_open(lua_State *L) {
  int inst;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson.safe");
  if (lua_pcall(L, 1, 1, 0) != 0) {
    lua_pushfstring(L, "wfsession.core needs lua-cjson: %s",
                    lua_tostring(L, -1) != NULL ? lua_tostring(L, -1) : "?");
    lua_error(L);
  }
  lua_getfield(L, -1, "new");
  if (!lua_isfunction(L, -1))
    luaL_error(L, "wfsession.core needs lua-cjson with cjson.safe.new()");
  lua_call(L, 0, 1);  /* a private instance */
  inst = lua_gettop(L);
  if (!lua_istable(L, inst))
    luaL_error(L, "wfsession.core: cjson.safe.new() did not return a table");
  /* strict JSON: no hex, NaN or Infinity in a provider's answer */
  json_option(L, inst, "decode_invalid_numbers", 0);
  /*
  ** OpenResty's fork can tag decoded arrays so that `[]` encodes back as
  ** `[]` and not `{}` (s:json() round trips); mpx 2.1.0 cannot.
  */
  json_option(L, inst, "decode_array_with_array_mt", 1);
  lua_getfield(L, inst, "decode");
  lua_setfield(L, LUA_REGISTRYINDEX, JSON_DECODE_KEY);
  lua_getfield(L, inst, "encode");
  lua_setfield(L, LUA_REGISTRYINDEX, JSON_ENCODE_KEY);
  lua_pop(L, 2);  /* instance, cjson.safe */
  luaL_setfuncs(L, json_funcs, 0);
}
