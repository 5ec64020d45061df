/*
** wfs_curl.c: the blocking HTTP transport, one libcurl easy handle per
** "wfsession.easy" object.
**
** The handle is reset and configured again before every transfer:
** curl_easy_reset drops the options but keeps the connection cache, so the
** pages of one listing ride one TCP (and TLS) connection.
**
** Nothing here calls Lua while libcurl runs. The write and header
** callbacks only append to C buffers owned by the object, and the answer
** is pushed after curl_easy_perform has returned. A Lua error (out of
** memory, a bad value) can therefore never unwind through libcurl frames,
** and every check of the request happens before any I/O.
*/
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "wfs_core.h"
#include "wfs_curl.h"

#define EASY_MT "wfsession.easy"

#define DEF_CONNECT_TIMEOUT 10.0                 /* seconds */
#define DEF_TIMEOUT 30.0                         /* seconds */
#define DEF_MAX_BODY ((size_t)64 * 1024 * 1024)
#define HEAD_MAX ((size_t)1024 * 1024)           /* all headers of one response */
#define BUF_FIRST ((size_t)16 * 1024)
#define BUF_KEEP ((size_t)256 * 1024)            /* larger buffers are freed after a transfer */

/* Why a callback stopped the transfer (libcurl only sees a short write). */
enum { OVER_NONE = 0, OVER_BODY, OVER_HEAD, OVER_NOMEM };

typedef struct Buf {
  char *p;
  size_t len, cap;
} Buf;

typedef struct Easy {
  CURL *curl;                  /* NULL once closed */
  struct curl_slist *reqhead;  /* headers of the request being performed */
  Buf body, head;              /* the response, filled by the callbacks */
  size_t max_body;
  long connect_ms;
  double timeout;              /* seconds, for requests without one */
  int verify;
  int over;                    /* OVER_*: why the callbacks refused data */
  char *ca_file, *proxy, *user_agent;  /* owned copies, NULL = libcurl default */
  char errbuf[CURL_ERROR_SIZE];
} Easy;


/*
** {======================================================
** Errors
** =======================================================
*/

const char *wfs_curl_kind (int code) {
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


int wfs_curl_pushfail (lua_State *L, int code, const char *detail) {
  const char *kind = wfs_curl_kind(code);
  size_t n;
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
  {  /* the message is promised to be one line */
    size_t i;
    for (i = 0; i < n; i++) {
      char c = detail[i];
      luaL_addchar(&b, (c == '\n' || c == '\r' || c == '\t') ? ' ' : c);
    }
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
** Response buffers (written from libcurl callbacks: no Lua here)
** =======================================================
*/

/* Append `n` bytes, never growing past `limit`: 0 ok, OVER_BODY (limit), OVER_NOMEM. */
static int buf_add (Buf *b, const char *s, size_t n, size_t limit) {
  if (n == 0) return 0;
  if (n > limit - b->len) return OVER_BODY;  /* b->len <= limit always holds */
  if (n > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : (BUF_FIRST < limit ? BUF_FIRST : limit);
    char *p;
    while (cap - b->len < n)
      cap = (cap > limit / 2) ? limit : cap * 2;
    p = (char *)realloc(b->p, cap);
    if (p == NULL) return OVER_NOMEM;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}


static void buf_free (Buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}


/* Keep a small buffer for the next transfer, give a big one back. */
static void buf_release (Buf *b) {
  if (b->cap > BUF_KEEP) buf_free(b);
  else b->len = 0;
}


static size_t on_body (char *data, size_t size, size_t nmemb, void *ud) {
  Easy *e = (Easy *)ud;
  size_t n = size * nmemb;
  int r = buf_add(&e->body, data, n, e->max_body);
  if (r != OVER_NONE) {
    e->over = r;
    return 0;  /* a short write: libcurl aborts with CURLE_WRITE_ERROR */
  }
  return n;
}


static size_t on_header (char *data, size_t size, size_t nmemb, void *ud) {
  Easy *e = (Easy *)ud;
  size_t n = size * nmemb;
  int r;
  /* A status line starts a new response (after a 1xx or a proxy CONNECT):
  ** only the final response's headers are reported. */
  if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
    e->head.len = 0;
  r = buf_add(&e->head, data, n, HEAD_MAX);
  if (r != OVER_NONE) {
    e->over = (r == OVER_BODY) ? OVER_HEAD : r;
    return 0;
  }
  return n;
}

/* }====================================================== */


/*
** {======================================================
** The easy object
** =======================================================
*/

static Easy *check_easy (lua_State *L, int idx) {
  return (Easy *)luaL_checkudata(L, idx, EASY_MT);
}


/* The checker every method but close/__gc/__tostring goes through. */
static Easy *check_open_easy (lua_State *L, int idx) {
  Easy *e = check_easy(L, idx);
  if (e->curl == NULL)
    luaL_error(L, "attempt to use a closed " EASY_MT);
  return e;
}


static int has_ctl (const char *s, size_t len) {
  return memchr(s, '\0', len) != NULL || memchr(s, '\r', len) != NULL ||
         memchr(s, '\n', len) != NULL;
}


static char *dup_string (const char *s) {
  size_t n = strlen(s) + 1;
  char *p = (char *)malloc(n);
  if (p != NULL) memcpy(p, s, n);
  return p;
}


/* Seconds (a positive, finite number) to milliseconds, at least 1. */
static long to_ms (double s) {
  double ms = ceil(s * 1000.0);
  if (ms >= (double)LONG_MAX) return LONG_MAX;
  return ms < 1.0 ? 1L : (long)ms;
}


static const char *const easy_options[] = {
  "connect_timeout", "timeout", "ca_file", "proxy", "user_agent", "verify", "max_body", NULL
};


/* Raise unless every key of the options table (at 1) is a known option. */
static void check_option_names (lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    int i;
    lua_pop(L, 1);  /* the value */
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, 1, lua_pushfstring(L, "unknown option (a %s key)",
                                          luaL_typename(L, -1)));
    for (i = 0; easy_options[i] != NULL; i++)
      if (strcmp(lua_tostring(L, -1), easy_options[i]) == 0) break;
    if (easy_options[i] == NULL)
      luaL_argerror(L, 1, lua_pushfstring(L, "unknown option '%s'",
                                          lua_tostring(L, -1)));
  }
}


/* Push option `name`; return its number, `def` when nil. */
static double opt_number (lua_State *L, const char *name, double def, int zero_ok) {
  double v;
  lua_getfield(L, 1, name);
  if (lua_isnil(L, -1)) return def;
  if (lua_type(L, -1) != LUA_TNUMBER)
    luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' must be a number (got %s)",
                                        name, luaL_typename(L, -1)));
  v = lua_tonumber(L, -1);
  if (!(v > 0.0 || (zero_ok && v == 0.0)) || v == HUGE_VAL)  /* also NaN */
    luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' must be a finite number %s 0",
                                        name, zero_ok ? ">=" : ">"));
  return v;
}


/* Push option `name`; return the string or NULL when nil. */
static const char *opt_string (lua_State *L, const char *name) {
  size_t len;
  const char *s;
  lua_getfield(L, 1, name);
  if (lua_isnil(L, -1)) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' must be a string (got %s)",
                                        name, luaL_typename(L, -1)));
  s = lua_tolstring(L, -1, &len);
  if (has_ctl(s, len))
    luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' contains CR, LF or NUL", name));
  return s;
}


/***
Create a blocking HTTP client: one libcurl easy handle, reused by every
`perform` so that the connection is kept alive between requests.
@function easy
@tparam[opt] table opts `connect_timeout` (seconds, default 10), `timeout`
  (seconds for a whole transfer whose request has none, default 30), `ca_file`
  (CA bundle path), `proxy` (nil = libcurl's default, which honours the
  `http_proxy`/`https_proxy`/`no_proxy` environment variables; `""` = never
  use a proxy), `user_agent` (default `"wfsession/<v> libcurl/<v>"`),
  `verify` (verify the TLS peer and host name, default true), `max_body`
  (bytes, default 64 MiB). An unknown key or a wrong type raises.
@treturn userdata a `wfsession.easy`
*/
static int easy_new (lua_State *L) {
  double connect_timeout, timeout, max_body;
  const char *ca_file, *proxy, *user_agent;
  int verify;
  Easy *e;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  check_option_names(L);
  /* every value stays on the stack until it is copied below */
  connect_timeout = opt_number(L, "connect_timeout", DEF_CONNECT_TIMEOUT, 0);
  timeout = opt_number(L, "timeout", DEF_TIMEOUT, 0);
  max_body = opt_number(L, "max_body", (double)DEF_MAX_BODY, 1);
  ca_file = opt_string(L, "ca_file");
  proxy = opt_string(L, "proxy");
  user_agent = opt_string(L, "user_agent");
  lua_getfield(L, 1, "verify");
  if (lua_isnil(L, -1)) verify = 1;
  else if (lua_type(L, -1) == LUA_TBOOLEAN) verify = lua_toboolean(L, -1);
  else
    return luaL_argerror(L, 1, lua_pushfstring(L, "option 'verify' must be a boolean (got %s)",
                                               luaL_typename(L, -1)));
  if (user_agent == NULL)
    user_agent = lua_pushfstring(L, "wfsession/%s libcurl/%s", WFS_VERSION,
                                 curl_version_info(CURLVERSION_NOW)->version);

  /* From here on __gc frees whatever has been set, whichever step fails. */
  e = (Easy *)wfs_newudata(L, sizeof(Easy));
  memset(e, 0, sizeof(Easy));
  luaL_getmetatable(L, EASY_MT);
  lua_setmetatable(L, -2);
  e->verify = verify;
  e->connect_ms = to_ms(connect_timeout);
  e->timeout = timeout;
  e->max_body = (max_body >= (double)(SIZE_MAX / 2)) ? SIZE_MAX / 2 : (size_t)max_body;
  if ((ca_file != NULL && (e->ca_file = dup_string(ca_file)) == NULL) ||
      (proxy != NULL && (e->proxy = dup_string(proxy)) == NULL) ||
      (e->user_agent = dup_string(user_agent)) == NULL)
    return luaL_error(L, "not enough memory");
  e->curl = curl_easy_init();
  if (e->curl == NULL)
    return luaL_error(L, "cannot create a libcurl easy handle");
  return 1;
}


/* Why `url` cannot be sent, or NULL. Never quotes the URL: it may hold a secret. */
static const char *url_problem (lua_State *L, const char *url) {
#if LIBCURL_VERSION_NUM >= 0x073e00
  const char *why = NULL;
  char *scheme = NULL;
  CURLUcode rc;
  CURLU *u = curl_url();
  if (u == NULL) return NULL;  /* no memory to look: let the transfer judge it */
  rc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (rc != CURLUE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075000
    why = lua_pushfstring(L, "'url' is not a valid URL (%s)", curl_url_strerror(rc));
#else
    why = "'url' is not a valid URL";
#endif
  }
  else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == NULL ||
           (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
    why = "'url' must be an http:// or https:// URL";
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


static int same_ascii_nocase (const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z') x = (unsigned char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = (unsigned char)(y - 'A' + 'a');
    if (x != y) return 0;
  }
  return 1;
}


static int name_char_ok (unsigned char c) {
  return c > 32 && c < 127 && c != ':';
}


/*
** Turn req.headers (at `idx`, a table or nil) into e->reqhead. The list
** hangs off the object while it is built, so a raise half way leaks
** nothing: the next perform or close frees it.
*/
static void build_headers (lua_State *L, Easy *e, int idx, int is_post) {
  int has_expect = 0;
  if (!lua_isnil(L, idx)) {
    if (lua_type(L, idx) != LUA_TTABLE)
      luaL_argerror(L, 2, lua_pushfstring(L, "'headers' must be a table (got %s)",
                                          luaL_typename(L, idx)));
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      size_t nlen, vlen = 0, i;
      const char *name, *value = NULL, *line;
      struct curl_slist *l;
      if (lua_type(L, -2) != LUA_TSTRING)
        luaL_argerror(L, 2, lua_pushfstring(L, "'headers' keys must be strings (got %s)",
                                            luaL_typename(L, -2)));
      name = lua_tolstring(L, -2, &nlen);
      if (has_ctl(name, nlen))
        luaL_argerror(L, 2, "'headers' has a name containing CR, LF or NUL");
      for (i = 0; i < nlen; i++)
        if (!name_char_ok((unsigned char)name[i])) break;
      if (nlen == 0 || i < nlen)
        luaL_argerror(L, 2, lua_pushfstring(L, "'headers' has an invalid name '%s'", name));
      switch (lua_type(L, -1)) {
        case LUA_TSTRING: case LUA_TNUMBER:
          lua_pushvalue(L, -1);  /* convert a copy: lua_next needs the key untouched */
          value = lua_tolstring(L, -1, &vlen);
          break;
        case LUA_TBOOLEAN:
          if (!lua_toboolean(L, -1)) break;  /* false: drop a header libcurl adds */
          /* FALLTHROUGH */
        default:
          luaL_argerror(L, 2, lua_pushfstring(L, "'headers' value of '%s' must be a string (got %s)",
                                              name, luaL_typename(L, -1)));
      }
      if (value != NULL && has_ctl(value, vlen))
        luaL_argerror(L, 2, lua_pushfstring(L, "'headers' value of '%s' contains CR, LF or NUL",
                                            name));
      if (nlen == 6 && same_ascii_nocase(name, "expect", 6)) has_expect = 1;
      /* libcurl's forms: "Name: v" sends, "Name;" sends it empty, "Name:" removes it */
      if (value == NULL) line = lua_pushfstring(L, "%s:", name);
      else if (vlen == 0) line = lua_pushfstring(L, "%s;", name);
      else line = lua_pushfstring(L, "%s: %s", name, value);
      l = curl_slist_append(e->reqhead, line);
      if (l == NULL) luaL_error(L, "not enough memory");
      e->reqhead = l;
      lua_settop(L, lua_gettop(L) - (value != NULL ? 3 : 2));  /* keep the key */
    }
  }
  /* No "Expect: 100-continue" round trip for a big POST unless asked for. */
  if (is_post && !has_expect) {
    struct curl_slist *l = curl_slist_append(e->reqhead, "Expect:");
    if (l == NULL) luaL_error(L, "not enough memory");
    e->reqhead = l;
  }
}


/*
** Push the response headers (raw lines in `b`) as a table: lower-case
** names, repeated headers joined with ", ", folded lines (obs-fold) joined
** to the header they continue with one space.
*/
static void push_headers (lua_State *L, const Buf *b) {
  /* no header bytes at all leaves b->p NULL, and NULL + 0 is not defined in C */
  const char *p = b->p, *end = b->p ? b->p + b->len : NULL;
  int t;
  lua_newtable(L);
  t = lua_gettop(L);
  lua_pushnil(L);  /* t + 1: name of the last header, for folded lines */
  while (p != NULL && p < end) {
    const char *eol = (const char *)memchr(p, '\n', (size_t)(end - p));
    const char *next = eol ? eol + 1 : end, *q = eol ? eol : end;
    while (q > p && (q[-1] == '\r' || q[-1] == ' ' || q[-1] == '\t')) q--;
    if (q == p || (q - p >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
      /* blank line or status line */
    }
    else if (*p == ' ' || *p == '\t') {
      if (!lua_isnil(L, t + 1)) {
        while (p < q && (*p == ' ' || *p == '\t')) p++;
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
        while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t')) ne--;
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
        for (v = colon + 1; v < q && (*v == ' ' || *v == '\t'); v++) {}
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


#define SETOPT(opt, val) \
  do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)

/***
Perform one HTTP request and wait for the whole response.
The request is checked and converted before any I/O: a bad field, or CR,
LF or NUL in the url or a header, raises an error naming the field.
@function perform
@tparam table req `method` (`"GET"` (default) or `"POST"`), `url` (http or
  https), `headers` (`{ [name] = value }`; a value `false` removes a header
  libcurl would add), `timeout` (seconds for the whole transfer, default
  the object's `timeout`), `body` (string, POST only)
@treturn integer status
@treturn table headers, lower-case names; repeated headers joined with ", "
@treturn string body, decoded when the server sent it compressed
@return[2] nil
@return[2] string `"<kind>: <what happened>"`, one line
@return[2] table `{ kind = "timeout"|"tls"|"network", message, curl_code }`
*/
static int easy_perform (lua_State *L) {
  Easy *e = check_open_easy(L, 1);
  CURL *c = e->curl;
  const char *url, *why, *body = NULL;
  size_t len, blen = 0;
  double timeout = e->timeout;
  int is_post = 0;
  long status = 0;
  CURLcode rc = CURLE_OK;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  /* the strings stay on the stack (alive) until the transfer is over */
  lua_getfield(L, 2, "url");      /* 3 */
  lua_getfield(L, 2, "method");   /* 4 */
  lua_getfield(L, 2, "headers");  /* 5 */
  lua_getfield(L, 2, "timeout");  /* 6 */
  lua_getfield(L, 2, "body");     /* 7 */
  if (lua_type(L, 3) != LUA_TSTRING)
    return luaL_argerror(L, 2, lua_pushfstring(L, "'url' must be a string (got %s)",
                                               luaL_typename(L, 3)));
  url = lua_tolstring(L, 3, &len);
  if (has_ctl(url, len))
    return luaL_argerror(L, 2, "'url' contains CR, LF or NUL");
  if ((why = url_problem(L, url)) != NULL)
    return luaL_argerror(L, 2, why);
  if (!lua_isnil(L, 4)) {
    const char *m = (lua_type(L, 4) == LUA_TSTRING) ? lua_tostring(L, 4) : "";
    if (strcmp(m, "POST") == 0) is_post = 1;
    else if (strcmp(m, "GET") != 0)
      return luaL_argerror(L, 2, "'method' must be \"GET\" or \"POST\"");
  }
  if (!lua_isnil(L, 6)) {
    timeout = (lua_type(L, 6) == LUA_TNUMBER) ? lua_tonumber(L, 6) : -1.0;
    if (!(timeout > 0.0) || timeout == HUGE_VAL)
      return luaL_argerror(L, 2, "'timeout' must be a finite number > 0");
  }
  if (!lua_isnil(L, 7)) {
    if (lua_type(L, 7) != LUA_TSTRING)
      return luaL_argerror(L, 2, lua_pushfstring(L, "'body' must be a string (got %s)",
                                                 luaL_typename(L, 7)));
    if (!is_post)
      return luaL_argerror(L, 2, "'body' is only sent with method \"POST\"");
    body = lua_tolstring(L, 7, &blen);
  }
  curl_slist_free_all(e->reqhead);  /* left over if a previous call raised */
  e->reqhead = NULL;
  build_headers(L, e, 5, is_post);

  e->body.len = e->head.len = 0;
  e->over = OVER_NONE;
  e->errbuf[0] = '\0';
  curl_easy_reset(c);  /* options go, live connections stay */
  SETOPT(CURLOPT_ERRORBUFFER, e->errbuf);
  SETOPT(CURLOPT_NOSIGNAL, 1L);
  SETOPT(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
  SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
  SETOPT(CURLOPT_ACCEPT_ENCODING, "");  /* every encoding libcurl can decode */
  SETOPT(CURLOPT_TIMEOUT_MS, to_ms(timeout));
  SETOPT(CURLOPT_CONNECTTIMEOUT_MS, e->connect_ms);
  SETOPT(CURLOPT_USERAGENT, e->user_agent);
  SETOPT(CURLOPT_SSL_VERIFYPEER, e->verify ? 1L : 0L);
  SETOPT(CURLOPT_SSL_VERIFYHOST, e->verify ? 2L : 0L);
  if (e->ca_file != NULL) SETOPT(CURLOPT_CAINFO, e->ca_file);
  if (e->proxy != NULL) SETOPT(CURLOPT_PROXY, e->proxy);
  SETOPT(CURLOPT_HTTPHEADER, e->reqhead);
  SETOPT(CURLOPT_WRITEFUNCTION, on_body);
  SETOPT(CURLOPT_WRITEDATA, (void *)e);
  SETOPT(CURLOPT_HEADERFUNCTION, on_header);
  SETOPT(CURLOPT_HEADERDATA, (void *)e);
  if (is_post) {
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);  /* before the copy: bodies may hold NULs */
    SETOPT(CURLOPT_COPYPOSTFIELDS, body != NULL ? body : "");
  }
  else
    SETOPT(CURLOPT_HTTPGET, 1L);
  if (rc == CURLE_OK)
    rc = curl_easy_perform(c);
  /* the list dies now: no dangling pointer may stay in the handle */
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
  curl_slist_free_all(e->reqhead);
  e->reqhead = NULL;
  if (rc == CURLE_OK)
    rc = curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) {
    buf_release(&e->body);
    buf_release(&e->head);
    if (e->over == OVER_BODY)
      snprintf(e->errbuf, sizeof(e->errbuf), "response body exceeds max_body (%lu bytes)",
               (unsigned long)e->max_body);
    else if (e->over == OVER_HEAD)
      snprintf(e->errbuf, sizeof(e->errbuf), "response headers exceed %lu bytes",
               (unsigned long)HEAD_MAX);
    else if (e->over == OVER_NOMEM)
      snprintf(e->errbuf, sizeof(e->errbuf), "not enough memory for the response");
    return wfs_curl_pushfail(L, (int)rc, e->errbuf);
  }
  lua_pushinteger(L, (lua_Integer)status);
  push_headers(L, &e->head);
  lua_pushlstring(L, e->body.p != NULL ? e->body.p : "", e->body.len);
  buf_release(&e->body);
  buf_release(&e->head);
  return 3;
}

#undef SETOPT


/***
Close the handle and its connections. Idempotent; also `__gc` and, on
Lua 5.4, `__close`. Any other method raises afterwards.
@function close
*/
static int easy_close (lua_State *L) {
  Easy *e = check_easy(L, 1);
  if (e->curl != NULL) {
    curl_easy_cleanup(e->curl);
    e->curl = NULL;
  }
  curl_slist_free_all(e->reqhead);
  e->reqhead = NULL;
  buf_free(&e->body);
  buf_free(&e->head);
  free(e->ca_file);
  free(e->proxy);
  free(e->user_agent);
  e->ca_file = e->proxy = e->user_agent = NULL;
  return 0;
}


/***
`wfsession.easy (0x...)`, or `wfsession.easy (closed)`.
@function __tostring
*/
static int easy_tostring (lua_State *L) {
  Easy *e = check_easy(L, 1);
  if (e->curl == NULL)
    lua_pushliteral(L, EASY_MT " (closed)");
  else
    lua_pushfstring(L, EASY_MT " (%p)", (void *)e);
  return 1;
}

/* }====================================================== */


static const luaL_Reg easy_methods[] = {
  {"perform", easy_perform},
  {"close", easy_close},
  {NULL, NULL}
};

static const luaL_Reg easy_meta[] = {
  {"__gc", easy_close},
#if LUA_VERSION_NUM >= 504
  {"__close", easy_close},
#endif
  {"__tostring", easy_tostring},
  {NULL, NULL}
};

/* curl_global_init is not reentrant and must run once per process. */
static int curl_ready = 0;

void wfs_curl_open (lua_State *L) {
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      luaL_error(L, "cannot initialise libcurl");
    curl_ready = 1;
  }
  luaL_newmetatable(L, EASY_MT);
  luaL_setfuncs(L, easy_meta, 0);
  luaL_newlib(L, easy_methods);
  lua_setfield(L, -2, "__index");
#if LUA_VERSION_NUM < 503
  lua_pushliteral(L, EASY_MT);  /* 5.3+ luaL_newmetatable sets it */
  lua_setfield(L, -2, "__name");
#endif
  lua_pop(L, 1);
  lua_pushcfunction(L, easy_new);
  lua_setfield(L, -2, "easy");
}
