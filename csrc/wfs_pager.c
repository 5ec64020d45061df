/*
** wfs_pager.c: the sans-I/O pager ("wfsession.pager").
**
** A pager never touches the network. `request()` says which page to fetch
** next, `feed()` takes the answer, `pop()` hands out sessions one at a time
** and `cursor()` says, at any moment, where the next session is. The Lua
** driver does the waiting, so the same pager serves a blocking script, an
** OpenResty handler (cosockets yield in Lua frames, never across C) and a
** host's event loop.
**
** Two position models:
**  - page number (ComplyCube, IDnow): the position is the absolute index of
**    the next item in the provider's ordering. Pages are derived from it, so
**    a resumed or drift-corrected position that is not on a page boundary
**    simply skips the head of its page.
**  - opaque cursor (Extend): the position is the token that fetched the
**    current page plus an offset into that page.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wfs_core.h"
#include "wfs_error.h"
#include "wfs_json.h"
#include "wfs_session.h"

#define PAGER_MT "wfsession.pager"

/* An opaque-cursor provider may return empty pages; this many in a row is a loop. */
#define MAX_EMPTY_PAGES 64

/* Slots of the pager's user-value table. */
enum {
  UV_URL = 1,     /* list url, no query */
  UV_PARAMS,      /* array of {name, value} server-side parameters */
  UV_HEADERS,     /* headers copied into every request */
  UV_QUERY,       /* canonical query text carried by cursors */
  UV_ITEMS,       /* the current page's items */
  UV_IDS,         /* ids handed out from the current page */
  UV_PREV_IDS,    /* ids of the page before: drift duplicates are dropped */
  UV_TOKENS,      /* every Extend token seen: a repeat means a loop */
  UV_PAGE_TOKEN,  /* Extend: the token that fetched the current page */
  UV_NEXT_TOKEN,  /* Extend: the token of the page after it */
  UV_REQ_TOKEN    /* Extend: the token of the request in flight */
};

typedef struct {
  int provider;
  int closed;
  int finished;         /* the provider said there are no more pages */
  int inflight;         /* request() was called; feed() is due */
  int legacy;           /* Extend 2025-04-21 envelope */
  int drift;            /* new items arrive at the head of this ordering */
  int base;             /* page number of the first page; -1 = learn it */
  int empty_pages;      /* consecutive empty Extend pages */
  lua_Integer page_size;
  lua_Integer next_index;  /* page number: absolute index of the next item */
  lua_Integer total;       /* last total the provider reported, -1 = none */
  lua_Integer req_page;    /* page (0-based) of the request in flight, -1 = page param omitted */
  lua_Integer req_size;
  lua_Integer pages_fed;
  lua_Integer item_idx;    /* next item of UV_ITEMS (1-based) */
  lua_Integer item_count;
  lua_Integer page_start;  /* absolute index of UV_ITEMS[1] */
  lua_Integer skip;        /* Extend: items of the first page already seen (resume) */
} wfs_pager;

static int is_cursor_provider(const wfs_pager *p) { return p->provider == WFS_EXTEND; }

/* ======================================================================
** Small helpers
** ====================================================================== */

static wfs_pager *check_pager(lua_State *L, int idx) {
  wfs_pager *p = (wfs_pager *)luaL_checkudata(L, idx, PAGER_MT);
  if (p->closed) luaL_error(L, "attempt to use a closed " PAGER_MT);
  return p;
}

/* Push slot `slot` of the user-value table of the pager at index 1. */
static void uv_get(lua_State *L, int slot) {
  wfs_getuv(L, 1);
  lua_rawgeti(L, -1, slot);
  lua_remove(L, -2);
}

/* Pop the top value into slot `slot` of the pager at index 1. */
static void uv_set(lua_State *L, int slot) {
  wfs_getuv(L, 1);
  lua_insert(L, -2);
  lua_rawseti(L, -2, slot);
  lua_pop(L, 1);
}

static void append_escaped(luaL_Buffer *b, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '_' || c == '.' || c == '~') {
      luaL_addchar(b, (char)c);
    } else {
      luaL_addchar(b, '%');
      luaL_addchar(b, hex[c >> 4]);
      luaL_addchar(b, hex[c & 15]);
    }
  }
}

/*
** Add `&name=value` (or `?` for the first pair) to the url being built.
** The value is copied before the buffer is touched: luaL_Buffer owns the
** top of the stack while it is open.
*/
static void add_param(luaL_Buffer *b, int *first, const char *name,
                      const char *value, size_t vlen) {
  luaL_addchar(b, *first ? '?' : '&');
  *first = 0;
  append_escaped(b, name, strlen(name));
  luaL_addchar(b, '=');
  append_escaped(b, value, vlen);
}

static void add_int_param(luaL_Buffer *b, int *first, const char *name, lua_Integer v) {
  char num[32];
  int n = snprintf(num, sizeof num, "%lld", (long long)v);
  add_param(b, first, name, num, (size_t)n);
}

/* Read an integer field of the table at `t`; -1 when absent or not integral. */
static lua_Integer int_field(lua_State *L, int t, const char *k) {
  lua_Integer v = -1;
  lua_getfield(L, t, k);
  if (lua_type(L, -1) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, -1);
    /* the range test keeps the cast defined */
    if (n >= -9.0e15 && n <= 9.0e15 && n == (lua_Number)(lua_Integer)n) v = (lua_Integer)n;
  }
  lua_pop(L, 1);
  return v;
}

/* Push `nil, msg, err` for a failure of the listing itself; returns 3. */
static int pager_fail(lua_State *L, const wfs_pager *p, const char *kind, const char *msg) {
  lua_pushnil(L);
  wfs_error_push(L, p->provider, kind, msg, 0);
  return 3;
}

/* ======================================================================
** Cursor tokens: base64url(JSON) "." fnv1a-32 of the JSON
** ====================================================================== */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static unsigned long fnv1a(const char *s, size_t len) {
  unsigned long h = 2166136261UL;
  size_t i;
  for (i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h = (h * 16777619UL) & 0xffffffffUL;
  }
  return h;
}

static void b64_encode(luaL_Buffer *b, const unsigned char *s, size_t len) {
  size_t i;
  for (i = 0; i + 2 < len; i += 3) {
    unsigned long v = ((unsigned long)s[i] << 16) | ((unsigned long)s[i + 1] << 8) | s[i + 2];
    luaL_addchar(b, b64[(v >> 18) & 63]);
    luaL_addchar(b, b64[(v >> 12) & 63]);
    luaL_addchar(b, b64[(v >> 6) & 63]);
    luaL_addchar(b, b64[v & 63]);
  }
  if (len - i == 1) {
    unsigned long v = (unsigned long)s[i] << 16;
    luaL_addchar(b, b64[(v >> 18) & 63]);
    luaL_addchar(b, b64[(v >> 12) & 63]);
  } else if (len - i == 2) {
    unsigned long v = ((unsigned long)s[i] << 16) | ((unsigned long)s[i + 1] << 8);
    luaL_addchar(b, b64[(v >> 18) & 63]);
    luaL_addchar(b, b64[(v >> 12) & 63]);
    luaL_addchar(b, b64[(v >> 6) & 63]);
  }
}

static int b64_value(int c) {
  const char *at = (c == 0) ? NULL : strchr(b64, c);
  return at ? (int)(at - b64) : -1;
}

/* Decode base64url text; push the bytes and return 1, or return 0 on a bad character. */
static int b64_decode(lua_State *L, const char *s, size_t len) {
  luaL_Buffer b;
  unsigned long acc = 0;
  int bits = 0;
  size_t i;
  luaL_buffinit(L, &b);
  for (i = 0; i < len; i++) {
    int v = b64_value((unsigned char)s[i]);
    if (v < 0) {
      luaL_pushresult(&b);
      lua_pop(L, 1);
      return 0;
    }
    acc = ((acc << 6) | (unsigned long)v) & 0xffffffUL;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      luaL_addchar(&b, (char)((acc >> bits) & 0xff));
    }
  }
  luaL_pushresult(&b);
  return 1;
}

/*
** Decode and verify a cursor token. On success push the position table
** `{ v, p, q, i, n, b, t, o }` and return 1; else push a message and return 0.
*/
static int cursor_decode(lua_State *L, const char *tok, size_t len) {
  const char *dot = memchr(tok, '.', len);
  unsigned long want, got;
  char sum[16];
  size_t jlen;
  const char *json;
  if (dot == NULL || (size_t)(tok + len - dot) != 9) goto corrupt;
  memcpy(sum, dot + 1, 8);
  sum[8] = '\0';
  want = strtoul(sum, NULL, 16);
  if (!b64_decode(L, tok, (size_t)(dot - tok))) goto corrupt;
  json = lua_tolstring(L, -1, &jlen);
  got = fnv1a(json, jlen);
  if (got != want) {
    lua_pop(L, 1);
    goto corrupt;
  }
  if (!wfs_json_decode(L, json, jlen)) {
    lua_pop(L, 2);
    goto corrupt;
  }
  lua_remove(L, -2);
  if (!lua_istable(L, -1) || int_field(L, -1, "v") != 1) {
    lua_pop(L, 1);
    goto corrupt;
  }
  return 1;
corrupt:
  lua_pushliteral(L, "cursor is not a wfsession cursor or is damaged");
  return 0;
}

/*** Decode a cursor token without resuming it.
** @function cursor_decode
** @tparam string token as returned by `pager:cursor()`
** @treturn table `{ provider, query }`, or nil and a message
*/
static int l_cursor_decode(lua_State *L) {
  size_t len;
  const char *tok = luaL_checklstring(L, 1, &len);
  if (!cursor_decode(L, tok, len)) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_createtable(L, 0, 2);
  lua_getfield(L, -2, "p");
  lua_setfield(L, -2, "provider");
  lua_getfield(L, -2, "q");
  lua_setfield(L, -2, "query");
  return 1;
}

/*** The position of the next session, as an opaque token.
** The token carries the query, so `client:sessions{ cursor = token }`
** resumes the same listing at exactly the next session.
** @function pager:cursor
** @treturn string|nil nil once the listing is exhausted
*/
static int l_cursor(lua_State *L) {
  wfs_pager *p = check_pager(L, 1);
  int remaining = p->item_idx <= p->item_count;
  luaL_Buffer b;
  const char *json;
  size_t jlen;
  char sum[16];
  if (!remaining && p->finished) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, 1);
  lua_setfield(L, -2, "v");
  lua_pushstring(L, wfs_provider_names[p->provider]);
  lua_setfield(L, -2, "p");
  uv_get(L, UV_QUERY);
  lua_setfield(L, -2, "q");
  if (is_cursor_provider(p)) {
    /* Inside a page: that page's token and the offset; at its end: the next token. */
    uv_get(L, remaining ? UV_PAGE_TOKEN : UV_NEXT_TOKEN);
    lua_setfield(L, -2, "t");
    /* before the first page of a resumed listing, its offset is still pending */
    lua_pushinteger(L, remaining ? p->item_idx - 1 : p->skip);
    lua_setfield(L, -2, "o");
  } else {
    lua_pushinteger(L, remaining ? p->page_start + p->item_idx - 1 : p->next_index);
    lua_setfield(L, -2, "i");
    lua_pushinteger(L, p->total);
    lua_setfield(L, -2, "n");
    lua_pushinteger(L, p->base);
    lua_setfield(L, -2, "b");
  }
  if (!wfs_json_encode(L, -1)) return lua_error(L);
  json = lua_tolstring(L, -1, &jlen);
  snprintf(sum, sizeof sum, "%08lx", fnv1a(json, jlen));
  luaL_buffinit(L, &b);
  b64_encode(&b, (const unsigned char *)json, jlen);
  luaL_addchar(&b, '.');
  luaL_addlstring(&b, sum, 8);
  luaL_pushresult(&b);
  return 1;
}

/* ======================================================================
** Construction
** ====================================================================== */

/* Copy a string field of the config table (index 1) into a user-value slot. */
static void copy_string(lua_State *L, int uv, const char *key, int slot, int required) {
  lua_getfield(L, 1, key);
  if (lua_isnil(L, -1) && !required) {
    lua_pop(L, 1);
    return;
  }
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "pager config: '%s' must be a string", key);
  lua_rawseti(L, uv, slot);
}

static void copy_table(lua_State *L, int uv, const char *key, int slot) {
  lua_getfield(L, 1, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
  } else if (!lua_istable(L, -1)) {
    luaL_error(L, "pager config: '%s' must be a table", key);
  }
  lua_rawseti(L, uv, slot);
}

/* Apply a decoded cursor (on top of the stack) to a fresh pager. */
static void resume_from(lua_State *L, wfs_pager *p, int uv) {
  int c = lua_gettop(L);
  lua_getfield(L, c, "p");
  if (!lua_isstring(L, -1) || strcmp(lua_tostring(L, -1), wfs_provider_names[p->provider]) != 0)
    luaL_error(L, "cursor belongs to another provider");
  lua_pop(L, 1);
  if (is_cursor_provider(p)) {
    lua_getfield(L, c, "t");
    /* a token is a string: anything else (1e999 decodes to inf) breaks cursor() later */
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "cursor is not a wfsession cursor or is damaged");
    if (!lua_isnil(L, -1)) {
      lua_pushvalue(L, -1);
      lua_rawseti(L, uv, UV_PAGE_TOKEN);
      lua_rawseti(L, uv, UV_NEXT_TOKEN);
    } else {
      lua_pop(L, 1);
    }
    p->skip = int_field(L, c, "o");
    if (p->skip < 0) luaL_error(L, "cursor is not a wfsession cursor or is damaged");
  } else {
    p->next_index = int_field(L, c, "i");
    p->total = int_field(L, c, "n");
    if (p->next_index < 0) luaL_error(L, "cursor is not a wfsession cursor or is damaged");
    if (p->base < 0) {
      lua_Integer b = int_field(L, c, "b");
      if (b == 0 || b == 1) p->base = (int)b;
    }
  }
  lua_settop(L, c - 1);
}

/*** Create a pager.
** @function pager
** @tparam table config `{ provider, url, params, headers, timeout, page_size,
**   query, legacy, drift, page_base, cursor }` validated by the Lua layer
** @treturn userdata wfsession.pager
*/
static int l_pager(lua_State *L) {
  wfs_pager *p;
  int uv;
  luaL_checktype(L, 1, LUA_TTABLE);
  p = (wfs_pager *)wfs_newudata(L, sizeof *p);
  memset(p, 0, sizeof *p);
  p->total = -1;
  p->req_page = -1;
  p->item_idx = 1;   /* 1-based: an empty page has item_idx > item_count */
  luaL_getmetatable(L, PAGER_MT);
  lua_setmetatable(L, -2);
  lua_createtable(L, UV_REQ_TOKEN, 0);
  uv = lua_gettop(L);

  lua_getfield(L, 1, "provider");
  p->provider = luaL_checkoption(L, -1, NULL, wfs_provider_names);
  lua_pop(L, 1);
  p->page_size = int_field(L, 1, "page_size");
  if (p->page_size < 1 || p->page_size > 1000) luaL_error(L, "pager config: 'page_size' must be 1..1000");
  lua_getfield(L, 1, "legacy");
  p->legacy = lua_toboolean(L, -1);
  lua_getfield(L, 1, "drift");
  p->drift = lua_toboolean(L, -1);
  lua_pop(L, 2);
  /* ComplyCube numbers pages from 1; IDnow's base is an option (UNCONFIRMED upstream). */
  p->base = 1;
  if (p->provider == WFS_IDNOW) {
    lua_getfield(L, 1, "page_base");
    p->base = lua_type(L, -1) == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : -1;
    lua_pop(L, 1);
  }
  copy_string(L, uv, "url", UV_URL, 1);
  copy_string(L, uv, "query", UV_QUERY, 1);
  copy_table(L, uv, "params", UV_PARAMS);
  copy_table(L, uv, "headers", UV_HEADERS);
  lua_newtable(L);
  lua_rawseti(L, uv, UV_TOKENS);
  lua_newtable(L);
  lua_rawseti(L, uv, UV_IDS);
  lua_getfield(L, 1, "timeout");
  lua_setfield(L, uv, "timeout");

  lua_getfield(L, 1, "cursor");
  if (!lua_isnil(L, -1)) {
    size_t len;
    const char *tok = luaL_checklstring(L, -1, &len);
    if (!cursor_decode(L, tok, len)) return lua_error(L);
    resume_from(L, p, uv);
  }
  lua_pop(L, 1);
  wfs_setuv(L, -2);
  return 1;
}

/* ======================================================================
** request()
** ====================================================================== */

/*** The next request to perform, or nil when no page is left.
** @function pager:request
** @tparam[opt] integer want how many more sessions the caller can use; a
**   smaller page is asked for when that fetches nothing unneeded
** @treturn table|nil `{ method, url, headers, timeout }`
*/
static int l_request(lua_State *L) {
  wfs_pager *p = check_pager(L, 1);
  lua_Integer want = luaL_optinteger(L, 2, 0);
  lua_Integer size = p->page_size;
  luaL_Buffer b;
  int first = 1, i, n;
  if (p->item_idx <= p->item_count)
    return luaL_error(L, "pager:request: the current page still has sessions to pop");
  if (p->finished) {
    lua_pushnil(L);
    return 1;
  }
  lua_settop(L, 1);
  /* The used-up page is garbage now: let it go before the next one is decoded. */
  lua_pushnil(L);
  uv_set(L, UV_ITEMS);
  lua_createtable(L, 0, 4);                 /* 2: request */
  lua_pushliteral(L, "GET");
  lua_setfield(L, 2, "method");
  wfs_getuv(L, 1);                          /* 3: user values */
  lua_getfield(L, 3, "timeout");
  lua_setfield(L, 2, "timeout");
  lua_newtable(L);                          /* headers: a fresh copy the driver may change */
  lua_rawgeti(L, 3, UV_HEADERS);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -5);
  }
  lua_pop(L, 1);
  lua_setfield(L, 2, "headers");

  /* Extend may return fewer than asked; a smaller last page never costs a request. */
  if (is_cursor_provider(p)) {
    if (want > 0 && want < size) size = want;
  } else if (want > 0 && want < size && p->next_index % want == 0) {
    size = want;  /* page-number: only when `want` keeps the position on a page boundary */
  }
  p->req_size = size;

  lua_rawgeti(L, 3, UV_PARAMS);             /* 4: params */
  lua_rawgeti(L, 3, UV_URL);                /* 5: url */
  lua_rawgeti(L, 3, UV_NEXT_TOKEN);         /* 6: token for the next page */
  lua_pushvalue(L, 6);
  lua_rawseti(L, 3, UV_REQ_TOKEN);
  luaL_buffinit(L, &b);
  lua_pushvalue(L, 5);
  luaL_addvalue(&b);
  n = (int)lua_rawlen(L, 4);
  for (i = 1; i <= n; i++) {
    size_t vlen;
    const char *name, *value;
    lua_rawgeti(L, 4, i);
    if (lua_istable(L, -1)) {  /* lua_rawgeti on anything else is undefined */
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
    } else {
      lua_pushnil(L);
      lua_pushnil(L);
    }
    /*
    ** Strings only: lua_tolstring would turn a number into a new string
    ** that only this stack slot keeps, and it is popped before use.
    */
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 3);
      luaL_pushresult(&b);
      return luaL_error(L, "pager config: params[%d] must be {name, value} strings", i);
    }
    name = lua_tostring(L, -2);
    value = lua_tolstring(L, -1, &vlen);
    /* The pair stays referenced by the params table, so the strings outlive the pops. */
    lua_pop(L, 3);
    add_param(&b, &first, name, value, vlen);
  }
  switch (p->provider) {
    case WFS_COMPLYCUBE:
      p->req_page = p->next_index / size;
      add_int_param(&b, &first, "page", p->req_page + p->base);
      add_int_param(&b, &first, "pageSize", size);
      break;
    case WFS_IDNOW:
      p->req_page = p->next_index / size;
      /* Unknown base: the first page is asked for without `page`, and its number is the base. */
      if (p->base >= 0 || p->req_page > 0)
        add_int_param(&b, &first, "page", p->req_page + (p->base > 0 ? p->base : 0));
      else
        p->req_page = -1;
      add_int_param(&b, &first, "size", size);
      break;
    default:
      add_int_param(&b, &first, "maxPageSize", size);
      if (!lua_isnil(L, 6)) {
        size_t tlen;
        const char *tok = lua_tolstring(L, 6, &tlen);
        add_param(&b, &first, "nextPageToken", tok, tlen);
      }
      break;
  }
  luaL_pushresult(&b);
  lua_setfield(L, 2, "url");
  p->inflight = 1;
  lua_settop(L, 2);
  return 1;
}

/* ======================================================================
** feed()
** ====================================================================== */

/* Push the id string of the raw item on top, or nil. */
static void push_item_id(lua_State *L, const wfs_pager *p) {
  lua_getfield(L, -1, p->provider == WFS_IDNOW ? "sessionId" : "id");
}

/*
** Page-number envelopes. Leaves the items array on top and fills `number`
** (the page the server says it sent, -1 if none), `pages`, `total`.
*/
static const char *page_envelope(lua_State *L, const wfs_pager *p, int body,
                                 lua_Integer *number, lua_Integer *pages, lua_Integer *total) {
  if (p->provider == WFS_COMPLYCUBE) {
    *number = int_field(L, body, "page");
    *pages = int_field(L, body, "pages");
    *total = int_field(L, body, "totalItems");
    lua_getfield(L, body, "items");
  } else {
    lua_getfield(L, body, "page");
    if (lua_istable(L, -1)) {
      int pg = lua_gettop(L);
      *number = int_field(L, pg, "number");
      *pages = int_field(L, pg, "totalPages");
      *total = int_field(L, pg, "totalElements");
    } else {
      *number = *pages = *total = -1;
    }
    lua_pop(L, 1);
    lua_getfield(L, body, "content");
  }
  /* ComplyCube leaves `items` out of an empty page (its SDKs guard for it). */
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  if (!lua_istable(L, -1))
    return p->provider == WFS_COMPLYCUBE ? "list response: 'items' is not an array"
                                         : "list response: 'content' is not an array";
  return NULL;
}

static int feed_pages(lua_State *L, wfs_pager *p, int body) {
  lua_Integer number, pages, total, count, skip, page0;
  char msg[160];
  const char *bad = page_envelope(L, p, body, &number, &pages, &total);
  int items;
  if (bad) return pager_fail(L, p, "protocol", bad);
  items = lua_gettop(L);
  count = (lua_Integer)lua_rawlen(L, items);

  if (p->req_page < 0) {            /* first IDnow page asked for without `page` */
    if (number != 0 && number != 1) {
      snprintf(msg, sizeof msg, "list response: cannot tell the page base from page.number %lld",
               (long long)number);
      return pager_fail(L, p, "protocol", msg);
    }
    p->base = (int)number;
    page0 = 0;
  } else {
    page0 = p->req_page;
    if (number >= 0 && number != page0 + p->base) {
      snprintf(msg, sizeof msg, "list response: asked for page %lld, got page %lld",
               (long long)(page0 + p->base), (long long)number);
      return pager_fail(L, p, "protocol", msg);
    }
  }

  /*
  ** Drift: when the total grew and new items land at the head of the
  ** ordering, everything not yet seen moved down by the growth. Skip that
  ** many more; if the position left this page, ask again for the right one.
  */
  if (p->drift && p->total >= 0 && total > p->total) {
    p->next_index += total - p->total;
    p->total = total;
    if (p->next_index / p->req_size != page0) {
      lua_pushinteger(L, 0);
      return 1;
    }
  }
  if (total >= 0) p->total = total;
  skip = p->next_index - page0 * p->req_size;
  if (skip < 0) skip = 0;

  /*
  ** A short page is the last one. Totals that say more pages follow make it a
  ** server fault: going on would ask for this page again, stopping would be
  ** a silently short listing.
  */
  if (count < p->req_size && pages >= 0 && page0 + 1 < pages) {
    snprintf(msg, sizeof msg, "list response: page %lld of %lld has %lld of %lld items",
             (long long)(page0 + p->base), (long long)pages, (long long)count, (long long)p->req_size);
    return pager_fail(L, p, "protocol", msg);
  }
  p->finished = count == 0 || count < p->req_size || (pages >= 0 && page0 + 1 >= pages) ||
                (p->total >= 0 && page0 * p->req_size + count >= p->total);

  /* The ids handed out from the last page guard this one against drift duplicates. */
  wfs_getuv(L, 1);
  lua_rawgeti(L, -1, UV_IDS);
  lua_rawseti(L, -2, UV_PREV_IDS);
  lua_newtable(L);
  lua_rawseti(L, -2, UV_IDS);
  lua_pushvalue(L, items);
  lua_rawseti(L, -2, UV_ITEMS);
  lua_pop(L, 1);
  p->page_start = page0 * p->req_size;
  p->item_idx = skip + 1;
  p->item_count = count;
  if (p->page_start + count > p->next_index) p->next_index = p->page_start + count;
  lua_pushinteger(L, count > skip ? count - skip : 0);
  return 1;
}

static int feed_cursor(lua_State *L, wfs_pager *p, int body) {
  int items, tokens;
  lua_Integer count, skip;
  lua_getfield(L, body, p->legacy ? "workflowRuns" : "data");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  if (!lua_istable(L, -1))
    return pager_fail(L, p, "protocol", p->legacy ? "list response: 'workflowRuns' is not an array"
                                                  : "list response: 'data' is not an array");
  items = lua_gettop(L);
  count = (lua_Integer)lua_rawlen(L, items);

  uv_get(L, UV_TOKENS);
  tokens = lua_gettop(L);
  lua_getfield(L, body, "nextPageToken");
  if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
    lua_pushvalue(L, -1);
    lua_rawget(L, tokens);
    if (!lua_isnil(L, -1))
      return pager_fail(L, p, "protocol", "list response: the same nextPageToken came twice");
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, tokens);
  } else if (!lua_isnil(L, -1) && !(lua_type(L, -1) == LUA_TSTRING)) {
    return pager_fail(L, p, "protocol", "list response: 'nextPageToken' is not a string");
  } else {
    lua_pop(L, 1);
    lua_pushnil(L);
    p->finished = 1;
  }
  p->empty_pages = count == 0 ? p->empty_pages + 1 : 0;
  if (p->empty_pages > MAX_EMPTY_PAGES)
    return pager_fail(L, p, "protocol", "list response: too many empty pages in a row");
  /* The page just fed was fetched with the request's token; the cursor points into it. */
  uv_get(L, UV_REQ_TOKEN);
  uv_set(L, UV_PAGE_TOKEN);
  uv_set(L, UV_NEXT_TOKEN);
  lua_pushvalue(L, items);
  uv_set(L, UV_ITEMS);
  skip = p->skip;
  p->skip = 0;
  if (skip > count) skip = count;
  p->item_idx = skip + 1;
  p->item_count = count;
  lua_pushinteger(L, count - skip);
  return 1;
}

/*** Feed the answer to the last request.
** @function pager:feed
** @tparam integer status HTTP status
** @tparam table headers response headers (lower-case names)
** @tparam string body response body
** @treturn integer how many sessions the page added (0 is not the end: ask `request()`)
** @return nil, msg, err on an HTTP error or an undecodable body (the pager is
**   unchanged, so the same request can be retried), or on a protocol fault
**   (the listing cannot go on)
*/
static int l_feed(lua_State *L) {
  wfs_pager *p = check_pager(L, 1);
  lua_Integer status = luaL_checkinteger(L, 2);
  size_t len = 0;
  const char *body = lua_isnoneornil(L, 4) ? NULL : luaL_checklstring(L, 4, &len);
  int b, i;
  if (!p->inflight) return luaL_error(L, "pager:feed: no request in flight");
  p->inflight = 0;
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  if (status < 200 || status > 299) {
    lua_pushnil(L);
    wfs_error_http(L, p->provider, (long)status, lua_istable(L, 3) ? 3 : 0, body, len);
    return 3;
  }
  if (body == NULL || !wfs_json_decode(L, body, len)) {
    char msg[200];
    snprintf(msg, sizeof msg, "list response is not JSON (%s)",
             body == NULL ? "no body" : lua_tostring(L, -1));
    return pager_fail(L, p, "decode", msg);
  }
  if (!lua_istable(L, -1)) return pager_fail(L, p, "protocol", "list response is not a JSON object");
  b = lua_gettop(L);
  if (p->legacy) {
    lua_getfield(L, b, "success");
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
      lua_pushnil(L);
      wfs_error_http(L, p->provider, (long)status, 0, body, len);
      return 3;
    }
    lua_pop(L, 1);
  }
  /* Every item must be an object before any of them is handed out. */
  {
    int r = is_cursor_provider(p) ? feed_cursor(L, p, b) : feed_pages(L, p, b);
    int items;
    if (r != 1) return r;
    uv_get(L, UV_ITEMS);
    items = lua_gettop(L);
    for (i = (int)p->item_idx; i <= (int)p->item_count; i++) {
      lua_rawgeti(L, items, i);
      if (!lua_istable(L, -1)) {
        p->item_idx = p->item_count + 1;
        return pager_fail(L, p, "protocol", "list response: an item is not a JSON object");
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  p->pages_fed++;
  return 1;
}

/* ======================================================================
** pop() and the rest
** ====================================================================== */

/*** The next session of the current page.
** @function pager:pop
** @treturn userdata|nil a wfsession.session, or nil when the page is used up
*/
static int l_pop(lua_State *L) {
  wfs_pager *p = check_pager(L, 1);
  int items, ids, prev;
  lua_settop(L, 1);
  uv_get(L, UV_ITEMS);
  items = 2;
  uv_get(L, UV_IDS);
  ids = 3;
  uv_get(L, UV_PREV_IDS);
  prev = 4;
  if (!lua_istable(L, items)) return 0;
  while (p->item_idx <= p->item_count) {
    lua_rawgeti(L, items, (int)p->item_idx++);
    /* Only page-number listings drift; an Extend listing keeps no ids at all. */
    if (is_cursor_provider(p)) {
      wfs_session_push(L, p->provider, -1);
      return 1;
    }
    push_item_id(L, p);
    if (!lua_isnil(L, -1)) {
      if (lua_istable(L, prev)) {
        lua_pushvalue(L, -1);
        lua_rawget(L, prev);
        if (!lua_isnil(L, -1)) {     /* seen on the page before: drift */
          lua_pop(L, 3);
          continue;
        }
        lua_pop(L, 1);
      }
      lua_pushboolean(L, 1);
      lua_rawset(L, ids);
    } else {
      lua_pop(L, 1);
    }
    wfs_session_push(L, p->provider, -1);
    return 1;
  }
  return 0;
}

/*** Total sessions of the listing, when the provider reports it.
** @function pager:total
** @treturn integer|nil
*/
static int l_total(lua_State *L) {
  wfs_pager *p = check_pager(L, 1);
  if (p->total < 0) return 0;
  lua_pushinteger(L, p->total);
  return 1;
}

/*** Whether nothing is left: no session to pop and no page to fetch.
** @function pager:done
** @treturn boolean
*/
static int l_done(lua_State *L) {
  wfs_pager *p = check_pager(L, 1);
  lua_pushboolean(L, p->finished && p->item_idx > p->item_count);
  return 1;
}

/*** How many pages have been fed so far.
** @function pager:pages
** @treturn integer
*/
static int l_pages(lua_State *L) {
  wfs_pager *p = check_pager(L, 1);
  lua_pushinteger(L, p->pages_fed);
  return 1;
}

/*** Release the pager's page; later calls raise. Idempotent; also `__gc` and `__close`.
** @function pager:close
*/
static int l_close(lua_State *L) {
  wfs_pager *p = (wfs_pager *)luaL_checkudata(L, 1, PAGER_MT);
  if (!p->closed) {
    p->closed = 1;
    p->item_idx = 1;
    p->item_count = 0;
    lua_newtable(L);
    wfs_setuv(L, 1);
  }
  return 0;
}

static int l_tostring(lua_State *L) {
  wfs_pager *p = (wfs_pager *)luaL_checkudata(L, 1, PAGER_MT);
  if (p->closed)
    lua_pushliteral(L, PAGER_MT " (closed)");
  else
    lua_pushfstring(L, PAGER_MT ": %s (%p)", wfs_provider_names[p->provider], (void *)p);
  return 1;
}

/*** Percent-encode everything but RFC 3986 unreserved characters: an id or
** a query value is always exactly one path segment or value, whatever it
** holds. The one encoder of the library (the Lua layer calls this too).
** @function escape
** @tparam string s
** @treturn string
*/
static int l_escape(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  append_escaped(&b, s, len);
  luaL_pushresult(&b);
  return 1;
}

static const luaL_Reg pager_methods[] = {
  { "request", l_request }, { "feed", l_feed }, { "pop", l_pop },
  { "cursor", l_cursor }, { "total", l_total }, { "done", l_done },
  { "pages", l_pages }, { "close", l_close }, { NULL, NULL }
};

static const luaL_Reg pager_meta[] = {
  { "__gc", l_close }, { "__tostring", l_tostring },
#if LUA_VERSION_NUM >= 504
  { "__close", l_close },
#endif
  { NULL, NULL }
};

void wfs_pager_open(lua_State *L) {
  luaL_newmetatable(L, PAGER_MT);
  luaL_setfuncs(L, pager_meta, 0);
  luaL_newlib(L, pager_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_pager);
  lua_setfield(L, -2, "pager");
  lua_pushcfunction(L, l_cursor_decode);
  lua_setfield(L, -2, "cursor_decode");
  lua_pushcfunction(L, l_escape);
  lua_setfield(L, -2, "escape");
}
