/*
** wfs_pager.c: the sans-I/O pager ("wfsession.pager").
**
** A pager never touches the network. `request()` says which page to fetch
** next, `decode()` checks an answer on its own (it may run for several
** pages at once, in any order), `feed()` takes the decoded pages in the
** order they were requested, `pop()` hands out sessions one at a time, and
** `cursor()` says, at any moment, where the next session is. The Lua
** driver does the waiting, so the same pager serves a blocking script, an
** OpenResty handler and a host's event loop.
**
** Two position models, chosen by the provider table (wfs_provider.c):
**  - page number (ComplyCube, IDnow): the position is the index of the
**    next session in the provider's ordering, valid for one total. When
**    new sessions land at the head of the ordering (`drift`), an answer
**    with another total moves every position by the difference, so each
**    page is read in its own numbering: sessions before the position were
**    handed out already, and a page that starts after it would skip some,
**    so the listing asks again from the position instead.
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

static const char pager_key = 0;  /* the metatable's registry key (its address) */

/* A cursor listing may return empty pages; this many in a row is a loop. */
#define PAGER_MAXEMPTY 64
/* Position corrections in a row without a session handed out: a server that keeps moving. */
#define PAGER_MAXRESTARTS 8
/* How far a total may grow during one listing: sessions that plausibly arrive meanwhile. */
#define PAGER_MAXGROWTH 10000

/* Slots of the pager's user-value table. */
enum {
  PAGER_UVURL = 1,     /* list url, no query */
  PAGER_UVPARAMS,      /* array of {name, value} server-side parameters */
  PAGER_UVHEADERS,     /* headers copied into every request */
  PAGER_UVQUERY,       /* canonical query text carried by cursors */
  PAGER_UVITEMS,       /* the current page's items */
  PAGER_UVSEEN,        /* page numbers: id -> true for the last ids handed out */
  PAGER_UVYIELDED,     /* page numbers: those ids, a ring of `keep` + a page slots */
  PAGER_UVPAGETOKEN,   /* cursor: the token that fetched the current page */
  PAGER_UVNEXTTOKEN,   /* cursor: the token of the page after it */
  PAGER_UVMARK,        /* cursor: a token seen before, for loop detection */
  PAGER_UVN = PAGER_UVMARK
};

typedef struct wfs_pager {
  const wfs_provider *pv;
  int provider;            /* enum wfs_provider_id */
  int closed;
  int finished;            /* no page is left to request */
  int legacy;              /* Extend 2025-04-21 envelope */
  int drift;               /* new sessions land at the head of this ordering */
  int base;                /* page number of the first page; -1 = learn it */
  int outstanding;         /* requests made, neither fed nor dropped */
  int restarts;            /* position corrections in a row */
  int empty_pages;         /* cursor: empty pages in a row */
  lua_Integer page_size;
  lua_Integer max_decoded; /* bytes a decoded page may take (an estimate), 0 = any */
  lua_Integer next_pos;    /* page number: position of the next session after this page... */
  lua_Integer total;       /* ...counted in a listing of this many (-1: not known yet) */
  lua_Integer first_total; /* the first total an answer gave (-1: none yet) */
  lua_Integer req_next;    /* page number: next page to request, -1 = the one of next_pos */
  lua_Integer pages_fed;
  lua_Integer item_idx;    /* next item of PAGER_UVITEMS (1-based) */
  lua_Integer item_count;
  lua_Integer page_start;  /* page number: position of PAGER_UVITEMS[1] */
  lua_Integer skip;        /* cursor: items of the first page already seen (resume) */
  lua_Integer mark_steps, mark_power;  /* cursor: Brent's cycle detection */
  lua_Integer handed;      /* page numbers: sessions handed out so far */
  lua_Integer keep;        /* page numbers: how many of the last ids guard against repeats */
  lua_Integer high;        /* page numbers: the furthest next_pos so far, in today's numbering */
  int moved;               /* page numbers: the position moved back: the next page may repeat */
} wfs_pager;


static int pager_iscursor(const wfs_pager *p) {
  return p->pv->paging == WFS_PAGING_CURSOR;
}


/*
** {======================================================
** Small helpers
** =======================================================
*/

static wfs_pager *pager_check(lua_State *L) {
  wfs_pager *p = (wfs_pager *)wfs_checkobject(L, 1, &pager_key, PAGER_MT);
  if (p->closed)
    luaL_error(L, "attempt to use a closed " PAGER_MT);
  return p;
}


/* Push slot `slot` of the user-value table of the pager at index 1. */
static void pager_uvget(lua_State *L, int slot) {
  wfs_getuv(L, 1);
  lua_rawgeti(L, -1, slot);
  lua_remove(L, -2);
}


/* Pop the top value into slot `slot` of the pager at index 1. */
static void pager_uvset(lua_State *L, int slot) {
  wfs_getuv(L, 1);
  lua_insert(L, -2);
  lua_rawseti(L, -2, slot);
  lua_pop(L, 1);
}


static void pager_addescaped(luaL_Buffer *b, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '_' || c == '.' || c == '~') {
      luaL_addchar(b, (char)c);
    }
    else {
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
static void pager_addparam(luaL_Buffer *b, int *first, const char *name,
                           const char *value, size_t vlen) {
  luaL_addchar(b, *first ? '?' : '&');
  *first = 0;
  pager_addescaped(b, name, strlen(name));
  luaL_addchar(b, '=');
  pager_addescaped(b, value, vlen);
}


static void pager_addintparam(luaL_Buffer *b, int *first, const char *name, lua_Integer v) {
  char num[32];
  int n = snprintf(num, sizeof num, "%lld", (long long)v);
  pager_addparam(b, first, name, num, (size_t)n);
}


/* Whether the value at `idx` is nil or JSON null (pages are decoded lazily: cjson.null stays). */
static int pager_isnull(lua_State *L, int idx) {
  return lua_isnil(L, idx) ||
         (lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL);
}


/*
** Read the field at dot path `path` of the table at `t` as a count:
** store it and return 1; return 0 when absent (or `path` is NULL), -1 when
** present but not an integer >= 0 (the range test keeps the cast defined).
*/
static int pager_count(lua_State *L, int t, const char *path, lua_Integer *out) {
  int found = 0;
  *out = -1;
  if (path == NULL)
    return 0;
  lua_pushvalue(L, t);
  for (;;) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
    lua_pushlstring(L, path, n);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (dot == NULL)
      break;
    path = dot + 1;
  }
  if (lua_type(L, -1) == LUA_TNUMBER) {
    lua_Number v = lua_tonumber(L, -1);
    found = -1;
    if (v >= 0 && v <= 9.0e15 && v == (lua_Number)(lua_Integer)v) {
      *out = (lua_Integer)v;
      found = 1;
    }
  }
  else if (!pager_isnull(L, -1)) {
    found = -1;
  }
  lua_pop(L, 1);
  return found;
}


/* Push `nil, msg, err` for a failure of the listing itself; returns 3. */
static int pager_fail(lua_State *L, const wfs_pager *p, const char *kind, const char *msg) {
  lua_pushnil(L);
  wfs_error_push(L, p->provider, kind, msg, 0);
  return 3;
}

/* }====================================================== */


/*
** {======================================================
** Cursor tokens: base64url(JSON) "." fnv1a-32 of the JSON
** =======================================================
*/

static const char pager_b64[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static unsigned long pager_fnv1a(const char *s, size_t len) {
  unsigned long h = 2166136261UL;
  size_t i;
  for (i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h = (h * 16777619UL) & 0xffffffffUL;
  }
  return h;
}


static void pager_b64encode(luaL_Buffer *b, const unsigned char *s, size_t len) {
  size_t i;
  for (i = 0; i + 2 < len; i += 3) {
    unsigned long v = ((unsigned long)s[i] << 16) | ((unsigned long)s[i + 1] << 8) | s[i + 2];
    luaL_addchar(b, pager_b64[(v >> 18) & 63]);
    luaL_addchar(b, pager_b64[(v >> 12) & 63]);
    luaL_addchar(b, pager_b64[(v >> 6) & 63]);
    luaL_addchar(b, pager_b64[v & 63]);
  }
  if (len - i == 1) {
    unsigned long v = (unsigned long)s[i] << 16;
    luaL_addchar(b, pager_b64[(v >> 18) & 63]);
    luaL_addchar(b, pager_b64[(v >> 12) & 63]);
  }
  else if (len - i == 2) {
    unsigned long v = ((unsigned long)s[i] << 16) | ((unsigned long)s[i + 1] << 8);
    luaL_addchar(b, pager_b64[(v >> 18) & 63]);
    luaL_addchar(b, pager_b64[(v >> 12) & 63]);
    luaL_addchar(b, pager_b64[(v >> 6) & 63]);
  }
}


static int pager_b64value(int c) {
  const char *at = (c == 0) ? NULL : strchr(pager_b64, c);
  return at ? (int)(at - pager_b64) : -1;
}


/* Decode base64url text; push the bytes and return 1, or return 0 on a bad character. */
static int pager_b64decode(lua_State *L, const char *s, size_t len) {
  luaL_Buffer b;
  unsigned long acc = 0;
  int bits = 0;
  size_t i;
  luaL_buffinit(L, &b);
  for (i = 0; i < len; i++) {
    int v = pager_b64value((unsigned char)s[i]);
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
static int pager_cursordecode(lua_State *L, const char *tok, size_t len) {
  const char *dot = (const char *)memchr(tok, '.', len);
  unsigned long want, got;
  lua_Integer v;
  char sum[16];
  size_t jlen;
  const char *json;
  if (dot == NULL || (size_t)(tok + len - dot) != 9)
    goto corrupt;
  memcpy(sum, dot + 1, 8);
  sum[8] = '\0';
  want = strtoul(sum, NULL, 16);
  if (!pager_b64decode(L, tok, (size_t)(dot - tok)))
    goto corrupt;
  json = lua_tolstring(L, -1, &jlen);
  got = pager_fnv1a(json, jlen);
  if (got != want) {
    lua_pop(L, 1);
    goto corrupt;
  }
  if (!wfs_json_decode(L, json, jlen)) {
    lua_pop(L, 2);
    goto corrupt;
  }
  lua_remove(L, -2);
  if (!lua_istable(L, -1) || pager_count(L, lua_gettop(L), "v", &v) != 1 || v != 1) {
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
static int pager_lcursordecode(lua_State *L) {
  size_t len;
  const char *tok = luaL_checklstring(L, 1, &len);
  if (!pager_cursordecode(L, tok, len)) {
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
static int pager_lcursor(lua_State *L) {
  wfs_pager *p = pager_check(L);
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
  lua_pushstring(L, p->pv->name);
  lua_setfield(L, -2, "p");
  pager_uvget(L, PAGER_UVQUERY);
  lua_setfield(L, -2, "q");
  if (pager_iscursor(p)) {
    /* Inside a page: that page's token and the offset; at its end: the next token. */
    pager_uvget(L, remaining ? PAGER_UVPAGETOKEN : PAGER_UVNEXTTOKEN);
    lua_setfield(L, -2, "t");
    /* before the first page of a resumed listing, its offset is still pending */
    lua_pushinteger(L, remaining ? p->item_idx - 1 : p->skip);
    lua_setfield(L, -2, "o");
  }
  else {
    lua_pushinteger(L, remaining ? p->page_start + p->item_idx - 1 : p->next_pos);
    lua_setfield(L, -2, "i");
    lua_pushinteger(L, p->total);
    lua_setfield(L, -2, "n");
    lua_pushinteger(L, p->base);
    lua_setfield(L, -2, "b");
  }
  if (!wfs_json_encode(L, -1))
    return lua_error(L);
  json = lua_tolstring(L, -1, &jlen);
  snprintf(sum, sizeof sum, "%08lx", pager_fnv1a(json, jlen));
  luaL_buffinit(L, &b);
  pager_b64encode(&b, (const unsigned char *)json, jlen);
  luaL_addchar(&b, '.');
  luaL_addlstring(&b, sum, 8);
  luaL_pushresult(&b);
  return 1;
}

/* }====================================================== */


/*
** {======================================================
** Construction
** =======================================================
*/

/* Copy a string field of the config table (index 1) into a user-value slot. */
static void pager_copystring(lua_State *L, int uv, const char *key, int slot) {
  lua_getfield(L, 1, key);
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "pager config: '%s' must be a string", key);
  lua_rawseti(L, uv, slot);
}


static void pager_copytable(lua_State *L, int uv, const char *key, int slot) {
  lua_getfield(L, 1, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  else if (!lua_istable(L, -1)) {
    luaL_error(L, "pager config: '%s' must be a table", key);
  }
  lua_rawseti(L, uv, slot);
}


/* Apply a decoded cursor (on top of the stack) to a fresh pager. */
static void pager_resume(lua_State *L, wfs_pager *p, int uv) {
  static const char damaged[] = "cursor is not a wfsession cursor or is damaged";
  int c = lua_gettop(L);
  lua_getfield(L, c, "p");
  if (!lua_isstring(L, -1) || strcmp(lua_tostring(L, -1), p->pv->name) != 0)
    luaL_error(L, "cursor belongs to another provider");
  lua_pop(L, 1);
  if (pager_iscursor(p)) {
    lua_getfield(L, c, "t");
    /* a token is a string: anything else (1e999 decodes to inf) breaks cursor() later */
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s", damaged);
    if (!lua_isnil(L, -1)) {
      lua_pushvalue(L, -1);
      lua_rawseti(L, uv, PAGER_UVPAGETOKEN);
      lua_rawseti(L, uv, PAGER_UVNEXTTOKEN);
    }
    else {
      lua_pop(L, 1);
    }
    if (pager_count(L, c, "o", &p->skip) != 1)
      luaL_error(L, "%s", damaged);
  }
  else {
    lua_Integer b;
    if (pager_count(L, c, "i", &p->next_pos) != 1)
      luaL_error(L, "%s", damaged);
    p->high = p->next_pos;
    if (pager_count(L, c, "n", &p->total) != 1)
      p->total = -1;
    if (p->base < 0 && pager_count(L, c, "b", &b) == 1 && (b == 0 || b == 1))
      p->base = (int)b;
  }
  lua_settop(L, c - 1);
}


/*** Create a pager.
** @function pager
** @tparam table config `{ provider, url, params, headers, timeout, page_size,
**   query, legacy, drift, page_base, cursor }` validated by the Lua layer
** @treturn userdata wfsession.pager
*/
static int pager_lnew(lua_State *L) {
  wfs_pager *p;
  int uv;
  luaL_checktype(L, 1, LUA_TTABLE);
  p = (wfs_pager *)wfs_newudata(L, sizeof *p);
  memset(p, 0, sizeof *p);
  p->total = p->first_total = p->req_next = -1;
  p->item_idx = 1;   /* 1-based: an empty page has item_idx > item_count */
  p->mark_power = 1;
  luaL_getmetatable(L, PAGER_MT);
  lua_setmetatable(L, -2);
  lua_createtable(L, PAGER_UVN, 0);
  uv = lua_gettop(L);

  lua_getfield(L, 1, "provider");
  p->provider = luaL_checkoption(L, -1, NULL, wfs_provider_names);
  p->pv = &wfs_providers[p->provider];
  lua_pop(L, 1);
  if (pager_count(L, 1, "page_size", &p->page_size) != 1 || p->page_size < 1 || p->page_size > 1000)
    luaL_error(L, "pager config: 'page_size' must be 1..1000");
  if (pager_count(L, 1, "max_decoded", &p->max_decoded) < 0)
    luaL_error(L, "pager config: 'max_decoded' must be a count");
  /* the ids of `window` pages (those in flight, and the one before) guard against repeats */
  {
    lua_Integer window;
    if (pager_count(L, 1, "window", &window) != 1 || window < 2)
      window = 2;
    if (window > 100)
      window = 100;
    p->keep = window * p->page_size;
  }
  lua_getfield(L, 1, "legacy");
  p->legacy = lua_toboolean(L, -1) && p->pv->legacy_items_key != NULL;
  lua_getfield(L, 1, "drift");
  p->drift = lua_toboolean(L, -1);
  lua_pop(L, 2);
  /* the provider's page base, unless the Lua layer knows it (an option for IDnow) */
  p->base = p->pv->page_base;
  lua_getfield(L, 1, "page_base");
  if (lua_type(L, -1) == LUA_TNUMBER && p->pv->page_base < 0) {
    lua_Integer b = lua_tointeger(L, -1);
    p->base = (b == 0 || b == 1) ? (int)b : -1;
  }
  lua_pop(L, 1);
  pager_copystring(L, uv, "url", PAGER_UVURL);
  pager_copystring(L, uv, "query", PAGER_UVQUERY);
  pager_copytable(L, uv, "params", PAGER_UVPARAMS);
  pager_copytable(L, uv, "headers", PAGER_UVHEADERS);
  lua_newtable(L);
  lua_rawseti(L, uv, PAGER_UVSEEN);
  lua_newtable(L);
  lua_rawseti(L, uv, PAGER_UVYIELDED);
  lua_getfield(L, 1, "timeout");
  lua_setfield(L, uv, "timeout");

  lua_getfield(L, 1, "cursor");
  if (!lua_isnil(L, -1)) {
    size_t len;
    const char *tok = luaL_checklstring(L, -1, &len);
    if (!pager_cursordecode(L, tok, len))
      return lua_error(L);
    pager_resume(L, p, uv);
  }
  lua_pop(L, 1);
  wfs_setuv(L, -2);
  return 1;
}

/* }====================================================== */


/*
** {======================================================
** request()
** =======================================================
*/

/*
** Append `?params&<paging>` to the url in buffer `b`. The params are
** {name, value} string pairs kept alive by the params table.
*/
static int pager_addparams(lua_State *L, luaL_Buffer *b, int params, int *first) {
  int i, n = (int)lua_rawlen(L, params);
  for (i = 1; i <= n; i++) {
    size_t vlen;
    const char *name, *value;
    lua_rawgeti(L, params, i);
    if (lua_istable(L, -1)) {  /* lua_rawgeti on anything else is undefined */
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
    }
    else {
      lua_pushnil(L);
      lua_pushnil(L);
    }
    /*
    ** Strings only: lua_tolstring would turn a number into a new string
    ** that only this stack slot keeps, and it is popped before use.
    */
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 3);
      return i;
    }
    name = lua_tostring(L, -2);
    value = lua_tolstring(L, -1, &vlen);
    /* The pair stays referenced by the params table, so the strings outlive the pops. */
    lua_pop(L, 3);
    pager_addparam(b, first, name, value, vlen);
  }
  return 0;
}


/*** The next request to perform, or nil when none is due now.
** A page-number listing may have several requests in flight once the
** first page told the total; a cursor listing has one, unless `token`
** names the page after the one in flight (found before its decode).
** @function pager:request
** @tparam[opt] integer want how many more sessions the caller can use; a
**   smaller page is asked for when that fetches nothing unneeded
** @tparam[opt] string token cursor listings: the token of the next page
** @treturn table|nil `{ method, url, headers, timeout, page, size, token }`
*/
static int pager_lrequest(lua_State *L) {
  wfs_pager *p = pager_check(L);
  lua_Integer want = wfs_optinteger(L, 2, 0);
  lua_Integer size = p->page_size, page = -1;
  const wfs_provider *pv = p->pv;
  int explicit_token = !lua_isnoneornil(L, 3);
  luaL_Buffer b;
  int first = 1, bad;
  if (explicit_token)
    luaL_checktype(L, 3, LUA_TSTRING);
  if (p->finished)
    return 0;
  if (pager_iscursor(p)) {
    /* each token comes from the page before: one request at a time */
    if (p->outstanding > 0 && !explicit_token)
      return 0;
    if (want > 0 && want < size)
      size = want;  /* a cursor page may be shorter anyway: nothing is skipped */
  }
  else {
    if (p->outstanding > 0) {
      /*
      ** More at once only after the first answer told the total, and while
      ** the pages follow each other (not after a shortened last page or
      ** while a moved listing waits for its requests to be dropped).
      */
      if (p->total < 0 || p->req_next < 0)
        return 0;
      page = p->req_next;
    }
    else {
      /* a shorter page only when `want` keeps the position on a page boundary */
      if (want > 0 && want < size && p->next_pos % want == 0)
        size = want;
      page = p->next_pos / size;
    }
    if (p->total >= 0 && page * size >= p->total)
      return 0;  /* past the end as far as anybody knows */
    p->req_next = (size == p->page_size) ? page + 1 : -1;
  }
  lua_settop(L, 3);
  lua_createtable(L, 0, 7);                 /* 4: request */
  lua_pushliteral(L, "GET");
  lua_setfield(L, 4, "method");
  wfs_getuv(L, 1);                          /* 5: user values */
  lua_getfield(L, 5, "timeout");
  lua_setfield(L, 4, "timeout");
  lua_newtable(L);                          /* headers: a fresh copy the driver may change */
  lua_rawgeti(L, 5, PAGER_UVHEADERS);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -5);
  }
  lua_pop(L, 1);
  lua_setfield(L, 4, "headers");
  lua_rawgeti(L, 5, PAGER_UVPARAMS);        /* 6: params */
  if (explicit_token)
    lua_pushvalue(L, 3);                    /* 7: the token of this request */
  else
    lua_rawgeti(L, 5, PAGER_UVNEXTTOKEN);
  luaL_buffinit(L, &b);
  lua_rawgeti(L, 5, PAGER_UVURL);
  luaL_addvalue(&b);
  bad = pager_addparams(L, &b, 6, &first);
  if (bad) {
    luaL_pushresult(&b);
    return luaL_error(L, "pager config: params[%d] must be {name, value} strings", bad);
  }
  if (pager_iscursor(p)) {
    pager_addintparam(&b, &first, pv->size_param, size);
    if (!lua_isnil(L, 7)) {
      size_t tlen;
      const char *tok = lua_tolstring(L, 7, &tlen);  /* a string, kept by slot 7 */
      pager_addparam(&b, &first, pv->token_key, tok, tlen);
    }
  }
  else {
    /* Unknown base: the first page is asked for without a number, and its number is the base. */
    if (p->base >= 0 || page > 0)
      pager_addintparam(&b, &first, pv->page_param, page + (p->base > 0 ? p->base : 0));
    else
      page = -1;
    pager_addintparam(&b, &first, pv->size_param, size);
  }
  luaL_pushresult(&b);
  lua_setfield(L, 4, "url");
  lua_pushinteger(L, size);
  lua_setfield(L, 4, "size");
  if (pager_iscursor(p)) {
    if (lua_isnil(L, 7))
      lua_pushboolean(L, 0);
    else
      lua_pushvalue(L, 7);
    lua_setfield(L, 4, "token");
  }
  else {
    lua_pushinteger(L, page);
    lua_setfield(L, 4, "page");
  }
  p->outstanding++;
  lua_settop(L, 4);
  return 1;
}


/*** Forget a request that will not be fed (cancelled, superseded).
** @function pager:drop
** @tparam table req as returned by `request()`
*/
static int pager_ldrop(lua_State *L) {
  wfs_pager *p = pager_check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (p->outstanding > 0)
    p->outstanding--;
  if (p->outstanding == 0)
    p->req_next = -1;
  return 0;
}

/* }====================================================== */


/*
** {======================================================
** decode(): the answer of one request, checked on its own
** =======================================================
*/

/*
** Check that the table at `items` is an array of objects that each have a
** non-empty string id, no id twice; return what is wrong, or NULL (then
** the set of the ids is left on top of the stack).
*/
static const char *pager_checkitems(lua_State *L, const wfs_pager *p, int items,
                                    lua_Integer *count) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, items), keys = 0, i;
  int ids;
  lua_pushnil(L);
  while (lua_next(L, items)) {  /* an array has exactly the keys 1..n */
    lua_pop(L, 1);
    keys++;
  }
  if (keys != n)
    return "is not an array";
  lua_createtable(L, 0, (int)n);
  ids = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    int ok;
    lua_rawgeti(L, items, (int)i);
    if (!lua_istable(L, -1)) {
      lua_settop(L, ids - 1);
      return "holds an item that is not a JSON object";
    }
    lua_getfield(L, -1, p->pv->id_key);
    ok = lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) > 0;
    if (!ok) {
      lua_settop(L, ids - 1);
      return "holds an item without a string id";
    }
    lua_pushvalue(L, -1);
    lua_rawget(L, ids);
    if (!lua_isnil(L, -1)) {
      lua_settop(L, ids - 1);
      return "holds one session twice";
    }
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_rawset(L, ids);
    lua_pop(L, 1);  /* the item */
  }
  *count = n;
  return NULL;
}


/*** Check the answer to a request on its own, in any order.
** @function pager:decode
** @tparam integer status HTTP status
** @tparam table headers response headers (lower-case names)
** @tparam string body response body
** @treturn table a decoded page `{ items, count, number, pages, total, token }`
**   for `feed()`
** @return nil, msg, err for an HTTP error, a body that is not JSON, or a
**   body of the wrong shape (`err.retryable` says whether to try again)
*/
static int pager_ldecode(lua_State *L) {
  wfs_pager *p = pager_check(L);
  lua_Integer status = wfs_checkinteger(L, 2);
  const wfs_provider *pv = p->pv;
  size_t len = 0;
  const char *body = lua_isnoneornil(L, 4) ? NULL : luaL_checklstring(L, 4, &len);
  const char *bad;
  char msg[200];
  int doc, items, page;
  lua_Integer count = 0, v;
  if (!lua_isnoneornil(L, 3))
    luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 4);
  if (status < 200 || status > 299) {
    lua_pushnil(L);
    wfs_error_http(L, p->provider, (long)status, lua_istable(L, 3) ? 3 : 0, body, len);
    return 3;
  }
  /*
  ** A body may decode to many times its size: one that would take more than
  ** the limit is refused before cjson builds it (the check only reads it).
  */
  if (body != NULL && p->max_decoded > 0 && !wfs_json_fits(body, len, (size_t)p->max_decoded)) {
    snprintf(msg, sizeof msg, "list response of %lu bytes would take more than %lld bytes decoded",
             (unsigned long)len, (long long)p->max_decoded);
    return pager_fail(L, p, "protocol", msg);
  }
  /* lazily: each session cleans its raw table when first looked into */
  if (body == NULL || !wfs_json_decode_lazy(L, body, len)) {
    snprintf(msg, sizeof msg, "list response is not JSON (%s)",
             body == NULL ? "no body" : lua_tostring(L, -1));
    return pager_fail(L, p, "decode", msg);
  }
  doc = lua_gettop(L);  /* 5 */
  /* a JSON array decodes to a table too: one with an array part is not an object */
  if (!lua_istable(L, doc) || lua_rawlen(L, doc) > 0)
    return pager_fail(L, p, "protocol", "list response is not a JSON object");
  if (p->legacy && pv->legacy_ok_key != NULL) {
    lua_getfield(L, doc, pv->legacy_ok_key);
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
      lua_pushnil(L);
      wfs_error_http(L, p->provider, (long)status, 0, body, len);
      return 3;
    }
    lua_pop(L, 1);
  }
  lua_createtable(L, 0, 6);                 /* 6: the page */
  page = doc + 1;
  lua_getfield(L, doc, p->legacy ? pv->legacy_items_key : pv->items_key);
  /* ComplyCube leaves `items` out of an empty page (its SDKs guard for it). */
  if (pager_isnull(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  items = lua_gettop(L);                    /* 7 */
  if (!lua_istable(L, items))
    bad = "is not an array";
  else
    bad = pager_checkitems(L, p, items, &count);
  if (bad != NULL) {
    snprintf(msg, sizeof msg, "list response: '%s' %s",
             p->legacy ? pv->legacy_items_key : pv->items_key, bad);
    return pager_fail(L, p, "protocol", msg);
  }
  lua_pop(L, 1);                            /* the id set pager_checkitems left */
  lua_setfield(L, page, "items");
  lua_pushinteger(L, count);
  lua_setfield(L, page, "count");
  if (pager_iscursor(p)) {
    lua_getfield(L, doc, pv->token_key);
    if (!pager_isnull(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
      snprintf(msg, sizeof msg, "list response: '%s' is not a string", pv->token_key);
      return pager_fail(L, p, "protocol", msg);
    }
    if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) > 0)
      lua_setfield(L, page, "token");
    else
      lua_pop(L, 1);  /* absent or empty: the last page */
  }
  else {
    static const char *const names[3] = { "number", "pages", "total" };
    const char *paths[3];
    int i;
    paths[0] = pv->number_key;
    paths[1] = pv->pages_key;
    paths[2] = pv->total_key;
    for (i = 0; i < 3; i++) {
      int r = pager_count(L, doc, paths[i], &v);
      if (r < 0) {
        snprintf(msg, sizeof msg, "list response: '%s' is not a count", paths[i]);
        return pager_fail(L, p, "protocol", msg);
      }
      if (r > 0) {
        lua_pushinteger(L, v);
        lua_setfield(L, page, names[i]);
      }
    }
  }
  lua_settop(L, page);
  return 1;
}


/*
** The token scan of cursor listings: the value of the top-level `key` of a
** JSON object text when it is a plain string (no escapes), else NULL.
** Strings are skipped whole and nesting is counted, so a key of the same
** name deeper down, or inside a string, never matches; like the decoder,
** the last of repeated keys wins, a top-level key spelled with escapes
** (it could be this one) leaves nothing to go on, and the scan ends where
** the decoder does (the object's close, or a NUL). Nothing is allocated:
** this runs before the page is decoded, so that the next request can leave
** at once.
*/
static const char *pager_scantoken(const char *s, size_t len, const char *key, size_t *vlen) {
  size_t klen = strlen(key), i = 0;
  const char *found = NULL;
  int depth = 0;
  while (i < len) {
    char c = s[i];
    if (c == '"') {
      size_t start = ++i;
      int escaped = 0;
      while (i < len && s[i] != '"') {
        if (s[i] == '\\') {
          escaped = 1;
          i++;
        }
        i++;
      }
      if (i >= len)
        return NULL;
      i++;  /* past the closing quote */
      if (depth == 1) {
        size_t j = i;
        while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
          j++;
        if (j < len && s[j] == ':') {  /* a key of the top-level object */
          if (escaped) {
            found = NULL;
          }
          else if (i - 1 - start == klen && memcmp(s + start, key, klen) == 0) {
            size_t v;
            found = NULL;
            j++;
            while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
              j++;
            if (j < len && s[j] == '"') {
              for (v = j + 1; v < len && s[v] != '"' && s[v] != '\\'; v++) {
              }
              if (v < len && s[v] == '"' && v > j + 1) {
                found = s + j + 1;
                *vlen = v - (j + 1);
              }
            }
          }
        }
      }
    }
    else {
      if (c == '{' || c == '[')
        depth++;
      else if (c == '}' || c == ']') {
        if (--depth <= 0)
          return found;  /* the document ends here, as far as the decoder reads */
      }
      else if (c == '\0')
        return NULL;  /* the decoder stops at a NUL too: the object is unfinished */
      i++;
    }
  }
  return found;
}


/*** Cursor listings: the token of the next page, read from the raw body
** before it is decoded (nil when there is none, or the body is unusual).
** `feed()` confirms it; a mismatch only costs the early request.
** @function pager:peek
** @tparam string body
** @treturn string|nil
*/
static int pager_lpeek(lua_State *L) {
  wfs_pager *p = pager_check(L);
  size_t len, vlen;
  const char *body = luaL_checklstring(L, 2, &len);
  const char *v;
  if (!pager_iscursor(p))
    return 0;
  v = pager_scantoken(body, len, p->pv->token_key, &vlen);
  if (v == NULL)
    return 0;
  lua_pushlstring(L, v, vlen);
  return 1;
}

/* }====================================================== */


/*
** {======================================================
** feed(): decoded pages, in the order they were requested
** =======================================================
*/

/*
** Repeats. Under the position model no session is handed out twice, but a
** server may break it: sessions removed during the listing, a total that
** lies, an ordering that is not stable. So a page-number listing also
** remembers the last `keep` ids it handed out (the pages in flight and the
** one before) and drops a repeat; a position that moves back further than
** that is a protocol fault.
*/

/* Whether every item from index `from` on was handed out already (among the last `keep`). */
static int pager_allseen(lua_State *L, const wfs_pager *p, int items, lua_Integer from,
                         lua_Integer count) {
  lua_Integer i;
  int seen, all = 1;
  if (from > count)
    return 0;
  pager_uvget(L, PAGER_UVSEEN);
  seen = lua_gettop(L);
  for (i = from; i <= count && all; i++) {
    lua_rawgeti(L, items, (int)i);
    lua_getfield(L, -1, p->pv->id_key);
    lua_rawget(L, seen);
    all = !lua_isnil(L, -1);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  return all;
}


static int pager_feednumber(lua_State *L, wfs_pager *p, int page, int req, int items,
                            lua_Integer count) {
  lua_Integer q, size, number, pages, total, start, skip, pos;
  char msg[200];
  q = (lua_getfield(L, req, "page"), lua_tointeger(L, -1));
  size = (lua_getfield(L, req, "size"), lua_tointeger(L, -1));
  lua_pop(L, 2);
  if (size < 1)
    return luaL_error(L, "pager:feed: not a request of this pager");
  number = (lua_getfield(L, page, "number"), lua_isnil(L, -1) ? -1 : lua_tointeger(L, -1));
  pages = (lua_getfield(L, page, "pages"), lua_isnil(L, -1) ? -1 : lua_tointeger(L, -1));
  total = (lua_getfield(L, page, "total"), lua_isnil(L, -1) ? -1 : lua_tointeger(L, -1));
  lua_pop(L, 3);

  if (q < 0) {  /* the first IDnow page, asked for without a number */
    if (number != 0 && number != 1) {
      snprintf(msg, sizeof msg, "list response: cannot tell the page base from page number %lld",
               (long long)number);
      return pager_fail(L, p, "protocol", msg);
    }
    p->base = (int)number;
    q = 0;
  }
  else if (number >= 0 && number != q + p->base) {
    snprintf(msg, sizeof msg, "list response: asked for page %lld, got page %lld",
             (long long)(q + p->base), (long long)number);
    return pager_fail(L, p, "protocol", msg);
  }
  start = q * size;
  if (count > size) {
    snprintf(msg, sizeof msg, "list response: page %lld has %lld items, more than the %lld asked for",
             (long long)(q + p->base), (long long)count, (long long)size);
    return pager_fail(L, p, "protocol", msg);
  }
  if (total >= 0) {
    if (p->first_total < 0)
      p->first_total = total;
    else if (total - p->first_total > (p->first_total > PAGER_MAXGROWTH ? p->first_total : PAGER_MAXGROWTH)) {
      snprintf(msg, sizeof msg, "list response: the total jumped from %lld to %lld during the listing",
               (long long)p->first_total, (long long)total);
      return pager_fail(L, p, "protocol", msg);
    }
    /*
    ** A page shorter than asked for is the last one. A total or a page
    ** count that says more follow makes it a server fault: going on would
    ** ask for it again, stopping would be a silently short listing.
    */
    if (count < size && start + count < total) {
      snprintf(msg, sizeof msg, count == 0 ?
               "list response: page %lld is empty, but the total promises %lld sessions" :
               "list response: page %lld has %lld items, but the total promises %lld sessions",
               (long long)(q + p->base), count == 0 ? (long long)total : (long long)count,
               (long long)total);
      return pager_fail(L, p, "protocol", msg);
    }
  }
  if (count < size && pages >= 0 && q + 1 < pages) {
    snprintf(msg, sizeof msg, "list response: page %lld of %lld has %lld of %lld items",
             (long long)(q + p->base), (long long)pages, (long long)count, (long long)size);
    return pager_fail(L, p, "protocol", msg);
  }

  /*
  ** The position in this answer's numbering. New sessions at the head of
  ** the ordering (drift) move it by the change of the total. A total that
  ** went down (sessions removed, or an answer older than the last one)
  ** moves it back by as much whatever the ordering: sessions before it may
  ** be gone, and going back only repeats some, which the window drops.
  */
  pos = p->next_pos;
  if (total >= 0 && p->total >= 0 && (p->drift || total < p->total)) {
    pos += total - p->total;
    /* new sessions at the head renumber everything, the furthest point too */
    if (total > p->total)
      p->high += total - p->total;
  }
  if (pos < 0)
    pos = 0;
  /*
  ** How far behind the furthest point the position is: the sessions it may
  ** hand out again, which only the window of the last `keep` can catch,
  ** however many steps back it took to get there.
  */
  if (pos < p->high - p->keep) {
    snprintf(msg, sizeof msg, "list response: the total fell from %lld to %lld during the listing, "
             "more than the pager can check for repeats", (long long)p->total, (long long)total);
    return pager_fail(L, p, "protocol", msg);
  }
  if (pos < start) {
    /* this page starts after the next session: ask again from the position */
    if (++p->restarts > PAGER_MAXRESTARTS)
      return pager_fail(L, p, "protocol", "list response: the listing keeps moving under the pager");
    p->next_pos = pos;
    if (total >= 0)
      p->total = total;
    p->req_next = -1;
    p->moved = 1;
    lua_pushboolean(L, 0);
    return 1;
  }
  skip = pos - start;
  if (skip > count)
    skip = count;
  if (!p->moved && count > skip && pager_allseen(L, p, items, skip + 1, count)) {
    snprintf(msg, sizeof msg, "list response: page %lld holds only sessions handed out before",
             (long long)(q + p->base));
    return pager_fail(L, p, "protocol", msg);
  }
  if (count > skip) {
    p->restarts = 0;
    p->moved = pos < p->next_pos;
  }
  if (total >= 0)
    p->total = total;
  p->next_pos = start + count > pos ? start + count : pos;
  if (p->next_pos > p->high)
    p->high = p->next_pos;
  if (p->total >= 0)
    p->finished = p->next_pos >= p->total;
  else
    p->finished = count < size || (pages >= 0 && q + 1 >= pages);
  lua_pushvalue(L, items);  /* the current page */
  pager_uvset(L, PAGER_UVITEMS);
  p->page_start = start;
  p->item_idx = skip + 1;
  p->item_count = count;
  lua_pushinteger(L, count - skip);
  return 1;
}


/*
** Brent's cycle detection over the tokens: compare each new token with a
** mark that moves to the current one at every power of two. Any loop is
** found after at most twice its length plus its start, with one token kept.
*/
static int pager_loops(lua_State *L, wfs_pager *p, int token) {
  int same;
  pager_uvget(L, PAGER_UVMARK);
  same = lua_rawequal(L, -1, token);
  lua_pop(L, 1);
  if (same)
    return 1;
  if (++p->mark_steps >= p->mark_power) {
    p->mark_steps = 0;
    p->mark_power *= 2;
    lua_pushvalue(L, token);
    pager_uvset(L, PAGER_UVMARK);
  }
  return 0;
}


static int pager_feedcursor(lua_State *L, wfs_pager *p, int page, int req, int items,
                            lua_Integer count) {
  lua_Integer skip;
  int token;
  char msg[120];
  lua_getfield(L, page, "token");
  token = lua_gettop(L);
  if (!lua_isnil(L, token) && pager_loops(L, p, token)) {
    snprintf(msg, sizeof msg, "list response: the same %s came twice", p->pv->token_key);
    return pager_fail(L, p, "protocol", msg);
  }
  p->finished = lua_isnil(L, token);
  p->empty_pages = count == 0 ? p->empty_pages + 1 : 0;
  if (p->empty_pages > PAGER_MAXEMPTY)
    return pager_fail(L, p, "protocol", "list response: too many empty pages in a row");
  /* The page just fed was fetched with the request's token; the cursor points into it. */
  lua_getfield(L, req, "token");
  if (lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  pager_uvset(L, PAGER_UVPAGETOKEN);
  lua_pushvalue(L, token);
  pager_uvset(L, PAGER_UVNEXTTOKEN);
  lua_pushvalue(L, items);  /* the current page */
  pager_uvset(L, PAGER_UVITEMS);
  skip = p->skip;
  p->skip = 0;
  if (skip > count)
    skip = count;
  p->item_idx = skip + 1;
  p->item_count = count;
  lua_pushinteger(L, count - skip);
  return 1;
}


/*** Feed a decoded page, in the order the requests were made.
** @function pager:feed
** @tparam table page from `decode()`
** @tparam table req the request it answers, from `request()`
** @treturn integer how many sessions the page added (0 is not the end: ask
**   `request()`); `false` when the listing moved and must be asked again
**   from its position (drop every request in flight)
** @return nil, msg, err on a protocol fault (the listing cannot go on)
*/
static int pager_lfeed(lua_State *L) {
  wfs_pager *p = pager_check(L);
  lua_Integer count;
  int r;
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  if (p->outstanding <= 0)
    return luaL_error(L, "pager:feed: no request in flight");
  if (p->item_idx <= p->item_count)
    return luaL_error(L, "pager:feed: the current page still has sessions to pop");
  p->outstanding--;
  lua_getfield(L, 2, "items");   /* 4 */
  lua_getfield(L, 2, "count");
  count = lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (!lua_istable(L, 4) || count != (lua_Integer)lua_rawlen(L, 4))
    return luaL_error(L, "pager:feed: not a page from decode()");
  r = pager_iscursor(p) ? pager_feedcursor(L, p, 2, 3, 4, count)
                        : pager_feednumber(L, p, 2, 3, 4, count);
  if (r == 3)
    p->finished = 1;  /* a protocol fault ends the listing */
  else if (lua_type(L, -1) == LUA_TNUMBER)
    p->pages_fed++;
  return r;
}

/* }====================================================== */


/*
** {======================================================
** pop() and the rest
** =======================================================
*/

/*** The next session of the current page.
** @function pager:pop
** @treturn userdata|nil a wfsession.session, or nil when the page is used up
*/
static int pager_lpop(lua_State *L) {
  wfs_pager *p = pager_check(L);
  int items = 3, seen = 4, yielded = 5, cursor = pager_iscursor(p);
  lua_settop(L, 1);
  wfs_getuv(L, 1);                      /* 2 */
  lua_rawgeti(L, 2, PAGER_UVITEMS);     /* 3 */
  lua_rawgeti(L, 2, PAGER_UVSEEN);      /* 4 */
  lua_rawgeti(L, 2, PAGER_UVYIELDED);   /* 5 */
  if (!lua_istable(L, items))
    return 0;
  while (p->item_idx <= p->item_count) {
    lua_rawgeti(L, items, (int)p->item_idx++);
    if (!cursor) {
      int slot;
      lua_getfield(L, -1, p->pv->id_key);
      lua_pushvalue(L, -1);
      lua_rawget(L, seen);
      if (!lua_isnil(L, -1)) {  /* handed out already: a repeat */
        lua_pop(L, 3);
        continue;
      }
      lua_pop(L, 1);
      /*
      ** The ring: the id that many places back leaves, this one takes its
      ** slot. It holds a page more than `keep`, so that the page being
      ** handed out never pushes out an id of the `keep` before it.
      */
      slot = (int)(p->handed % (p->keep + p->page_size)) + 1;
      p->handed++;
      lua_rawgeti(L, yielded, slot);
      if (!lua_isnil(L, -1)) {
        lua_pushnil(L);
        lua_rawset(L, seen);
      }
      else {
        lua_pop(L, 1);
      }
      lua_pushvalue(L, -1);
      lua_rawseti(L, yielded, slot);
      lua_pushboolean(L, 1);
      lua_rawset(L, seen);
    }
    wfs_session_push(L, p->provider, -1);
    if (p->item_idx > p->item_count) {
      /* the used-up page is garbage now: let it go before the next one is decoded */
      lua_pushnil(L);
      lua_rawseti(L, 2, PAGER_UVITEMS);
    }
    return 1;
  }
  return 0;
}


/*** Total sessions of the listing, when the provider reports it.
** @function pager:total
** @treturn integer|nil
*/
static int pager_ltotal(lua_State *L) {
  wfs_pager *p = pager_check(L);
  if (p->total < 0)
    return 0;
  lua_pushinteger(L, p->total);
  return 1;
}


/*** Whether nothing is left: no session to pop and no page to fetch.
** @function pager:done
** @treturn boolean
*/
static int pager_ldone(lua_State *L) {
  wfs_pager *p = pager_check(L);
  lua_pushboolean(L, p->finished && p->item_idx > p->item_count);
  return 1;
}


/*** How many sessions of the current page are left to pop (before drift duplicates).
** @function pager:available
** @treturn integer
*/
static int pager_lavailable(lua_State *L) {
  wfs_pager *p = pager_check(L);
  lua_pushinteger(L, p->item_count - p->item_idx + 1);
  return 1;
}


/*** How many pages have been fed so far.
** @function pager:pages
** @treturn integer
*/
static int pager_lpages(lua_State *L) {
  wfs_pager *p = pager_check(L);
  lua_pushinteger(L, p->pages_fed);
  return 1;
}


/*** Release the pager's page; later calls raise. Idempotent; also `__gc` and `__close`.
** @function pager:close
*/
static int pager_lclose(lua_State *L) {
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


static int pager_ltostring(lua_State *L) {
  wfs_pager *p = (wfs_pager *)luaL_checkudata(L, 1, PAGER_MT);
  if (p->closed)
    lua_pushliteral(L, PAGER_MT " (closed)");
  else
    lua_pushfstring(L, PAGER_MT ": %s (%p)", p->pv->name, (void *)p);
  return 1;
}


/*** Percent-encode everything but RFC 3986 unreserved characters: an id or
** a query value is always exactly one path segment or value, whatever it
** holds. The pager builds every list URL, so the one encoder of the
** library lives here (the Lua layer calls it too).
** @function escape
** @tparam string s
** @treturn string
*/
static int pager_lescape(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  pager_addescaped(&b, s, len);
  luaL_pushresult(&b);
  return 1;
}

/* }====================================================== */


static const luaL_Reg pager_methods[] = {
  {"request", pager_lrequest}, {"drop", pager_ldrop}, {"decode", pager_ldecode},
  {"peek", pager_lpeek}, {"feed", pager_lfeed}, {"pop", pager_lpop},
  {"cursor", pager_lcursor}, {"total", pager_ltotal}, {"done", pager_ldone},
  {"available", pager_lavailable}, {"pages", pager_lpages}, {"close", pager_lclose},
  {NULL, NULL}
};

static const luaL_Reg pager_meta[] = {
  {"__gc", pager_lclose}, {"__tostring", pager_ltostring},
#if LUA_VERSION_NUM >= 504
  {"__close", pager_lclose},
#endif
  {NULL, NULL}
};

static const luaL_Reg pager_funcs[] = {
  {"pager", pager_lnew}, {"cursor_decode", pager_lcursordecode}, {"escape", pager_lescape},
  {NULL, NULL}
};


void wfs_pager_open(lua_State *L) {
  wfs_newclass(L, PAGER_MT, &pager_key, pager_meta, pager_methods);
  luaL_setfuncs(L, pager_funcs, 0);
}
