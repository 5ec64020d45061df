/*
** wfs_error.h: provider error bodies mapped to wfsession error tables.
*/
#ifndef WFS_ERROR_H
#define WFS_ERROR_H

#include <stddef.h>
#include "wfs_compat.h"

/*
** Push `msg, err` (2 values) for a non-2xx HTTP answer of `provider`.
** `hidx` is a table of response headers with lower-case names, or 0.
** `body` may be NULL. Never raises on bad input.
*/
void wfs_error_http(lua_State *L, int provider, long status, int hidx,
                    const char *body, size_t len);

/*
** Push `msg, err` for a failure that is not an HTTP status: `kind` is one of
** DESIGN.md's kinds ("decode", "protocol", ...), `message` says what happened.
*/
void wfs_error_push(lua_State *L, int provider, const char *kind,
                    const char *message, int retryable);

#endif
