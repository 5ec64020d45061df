/*
** wfs_session.c: the session userdata ("wfsession.session").
**
** A session is three bytes (provider, normalized status and outcome) plus
** the provider's decoded object as its one user value. Every other field
** is read from that object when asked for, through a per-provider list of
** dot-path alternatives, so a listing of 100k sessions copies nothing and
** `s.created_at` is exactly the string the provider wrote.
**
** Status and outcome are normalized once, at creation: filters and
** summaries read them for every session, and the raw values never change.
*/
#include <string.h>

#include "wfs_core.h"
#include "wfs_json.h"
#include "wfs_session.h"

#define SESSION_MT "wfsession.session"

static const char session_key = 0;  /* the metatable's registry key (its address) */


/*
** {======================================================
** Vocabularies
** =======================================================
*/

enum {
  ST_NONE, ST_PENDING, ST_RUNNING, ST_REVIEW, ST_COMPLETED, ST_FAILED,
  ST_CANCELLED, ST_EXPIRED, ST_N
};
static const char *const session_statuses[ST_N] = {
  NULL, "pending", "running", "review", "completed", "failed", "cancelled",
  "expired"
};

enum { OC_NONE, OC_APPROVED, OC_REJECTED, OC_NEEDS_ATTENTION, OC_N };
static const char *const session_outcomes[OC_N] = {
  NULL, "approved", "rejected", "needs_attention"
};

/* one raw value (lower case) and what it means */
typedef struct norm_entry {
  const char *raw;
  unsigned char status, outcome;
} norm_entry;

static const norm_entry cc_status[] = {
  {"started", ST_RUNNING, OC_NONE},
  {"processing", ST_RUNNING, OC_NONE},
  {"complete", ST_COMPLETED, OC_NONE},
  {"cancelled", ST_CANCELLED, OC_NONE},
  {"abandoned", ST_EXPIRED, OC_NONE},
  {NULL, 0, 0}
};
static const norm_entry cc_outcome[] = {
  {"clear", ST_NONE, OC_APPROVED},
  {"attention", ST_NONE, OC_NEEDS_ATTENTION},
  {"rejected", ST_NONE, OC_REJECTED},
  {NULL, 0, 0}
};
static const norm_entry idnow_status[] = {
  {"created", ST_PENDING, OC_NONE},
  {"running", ST_RUNNING, OC_NONE},
  {"completed", ST_COMPLETED, OC_NONE},
  {"error", ST_FAILED, OC_NONE},
  {"aborted", ST_CANCELLED, OC_NONE},
  {"expired", ST_EXPIRED, OC_NONE},
  {NULL, 0, 0}
};
static const norm_entry idnow_outcome[] = {  /* NO_OUTCOME: none */
  {"accepted", ST_NONE, OC_APPROVED},
  {"rejected", ST_NONE, OC_REJECTED},
  {NULL, 0, 0}
};
/* Extend has no outcome field: the status carries the decision */
static const norm_entry extend_status[] = {
  {"pending", ST_PENDING, OC_NONE},
  {"processing", ST_RUNNING, OC_NONE},
  {"cancelling", ST_RUNNING, OC_NONE},
  {"needs_review", ST_REVIEW, OC_NEEDS_ATTENTION},
  {"processed", ST_COMPLETED, OC_APPROVED},
  {"rejected", ST_COMPLETED, OC_REJECTED},
  {"failed", ST_FAILED, OC_NONE},
  {"cancelled", ST_CANCELLED, OC_NONE},
  {NULL, 0, 0}
};

static const norm_entry *const norm_status[WFS_NPROVIDERS] = {
  cc_status, idnow_status, extend_status
};
static const norm_entry *const norm_outcome[WFS_NPROVIDERS] = {
  cc_outcome, idnow_outcome, NULL
};


/*
** Find `s` in `t`, ignoring ASCII case (the providers' enums are open and
** IDnow changed the case of its outcomes between doc builds).
*/
static const norm_entry *norm_find(const norm_entry *t, const char *s,
                                   size_t len) {
  char buf[24];
  size_t i;
  if (t == NULL || s == NULL || len >= sizeof(buf))
    return NULL;  /* longer than any known value */
  for (i = 0; i < len; i++) {
    char c = s[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  for (; t->raw != NULL; t++) {
    if (strlen(t->raw) == len && memcmp(t->raw, buf, len) == 0)
      return t;
  }
  return NULL;
}


static void session_normalize(int provider, const char *st, size_t stlen,
                              const char *oc, size_t oclen,
                              unsigned char *status, unsigned char *outcome) {
  const norm_entry *e = norm_find(norm_status[provider], st, stlen);
  *status = e ? e->status : ST_NONE;
  *outcome = e ? e->outcome : OC_NONE;
  if (norm_outcome[provider] != NULL) {
    e = norm_find(norm_outcome[provider], oc, oclen);
    *outcome = e ? e->outcome : OC_NONE;
  }
}

/* }====================================================== */


/*
** {======================================================
** Fields
** =======================================================
*/

typedef struct wfs_session {
  unsigned char provider;  /* enum wfs_provider */
  unsigned char status;    /* ST_* */
  unsigned char outcome;   /* OC_* */
  unsigned char clean;     /* raw was cleaned: no cjson.null, integral numbers as integers */
} wfs_session;

/*
** Field codes: the first F_NPATHS are read from raw through the paths
** below; the rest come from the userdata itself.
*/
enum {
  F_ID, F_WORKFLOW_ID, F_WORKFLOW_NAME, F_WORKFLOW_VERSION, F_SUBJECT_ID,
  F_SUBJECT_NAME, F_CREATED_AT, F_UPDATED_AT, F_STARTED_AT, F_COMPLETED_AT,
  F_EXPIRES_AT, F_RAW_STATUS, F_RAW_OUTCOME,
  F_NPATHS,
  F_PROVIDER = F_NPATHS, F_STATUS, F_OUTCOME, F_RAW
};

#define SESSION_MAXALT 3  /* alternatives per provider and field */

/*
** Where each provider keeps each field: alternatives tried in order, the
** first non-nil wins. Extend lists the 2026-02-09 shape first, then the
** 2025-04-21 (legacy) names.
*/
static const struct session_field {
  const char *name;
  const char *paths[WFS_NPROVIDERS][SESSION_MAXALT];
} session_fields[F_NPATHS] = {
  {"id", {{"id"}, {"sessionId"}, {"id"}}},
  {"workflow_id",
   {{"workflowTemplateId"}, {"flowId"}, {"workflow.id", "workflowId"}}},
  {"workflow_name",
   {{"workflowTemplateName"}, {NULL}, {"workflow.name", "workflowName"}}},
  {"workflow_version",
   {{"workflowVersion"}, {"flowVersion"},
    {"workflowVersion.version", "workflow.version", "workflowVersionId"}}},
  {"subject_id",
   {{"clientId"}, {"subjectId", "metadata.subjectId"}, {"metadata.subjectId"}}},
  {"subject_name", {{"entityName"}, {NULL}, {NULL}}},
  {"created_at", {{"createdAt"}, {"createdAt"}, {"createdAt"}}},
  {"updated_at", {{"updatedAt"}, {"updatedAt"}, {"updatedAt"}}},
  {"started_at", {{NULL}, {"startedAt"}, {"startTime"}}},
  {"completed_at", {{"completedAt"}, {"completedAt"}, {"endTime"}}},
  {"expires_at", {{NULL}, {"expiresAt"}, {NULL}}},
  {"raw_status", {{"status"}, {"sessionStatus"}, {"status"}}},
  {"raw_outcome", {{"outcome"}, {"outcome"}, {NULL}}},
};


static int session_isnull(lua_State *L, int idx) {
  return lua_isnil(L, idx) ||
         (lua_type(L, idx) == LUA_TLIGHTUSERDATA &&
          lua_touserdata(L, idx) == NULL);  /* a cjson.null left by the caller */
}


/*
** Follow the dot path `path` from the table at `t` (an absolute index):
** push the value and return 1, or push nothing and return 0 when any step
** is missing. This runs for every field of every session, so a one-step
** path (most are) is one lua_getfield: its key is a C constant, which Lua
** finds in its cache of C strings instead of hashing it again. Decoded
** objects have no metatable, so the lookups read raw.
*/
static int session_pushpath(lua_State *L, int t, const char *path) {
  const char *dot = strchr(path, '.');
  if (!lua_istable(L, t))
    return 0;
  if (dot == NULL) {
    lua_getfield(L, t, path);
  }
  else {
    lua_pushvalue(L, t);
    for (;;) {
      if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return 0;
      }
      if (dot == NULL) {
        lua_getfield(L, -1, path);
        lua_remove(L, -2);
        break;
      }
      lua_pushlstring(L, path, (size_t)(dot - path));
      lua_rawget(L, -2);
      lua_remove(L, -2);
      path = dot + 1;
      dot = strchr(path, '.');
    }
  }
  if (session_isnull(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
#if LUA_VERSION_NUM >= 503
  if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
    int isint = 0;
    lua_Integer i = lua_tointegerx(L, -1, &isint);  /* raw may not be cleaned yet */
    if (isint) {
      lua_pop(L, 1);
      lua_pushinteger(L, i);
    }
  }
#endif
  return 1;
}


/*
** Push the raw table of the session at `ud`, cleaned on first use: a page
** is decoded without the walk that drops nulls and makes integers
** (wfs_json_decode_lazy), so a listing that reads a few fields per
** session never pays it; whoever looks into raw itself gets it done once.
*/
static void session_pushraw(lua_State *L, wfs_session *s, int ud) {
  wfs_getuv(L, ud);
  if (!s->clean) {
    wfs_json_clean(L, -1);
    s->clean = 1;
  }
}


/* push path field `code` of `provider` read from the raw table at `raw` (nil when absent) */
static void session_pushfield(lua_State *L, int provider, int raw, int code) {
  const char *const *alt = session_fields[code].paths[provider];
  int i;
  for (i = 0; i < SESSION_MAXALT && alt[i] != NULL; i++) {
    if (session_pushpath(L, raw, alt[i]))
      return;
  }
  lua_pushnil(L);
}


/* push field `code` of the session `s` at `ud` */
static void session_pushcode(lua_State *L, wfs_session *s, int ud,
                             int code) {
  switch (code) {
    case F_PROVIDER:
      lua_pushstring(L, wfs_provider_names[s->provider]);
      break;
    case F_STATUS:
      if (s->status != ST_NONE)
        lua_pushstring(L, session_statuses[s->status]);
      else
        lua_pushnil(L);
      break;
    case F_OUTCOME:
      if (s->outcome != OC_NONE)
        lua_pushstring(L, session_outcomes[s->outcome]);
      else
        lua_pushnil(L);
      break;
    case F_RAW:
      session_pushraw(L, s, ud);
      break;
    default:
      if (code >= 0 && code < F_NPATHS) {
        wfs_getuv(L, ud);
        session_pushfield(L, s->provider, lua_gettop(L), code);
        lua_remove(L, -2);
      }
      else {
        lua_pushnil(L);
      }
      break;
  }
}


/* a string field of the raw table at `raw`, or NULL */
static const char *session_rawstring(lua_State *L, int provider, int raw,
                                     int code, size_t *len) {
  const char *s = NULL;
  session_pushfield(L, provider, raw, code);
  if (lua_type(L, -1) == LUA_TSTRING)
    s = lua_tolstring(L, -1, len);  /* stays alive: raw holds it */
  lua_pop(L, 1);
  return s;
}


void wfs_session_push(lua_State *L, int provider, int rawidx) {
  wfs_session *s;
  const char *st, *oc;
  size_t stlen = 0, oclen = 0;
  rawidx = wfs_absindex(L, rawidx);
  if (provider < 0 || provider >= WFS_NPROVIDERS)
    luaL_error(L, "wfs_session_push: bad provider %d", provider);
  if (!lua_istable(L, rawidx))
    luaL_error(L, "wfs_session_push: raw session is not a table");
  luaL_checkstack(L, 6, "no stack space for a session");
  st = session_rawstring(L, provider, rawidx, F_RAW_STATUS, &stlen);
  oc = session_rawstring(L, provider, rawidx, F_RAW_OUTCOME, &oclen);
  s = (wfs_session *)wfs_newudata(L, sizeof(*s));
  s->provider = (unsigned char)provider;
  s->clean = 0;
  session_normalize(provider, st, stlen, oc, oclen, &s->status, &s->outcome);
  wfs_pushmetatable(L, &session_key);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, rawidx);
  wfs_setuv(L, -2);
}


int wfs_session_checkprovider(lua_State *L, int arg) {
  const char *name;
  int i;
  if (lua_type(L, arg) != LUA_TSTRING)
    return luaL_argerror(L, arg, lua_pushfstring(L,
             "provider name expected, got %s", luaL_typename(L, arg)));
  name = lua_tostring(L, arg);
  for (i = 0; i < WFS_NPROVIDERS; i++) {
    if (strcmp(name, wfs_provider_names[i]) == 0)
      return i;
  }
  return luaL_argerror(L, arg, lua_pushfstring(L,
           "unknown provider '%s' (complycube, idnow or extend)", name));
}

/* }====================================================== */


/*
** {======================================================
** Methods and metamethods
** =======================================================
*/

static wfs_session *session_check(lua_State *L) {
  return (wfs_session *)wfs_checkobject(L, 1, &session_key, SESSION_MT);
}


/***
Whether the session reached a terminal status: `completed`, `failed`,
`cancelled` or `expired` (`review` waits for a person, so it is not).
@function session:is_terminal
@treturn boolean
*/
static int session_is_terminal(lua_State *L) {
  const wfs_session *s = session_check(L);
  lua_pushboolean(L, s->status == ST_COMPLETED || s->status == ST_FAILED ||
                     s->status == ST_CANCELLED || s->status == ST_EXPIRED);
  return 1;
}


/***
The session's checks or steps as a new array: ComplyCube
`allRelatedChecks`, Extend `stepRuns`, IDnow `{ lastStep }`. The elements
are the raw tables themselves.
@function session:checks
@treturn table an array, empty when there are none
*/
static int session_checks(lua_State *L) {
  wfs_session *s = session_check(L);
  const wfs_provider *pv = &wfs_providers[s->provider];
  lua_settop(L, 1);
  lua_newtable(L);  /* 2: result */
  session_pushraw(L, s, 1);  /* 3: raw */
  lua_pushstring(L, pv->checks_key);
  lua_rawget(L, 3);  /* 4: one check, or the array of them */
  if (pv->checks_single) {
    if (!session_isnull(L, 4)) {
      lua_pushvalue(L, 4);
      lua_rawseti(L, 2, 1);
    }
  }
  else if (lua_istable(L, 4)) {
    lua_Integer j = 0;
    size_t i, n = lua_rawlen(L, 4);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, 4, (lua_Integer)i);
      if (session_isnull(L, -1))  /* skip holes left by a removed null */
        lua_pop(L, 1);
      else
        lua_rawseti(L, 2, ++j);
    }
  }
  lua_settop(L, 2);
  return 1;
}


/***
A new plain table with every normalized field that is not nil, plus
`provider`, `status`, `outcome` and `raw`.
@function session:to_table
@treturn table
*/
static int session_to_table(lua_State *L) {
  wfs_session *s = session_check(L);
  int code;
  lua_settop(L, 1);
  lua_createtable(L, 0, F_NPATHS + 4);  /* 2: result */
  session_pushraw(L, s, 1);             /* 3: raw */
  for (code = 0; code < F_NPATHS; code++) {
    session_pushfield(L, s->provider, 3, code);
    lua_setfield(L, 2, session_fields[code].name);
  }
  session_pushcode(L, s, 1, F_PROVIDER);
  lua_setfield(L, 2, "provider");
  session_pushcode(L, s, 1, F_STATUS);
  lua_setfield(L, 2, "status");
  session_pushcode(L, s, 1, F_OUTCOME);
  lua_setfield(L, 2, "outcome");
  lua_pushvalue(L, 3);
  lua_setfield(L, 2, "raw");
  lua_settop(L, 2);
  return 1;
}


/***
The raw object encoded as JSON (through the core's private cjson instance).
@function session:json
@treturn[1] string
@return[2] `nil, msg` when it cannot be encoded
*/
static int session_json(lua_State *L) {
  wfs_session *s = session_check(L);
  lua_settop(L, 1);
  session_pushraw(L, s, 1);
  if (wfs_json_encode(L, 2))
    return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}


/***
Field access. Methods come first; then `provider`, `status`, `outcome`,
`raw` and the normalized fields (`id`, `workflow_id`, `workflow_name`,
`workflow_version`, `subject_id`, `subject_name`, `created_at`,
`updated_at`, `started_at`, `completed_at`, `expires_at`, `raw_status`,
`raw_outcome`); any other key reads `raw[key]`.
@function session:__index
@param key
@return the value, or nil
*/
static int session_index(lua_State *L) {
  wfs_session *s = (wfs_session *)lua_touserdata(L, 1);
  /*
  ** This runs for every field read, so the type check compares the
  ** metatable with an upvalue instead of a registry lookup by name.
  */
  if (s == NULL || !lua_getmetatable(L, 1))
    return luaL_argerror(L, 1, "wfsession.session expected");
  if (!lua_rawequal(L, -1, lua_upvalueindex(2)))
    return luaL_argerror(L, 1, "wfsession.session expected");
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));  /* 3: code or method */
  switch (lua_type(L, 3)) {
    case LUA_TNUMBER:
      session_pushcode(L, s, 1, (int)lua_tointeger(L, 3));
      return 1;
    case LUA_TFUNCTION:
      return 1;
    default:
      session_pushraw(L, s, 1);
      lua_pushvalue(L, 2);
      lua_rawget(L, -2);
      if (session_isnull(L, -1))
        lua_pushnil(L);
      return 1;
  }
}


/***
Sessions are read-only: any assignment raises.
@function session:__newindex
*/
static int session_newindex(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING)
    return luaL_error(L, "wfsession.session is read-only (field '%s')",
                      lua_tostring(L, 2));
  return luaL_error(L, "wfsession.session is read-only");
}


/***
`wfsession.session: <provider>/<id> (<status>[, <outcome>])`; the raw
status stands in for a status that did not normalize.
@function session:__tostring
@treturn string
*/
static int session_tostring(lua_State *L) {
  const wfs_session *s = session_check(L);
  const char *id = "?", *st = "?";
  int raw;
  lua_settop(L, 1);
  wfs_getuv(L, 1);
  raw = lua_gettop(L);
  session_pushfield(L, s->provider, raw, F_ID);
  if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
    id = lua_tostring(L, -1);
  if (s->status != ST_NONE) {
    st = session_statuses[s->status];
  }
  else {
    session_pushfield(L, s->provider, raw, F_RAW_STATUS);
    if (lua_type(L, -1) == LUA_TSTRING)
      st = lua_tostring(L, -1);
  }
  if (s->outcome != OC_NONE)
    lua_pushfstring(L, SESSION_MT ": %s/%s (%s, %s)",
                    wfs_provider_names[s->provider], id, st,
                    session_outcomes[s->outcome]);
  else
    lua_pushfstring(L, SESSION_MT ": %s/%s (%s)",
                    wfs_provider_names[s->provider], id, st);
  return 1;
}

/* }====================================================== */


/*
** {======================================================
** Module functions
** =======================================================
*/

/***
Wrap a provider's decoded session object.
@function session
@tparam string provider `"complycube"`, `"idnow"` or `"extend"`
@tparam table raw the decoded object (kept, not copied)
@treturn wfsession.session
*/
static int session_lnew(lua_State *L) {
  int provider = wfs_session_checkprovider(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  wfs_session_push(L, provider, 2);
  return 1;
}


static int session_optstring(lua_State *L, int arg, const char **s,
                             size_t *len) {
  *s = NULL;
  *len = 0;
  if (lua_isnoneornil(L, arg))
    return 0;
  if (lua_type(L, arg) != LUA_TSTRING)
    return luaL_argerror(L, arg, lua_pushfstring(L,
             "string or nil expected, got %s", luaL_typename(L, arg)));
  *s = lua_tolstring(L, arg, len);
  return 1;
}


/***
Normalize a provider's raw status and outcome, case-insensitively. An
unknown value gives nil, never an error. Extend has no outcome field: its
outcome comes from the status.
@function normalize
@tparam string provider
@tparam ?string raw_status
@tparam[opt] ?string raw_outcome
@treturn ?string status
@treturn ?string outcome
*/
static int session_lnormalize(lua_State *L) {
  int provider = wfs_session_checkprovider(L, 1);
  const char *st, *oc;
  size_t stlen, oclen;
  unsigned char status, outcome;
  session_optstring(L, 2, &st, &stlen);
  session_optstring(L, 3, &oc, &oclen);
  session_normalize(provider, st, stlen, oc, oclen, &status, &outcome);
  if (status != ST_NONE)
    lua_pushstring(L, session_statuses[status]);
  else
    lua_pushnil(L);
  if (outcome != OC_NONE)
    lua_pushstring(L, session_outcomes[outcome]);
  else
    lua_pushnil(L);
  return 2;
}

/* }====================================================== */


static const luaL_Reg session_methods[] = {
  {"is_terminal", session_is_terminal},
  {"checks", session_checks},
  {"to_table", session_to_table},
  {"json", session_json},
  {NULL, NULL}
};

static const luaL_Reg session_funcs[] = {
  {"session", session_lnew},
  {"normalize", session_lnormalize},
  {NULL, NULL}
};


/* push an array of the non-NULL names in `names[0..n)` */
static void session_pushnames(lua_State *L, const char *const *names, int n) {
  int i, j = 0;
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    if (names[i] != NULL) {
      lua_pushstring(L, names[i]);
      lua_rawseti(L, -2, ++j);
    }
  }
}


void wfs_session_open(lua_State *L) {
  int i;
  luaL_newmetatable(L, SESSION_MT);
  wfs_setmetatablekey(L, &session_key);
  lua_pushliteral(L, SESSION_MT);
  lua_setfield(L, -2, "__name");  /* 5.1 does not set it */
  /* __index's key table: name -> field code, or name -> method */
  lua_createtable(L, 0, F_NPATHS + 8);
  for (i = 0; i < F_NPATHS; i++) {
    lua_pushinteger(L, i);
    lua_setfield(L, -2, session_fields[i].name);
  }
  lua_pushinteger(L, F_PROVIDER);
  lua_setfield(L, -2, "provider");
  lua_pushinteger(L, F_STATUS);
  lua_setfield(L, -2, "status");
  lua_pushinteger(L, F_OUTCOME);
  lua_setfield(L, -2, "outcome");
  lua_pushinteger(L, F_RAW);
  lua_setfield(L, -2, "raw");
  luaL_setfuncs(L, session_methods, 0);
  lua_pushvalue(L, -2);  /* the metatable: __index's type check */
  lua_pushcclosure(L, session_index, 2);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, session_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, session_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);  /* metatable */
  luaL_setfuncs(L, session_funcs, 0);
  session_pushnames(L, session_statuses, ST_N);
  lua_setfield(L, -2, "STATUSES");
  session_pushnames(L, session_outcomes, OC_N);
  lua_setfield(L, -2, "OUTCOMES");
}
