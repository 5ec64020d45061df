/*
** wfz.h: what the libFuzzer harnesses of wfsession.core share.
** One Lua 5.4 state per process: standard libraries, the core linked in
** statically as "wfsession.core", lua-cjson from the system path, and
** fuzz/driver.lua (the Lua half of every harness).
*/
#ifndef WFZ_H
#define WFZ_H

#include <stddef.h>
#include <stdint.h>

#include "lua.h"
#include "lauxlib.h"

/* The state, created on first use. */
lua_State *wfz_state(void);

/*
** Call `f(L)` protected, with `ud` as its only argument (a light
** userdata). A raise is a finding: print it and abort(), so that libFuzzer
** keeps the input. Leaves the stack as it found it.
*/
void wfz_run(lua_State *L, lua_CFunction f, void *ud);

/* Push driver.lua's function `name`. */
void wfz_pushdriver(lua_State *L, const char *name);

/* Call once per input, after the work: collects garbage now and then. */
void wfz_done(lua_State *L);

/* Run `f` on one input in the shared state: the whole body of an entry point. */
int wfz_one(lua_CFunction f, const uint8_t *data, size_t size);

/* A harness's libFuzzer entry point, given its `run` function. */
#define WFZ_ENTRY(f)                                                  \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);       \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {      \
    return wfz_one(f, data, size);                                    \
  }

/* The input of the current run, for the C functions passed to wfz_run. */
typedef struct wfz_input {
  const uint8_t *data;
  size_t size;
} wfz_input;

#endif
