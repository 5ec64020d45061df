/*
** wfs_provider.h: what the core knows about each provider, in one table.
** Every area reads its provider facts from here (paging, envelopes, error
** bodies, checks) instead of branching on the provider.
*/
#ifndef WFS_PROVIDER_H
#define WFS_PROVIDER_H

enum wfs_provider_id { WFS_COMPLYCUBE = 0, WFS_IDNOW, WFS_EXTEND, WFS_NPROVIDERS };

/* how a listing moves from page to page */
enum wfs_paging {
  WFS_PAGING_NUMBER,  /* page number + size; the answer tells the total */
  WFS_PAGING_CURSOR   /* an opaque token from the page before */
};

typedef struct wfs_provider {
  const char *name;
  int paging;                 /* enum wfs_paging */
  int page_base;              /* number of the first page; -1: learnt from the first answer */
  const char *page_param;     /* request: page number (NULL for cursor paging) */
  const char *size_param;     /* request: page size */
  const char *token_key;      /* request and answer: the cursor (NULL for page numbers) */
  const char *items_key;      /* answer: the array of sessions */
  const char *legacy_items_key;  /* the same in the legacy envelope, or NULL */
  const char *legacy_ok_key;  /* legacy envelope: false here is a failure, or NULL */
  const char *number_key;     /* answer: page number (a dot path), or NULL */
  const char *pages_key;      /* answer: number of pages, or NULL */
  const char *total_key;      /* answer: number of sessions, or NULL */
  const char *id_key;         /* a session's id */
  const char *code_keys[3];   /* error body: err.code, the first present */
  const char *message_keys[4];   /* error body: err.message, the first present */
  const char *checks_key;     /* s:checks(): where the checks or steps are */
  int checks_single;          /* checks_key holds one object, not an array */
} wfs_provider;

extern const wfs_provider wfs_providers[WFS_NPROVIDERS];
extern const char *const wfs_provider_names[];  /* NULL-terminated, in enum order */

#endif
