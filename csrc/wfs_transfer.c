/*
** wfs_transfer.c: one HTTP exchange on a libcurl easy handle.
**
** Nothing here calls Lua while libcurl runs. The write and header
** callbacks only append to C buffers owned by the transfer, and the answer
** is pushed after libcurl is done with it. A Lua error (out of memory, a
** bad value) can therefore never unwind through libcurl frames, and every
** check of a request happens before any I/O.
**
** libcurl copies the strings it is given (url, user agent, CA file,
** proxy), but not the header list: that list belongs to the transfer and
** lives until the transfer ends.
*/
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wfs_core.h"
#include "wfs_transfer.h"

#define TRANSFER_HEADMAX ((size_t)1024 * 1024)    /* all headers of one answer */
#define TRANSFER_BUFFIRST ((size_t)16 * 1024)
#define TRANSFER_BUFKEEP ((size_t)256 * 1024)     /* larger buffers are freed after a transfer */

/* Why a callback stopped the transfer (libcurl only sees a short write). */
enum { TRANSFER_OVER_NONE = 0, TRANSFER_OVER_BODY, TRANSFER_OVER_HEAD, TRANSFER_OVER_NOMEM };


/*
** {======================================================
** Errors
** =======================================================
*/

/* The error kind of a CURLcode: "timeout", "tls" or "network" (never NULL). */
static const char *transfer_kind(int code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
#if LIBCURL_VERSION_NUM >= 0x074d00
    case CURLE_SSL_CLIENTCERT:
#endif
      return "tls";
    default:
      /* connect, resolve, send, recv, empty reply, partial body, a body
      ** over max_body: all say "the network did not deliver" */
      return "network";
  }
}


int wfs_transfer_pushfail(lua_State *L, int code, const char *kind, const char *detail) {
  if (kind == NULL)
    kind = transfer_kind(code);
  size_t n, i;
  luaL_Buffer b;
  if (detail == NULL || *detail == '\0')
    detail = curl_easy_strerror((CURLcode)code);
  n = strlen(detail);
  while (n > 0 && (detail[n - 1] == '\n' || detail[n - 1] == '\r' ||
                   detail[n - 1] == ' ' || detail[n - 1] == '\t'))
    n--;
  lua_pushnil(L);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, kind);
  luaL_addstring(&b, ": ");
  for (i = 0; i < n; i++) {  /* the message is promised to be one line */
    char c = detail[i];
    luaL_addchar(&b, (c == '\n' || c == '\r' || c == '\t') ? ' ' : c);
  }
  luaL_pushresult(&b);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "message");
  lua_pushinteger(L, (lua_Integer)code);
  lua_setfield(L, -2, "curl_code");
  return 3;
}

/* }====================================================== */


/*
** {======================================================
** Answer buffers (written from libcurl callbacks: no Lua here)
** =======================================================
*/

/* Append `n` bytes, never growing past `limit`: 0, TRANSFER_OVER_BODY or _NOMEM. */
static int transfer_bufadd(wfs_buf *b, const char *s, size_t n, size_t limit) {
  if (n == 0)
    return TRANSFER_OVER_NONE;
  if (n > limit - b->len)  /* b->len <= limit always holds */
    return TRANSFER_OVER_BODY;
  if (n > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : (TRANSFER_BUFFIRST < limit ? TRANSFER_BUFFIRST : limit);
    char *p;
    while (cap - b->len < n)
      cap = (cap > limit / 2) ? limit : cap * 2;
    p = (char *)realloc(b->p, cap);
    if (p == NULL)
      return TRANSFER_OVER_NOMEM;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return TRANSFER_OVER_NONE;
}


static void transfer_buffree(wfs_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}


/* Keep a small buffer for the next transfer, give a big one back. */
static void transfer_bufrelease(wfs_buf *b) {
  if (b->cap > TRANSFER_BUFKEEP)
    transfer_buffree(b);
  else
    b->len = 0;
}


static size_t transfer_onbody(char *data, size_t size, size_t nmemb, void *ud) {
  wfs_transfer *t = (wfs_transfer *)ud;
  size_t n = size * nmemb;
  int r = transfer_bufadd(&t->body, data, n, t->max_body);
  if (r != TRANSFER_OVER_NONE) {
    t->over = r;
    return 0;  /* a short write: libcurl aborts with CURLE_WRITE_ERROR */
  }
  return n;
}


static size_t transfer_onheader(char *data, size_t size, size_t nmemb, void *ud) {
  wfs_transfer *t = (wfs_transfer *)ud;
  size_t n = size * nmemb;
  int r;
  /* A status line starts a new answer (after a 1xx or a proxy CONNECT):
  ** only the final answer's headers are reported. */
  if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
    t->head.len = 0;
  r = transfer_bufadd(&t->head, data, n, TRANSFER_HEADMAX);
  if (r != TRANSFER_OVER_NONE) {
    t->over = (r == TRANSFER_OVER_BODY) ? TRANSFER_OVER_HEAD : r;
    return 0;
  }
  return n;
}

/* }====================================================== */


/*
** {======================================================
** Options
** =======================================================
*/

static int transfer_hasctl(const char *s, size_t len) {
  return memchr(s, '\0', len) != NULL || memchr(s, '\r', len) != NULL ||
         memchr(s, '\n', len) != NULL;
}


/* Seconds (a positive, finite number) to milliseconds, at least 1. */
static long transfer_ms(double s) {
  double ms = ceil(s * 1000.0);
  if (ms >= (double)LONG_MAX)
    return LONG_MAX;
  return ms < 1.0 ? 1L : (long)ms;
}


void wfs_transfer_defaults(wfs_xferopts *o) {
  o->connect_timeout = 10.0;
  o->timeout = 30.0;
  o->low_speed_time = WFS_LOW_SPEED_TIME;
  o->max_body = WFS_MAX_BODY;
  o->verify = 1;
  o->ca_file = o->proxy = o->user_agent = NULL;
}


/* Field `name` of the table at `idx` as a number, or `def` when nil. */
static double transfer_optnumber(lua_State *L, int idx, int arg, const char *what,
                                 const char *name, double def, int zero_ok) {
  double v;
  lua_getfield(L, idx, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return def;
  }
  if (lua_type(L, -1) != LUA_TNUMBER)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s'%s' must be a number (got %s)",
                                          what, name, luaL_typename(L, -1)));
  v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(v > 0.0 || (zero_ok && v == 0.0)) || v == HUGE_VAL)  /* also NaN */
    luaL_argerror(L, arg, lua_pushfstring(L, "%s'%s' must be a finite number %s 0",
                                          what, name, zero_ok ? ">=" : ">"));
  return v;
}


/*
** Field `name` of the table at `idx` as a string, or `def` when nil. The
** string is kept alive by the table.
*/
static const char *transfer_optstring(lua_State *L, int idx, int arg, const char *what,
                                      const char *name, const char *def) {
  size_t len;
  const char *s;
  lua_getfield(L, idx, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return def;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s'%s' must be a string (got %s)",
                                          what, name, luaL_typename(L, -1)));
  s = lua_tolstring(L, -1, &len);
  lua_pop(L, 1);
  if (transfer_hasctl(s, len))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s'%s' contains CR, LF or NUL", what, name));
  return s;
}


void wfs_transfer_readopts(lua_State *L, int idx, int arg, const char *what, wfs_xferopts *o) {
  double max_body;
  idx = wfs_absindex(L, idx);
  o->connect_timeout = transfer_optnumber(L, idx, arg, what, "connect_timeout", o->connect_timeout, 0);
  o->timeout = transfer_optnumber(L, idx, arg, what, "timeout", o->timeout, 0);
  o->low_speed_time = transfer_optnumber(L, idx, arg, what, "low_speed_time", o->low_speed_time, 1);
  max_body = transfer_optnumber(L, idx, arg, what, "max_body", (double)o->max_body, 1);
  o->max_body = (max_body >= (double)(SIZE_MAX / 2)) ? SIZE_MAX / 2 : (size_t)max_body;
  lua_getfield(L, idx, "verify");
  if (lua_type(L, -1) == LUA_TBOOLEAN)
    o->verify = lua_toboolean(L, -1);
  else if (!lua_isnil(L, -1))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s'verify' must be a boolean (got %s)",
                                          what, luaL_typename(L, -1)));
  lua_pop(L, 1);
  o->ca_file = transfer_optstring(L, idx, arg, what, "ca_file", o->ca_file);
  o->proxy = transfer_optstring(L, idx, arg, what, "proxy", o->proxy);
  o->user_agent = transfer_optstring(L, idx, arg, what, "user_agent", o->user_agent);
}

/* }====================================================== */


/*
** {======================================================
** Requests
** =======================================================
*/

/* Why `url` cannot be sent, or NULL. Never quotes the URL: it may hold a secret. */
static const char *transfer_urlproblem(lua_State *L, const char *url) {
#if LIBCURL_VERSION_NUM >= 0x073e00
  const char *why = NULL;
  char *scheme = NULL;
  CURLUcode rc;
  CURLU *u = curl_url();
  if (u == NULL)
    return NULL;  /* no memory to look: let the transfer judge it */
  rc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (rc != CURLUE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075000
    why = lua_pushfstring(L, "'url' is not a valid URL (%s)", curl_url_strerror(rc));
#else
    why = "'url' is not a valid URL";
#endif
  }
  else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == NULL ||
           (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    why = "'url' must be an http:// or https:// URL";
  }
  curl_free(scheme);
  curl_url_cleanup(u);
  return why;
#else
  (void)L;
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
    return "'url' must be an http:// or https:// URL";
  return NULL;
#endif
}


static int transfer_samenocase(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z')
      x = (unsigned char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = (unsigned char)(y - 'A' + 'a');
    if (x != y)
      return 0;
  }
  return 1;
}


static int transfer_namechar(unsigned char c) {
  return c > 32 && c < 127 && c != ':';
}


/*
** Turn req.headers (at `idx`, a table or nil) into t->headers. The list
** hangs off the transfer while it is built, so a raise half way leaks
** nothing: the next prepare or free releases it.
*/
static void transfer_buildheaders(lua_State *L, wfs_transfer *t, int idx, int arg, int is_post) {
  int has_expect = 0;
  if (!lua_isnil(L, idx)) {
    if (lua_type(L, idx) != LUA_TTABLE)
      luaL_argerror(L, arg, lua_pushfstring(L, "'headers' must be a table (got %s)",
                                            luaL_typename(L, idx)));
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      size_t nlen, vlen = 0, i;
      const char *name, *value = NULL, *line;
      struct curl_slist *l;
      if (lua_type(L, -2) != LUA_TSTRING)
        luaL_argerror(L, arg, lua_pushfstring(L, "'headers' keys must be strings (got %s)",
                                              luaL_typename(L, -2)));
      name = lua_tolstring(L, -2, &nlen);
      if (transfer_hasctl(name, nlen))
        luaL_argerror(L, arg, "'headers' has a name containing CR, LF or NUL");
      for (i = 0; i < nlen; i++) {
        if (!transfer_namechar((unsigned char)name[i]))
          break;
      }
      if (nlen == 0 || i < nlen)
        luaL_argerror(L, arg, lua_pushfstring(L, "'headers' has an invalid name '%s'", name));
      switch (lua_type(L, -1)) {
        case LUA_TSTRING: case LUA_TNUMBER:
          lua_pushvalue(L, -1);  /* convert a copy: lua_next needs the key untouched */
          value = lua_tolstring(L, -1, &vlen);
          break;
        case LUA_TBOOLEAN:
          if (!lua_toboolean(L, -1))
            break;  /* false: drop a header libcurl adds */
          /* FALLTHROUGH */
        default:
          luaL_argerror(L, arg, lua_pushfstring(L,
                          "'headers' value of '%s' must be a string (got %s)",
                          name, luaL_typename(L, -1)));
      }
      if (value != NULL && transfer_hasctl(value, vlen))
        luaL_argerror(L, arg, lua_pushfstring(L,
                        "'headers' value of '%s' contains CR, LF or NUL", name));
      if (nlen == 6 && transfer_samenocase(name, "expect", 6))
        has_expect = 1;
      /* libcurl's forms: "Name: v" sends, "Name;" sends it empty, "Name:" removes it */
      if (value == NULL)
        line = lua_pushfstring(L, "%s:", name);
      else if (vlen == 0)
        line = lua_pushfstring(L, "%s;", name);
      else
        line = lua_pushfstring(L, "%s: %s", name, value);
      l = curl_slist_append(t->headers, line);
      if (l == NULL)
        luaL_error(L, "not enough memory");
      t->headers = l;
      lua_settop(L, lua_gettop(L) - (value != NULL ? 3 : 2));  /* keep the key */
    }
  }
  /* No "Expect: 100-continue" round trip for a big POST unless asked for. */
  if (is_post && !has_expect) {
    struct curl_slist *l = curl_slist_append(t->headers, "Expect:");
    if (l == NULL)
      luaL_error(L, "not enough memory");
    t->headers = l;
  }
}


/* curl_global_init is not reentrant and must run once per process. */
static int transfer_curlready = 0;

void wfs_transfer_globalinit(lua_State *L) {
  if (!transfer_curlready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      luaL_error(L, "cannot initialise libcurl");
    transfer_curlready = 1;
  }
}


int wfs_transfer_init(wfs_transfer *t) {
  memset(t, 0, sizeof(*t));
  t->curl = curl_easy_init();
  return t->curl != NULL;
}


/* The User-Agent when none is given: "wfsession/<v> libcurl/<v>". */
static const char *transfer_useragent(void) {
  static char ua[64];
  if (ua[0] == '\0')
    snprintf(ua, sizeof(ua), "wfsession/%s libcurl/%s", WFS_VERSION,
             curl_version_info(CURLVERSION_NOW)->version);
  return ua;
}


#define SETOPT(opt, val) \
  do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)

CURLcode wfs_transfer_prepare(lua_State *L, wfs_transfer *t, int req, int arg,
                              const wfs_xferopts *defaults) {
  wfs_xferopts o = *defaults;
  CURL *c = t->curl;
  CURLcode rc = CURLE_OK;
  const char *url, *why, *body = NULL;
  size_t len, blen = 0;
  int is_post = 0, top;
  req = wfs_absindex(L, req);
  luaL_checktype(L, req, LUA_TTABLE);
  top = lua_gettop(L);
  /* the strings stay on the stack (alive) until libcurl has copied them */
  lua_getfield(L, req, "url");      /* top + 1 */
  lua_getfield(L, req, "method");   /* top + 2 */
  lua_getfield(L, req, "headers");  /* top + 3 */
  lua_getfield(L, req, "body");     /* top + 4 */
  if (lua_type(L, top + 1) != LUA_TSTRING)
    luaL_argerror(L, arg, lua_pushfstring(L, "'url' must be a string (got %s)",
                                          luaL_typename(L, top + 1)));
  url = lua_tolstring(L, top + 1, &len);
  if (transfer_hasctl(url, len))
    luaL_argerror(L, arg, "'url' contains CR, LF or NUL");
  if ((why = transfer_urlproblem(L, url)) != NULL)
    luaL_argerror(L, arg, why);
  if (!lua_isnil(L, top + 2)) {
    const char *m = (lua_type(L, top + 2) == LUA_TSTRING) ? lua_tostring(L, top + 2) : "";
    if (strcmp(m, "POST") == 0)
      is_post = 1;
    else if (strcmp(m, "GET") != 0)
      luaL_argerror(L, arg, "'method' must be \"GET\" or \"POST\"");
  }
  if (!lua_isnil(L, top + 4)) {
    if (lua_type(L, top + 4) != LUA_TSTRING)
      luaL_argerror(L, arg, lua_pushfstring(L, "'body' must be a string (got %s)",
                                            luaL_typename(L, top + 4)));
    if (!is_post)
      luaL_argerror(L, arg, "'body' is only sent with method \"POST\"");
    body = lua_tolstring(L, top + 4, &blen);
  }
  wfs_transfer_readopts(L, req, arg, "", &o);
  wfs_transfer_reset(t);  /* a list left over if a previous prepare raised */
  transfer_buildheaders(L, t, top + 3, arg, is_post);

  /* From here on nothing raises: the request is known to be sendable. */
  t->max_body = o.max_body;
  t->over = TRANSFER_OVER_NONE;
  t->errbuf[0] = '\0';
  curl_easy_reset(c);  /* options go, the connection cache stays */
  SETOPT(CURLOPT_ERRORBUFFER, t->errbuf);
  SETOPT(CURLOPT_NOSIGNAL, 1L);
  SETOPT(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
  SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
  SETOPT(CURLOPT_ACCEPT_ENCODING, "");  /* every encoding libcurl can decode */
  SETOPT(CURLOPT_TIMEOUT_MS, transfer_ms(o.timeout));
  SETOPT(CURLOPT_CONNECTTIMEOUT_MS, transfer_ms(o.connect_timeout));
  if (o.low_speed_time > 0.0) {
    /* never past the whole transfer's timeout */
    double low = o.low_speed_time < o.timeout ? o.low_speed_time : o.timeout;
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, WFS_LOW_SPEED_BYTES);
    SETOPT(CURLOPT_LOW_SPEED_TIME, low < 1.0 ? 1L : (long)ceil(low));
  }
  SETOPT(CURLOPT_USERAGENT, o.user_agent != NULL ? o.user_agent : transfer_useragent());
  SETOPT(CURLOPT_SSL_VERIFYPEER, o.verify ? 1L : 0L);
  SETOPT(CURLOPT_SSL_VERIFYHOST, o.verify ? 2L : 0L);
  if (o.ca_file != NULL)
    SETOPT(CURLOPT_CAINFO, o.ca_file);
  if (o.proxy != NULL)
    SETOPT(CURLOPT_PROXY, o.proxy);
  SETOPT(CURLOPT_HTTPHEADER, t->headers);
  SETOPT(CURLOPT_WRITEFUNCTION, transfer_onbody);
  SETOPT(CURLOPT_WRITEDATA, (void *)t);
  SETOPT(CURLOPT_HEADERFUNCTION, transfer_onheader);
  SETOPT(CURLOPT_HEADERDATA, (void *)t);
  if (is_post) {
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);  /* before the copy: bodies may hold NULs */
    SETOPT(CURLOPT_COPYPOSTFIELDS, body != NULL ? body : "");
  }
  else {
    SETOPT(CURLOPT_HTTPGET, 1L);
  }
  lua_settop(L, top);
  return rc;
}

#undef SETOPT

/* }====================================================== */


/*
** {======================================================
** Answers
** =======================================================
*/

/*
** Push the answer's headers (raw lines in `b`) as a table: lower-case
** names, repeated headers joined with ", ", folded lines (obs-fold) joined
** to the header they continue with one space.
*/
static void transfer_pushheaders(lua_State *L, const wfs_buf *b) {
  /* no header bytes at all leaves b->p NULL, and NULL + 0 is not defined in C */
  const char *p = b->p, *end = b->p ? b->p + b->len : NULL;
  int t;
  lua_newtable(L);
  t = lua_gettop(L);
  lua_pushnil(L);  /* t + 1: name of the last header, for folded lines */
  while (p != NULL && p < end) {
    const char *eol = (const char *)memchr(p, '\n', (size_t)(end - p));
    const char *next = eol ? eol + 1 : end, *q = eol ? eol : end;
    while (q > p && (q[-1] == '\r' || q[-1] == ' ' || q[-1] == '\t'))
      q--;
    if (q == p || (q - p >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
      /* blank line or status line */
    }
    else if (*p == ' ' || *p == '\t') {
      if (!lua_isnil(L, t + 1)) {
        while (p < q && (*p == ' ' || *p == '\t'))
          p++;
        lua_pushvalue(L, t + 1);
        lua_pushvalue(L, t + 1);
        lua_rawget(L, t);
        lua_pushliteral(L, " ");
        lua_pushlstring(L, p, (size_t)(q - p));
        lua_concat(L, 3);
        lua_rawset(L, t);
      }
    }
    else {
      const char *colon = (const char *)memchr(p, ':', (size_t)(q - p));
      const char *ne = colon, *v;
      if (colon != NULL) {
        while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
          ne--;
      }
      if (colon != NULL && ne > p) {
        luaL_Buffer nb;
        const char *s;
        luaL_buffinit(L, &nb);
        for (s = p; s < ne; s++) {
          char ch = *s;
          luaL_addchar(&nb, (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch);
        }
        luaL_pushresult(&nb);
        lua_replace(L, t + 1);
        for (v = colon + 1; v < q && (*v == ' ' || *v == '\t'); v++) {
        }
        lua_pushvalue(L, t + 1);
        lua_pushvalue(L, t + 1);
        lua_rawget(L, t);
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          lua_pushlstring(L, v, (size_t)(q - v));
        }
        else {
          lua_pushliteral(L, ", ");
          lua_pushlstring(L, v, (size_t)(q - v));
          lua_concat(L, 3);
        }
        lua_rawset(L, t);
      }
    }
    p = next;
  }
  lua_pop(L, 1);
}


void wfs_transfer_reset(wfs_transfer *t) {
  if (t->curl != NULL)
    curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  transfer_bufrelease(&t->body);
  transfer_bufrelease(&t->head);
}


int wfs_transfer_push(lua_State *L, wfs_transfer *t, CURLcode rc) {
  long status = 0;
  luaL_checkstack(L, 6, "no stack space for an answer");
  if (rc == CURLE_OK)
    rc = curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) {
    const char *kind = NULL;
    if (t->over == TRANSFER_OVER_BODY) {
      /* the server's answer breaks a limit: trying again downloads it again */
      kind = "protocol";
      snprintf(t->errbuf, sizeof(t->errbuf), "response body exceeds max_body (%lu bytes)",
               (unsigned long)t->max_body);
    }
    else if (t->over == TRANSFER_OVER_HEAD)
      snprintf(t->errbuf, sizeof(t->errbuf), "response headers exceed %lu bytes",
               (unsigned long)TRANSFER_HEADMAX);
    else if (t->over == TRANSFER_OVER_NOMEM)
      snprintf(t->errbuf, sizeof(t->errbuf), "not enough memory for the response");
    wfs_transfer_reset(t);
    return wfs_transfer_pushfail(L, (int)rc, kind, t->errbuf);
  }
  lua_pushinteger(L, (lua_Integer)status);
  transfer_pushheaders(L, &t->head);
  lua_pushlstring(L, t->body.p != NULL ? t->body.p : "", t->body.len);
  wfs_transfer_reset(t);
  return 3;
}


void wfs_transfer_pushlimits(lua_State *L) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)WFS_MAX_BODY);
  lua_setfield(L, -2, "max_body");
  lua_pushinteger(L, (lua_Integer)WFS_LOW_SPEED_BYTES);
  lua_setfield(L, -2, "low_speed_bytes");
  lua_pushnumber(L, WFS_LOW_SPEED_TIME);
  lua_setfield(L, -2, "low_speed_time");
}


void wfs_transfer_free(wfs_transfer *t) {
  wfs_transfer_reset(t);
  if (t->curl != NULL) {
    curl_easy_cleanup(t->curl);
    t->curl = NULL;
  }
  transfer_buffree(&t->body);
  transfer_buffree(&t->head);
}

/* }====================================================== */
