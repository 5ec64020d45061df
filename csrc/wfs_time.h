/*
** wfs_time.h: ISO-8601 / RFC 3339 timestamps.
*/
#ifndef WFS_TIME_H
#define WFS_TIME_H

#include <stddef.h>

/* Parse `s` (not NUL-terminated); on success store epoch seconds in *out and return 1, else 0. */
int wfs_time_parse(const char *s, size_t len, double *out);

/* The same; also sets *hasfrac (may be NULL) when `s` has a fraction of a second. */
int wfs_time_parsex(const char *s, size_t len, double *out, int *hasfrac);

#endif
