/*
** wfs_transfer.h: one HTTP exchange on a libcurl easy handle, shared by
** the blocking path (wfs_easy.c) and the multi path (wfs_multi.c).
**
** A transfer turns a request table into libcurl options and a header
** list (checking everything before any I/O), collects the answer in C
** buffers from libcurl's callbacks (no Lua there), and afterwards pushes
** `status, headers, body` or `nil, msg, err`.
*/
#ifndef WFS_TRANSFER_H
#define WFS_TRANSFER_H

#include <stddef.h>

#include <curl/curl.h>

#include "wfs_compat.h"

typedef struct wfs_buf {
  char *p;
  size_t len, cap;
} wfs_buf;

/* The library's transfer limits (one place: the Lua transports read them as core.TRANSFER). */
#define WFS_MAX_BODY ((size_t)16 * 1024 * 1024)  /* bytes of decoded body */
#define WFS_LOW_SPEED_BYTES 1024L                /* a body slower than this per second... */
#define WFS_LOW_SPEED_TIME 10.0                  /* ...for this many seconds is a timeout */

/* Settings of a transfer that a request table may leave out. */
typedef struct wfs_xferopts {
  double connect_timeout;   /* seconds */
  double timeout;           /* seconds, for the whole transfer */
  double low_speed_time;    /* seconds below WFS_LOW_SPEED_BYTES/s before giving up; 0 = never */
  size_t max_body;          /* bytes of decoded body */
  int verify;               /* verify the TLS peer and its name */
  const char *ca_file, *proxy, *user_agent;  /* NULL: libcurl's default */
} wfs_xferopts;

typedef struct wfs_transfer {
  CURL *curl;                  /* NULL once freed */
  struct curl_slist *headers;  /* request headers: alive until the transfer ends */
  wfs_buf body, head;          /* the answer, filled by the callbacks */
  size_t max_body;
  int over;                    /* why a callback refused data (TRANSFER_OVER_*) */
  char errbuf[CURL_ERROR_SIZE];
} wfs_transfer;

/* Initialise libcurl once per process (raises when it cannot). */
void wfs_transfer_globalinit(lua_State *L);

/* The library's defaults (connect 10 s, total 30 s, low speed 10 s, 16 MiB, verify). */
void wfs_transfer_defaults(wfs_xferopts *o);

/*
** Read the transfer options of the table at `idx` over `o` (keys
** connect_timeout, timeout, low_speed_time, max_body, verify, ca_file,
** proxy, user_agent; others are ignored). The strings stay owned by the
** table. Raises an argument error for `arg` naming a bad key, after
** `what` ("option " for an options table, "" for a request).
*/
void wfs_transfer_readopts(lua_State *L, int idx, int arg, const char *what, wfs_xferopts *o);

/* Create the easy handle: 1, or 0 when libcurl cannot. */
int wfs_transfer_init(wfs_transfer *t);

/*
** Configure `t` for the request table at `req` (method, url, headers,
** body, timeout, and any transfer option overriding `o`). Everything is
** checked first: a bad field raises an argument error for argument `arg`
** before libcurl is touched. Returns CURLE_OK, or the code of an option
** this libcurl refuses (the transfer then fails with it, unperformed).
*/
CURLcode wfs_transfer_prepare(lua_State *L, wfs_transfer *t, int req, int arg,
                              const wfs_xferopts *o);

/*
** Push the outcome of a finished transfer (`rc` from libcurl):
** `status, headers, body` (3 values) or `nil, msg, err`. The request's
** header list and large buffers are released; the handle stays for reuse.
*/
int wfs_transfer_push(lua_State *L, wfs_transfer *t, CURLcode rc);

/* Drop what a transfer holds apart from its handle (after a cancel). */
void wfs_transfer_reset(wfs_transfer *t);

/* Free everything, the handle included. Idempotent. */
void wfs_transfer_free(wfs_transfer *t);

/*
** Push `nil, msg, err` for a libcurl failure `code`: `msg` is "<kind>:
** <detail>" on one line, `err` is `{ kind, message, curl_code }` with kind
** "timeout", "tls" or "network" (or `kind`, when not NULL). `detail` may be
** NULL.
*/
int wfs_transfer_pushfail(lua_State *L, int code, const char *kind, const char *detail);

/* Push core.TRANSFER: the limits above, for the Lua transports. */
void wfs_transfer_pushlimits(lua_State *L);

#endif
