/*
** wfs_session.h: the session userdata ("wfsession.session").
*/
#ifndef WFS_SESSION_H
#define WFS_SESSION_H

#include "wfs_compat.h"

/* Push a new session of `provider` (enum wfs_provider) whose decoded raw table is at `rawidx`. */
void wfs_session_push(lua_State *L, int provider, int rawidx);

/*
** The provider named by the string at `arg` (enum wfs_provider); raises an
** argument error naming `arg` for anything else.
*/
int wfs_session_checkprovider(lua_State *L, int arg);

#endif
