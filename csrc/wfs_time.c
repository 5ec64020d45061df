/*
** wfs_time.c: RFC 3339 / ISO-8601 timestamps, the wall clock, and a
** sleep for hosts that have no better one.
**
** Every provider writes UTC with `Z`; ComplyCube and IDnow add
** milliseconds, Extend mostly does not. The parser accepts the RFC 3339
** profile plus the few ISO-8601 liberties seen in the wild (a lower-case
** `t`/`z`, a space as separator, `+HHMM`) and a bare date. It does not use
** timegm/mktime: those depend on the process's time zone and locale, and
** timegm is not POSIX. A days-from-civil computation is exact and cheap.
*/
#include <errno.h>
#include <string.h>
#include <time.h>

#include "wfs_core.h"
#include "wfs_time.h"

/* longest quote of a bad value in a message */
#define TIME_QUOTEMAX 40


/*
** {======================================================
** Parsing
** =======================================================
*/

/* read exactly `n` decimal digits at `s`; -1 when one is not a digit */
static int time_digits(const char *s, int n) {
  int v = 0;
  int i;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}


static int time_isleap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}


static int time_mdays(int y, int m) {
  static const unsigned char days[12] =
    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  return (m == 2 && time_isleap(y)) ? 29 : days[m - 1];
}


/*
** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
** days_from_civil): eras of 400 years, with March as the first month so
** that the leap day falls at the end of the year.
*/
static long long time_days(int y, int m, int d) {
  long long era;
  int yoe, doy, doe;
  if (m <= 2)
    y -= 1;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (int)(y - era * 400);                               /* [0, 399] */
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;    /* [0, 365] */
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;              /* [0, 146096] */
  return era * 146097 + doe - 719468;
}


/*
** Parse `s[0..len)`. On success store the epoch seconds in *out, set
** *hasfrac when the text has a fraction of a second, and return NULL;
** otherwise return what is wrong with the text.
*/
static const char *time_parse(const char *s, size_t len, double *out,
                              int *hasfrac) {
  int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
  double frac = 0.0;
  size_t p;
  *hasfrac = 0;
  if (len < 10 || s[4] != '-' || s[7] != '-')
    return "expected YYYY-MM-DD";
  y = time_digits(s, 4);
  mo = time_digits(s + 5, 2);
  d = time_digits(s + 8, 2);
  if (y < 0 || mo < 0 || d < 0)
    return "expected YYYY-MM-DD";
  if (mo < 1 || mo > 12)
    return "month out of range";
  if (d < 1 || d > time_mdays(y, mo))
    return "day out of range";
  if (len > 10) {
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
      return "expected 'T' after the date";
    if (len < 19 || s[13] != ':' || s[16] != ':')
      return "expected HH:MM:SS";
    h = time_digits(s + 11, 2);
    mi = time_digits(s + 14, 2);
    sec = time_digits(s + 17, 2);
    if (h < 0 || mi < 0 || sec < 0)
      return "expected HH:MM:SS";
    if (h > 23)
      return "hour out of range";
    if (mi > 59)
      return "minute out of range";
    if (sec > 60)  /* 60: a leap second, counted as the next second */
      return "second out of range";
    p = 19;
    if (p < len && s[p] == '.') {
      double scale = 1.0;
      size_t start = ++p;
      for (; p < len && s[p] >= '0' && s[p] <= '9'; p++) {
        if (p - start < 15) {  /* past 1e-15 a double cannot hold it anyway */
          frac = frac * 10.0 + (s[p] - '0');
          scale *= 10.0;
        }
      }
      if (p == start)
        return "expected digits after '.'";
      frac /= scale;
      *hasfrac = 1;
    }
    if (p >= len)
      return "missing time zone (Z or +HH:MM)";
    if (s[p] == 'Z' || s[p] == 'z') {
      p++;
    }
    else if (s[p] == '+' || s[p] == '-') {
      int sign = (s[p] == '-') ? -1 : 1;
      int oh, om;
      p++;
      if (len - p == 5 && s[p + 2] == ':')
        om = time_digits(s + p + 3, 2);
      else if (len - p == 4)
        om = time_digits(s + p + 2, 2);
      else
        return "expected a zone offset +HH:MM";
      oh = time_digits(s + p, 2);
      if (oh < 0 || om < 0)
        return "expected a zone offset +HH:MM";
      if (oh > 23 || om > 59)
        return "zone offset out of range";
      off = sign * (oh * 3600 + om * 60);
      p = len;
    }
    else {
      return "expected a time zone (Z or +HH:MM)";
    }
    if (p != len)
      return "unexpected characters after the time zone";
  }
  *out = (double)(time_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off)
         + frac;
  return NULL;
}


int wfs_time_parse(const char *s, size_t len, double *out) {
  int hasfrac;
  if (s == NULL)
    return 0;
  return time_parse(s, len, out, &hasfrac) == NULL;
}


int wfs_time_parsex(const char *s, size_t len, double *out, int *hasfrac) {
  int dummy;
  if (hasfrac == NULL)
    hasfrac = &dummy;
  if (s == NULL)
    return 0;
  return time_parse(s, len, out, hasfrac) == NULL;
}

/* }====================================================== */


/*
** Push a printable quote of at most TIME_QUOTEMAX bytes of `s`: control
** bytes become '?', a cut never splits a UTF-8 sequence.
*/
static void time_pushquote(lua_State *L, const char *s, size_t len) {
  char buf[TIME_QUOTEMAX + 8];
  size_t n = len, i;
  int cut = 0;
  if (n > TIME_QUOTEMAX) {
    n = TIME_QUOTEMAX - 3;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;  /* s[n] would start the cut-off part: keep whole characters */
    cut = 1;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    buf[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
  }
  if (cut) {
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  lua_pushlstring(L, buf, n);
}


/*
** {======================================================
** Lua functions
** =======================================================
*/

/***
Parse an RFC 3339 / ISO-8601 timestamp: `YYYY-MM-DDTHH:MM:SS[.frac]` with
`Z`, `+HH:MM`, `-HH:MM` or `+HHMM` (`T`, `t` or a space between date and
time), or a bare `YYYY-MM-DD` (midnight UTC).
@function time
@tparam string s the timestamp
@treturn[1] number epoch seconds: an integer when `s` has no fraction
@return[2] `nil, msg` naming the bad value
*/
static int time_ltime(lua_State *L) {
  size_t len;
  const char *s;
  const char *why;
  double t;
  int hasfrac;
  if (lua_type(L, 1) != LUA_TSTRING)
    return luaL_argerror(L, 1, lua_pushfstring(L, "string expected, got %s",
                                               luaL_typename(L, 1)));
  s = lua_tolstring(L, 1, &len);
  why = time_parse(s, len, &t, &hasfrac);
  if (why != NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "invalid timestamp '");
    time_pushquote(L, s, len);
    lua_pushfstring(L, "': %s", why);
    lua_concat(L, 3);
    return 2;
  }
#if LUA_VERSION_NUM >= 503
  if (!hasfrac) {
    lua_pushinteger(L, (lua_Integer)t);
    return 1;
  }
#endif
  lua_pushnumber(L, (lua_Number)t);
  return 1;
}


/***
The wall clock (CLOCK_REALTIME).
@function now
@treturn number seconds since the epoch, with a fraction
*/
static int time_lnow(lua_State *L) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
    return luaL_error(L, "clock_gettime failed");
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}


/***
A monotonic clock (CLOCK_MONOTONIC): for deadlines and timers, which must
not jump when the wall clock is set.
@function monotonic
@treturn number seconds since an unspecified start
*/
static int time_lmonotonic(lua_State *L) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return luaL_error(L, "clock_gettime failed");
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}


/*
** Longest sleep accepted: a year, well inside a 32-bit time_t, and
** longer than any wait the retry policy can ask for.
*/
#define TIME_SLEEPMAX (366.0 * 86400.0)

/***
Block the calling thread for `seconds` (nanosleep, resumed after a
signal). Hosts with an event loop pass their own sleep instead.
@function sleep
@tparam number seconds non-negative, at most a year
*/
static int time_lsleep(lua_State *L) {
  lua_Number n = luaL_checknumber(L, 1);
  struct timespec req, rem;
  if (!(n >= 0))  /* also NaN */
    return luaL_argerror(L, 1, "non-negative number expected");
  if (n > TIME_SLEEPMAX)  /* also inf */
    return luaL_argerror(L, 1, "too long (more than a year)");
  req.tv_sec = (time_t)n;
  req.tv_nsec = (long)((n - (lua_Number)req.tv_sec) * 1e9);
  if (req.tv_nsec > 999999999L)
    req.tv_nsec = 999999999L;
  /* `rem` only shrinks, so this ends; a trapped Ctrl-C ends it at once */
  while (nanosleep(&req, &rem) != 0 && errno == EINTR && !wfs_signal_interrupted())
    req = rem;
  return 0;
}

/* }====================================================== */


static const luaL_Reg time_funcs[] = {
  {"time", time_ltime},
  {"now", time_lnow},
  {"monotonic", time_lmonotonic},
  {"sleep", time_lsleep},
  {NULL, NULL}
};


void wfs_time_open(lua_State *L) {
  luaL_setfuncs(L, time_funcs, 0);
}
