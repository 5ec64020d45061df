/*
** wfs_session.h: the session userdata ("wfsession.session").
*/
#ifndef WFS_SESSION_H
#define WFS_SESSION_H

#include "wfs_compat.h"

/* Push a new session of `provider` (enum wfs_provider) whose decoded raw table is at `rawidx`. */
void wfs_session_push(lua_State *L, int provider, int rawidx);

#endif
