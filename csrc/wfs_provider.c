/*
** wfs_provider.c: the provider table (facts from providers.md).
*/
#include <stddef.h>

#include "wfs_provider.h"

const wfs_provider wfs_providers[WFS_NPROVIDERS] = {
  /* ComplyCube: GET /v1/workflowSessions?page=1&pageSize=100, pages from 1 */
  {"complycube", WFS_PAGING_NUMBER, 1, "page", "pageSize", NULL,
   "items", NULL, NULL, "page", "pages", "totalItems", "id",
   {"type", NULL, NULL}, {"message", "error_description", NULL, NULL},
   "allRelatedChecks", 0},
  /* IDnow: a Spring page; the base of page.number is UNCONFIRMED upstream */
  {"idnow", WFS_PAGING_NUMBER, -1, "page", "size", NULL,
   "content", NULL, NULL, "page.number", "page.totalPages", "page.totalElements",
   "sessionId",
   {"errorCode", "error", NULL}, {"message", "error_description", NULL, NULL},
   "lastStep", 1},
  /* Extend: an opaque nextPageToken; 2025-04-21 wraps runs in {success, workflowRuns} */
  {"extend", WFS_PAGING_CURSOR, 0, NULL, "maxPageSize", "nextPageToken",
   "data", "workflowRuns", "success", NULL, NULL, NULL, "id",
   {"code", NULL, NULL}, {"message", "error_description", "error", NULL},
   "stepRuns", 0},
};

const char *const wfs_provider_names[] = { "complycube", "idnow", "extend", NULL };
