/*
** wfs_multi.c: concurrent HTTP on libcurl's multi interface
** ("wfsession.curlmulti", behind wfs.multi and every script client).
**
** `add` starts a transfer and returns at once; `step` advances every
** transfer without blocking; `wait` blocks until there is something to do
** (or a time is up) and then steps; `result` hands over one finished
** transfer. libcurl tells which sockets to watch through its socket
** callback, which keeps them in one epoll set, and when to call back
** through its timer callback, which only records a deadline: so `pollfd`
** is a single descriptor a host's loop can watch, and `timeout` says when
** a step is due without fd activity.
**
** No libcurl callback ever calls Lua. Finished transfers wait in a C queue
** until `result` pushes them, so a Lua error can never unwind through
** libcurl, and a host decides when answers are handled.
**
** All transfers of one object share libcurl's connection cache: pages,
** lookups and token requests of a client ride the same kept-alive
** connections.
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "wfs_core.h"
#include "wfs_transfer.h"

#define MULTI_MT "wfsession.curlmulti"

#define MULTI_MAXEVENTS 64    /* socket events handled per step */
#define MULTI_MAXSPARE 64     /* finished transfers kept for reuse */
#define MULTI_MAXTIMERS 16    /* timer actions per step; more wait for the next one */

typedef struct multi_xfer {
  wfs_transfer t;
  lua_Integer id;
  CURLcode rc;                  /* the outcome, once finished */
  struct multi_xfer *prev, *next;  /* in one of the lists below */
} multi_xfer;

/* A doubly-linked list with a head and a tail (the done queue is FIFO). */
typedef struct multi_list {
  multi_xfer *head, *tail;
  int n;
} multi_list;

typedef struct wfs_multi {
  CURLM *cm;                    /* NULL once closed */
  int epfd;
  double timer_at;              /* monotonic seconds of libcurl's timer, < 0: none */
  multi_list active;            /* in flight */
  multi_list done;              /* finished, not handed over yet */
  multi_list spare;             /* handed over: handles kept for reuse */
  lua_Integer next_id;
  wfs_xferopts defaults;
} wfs_multi;


/*
** {======================================================
** Lists and the clock
** =======================================================
*/

static void multi_unlink(multi_list *l, multi_xfer *x) {
  if (x->prev != NULL)
    x->prev->next = x->next;
  else
    l->head = x->next;
  if (x->next != NULL)
    x->next->prev = x->prev;
  else
    l->tail = x->prev;
  x->prev = x->next = NULL;
  l->n--;
}


static void multi_append(multi_list *l, multi_xfer *x) {
  x->next = NULL;
  x->prev = l->tail;
  if (l->tail != NULL)
    l->tail->next = x;
  else
    l->head = x;
  l->tail = x;
  l->n++;
}


static void multi_freelist(multi_list *l) {
  while (l->head != NULL) {
    multi_xfer *x = l->head;
    multi_unlink(l, x);
    wfs_transfer_free(&x->t);
    free(x);
  }
}


/* Monotonic seconds: libcurl's deadlines must not jump with the wall clock. */
static double multi_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


/* A finished transfer goes back to the spare list, or is freed when there are enough. */
static void multi_recycle(wfs_multi *m, multi_xfer *x) {
  if (m->spare.n < MULTI_MAXSPARE) {
    wfs_transfer_reset(&x->t);
    multi_append(&m->spare, x);
  }
  else {
    wfs_transfer_free(&x->t);
    free(x);
  }
}

/* }====================================================== */


/*
** {======================================================
** libcurl callbacks (no Lua here)
** =======================================================
*/

static int multi_onsocket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  wfs_multi *m = (wfs_multi *)userp;
  struct epoll_event ev;
  (void)e;
  if (what == CURL_POLL_REMOVE) {
    /* a socket libcurl already closed is gone from the set: ENOENT/EBADF are fine */
    epoll_ctl(m->epfd, EPOLL_CTL_DEL, s, NULL);
    curl_multi_assign(m->cm, s, NULL);
    return 0;
  }
  memset(&ev, 0, sizeof(ev));
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  ev.data.fd = s;
  if (socketp != NULL) {
    if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
      epoll_ctl(m->epfd, EPOLL_CTL_ADD, s, &ev);
  }
  else {
    if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
      epoll_ctl(m->epfd, EPOLL_CTL_MOD, s, &ev);
    curl_multi_assign(m->cm, s, (void *)m);  /* marks the socket as known */
  }
  return 0;
}


/* libcurl asks to be called back after `ms` (-1: never): only remember when. */
static int multi_ontimer(CURLM *cm, long ms, void *userp) {
  wfs_multi *m = (wfs_multi *)userp;
  (void)cm;
  m->timer_at = ms < 0 ? -1.0 : multi_now() + (double)ms / 1000.0;
  return 0;
}

/* }====================================================== */


/*
** {======================================================
** Driving
** =======================================================
*/

/* Move every transfer libcurl reports finished from `active` to `done`. */
static void multi_collect(wfs_multi *m) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m->cm, &left)) != NULL) {
    multi_xfer *x;
    char *priv = NULL;
    if (msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    x = (multi_xfer *)(void *)priv;
    x->rc = msg->data.result;
    curl_multi_remove_handle(m->cm, msg->easy_handle);
    multi_unlink(&m->active, x);
    multi_append(&m->done, x);
  }
}


/* Hand libcurl the socket events and a due timer; collect what finished. */
static void multi_drive(wfs_multi *m, const struct epoll_event *ev, int n) {
  int running, i, k;
  for (i = 0; i < n; i++) {
    int flags = 0;
    if (ev[i].events & EPOLLIN)
      flags |= CURL_CSELECT_IN;
    if (ev[i].events & EPOLLOUT)
      flags |= CURL_CSELECT_OUT;
    if (ev[i].events & (EPOLLERR | EPOLLHUP))
      flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(m->cm, ev[i].data.fd, flags, &running);
  }
  /* the timer callback may ask again at once (0 ms) from inside the action */
  for (k = 0; k < MULTI_MAXTIMERS && m->timer_at >= 0 && multi_now() >= m->timer_at; k++) {
    m->timer_at = -1.0;
    curl_multi_socket_action(m->cm, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  multi_collect(m);
}


/* Wait up to `ms` (0: not at all) for socket activity or libcurl's timer, then drive. */
static void multi_poll(wfs_multi *m, long ms) {
  struct epoll_event ev[MULTI_MAXEVENTS];
  int n;
  if (m->done.n > 0)
    ms = 0;  /* answers are waiting: nothing to wait for */
  if (m->timer_at >= 0) {
    double left = ceil((m->timer_at - multi_now()) * 1000.0);
    if (left < (double)ms)
      ms = left < 0 ? 0 : (long)left;
  }
  n = epoll_wait(m->epfd, ev, MULTI_MAXEVENTS, (int)ms);
  if (n < 0)
    n = 0;  /* EINTR: a signal; the caller steps again */
  multi_drive(m, ev, n);
}

/* }====================================================== */


/*
** {======================================================
** The object
** =======================================================
*/

static wfs_multi *multi_check(lua_State *L) {
  return (wfs_multi *)luaL_checkudata(L, 1, MULTI_MT);
}


/* The checker every method but close/__gc/__tostring goes through. */
static wfs_multi *multi_checkopen(lua_State *L) {
  wfs_multi *m = multi_check(L);
  if (m->cm == NULL)
    luaL_error(L, "attempt to use a closed " MULTI_MT);
  return m;
}


/***
Create a multi handle: concurrent transfers on one connection cache.
@function multi
@treturn userdata a `wfsession.curlmulti`
*/
static int multi_lnew(lua_State *L) {
  wfs_multi *m = (wfs_multi *)wfs_newudata(L, sizeof(wfs_multi));
  memset(m, 0, sizeof(wfs_multi));
  m->epfd = -1;
  m->timer_at = -1.0;
  wfs_transfer_defaults(&m->defaults);
  luaL_getmetatable(L, MULTI_MT);
  lua_setmetatable(L, -2);
  /* From here on __gc frees whatever has been set, whichever step fails. */
  m->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (m->epfd < 0)
    return luaL_error(L, "cannot create an epoll set (%s)", strerror(errno));
  m->cm = curl_multi_init();
  if (m->cm == NULL)
    return luaL_error(L, "cannot create a libcurl multi handle");
  curl_multi_setopt(m->cm, CURLMOPT_SOCKETFUNCTION, multi_onsocket);
  curl_multi_setopt(m->cm, CURLMOPT_SOCKETDATA, (void *)m);
  curl_multi_setopt(m->cm, CURLMOPT_TIMERFUNCTION, multi_ontimer);
  curl_multi_setopt(m->cm, CURLMOPT_TIMERDATA, (void *)m);
  /* keep the connections of up to 64 concurrent requests alive between them */
  curl_multi_setopt(m->cm, CURLMOPT_MAXCONNECTS, 64L);
  return 1;
}


/***
Start a transfer; never blocks. The request is checked and converted
first: a bad field raises an error naming it, before any I/O.
@function add
@tparam table req as for `easy:perform`
@tparam[opt] table opts the transfer options of `core.easy` (`connect_timeout`,
  `timeout`, `low_speed_time`, `max_body`, `verify`, `ca_file`, `proxy`,
  `user_agent`); the request's own fields win
@treturn integer the transfer's id, as `result()` reports it (the request
  is on its way when this returns, if a connection was ready for it)
*/
static int multi_ladd(lua_State *L) {
  wfs_multi *m = multi_checkopen(L);
  multi_xfer *x = m->spare.head;
  CURLcode rc;
  wfs_xferopts o = m->defaults;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    wfs_transfer_readopts(L, 3, 3, "option ", &o);
  }
  if (x == NULL) {
    /* on the spare list first: if the request raises, nothing is lost */
    x = (multi_xfer *)calloc(1, sizeof(multi_xfer));
    if (x == NULL)
      return luaL_error(L, "not enough memory");
    if (!wfs_transfer_init(&x->t)) {
      free(x);
      return luaL_error(L, "cannot create a libcurl easy handle");
    }
    multi_append(&m->spare, x);
  }
  rc = wfs_transfer_prepare(L, &x->t, 2, 2, &o);
  multi_unlink(&m->spare, x);
  x->id = ++m->next_id;
  curl_easy_setopt(x->t.curl, CURLOPT_PRIVATE, (char *)x);
  if (rc == CURLE_OK && curl_multi_add_handle(m->cm, x->t.curl) != CURLM_OK)
    rc = CURLE_OUT_OF_MEMORY;
  if (rc == CURLE_OK) {
    multi_append(&m->active, x);
    /*
    ** libcurl asks for its timer at once for a new transfer: run it now,
    ** so the request leaves before the caller goes on (decoding a page,
    ** say), without the socket scan a full step costs.
    */
    multi_drive(m, NULL, 0);
  }
  else {
    x->rc = rc;  /* it fails as a transfer does: through result() */
    multi_append(&m->done, x);
  }
  lua_pushinteger(L, x->id);
  return 1;
}


/***
Advance every transfer without blocking.
@function step
@treturn integer how many finished transfers `result()` can hand over
*/
static int multi_lstep(lua_State *L) {
  wfs_multi *m = multi_checkopen(L);
  multi_poll(m, 0);
  lua_pushinteger(L, m->done.n);
  return 1;
}


/***
Block until a socket is ready or libcurl's timer is due, at most
`seconds`, then step.
@function wait
@tparam number seconds >= 0
@treturn integer how many finished transfers `result()` can hand over
*/
static int multi_lwait(lua_State *L) {
  wfs_multi *m = multi_checkopen(L);
  lua_Number s = luaL_checknumber(L, 2);
  long ms;
  if (!(s >= 0))  /* also NaN */
    return luaL_argerror(L, 2, "non-negative number expected");
  ms = s > 86400.0 ? 86400000L : (long)ceil(s * 1000.0);
  multi_poll(m, ms);
  lua_pushinteger(L, m->done.n);
  return 1;
}


/***
Hand over one finished transfer.
@function result
@return id, status, headers, body; or id, nil, msg, err (as
  `easy:perform`); nothing when no transfer has finished
*/
static int multi_lresult(lua_State *L) {
  wfs_multi *m = multi_checkopen(L);
  multi_xfer *x = m->done.head;
  CURLcode rc;
  int n;
  if (x == NULL)
    return 0;
  multi_unlink(&m->done, x);
  rc = x->rc;
  lua_pushinteger(L, x->id);
  /* kept on the spare list while its answer is pushed: a raise loses nothing */
  multi_append(&m->spare, x);
  n = wfs_transfer_push(L, &x->t, rc);
  if (m->spare.n > MULTI_MAXSPARE) {
    multi_unlink(&m->spare, x);
    wfs_transfer_free(&x->t);
    free(x);
  }
  return 1 + n;
}


/***
Stop a transfer and forget it (also one that finished but was not handed over).
@function cancel
@tparam integer id
@treturn boolean whether there was such a transfer
*/
static int multi_lcancel(lua_State *L) {
  wfs_multi *m = multi_checkopen(L);
  lua_Integer id = wfs_checkinteger(L, 2);
  multi_xfer *x;
  for (x = m->active.head; x != NULL; x = x->next) {
    if (x->id == id) {
      curl_multi_remove_handle(m->cm, x->t.curl);
      multi_unlink(&m->active, x);
      multi_recycle(m, x);
      lua_pushboolean(L, 1);
      return 1;
    }
  }
  for (x = m->done.head; x != NULL; x = x->next) {
    if (x->id == id) {
      multi_unlink(&m->done, x);
      multi_recycle(m, x);
      lua_pushboolean(L, 1);
      return 1;
    }
  }
  lua_pushboolean(L, 0);
  return 1;
}


/***
The descriptor a host's loop watches: readable when `step` has work.
@function pollfd
@treturn integer an epoll descriptor
*/
static int multi_lpollfd(lua_State *L) {
  wfs_multi *m = multi_checkopen(L);
  lua_pushinteger(L, m->epfd);
  return 1;
}


/***
Seconds until `step` is due even without socket activity.
@function timeout
@treturn number|nil 0 when answers are waiting; nil when libcurl has no
  timer (then only socket activity, or nothing at all, is due)
*/
static int multi_ltimeout(lua_State *L) {
  wfs_multi *m = multi_checkopen(L);
  double left;
  if (m->done.n > 0) {
    lua_pushnumber(L, 0);
    return 1;
  }
  if (m->timer_at < 0)
    return 0;
  left = m->timer_at - multi_now();
  lua_pushnumber(L, left > 0 ? left : 0);
  return 1;
}


/***
How many transfers are in flight, and how many have finished but were not
handed over.
@function count
@treturn integer in flight
@treturn integer finished
*/
static int multi_lcount(lua_State *L) {
  wfs_multi *m = multi_checkopen(L);
  lua_pushinteger(L, m->active.n);
  lua_pushinteger(L, m->done.n);
  return 2;
}


/***
Stop every transfer and close the connections. Idempotent; also `__gc`
and, on Lua 5.4, `__close`. Any other method raises afterwards.
@function close
*/
static int multi_lclose(lua_State *L) {
  wfs_multi *m = multi_check(L);
  multi_xfer *x;
  if (m->cm != NULL) {
    for (x = m->active.head; x != NULL; x = x->next)
      curl_multi_remove_handle(m->cm, x->t.curl);
  }
  multi_freelist(&m->active);
  multi_freelist(&m->done);
  multi_freelist(&m->spare);
  if (m->cm != NULL) {
    curl_multi_cleanup(m->cm);
    m->cm = NULL;
  }
  if (m->epfd >= 0) {
    close(m->epfd);
    m->epfd = -1;
  }
  return 0;
}


static int multi_ltostring(lua_State *L) {
  wfs_multi *m = multi_check(L);
  if (m->cm == NULL)
    lua_pushliteral(L, MULTI_MT " (closed)");
  else
    lua_pushfstring(L, MULTI_MT " (%d in flight)", m->active.n);
  return 1;
}

/* }====================================================== */


static const luaL_Reg multi_methods[] = {
  {"add", multi_ladd},
  {"step", multi_lstep},
  {"wait", multi_lwait},
  {"result", multi_lresult},
  {"cancel", multi_lcancel},
  {"pollfd", multi_lpollfd},
  {"timeout", multi_ltimeout},
  {"count", multi_lcount},
  {"close", multi_lclose},
  {NULL, NULL}
};

static const luaL_Reg multi_meta[] = {
  {"__gc", multi_lclose},
#if LUA_VERSION_NUM >= 504
  {"__close", multi_lclose},
#endif
  {"__tostring", multi_ltostring},
  {NULL, NULL}
};


void wfs_multi_open(lua_State *L) {
  wfs_transfer_globalinit(L);
  wfs_newclass(L, MULTI_MT, NULL, multi_meta, multi_methods);
  lua_pushcfunction(L, multi_lnew);
  lua_setfield(L, -2, "multi");
}
