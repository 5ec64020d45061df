/*
** fuzz_transfer.c: one transfer's answer as libcurl hands it over, cut at
** arbitrary places: the input's first bytes choose a body limit and the
** sizes of the pieces, the rest is split into header lines and body. The
** pieces go through the header and write callbacks (static in
** wfs_transfer.c, so that file is included here and its object left out of
** this binary), then the answer is pushed. The body must come out whole
** (the concatenation of the pieces) or as the max_body failure, never
** anything in between; headers must stay within their cap.
*/
#include "../csrc/wfs_transfer.c"

#include "wfz.h"

static int run(lua_State *L) {
  const wfz_input *in = (const wfz_input *)lua_touserdata(L, 1);
  const char *d = (const char *)in->data;
  size_t n = in->size, pos, split, i;
  wfs_transfer t;
  size_t cuts[8], ncuts = 0, limit;
  int top = lua_gettop(L), r;
  if (n < 4)
    return 0;
  memset(&t, 0, sizeof(t));
  limit = 1 + ((size_t)(unsigned char)d[0] << 4);   /* 1..4081 bytes */
  t.max_body = limit;
  for (i = 1; i < 4; i++)
    cuts[ncuts++] = 1 + (unsigned char)d[i];         /* piece sizes, cycled */
  d += 4;
  n -= 4;
  /* headers up to the first blank line, the body after it */
  split = n;
  for (pos = 0; pos + 1 < n; pos++) {
    if (d[pos] == '\n' && d[pos + 1] == '\n') {
      split = pos + 2;
      break;
    }
  }
  for (pos = 0, i = 0; pos < split; i++) {
    size_t k = cuts[i % ncuts];
    if (k > split - pos) k = split - pos;
    if (transfer_onheader((char *)(size_t)(d + pos), 1, k, &t) != k)
      break;
    pos += k;
  }
  r = 0;
  for (pos = split, i = 0; pos < n; i++) {
    size_t k = cuts[i % ncuts];
    if (k > n - pos) k = n - pos;
    if (transfer_onbody((char *)(size_t)(d + pos), 1, k, &t) != k) {
      r = 1;
      break;
    }
    pos += k;
  }
  if (r && t.over != TRANSFER_OVER_BODY && t.over != TRANSFER_OVER_NOMEM)
    luaL_error(L, "invariant: a refused piece without a reason (%d)", t.over);
  if (!r && (t.body.len != n - split || (t.body.len > 0 && memcmp(t.body.p, d + split, t.body.len) != 0))) {
    wfs_transfer_free(&t);
    luaL_error(L, "invariant: the body is not the concatenation of its pieces");
  }
  if (t.body.len > limit) {
    wfs_transfer_free(&t);
    luaL_error(L, "invariant: the body grew past max_body");
  }
  transfer_pushheaders(L, &t.head);
  if (!lua_istable(L, -1)) {
    wfs_transfer_free(&t);
    luaL_error(L, "invariant: headers are not a table");
  }
  lua_settop(L, top);
  wfs_transfer_free(&t);
  return 0;
}

WFZ_ENTRY(run)
