/*
** fuzz_time.c: (c) wfs_time_parse / wfs_time_parsex, checked against
** glibc's timegm for the shapes where both apply, then core.time through
** driver.lua's `time` (the message path, the integer/float result).
*/
#define _GNU_SOURCE  /* timegm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wfs_time.h"
#include "wfz.h"

/* epoch seconds of 0000-01-01 and 10000-01-01, a day of zone offset either side */
#define TMIN (-62167219200.0 - 86400.0)
#define TMAX (253402300800.0 + 86400.0)

static int digits(const uint8_t *s, int n) {
  int v = 0, i;
  for (i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

static void bad(const char *what, const uint8_t *s, size_t n, double got, double want) {
  fprintf(stderr, "wfz time: %s for '%.*s': got %.17g, want %.17g\n", what, (int)n,
          (const char *)s, got, want);
  abort();
}

/* Compare with timegm when `s` is YYYY-MM-DD[Thh:mm:ss(Z|+hh:mm)], no fraction. */
static void differential(const uint8_t *s, size_t n, double t) {
  struct tm tm;
  double want, off = 0.0;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = digits(s, 4) - 1900;
  tm.tm_mon = digits(s + 5, 2) - 1;
  tm.tm_mday = digits(s + 8, 2);
  if (n == 10) {
    /* a bare date */
  }
  else if (n == 20 || n == 25) {
    tm.tm_hour = digits(s + 11, 2);
    tm.tm_min = digits(s + 14, 2);
    tm.tm_sec = digits(s + 17, 2);  /* 60 rolls over, as the parser promises */
    if (n == 25) {
      if (s[22] != ':') return;
      off = digits(s + 20, 2) * 3600.0 + digits(s + 23, 2) * 60.0;
      if (s[19] == '-') off = -off;
    }
  }
  else {
    return;
  }
  want = (double)timegm(&tm) - off;
  if (t != want) bad("differs from timegm", s, n, t, want);
}

static int run(lua_State *L) {
  const wfz_input *in = (const wfz_input *)lua_touserdata(L, 1);
  double t = 0.0, tx = 0.0;
  int hasfrac = -1;
  int ok = wfs_time_parse((const char *)in->data, in->size, &t);
  int okx = wfs_time_parsex((const char *)in->data, in->size, &tx, &hasfrac);
  if (ok != okx || (ok && t != tx))
    bad("parse and parsex disagree", in->data, in->size, t, tx);
  if (ok) {
    if (!isfinite(t) || t < TMIN || t > TMAX) bad("out of range", in->data, in->size, t, 0);
    if (hasfrac && memchr(in->data, '.', in->size) == NULL)
      bad("a fraction without a '.'", in->data, in->size, t, 0);
    if (!hasfrac) {
      if (t != floor(t)) bad("no fraction but not whole", in->data, in->size, t, floor(t));
      differential(in->data, in->size, t);
    }
  }
  wfz_pushdriver(L, "time");
  lua_pushlstring(L, (const char *)in->data, in->size);
  if (ok) {
    if (hasfrac) lua_pushnumber(L, t);
    else lua_pushinteger(L, (lua_Integer)t);
  }
  else {
    lua_pushnil(L);
  }
  lua_call(L, 2, 0);
  return 0;
}

WFZ_ENTRY(run)
