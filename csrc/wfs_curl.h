/*
** wfs_curl.h: libcurl failures as wfsession errors.
** The easy transport (`core.easy`) lives in wfs_curl.c; these helpers let
** any other libcurl user of the core (a multi driver) report failures the
** same way.
*/
#ifndef WFS_CURL_H
#define WFS_CURL_H

#include "wfs_compat.h"

/* The error kind of a CURLcode: "timeout", "tls" or "network" (never NULL). */
const char *wfs_curl_kind(int code);

/*
** Push `nil, msg, err` for a failed transfer and return 3. `detail` is the
** libcurl error buffer or NULL (then curl_easy_strerror is used); it is cut
** to one line. `msg` is "<kind>: <detail>", `err` is
** `{ kind = kind, message = msg, curl_code = code }`.
*/
int wfs_curl_pushfail(lua_State *L, int code, const char *detail);

#endif
