/*
** wfs_easy.c: the blocking HTTP client, one libcurl easy handle per
** "wfsession.easy" object (`core.easy`, behind `wfsession.transport.curl`).
**
** The handle is configured again before every transfer: curl_easy_reset
** drops the options but keeps the connection cache, so consecutive
** requests to one host ride one kept-alive connection. It blocks the
** calling thread, so the library itself never uses it inside nginx or
** under wfs.multi: those go through wfs_multi.c.
*/
#include <stdlib.h>
#include <string.h>

#include "wfs_core.h"
#include "wfs_transfer.h"

#define EASY_MT "wfsession.easy"

typedef struct wfs_easy {
  wfs_transfer t;      /* t.curl is NULL once closed */
  wfs_xferopts opts;   /* the strings point at the copies below */
  char *ca_file, *proxy, *user_agent;
} wfs_easy;


static wfs_easy *easy_check(lua_State *L) {
  return (wfs_easy *)luaL_checkudata(L, 1, EASY_MT);
}


/* The checker every method but close/__gc/__tostring goes through. */
static wfs_easy *easy_checkopen(lua_State *L) {
  wfs_easy *e = easy_check(L);
  if (e->t.curl == NULL)
    luaL_error(L, "attempt to use a closed " EASY_MT);
  return e;
}


static const char *const easy_options[] = {
  "connect_timeout", "timeout", "low_speed_time", "ca_file", "proxy", "user_agent",
  "verify", "max_body", NULL
};


/* Raise unless every key of the options table (at 1) is a known option. */
static void easy_checknames(lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    int i;
    lua_pop(L, 1);  /* the value */
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, 1, lua_pushfstring(L, "unknown option (a %s key)",
                                          luaL_typename(L, -1)));
    for (i = 0; easy_options[i] != NULL; i++) {
      if (strcmp(lua_tostring(L, -1), easy_options[i]) == 0)
        break;
    }
    if (easy_options[i] == NULL)
      luaL_argerror(L, 1, lua_pushfstring(L, "unknown option '%s'", lua_tostring(L, -1)));
  }
}


/* A malloc'd copy of `s` (NULL stays NULL); 0 when out of memory. */
static int easy_dup(const char *s, char **out) {
  size_t n;
  *out = NULL;
  if (s == NULL)
    return 1;
  n = strlen(s) + 1;
  *out = (char *)malloc(n);
  if (*out == NULL)
    return 0;
  memcpy(*out, s, n);
  return 1;
}


/***
Create a blocking HTTP client: one libcurl easy handle, reused by every
`perform` so that the connection is kept alive between requests.
@function easy
@tparam[opt] table opts `connect_timeout` (seconds, default 10), `timeout`
  (seconds for a whole transfer whose request has none, default 30),
  `low_speed_time` (seconds a body may come slower than 1 KiB/s before it is
  a timeout, default 10; 0 = only the timeout), `ca_file` (CA bundle path), `proxy` (nil = libcurl's
  default, which honours the `http_proxy`/`https_proxy`/`no_proxy`
  environment variables; `""` = never use a proxy), `user_agent` (default
  `"wfsession/<v> libcurl/<v>"`), `verify` (verify the TLS peer and host
  name, default true), `max_body` (bytes, default 16 MiB; a larger body is
  a `protocol` failure). An unknown key or a wrong type raises.
@treturn userdata a `wfsession.easy`
*/
static int easy_lnew(lua_State *L) {
  wfs_xferopts o;
  wfs_easy *e;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  easy_checknames(L);
  wfs_transfer_defaults(&o);
  wfs_transfer_readopts(L, 1, 1, "option ", &o);
  /* From here on __gc frees whatever has been set, whichever step fails. */
  e = (wfs_easy *)wfs_newudata(L, sizeof(wfs_easy));
  memset(e, 0, sizeof(wfs_easy));
  luaL_getmetatable(L, EASY_MT);
  lua_setmetatable(L, -2);
  if (!easy_dup(o.ca_file, &e->ca_file) || !easy_dup(o.proxy, &e->proxy) ||
      !easy_dup(o.user_agent, &e->user_agent))
    return luaL_error(L, "not enough memory");
  e->opts = o;
  e->opts.ca_file = e->ca_file;
  e->opts.proxy = e->proxy;
  e->opts.user_agent = e->user_agent;
  if (!wfs_transfer_init(&e->t))
    return luaL_error(L, "cannot create a libcurl easy handle");
  return 1;
}


/***
Perform one HTTP request and wait for the whole answer.
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
static int easy_lperform(lua_State *L) {
  wfs_easy *e = easy_checkopen(L);
  CURLcode rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  rc = wfs_transfer_prepare(L, &e->t, 2, 2, &e->opts);
  if (rc == CURLE_OK)
    rc = curl_easy_perform(e->t.curl);
  return wfs_transfer_push(L, &e->t, rc);
}


/***
Close the handle and its connections. Idempotent; also `__gc` and, on
Lua 5.4, `__close`. Any other method raises afterwards.
@function close
*/
static int easy_lclose(lua_State *L) {
  wfs_easy *e = easy_check(L);
  wfs_transfer_free(&e->t);
  free(e->ca_file);
  free(e->proxy);
  free(e->user_agent);
  e->ca_file = e->proxy = e->user_agent = NULL;
  e->opts.ca_file = e->opts.proxy = e->opts.user_agent = NULL;
  return 0;
}


/***
`wfsession.easy (0x...)`, or `wfsession.easy (closed)`.
@function __tostring
*/
static int easy_ltostring(lua_State *L) {
  wfs_easy *e = easy_check(L);
  if (e->t.curl == NULL)
    lua_pushliteral(L, EASY_MT " (closed)");
  else
    lua_pushfstring(L, EASY_MT " (%p)", (void *)e);
  return 1;
}


static const luaL_Reg easy_methods[] = {
  {"perform", easy_lperform},
  {"close", easy_lclose},
  {NULL, NULL}
};

static const luaL_Reg easy_meta[] = {
  {"__gc", easy_lclose},
#if LUA_VERSION_NUM >= 504
  {"__close", easy_lclose},
#endif
  {"__tostring", easy_ltostring},
  {NULL, NULL}
};


void wfs_easy_open(lua_State *L) {
  wfs_transfer_globalinit(L);
  wfs_newclass(L, EASY_MT, NULL, easy_meta, easy_methods);
  lua_pushcfunction(L, easy_lnew);
  lua_setfield(L, -2, "easy");
  wfs_transfer_pushlimits(L);
  lua_setfield(L, -2, "TRANSFER");
}
