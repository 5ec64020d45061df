/*
** wfs_signal.c: Ctrl-C at safe points, for the command line.
**
** The standalone interpreters turn SIGINT into an error raised at whatever
** Lua instruction comes next: between handing out a session and writing it
** out, say, so that a resumed export would miss that session. After
** `trap_interrupts()`, SIGINT only sets a flag; the code that can stop
** cleanly asks `interrupted()` where nothing is half done (the library's
** blocking waits ask too, so a Ctrl-C during a long request is not held up
** by it).
*/
#include <signal.h>
#include <string.h>

#include "wfs_core.h"

static volatile sig_atomic_t signal_caught = 0;

static void signal_onint(int sig) {
  (void)sig;
  signal_caught = 1;
}


/***
Catch SIGINT from now on: it sets the flag `interrupted()` reads, and no
longer raises an error by itself. For programs, not for libraries.
@function trap_interrupts
*/
static int signal_ltrap(lua_State *L) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = signal_onint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  /* no SA_RESTART: a blocking wait returns at once */
  if (sigaction(SIGINT, &sa, NULL) != 0)
    return luaL_error(L, "cannot catch SIGINT");
  return 0;
}


/***
Whether SIGINT came since `trap_interrupts()`.
@function interrupted
@treturn boolean
*/
static int signal_linterrupted(lua_State *L) {
  lua_pushboolean(L, signal_caught != 0);
  return 1;
}


int wfs_signal_interrupted(void) {
  return signal_caught != 0;
}


static const luaL_Reg signal_funcs[] = {
  {"trap_interrupts", signal_ltrap},
  {"interrupted", signal_linterrupted},
  {NULL, NULL}
};


void wfs_signal_open(lua_State *L) {
  luaL_setfuncs(L, signal_funcs, 0);
}
