/*
** wfz.c: the Lua state the harnesses share.
**
** Lua's memory goes through realloc/free, so ASan sees every block the core
** touches, and through a budget, so that an input cannot push the process
** past libFuzzer's RSS limit: past it an allocation fails and Lua raises
** "not enough memory", which is not a finding.
**
** A pointer the core keeps into a string (or any object) that nothing
** references any more stays valid only until the collector runs. Two modes
** make it run where such a bug would show (ASan then reports the freed
** block); both cost speed, so the default is one full collection per input:
**  - WFZ_GC=stress keeps a collection cycle running at every allocation;
**  - WFZ_GC=emergency refuses one growing allocation in WFZ_GC_EVERY (101):
**    Lua answers with an emergency full collection and tries again, which
**    then succeeds, so the run goes on with a full collection at that point.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lualib.h"
#include "wfs_core.h"
#include "wfz.h"

#ifndef WFZ_DRIVER
#error "build with -DWFZ_DRIVER='\"/path/to/fuzz/driver.lua\"'"
#endif

#define WFZ_BUDGET ((size_t)1024 * 1024 * 1024)

static lua_State *wfz_L = NULL;
static size_t wfz_used = 0;
static int wfz_stress = 0;
static unsigned long wfz_every = 0;  /* emergency mode: refuse one allocation in this many */
static unsigned long wfz_count = 0;

static void *wfz_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  size_t old = (ptr != NULL) ? osize : 0;
  void *p;
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    wfz_used -= old;
    return NULL;
  }
  if (nsize > old && nsize - old > WFZ_BUDGET - wfz_used)
    return NULL;
  /* Lua never retries a shrink, and expects it to succeed */
  if (wfz_every != 0 && nsize > old && ++wfz_count % wfz_every == 0)
    return NULL;
  p = realloc(ptr, nsize);
  if (p != NULL)
    wfz_used = wfz_used - old + nsize;
  return p;
}


static int wfz_traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg != NULL ? msg : "(error object is not a string)", 1);
  return 1;
}


static int wfz_panic(lua_State *L) {
  fprintf(stderr, "wfz: Lua panic: %s\n", lua_tostring(L, -1));
  abort();
  return 0;
}


lua_State *wfz_state(void) {
  lua_State *L;
  const char *gc;
  if (wfz_L != NULL)
    return wfz_L;
  L = lua_newstate(wfz_alloc, NULL);
  if (L == NULL)
    abort();
  lua_atpanic(L, wfz_panic);
  luaL_openlibs(L);
  /* the core as `require "wfsession.core"` finds it: linked in, not loaded */
  luaL_requiref(L, "wfsession.core", luaopen_wfsession_core, 0);
  lua_pop(L, 1);
  if (luaL_dofile(L, WFZ_DRIVER) != LUA_OK) {
    fprintf(stderr, "wfz: cannot load %s: %s\n", WFZ_DRIVER, lua_tostring(L, -1));
    abort();
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "wfz.driver");
  gc = getenv("WFZ_GC");
  if (gc != NULL && strcmp(gc, "stress") == 0) {
    wfz_stress = 1;
    /* pause 100%: a new cycle starts as soon as one ends; big steps */
    lua_gc(L, LUA_GCINC, 100, 1000, 0);
  }
  else if (gc != NULL && strcmp(gc, "emergency") == 0) {
    const char *every = getenv("WFZ_GC_EVERY");
    wfz_stress = 1;  /* no extra collection per input */
    wfz_every = (every != NULL && atol(every) > 1) ? (unsigned long)atol(every) : 101;
  }
  wfz_L = L;
  return L;
}


typedef struct wfz_call {
  lua_CFunction f;
  void *ud;
} wfz_call;


void wfz_run(lua_State *L, lua_CFunction f, void *ud) {
  int top = lua_gettop(L);
  lua_pushcfunction(L, wfz_traceback);
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, ud);
  if (lua_pcall(L, 1, 0, top + 1) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg != NULL && strstr(msg, "not enough memory") != NULL) {
      lua_settop(L, top);  /* the budget, not a bug */
      return;
    }
    fprintf(stderr, "wfz: unexpected Lua error: %s\n", msg != NULL ? msg : "?");
    abort();
  }
  lua_settop(L, top);
}


void wfz_pushdriver(lua_State *L, const char *name) {
  lua_getfield(L, LUA_REGISTRYINDEX, "wfz.driver");
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}


void wfz_done(lua_State *L) {
  lua_settop(L, 0);
  if (!wfz_stress)
    lua_gc(L, LUA_GCCOLLECT, 0);
}

int wfz_one(lua_CFunction f, const uint8_t *data, size_t size) {
  lua_State *L = wfz_state();
  wfz_input in;
  in.data = data;
  in.size = size;
  wfz_run(L, f, &in);
  wfz_done(L);
  return 0;
}
