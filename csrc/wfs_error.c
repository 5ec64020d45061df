/*
** wfs_error.c: provider error answers mapped to wfsession's `msg, err`.
**
** `msg` is one short line meant for a log or an assert; `err` is the
** table a program inspects: { kind, status, code, message, retryable,
** request_id, provider }. The three providers shape their error bodies
** differently (ComplyCube {type, message}, Extend {code, message,
** retryable, requestId} or legacy {success, error}, IDnow unknown, so
** OAuth's {error, error_description} and a guessed {errorCode, message}
** are read), and any body may turn out not to be JSON at all: a proxy's
** HTML page, a truncated answer. Nothing here raises on what a server
** sent.
*/
#include <string.h>

#include "wfs_core.h"
#include "wfs_error.h"
#include "wfs_json.h"
#include "wfs_session.h"

/* the longest `msg`, in bytes */
#define ERROR_MSGMAX 200
/* the longest error body read for its code and message */
#define ERROR_BODYMAX ((size_t)64 * 1024)


/*
** {======================================================
** One-line messages
** =======================================================
*/

typedef struct msgbuf {
  char b[ERROR_MSGMAX + 1];
  size_t n;
  int cut;  /* something did not fit */
} msgbuf;


/*
** Append `s[0..len)`: control characters (CR and LF included) become
** spaces, since provider text must not break a log line.
*/
static void msg_add(msgbuf *m, const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (m->n >= ERROR_MSGMAX) {
      m->cut = 1;
      return;
    }
    m->b[m->n++] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
  }
}


static void msg_addstr(msgbuf *m, const char *s) {
  msg_add(m, s, strlen(s));
}


/* push the message, ending in "..." when it was cut (never inside a UTF-8 sequence) */
static void msg_push(lua_State *L, msgbuf *m) {
  if (m->cut) {
    size_t n = m->n > ERROR_MSGMAX - 3 ? ERROR_MSGMAX - 3 : m->n;
    while (n > 0 && ((unsigned char)m->b[n] & 0xC0) == 0x80)
      n--;  /* b[n] is the first byte dropped: step back to a character start */
    memcpy(m->b + n, "...", 3);
    m->n = n + 3;
  }
  lua_pushlstring(L, m->b, m->n);
}

/* }====================================================== */


/*
** {======================================================
** HTTP statuses
** =======================================================
*/

static const char *error_kind(long status) {
  switch (status) {
    case 401: return "auth";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 408: return "timeout";
    case 429: return "rate_limited";
    default: return status >= 500 ? "server" : "http";
  }
}


static int error_retryable_status(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 ||
         status == 503 || status == 504;
}


/* the standard reason phrase: what `msg` says when the body says nothing */
static const char *error_reason(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:
      if (status >= 300 && status < 400) return "Unexpected redirect";
      if (status >= 400 && status < 500) return "Client error";
      if (status >= 500 && status < 600) return "Server error";
      return "Unexpected HTTP status";
  }
}

/* }====================================================== */


/*
** {======================================================
** Building `err`
** =======================================================
*/

/*
** Copy the string field `key` of the table at `from` (raw access, since a
** body is data) to `err[name]`. A number counts too (an `errorCode` may be
** numeric); an empty string does not. Returns the string, kept alive by
** `err`, or NULL.
*/
static const char *error_copy(lua_State *L, int from, const char *key,
                              int err, const char *name, size_t *outlen) {
  const char *s = NULL;
  size_t len = 0;
  if (from == 0)
    return NULL;
  lua_pushstring(L, key);
  lua_rawget(L, from);
  if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
    s = lua_tolstring(L, -1, &len);  /* converts a number in place */
  if (s == NULL || len == 0) {
    lua_pop(L, 1);
    return NULL;
  }
  lua_setfield(L, err, name);
  lua_getfield(L, err, name);  /* read back from the table that keeps it */
  s = lua_tolstring(L, -1, &len);
  lua_pop(L, 1);
  if (outlen != NULL)
    *outlen = len;
  return s;
}


static const char *error_provider_name(int provider) {
  return (provider >= 0 && provider < WFS_NPROVIDERS)
           ? wfs_provider_names[provider] : NULL;
}


void wfs_error_http(lua_State *L, int provider, long status, int hidx,
                    const char *body, size_t len) {
  const char *pname = error_provider_name(provider);
  const char *kind = error_kind(status);
  const char *code = NULL, *message = NULL;
  size_t codelen = 0, msglen = 0;
  int retryable = error_retryable_status(status);
  int base, err, b = 0;
  msgbuf m;
  char num[32];
  if (hidx != 0)
    hidx = wfs_absindex(L, hidx);
  luaL_checkstack(L, 8, "no stack space for an error");
  base = lua_gettop(L);
  lua_createtable(L, 0, 8);
  err = base + 1;
  /* an error body worth reading is small: a huge one is not decoded at all */
  if (body != NULL && len > 0 && len <= ERROR_BODYMAX) {
    if (wfs_json_decode(L, body, len) && lua_istable(L, -1))
      b = lua_gettop(L);
    else
      lua_pop(L, 1);  /* not JSON, or not an object: nothing to read */
  }
  lua_pushstring(L, kind);
  lua_setfield(L, err, "kind");
  lua_pushinteger(L, (lua_Integer)status);
  lua_setfield(L, err, "status");
  if (pname != NULL) {
    lua_pushstring(L, pname);
    lua_setfield(L, err, "provider");
  }
  if (pname != NULL) {
    /* the first key of the provider's lists that the body has */
    const wfs_provider *pv = &wfs_providers[provider];
    int i;
    for (i = 0; code == NULL && i < 3 && pv->code_keys[i] != NULL; i++)
      code = error_copy(L, b, pv->code_keys[i], err, "code", &codelen);
    for (i = 0; message == NULL && i < 4 && pv->message_keys[i] != NULL; i++)
      message = error_copy(L, b, pv->message_keys[i], err, "message", &msglen);
  }
  if (message == NULL) {
    message = error_reason(status);
    msglen = strlen(message);
    lua_pushstring(L, message);
    lua_setfield(L, err, "message");
  }
  if (b != 0) {
    lua_pushliteral(L, "retryable");
    lua_rawget(L, b);
    if (lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1))
      retryable = 1;
    lua_pop(L, 1);
  }
  lua_pushboolean(L, retryable);
  lua_setfield(L, err, "retryable");
  if (error_copy(L, b, "requestId", err, "request_id", NULL) == NULL &&
      hidx != 0 && lua_istable(L, hidx))
    error_copy(L, hidx, "x-request-id", err, "request_id", NULL);
  /* complycube: not_found (HTTP 404 resource_not_found): Invalid ... */
  m.n = 0;
  m.cut = 0;
  msg_addstr(&m, pname != NULL ? pname : "wfsession");
  msg_addstr(&m, ": ");
  msg_addstr(&m, kind);
  /* the status is a long: format it here, lua_pushfstring has no %ld */
  {
    char *p = num + sizeof(num);
    unsigned long u = status < 0 ? 0UL - (unsigned long)status
                                 : (unsigned long)status;
    *--p = '\0';
    do {
      *--p = (char)('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (status < 0)
      *--p = '-';
    msg_addstr(&m, " (HTTP ");
    msg_addstr(&m, p);
  }
  if (code != NULL) {
    msg_addstr(&m, " ");
    msg_add(&m, code, codelen);
  }
  msg_addstr(&m, "): ");
  msg_add(&m, message, msglen);
  lua_settop(L, err);
  msg_push(L, &m);
  lua_insert(L, err);  /* msg, err */
}


void wfs_error_push(lua_State *L, int provider, const char *kind,
                    const char *message, int retryable) {
  const char *pname = error_provider_name(provider);
  msgbuf m;
  luaL_checkstack(L, 4, "no stack space for an error");
  if (kind == NULL)
    kind = "protocol";
  m.n = 0;
  m.cut = 0;
  msg_addstr(&m, pname != NULL ? pname : "wfsession");
  msg_addstr(&m, ": ");
  msg_addstr(&m, kind);
  if (message != NULL) {
    msg_addstr(&m, ": ");
    msg_addstr(&m, message);
  }
  msg_push(L, &m);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  if (message != NULL) {
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
  }
  lua_pushboolean(L, retryable);
  lua_setfield(L, -2, "retryable");
  if (pname != NULL) {
    lua_pushstring(L, pname);
    lua_setfield(L, -2, "provider");
  }
}

/* }====================================================== */


/*
** {======================================================
** Lua functions
** =======================================================
*/

/* the kinds of DESIGN.md; those marked retryable are by default */
static const struct error_kinddef {
  const char *name;
  int retryable;
} error_kinds[] = {
  {"network", 1}, {"timeout", 1}, {"tls", 0}, {"http", 0}, {"auth", 0},
  {"forbidden", 0}, {"not_found", 0}, {"rate_limited", 1}, {"server", 1},
  {"decode", 0}, {"protocol", 0}, {"closed", 0},
  {NULL, 0}
};


/***
The `msg, err` pair for a non-2xx HTTP answer. `err` is `{ kind, status,
code, message, retryable, request_id, provider }`; kind follows the status
(401 auth, 403 forbidden, 404 not_found, 408 timeout, 429 rate_limited,
>= 500 server, else http). The body is read when it is a JSON object.
@function http_error
@tparam string provider
@tparam integer status
@tparam ?table headers response headers, lower-case names
@tparam ?string body
@treturn string msg one line, at most 200 bytes
@treturn table err
*/
static int error_lhttp(lua_State *L) {
  int provider = wfs_session_checkprovider(L, 1);
  lua_Integer status;
  const char *body = NULL;
  size_t len = 0;
  luaL_checktype(L, 2, LUA_TNUMBER);  /* no "404": a status is a number */
  status = wfs_checkinteger(L, 2);
  if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3))
    return luaL_argerror(L, 3, lua_pushfstring(L,
             "table or nil expected, got %s", luaL_typename(L, 3)));
  if (!lua_isnoneornil(L, 4)) {
    if (lua_type(L, 4) != LUA_TSTRING)
      return luaL_argerror(L, 4, lua_pushfstring(L,
               "string or nil expected, got %s", luaL_typename(L, 4)));
    body = lua_tolstring(L, 4, &len);
  }
  wfs_error_http(L, provider, (long)status, lua_istable(L, 3) ? 3 : 0, body,
                 len);
  return 2;
}


/***
The `msg, err` pair for a failure that is not an HTTP status:
`msg` is `"<provider>: <kind>: <message>"`.
@function error
@tparam ?string provider a provider name, or nil for none
@tparam string kind `network`, `timeout`, `tls`, `http`, `auth`,
  `forbidden`, `not_found`, `rate_limited`, `server`, `decode`,
  `protocol` or `closed`
@tparam ?string message what happened
@tparam[opt] boolean retryable default: true for network, timeout,
  rate_limited and server
@treturn string msg
@treturn table err
*/
static int error_lerror(lua_State *L) {
  int provider = -1;
  const char *kind, *message = NULL;
  const struct error_kinddef *k;
  int retryable;
  if (!lua_isnil(L, 1))
    provider = wfs_session_checkprovider(L, 1);
  kind = luaL_checkstring(L, 2);
  for (k = error_kinds; k->name != NULL; k++) {
    if (strcmp(k->name, kind) == 0)
      break;
  }
  if (k->name == NULL)
    return luaL_argerror(L, 2, lua_pushfstring(L, "unknown error kind '%s'",
                                               kind));
  if (!lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) != LUA_TSTRING)
      return luaL_argerror(L, 3, lua_pushfstring(L,
               "string or nil expected, got %s", luaL_typename(L, 3)));
    message = lua_tostring(L, 3);
  }
  if (lua_isnoneornil(L, 4)) {
    retryable = k->retryable;
  }
  else {
    luaL_checktype(L, 4, LUA_TBOOLEAN);
    retryable = lua_toboolean(L, 4);
  }
  wfs_error_push(L, provider, k->name, message, retryable);
  return 2;
}

/* }====================================================== */


static const luaL_Reg error_funcs[] = {
  {"http_error", error_lhttp},
  {"error", error_lerror},
  {NULL, NULL}
};


void wfs_error_open(lua_State *L) {
  const struct error_kinddef *k;
  luaL_setfuncs(L, error_funcs, 0);
  /* RETRYABLE[kind]: whether failures of that kind are retried by default */
  lua_createtable(L, 0, 12);
  for (k = error_kinds; k->name != NULL; k++) {
    lua_pushboolean(L, k->retryable);
    lua_setfield(L, -2, k->name);
  }
  lua_setfield(L, -2, "RETRYABLE");
}
